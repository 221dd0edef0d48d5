// Command ycr-tlog-verify checks a ycr transparency log with Go's own
// transparency-log packages (golang.org/x/mod/sumdb/note and sumdb/tlog,
// from Debian's golang-golang-x-mod-dev), not with ycr's code: the
// checkpoint's signature, the tree hash from the hash tiles, the inclusion
// of chosen records, and the consistency of an earlier checkpoint with the
// current one. It exits non-zero on the first failure.
//
// Tiles are read from a directory or an HTTP(S) base URL laid out as C2SP
// tlog-tiles says ("tile/<L>/<N>[.p/<W>]"); sumdb/tlog names the same tiles
// "tile/8/<L>/<N>[.p/<W>]", with the height, and this program maps one onto
// the other.
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type tileReader struct {
	base string
}

func (r *tileReader) Height() int { return 8 }

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != 8 {
			return nil, fmt.Errorf("tile of height %d asked for", t.H)
		}
		// "tile/8/L/N..." -> "tile/L/N..."
		p := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		data, err := r.read(p)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r *tileReader) read(p string) ([]byte, error) {
	if strings.HasPrefix(r.base, "http://") || strings.HasPrefix(r.base, "https://") {
		resp, err := http.Get(strings.TrimSuffix(r.base, "/") + "/" + p)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", p, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	return os.ReadFile(filepath.Join(r.base, filepath.FromSlash(p)))
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func openCheckpoint(path string, verifiers note.Verifiers) (checkpoint, error) {
	var c checkpoint
	msg, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return c, fmt.Errorf("checkpoint %s: %v", path, err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return c, fmt.Errorf("checkpoint %s: too few lines", path)
	}
	c.origin = lines[0]
	c.size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || c.size < 0 || strconv.FormatInt(c.size, 10) != lines[1] {
		return c, fmt.Errorf("checkpoint %s: bad size %q", path, lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint %s: bad root hash", path)
	}
	copy(c.root[:], root)
	return c, nil
}

type records []string

func (r *records) String() string     { return strings.Join(*r, ",") }
func (r *records) Set(v string) error { *r = append(*r, v); return nil }

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ycr-tlog-verify: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	vkey := flag.String("vkey", "", "verifier key, <name>+<id>+<key> (or @FILE)")
	cpPath := flag.String("checkpoint", "", "the current signed checkpoint (file)")
	oldPath := flag.String("old-checkpoint", "", "an earlier signed checkpoint (file): check consistency")
	tiles := flag.String("tiles", "", "directory or http(s) base URL of the tiles")
	var recs records
	flag.Var(&recs, "record", "INDEX=FILE: check that FILE's bytes are record INDEX (repeatable)")
	flag.Parse()
	if *vkey == "" || *cpPath == "" || *tiles == "" {
		flag.Usage()
		os.Exit(2)
	}
	key := *vkey
	if strings.HasPrefix(key, "@") {
		b, err := os.ReadFile(key[1:])
		if err != nil {
			fail("%v", err)
		}
		key = strings.TrimSpace(string(b))
	}
	verifier, err := note.NewVerifier(key)
	if err != nil {
		fail("verifier key: %v", err)
	}
	verifiers := note.VerifierList(verifier)
	cp, err := openCheckpoint(*cpPath, verifiers)
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("ok: checkpoint of %s signed by %s: %d records\n", cp.origin, verifier.Name(), cp.size)
	tree := tlog.Tree{N: cp.size, Hash: cp.root}
	reader := tlog.TileHashReader(tree, &tileReader{base: *tiles})
	if cp.size > 0 {
		h, err := tlog.TreeHash(cp.size, reader)
		if err != nil {
			fail("tree hash from the tiles: %v", err)
		}
		if h != cp.root {
			fail("tree hash from the tiles %v differs from the checkpoint's %v", h, cp.root)
		}
		fmt.Printf("ok: the tiles give the checkpoint's root\n")
	}
	for _, r := range recs {
		parts := strings.SplitN(r, "=", 2)
		if len(parts) != 2 {
			fail("--record %q: want INDEX=FILE", r)
		}
		index, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			fail("--record %q: %v", r, err)
		}
		data, err := os.ReadFile(parts[1])
		if err != nil {
			fail("%v", err)
		}
		proof, err := tlog.ProveRecord(cp.size, index, reader)
		if err != nil {
			fail("record %d: proof: %v", index, err)
		}
		if err := tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(data)); err != nil {
			fail("record %d is not in the log as given: %v", index, err)
		}
		fmt.Printf("ok: record %d is in the tree of %d\n", index, cp.size)
	}
	if *oldPath != "" {
		old, err := openCheckpoint(*oldPath, verifiers)
		if err != nil {
			fail("%v", err)
		}
		if old.origin != cp.origin {
			fail("the old checkpoint's origin %q differs from %q", old.origin, cp.origin)
		}
		if old.size > cp.size {
			fail("the log shrank: %d records before, %d now", old.size, cp.size)
		}
		if old.size == 0 || old.size == cp.size {
			if old.size == cp.size && old.root != cp.root {
				fail("two checkpoints of %d records with different roots: a forked log", cp.size)
			}
			fmt.Printf("ok: the tree of %d is a prefix of the tree of %d\n", old.size, cp.size)
			return
		}
		proof, err := tlog.ProveTree(cp.size, old.size, reader)
		if err != nil {
			fail("consistency proof: %v", err)
		}
		if err := tlog.CheckTree(proof, cp.size, cp.root, old.size, old.root); err != nil {
			fail("the tree of %d is not a prefix of the tree of %d: %v", old.size, cp.size, err)
		}
		fmt.Printf("ok: the tree of %d is a prefix of the tree of %d\n", old.size, cp.size)
	}
}
