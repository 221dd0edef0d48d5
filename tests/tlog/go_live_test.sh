#!/usr/bin/env bash
# Go's own transparency-log packages against a live ycr-server: the real
# binary, started with a signer key made by `ycr-server keygen`, on ports
# picked by the kernel, over a fresh data directory. Records are appended
# through the `ycr` CLI; tests/tlog/verify.go reads /checkpoint and the hash
# tiles over HTTP, and the chosen records' leaf bytes (`ycr audit leaf`, as
# an auditor) and checks the checkpoint's signature, the records'
# inclusion, and after more appends the consistency of the first checkpoint
# with the second; a record with one byte changed and a tile copied from the
# server with one byte changed each fail. The server restarted with another
# key (same origin) is
# refused unless --tlog_key_rotated says so, and then its checkpoints must
# fail against the configured verifier key.
# Usage: go_live_test.sh YCR_SERVER YCR_CLI WORK_DIR
set -euo pipefail
server_bin="$1"
cli_bin="$2"
work="$3"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v go >/dev/null || [[ ! -d /usr/share/gocode/src/golang.org/x/mod/sumdb ]]; then
  echo "go_live_test: needs golang-go and golang-golang-x-mod-dev (tests/run.sh installs them)" >&2
  exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"

rm -rf "$work"
mkdir -p "$work"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" GOFLAGS= \
  go build -o "$work/ycr-tlog-verify" "$here/verify.go"

origin=live.example/ycr/v1
"$server_bin" keygen --name="$origin" --out="$work/signer.key" >"$work/vkey"
"$server_bin" keygen --name="$origin" --out="$work/other.key" >"$work/other.vkey"
failures=0
# keygen writes the key for its owner only and never overwrites one.
if [[ "$(stat -c %a "$work/signer.key")" != 600 ]]; then
  echo "FAIL: keygen's key is not mode 0600"; failures=$((failures + 1))
fi
if "$server_bin" keygen --name="$origin" --out="$work/signer.key" 2>/dev/null; then
  echo "FAIL: keygen overwrote a key"; failures=$((failures + 1))
fi
if [[ ! "$(cat "$work/vkey")" =~ ^live\.example/ycr/v1\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$ ]]; then
  echo "FAIL: keygen printed no verifier key: $(cat "$work/vkey")"; failures=$((failures + 1))
fi

server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# Starts the server with signer key $1 (and flags $2...); its readiness is its
# "server.listening" line (the port files are written before it).
start_server() {
  rm -f "$work/port" "$work/tlog-port" "$work/out"
  mkfifo "$work/out"
  "$server_bin" --insecure --listen=127.0.0.1:0 --data_dir="$work/data" \
    --port_file="$work/port" --tlog_listen=127.0.0.1:0 \
    --tlog_port_file="$work/tlog-port" --tlog_key="$1" \
    --tlog_origin="$origin" "${@:2}" >"$work/out" &
  server_pid=$!
  exec 3<"$work/out"
  local line
  while IFS= read -r -t 120 line <&3; do
    [[ "$line" == *" server.listening "* ]] && break
  done
  # The rest of its log, drained so it never blocks on it.
  cat <&3 >>"$work/server.log" &
  exec 3<&-
  port="$(cat "$work/port")"
  tiles="http://127.0.0.1:$(cat "$work/tlog-port")"
}

ycr() {  # as the role $1
  local role="$1"
  shift
  "$cli_bin" --server="127.0.0.1:$port" --insecure --organisation=ops \
    --user=u-1 --role="$role" "$@"
}

append() {  # N: one append of N opaque events on ops-notes
  local n="$1" events="" i
  for ((i = 0; i < n; i++)); do
    events+="${events:+,}{\"event_id\":\"$(cat /proc/sys/kernel/random/uuid)\",\"payload\":{\"opaque\":{\"type\":\"test.note\",\"data\":\"$(printf 'note %d' "$i" | base64)\"}}}"
  done
  printf '{"stream":"ops-notes","expected":{"kind":"ANY"},"events":[%s]}' "$events" >"$work/append.json"
  ycr admin event-store append --data="@$work/append.json" >/dev/null
}

# A checkpoint of at least $1 records, signed now if need be, then the
# served /checkpoint into file $2.
checkpoint() {
  ycr auditor audit checkpoint --min-tree-size "$1" >/dev/null
  curl -sf "$tiles/checkpoint" >"$2"
}

leaf() {  # position P into $work/leaf-P
  ycr auditor audit leaf --position "$1" --output "$work/leaf-$1"
}

# verify CHECKPOINT OLD_CHECKPOINT|"" [more args]: with records $positions
verify() {
  local args=(--vkey "@$work/vkey" --checkpoint "$1" --tiles "$tiles")
  [[ -n "$2" ]] && args+=(--old-checkpoint "$2")
  shift 2
  local p
  for p in $positions; do args+=(--record "$((p - 1))=$work/leaf-$p"); done
  "$work/ycr-tlog-verify" "${args[@]}" "$@"
}

start_server "$work/signer.key"
append 300 # a full level-0 tile and a partial one
append 7
checkpoint 307 "$work/cp1"
positions="1 256 257 300 307"
for p in $positions; do leaf "$p"; done
if out="$(verify "$work/cp1" "" 2>&1)"; then
  echo "ok: checkpoint 1 and the inclusion of records $positions: $out"
else
  echo "FAIL: a good live log was refused: $out"; failures=$((failures + 1))
fi

append 250 # a second full tile; more partial ones
checkpoint 557 "$work/cp2"
positions="1 307 512 513 557"
for p in $positions; do leaf "$p"; done
if out="$(verify "$work/cp2" "$work/cp1" 2>&1)"; then
  echo "ok: checkpoint 2, consistent with checkpoint 1: $out"
else
  echo "FAIL: consistency of two live checkpoints was refused: $out"
  failures=$((failures + 1))
fi
# A record that is not the one at that index.
if out="$(verify "$work/cp2" "$work/cp1" --record "3=$work/leaf-557" 2>&1)"; then
  echo "FAIL: a record at the wrong index was accepted"; failures=$((failures + 1))
else
  echo "ok: a record at the wrong index refused: $(echo "$out" | tail -1)"
fi
# A record with one byte changed.
cp "$work/leaf-307" "$work/leaf-307.tampered"
printf '\xff' | dd of="$work/leaf-307.tampered" bs=1 seek=20 conv=notrunc status=none
if out="$(verify "$work/cp2" "" --record "306=$work/leaf-307.tampered" 2>&1)"; then
  echo "FAIL: a tampered record was accepted"; failures=$((failures + 1))
else
  echo "ok: a tampered record refused: $(echo "$out" | tail -1)"
fi
# The live server's tiles for the tree of 557 (two full level-0 tiles, a
# partial one of 45 hashes, a partial level-1 tile of 2), copied as served:
# the copy verifies; with one byte of a tile changed it must not.
for tiles_dir in "$work/tiles" "$work/tiles-tampered"; do
  for path in tile/0/000 tile/0/001 tile/0/002.p/45 tile/1/000.p/2; do
    mkdir -p "$tiles_dir/$(dirname "$path")"
    curl -sf "$tiles/$path" >"$tiles_dir/$path"
  done
done
printf '\x00' | dd of="$work/tiles-tampered/tile/0/001" bs=1 seek=$((50 * 32 + 7)) conv=notrunc status=none
if cmp -s "$work/tiles/tile/0/001" "$work/tiles-tampered/tile/0/001"; then
  printf '\x01' | dd of="$work/tiles-tampered/tile/0/001" bs=1 seek=$((50 * 32 + 7)) conv=notrunc status=none
fi
if out="$(verify "$work/cp2" "" --tiles "$work/tiles" 2>&1)"; then
  echo "ok: the live tiles, copied, verify: $out"
else
  echo "FAIL: the live tiles, copied, were refused: $out"; failures=$((failures + 1))
fi
if out="$(verify "$work/cp2" "" --tiles "$work/tiles-tampered" 2>&1)"; then
  echo "FAIL: a tampered live tile was accepted: $out"; failures=$((failures + 1))
else
  echo "ok: a tampered live tile refused: $(echo "$out" | tail -1)"
fi

# The same log, restarted with another key of the same origin: refused,
# since to a verifier it is a forked log, unless the key was rotated on
# purpose; then its checkpoints must not pass for the configured key's.
stop_server
if "$server_bin" --insecure --listen=127.0.0.1:0 --data_dir="$work/data" \
  --tlog_key="$work/other.key" --tlog_origin="$origin" >"$work/refused" 2>&1; then
  echo "FAIL: the log restarted with another key"; failures=$((failures + 1))
elif ! grep -q -- "--tlog_key_rotated" "$work/refused"; then
  echo "FAIL: the refusal names no --tlog_key_rotated: $(cat "$work/refused")"
  failures=$((failures + 1))
else
  echo "ok: a restart with another key refused without --tlog_key_rotated"
fi
start_server "$work/other.key" --tlog_key_rotated
checkpoint 557 "$work/cp-other"
if out="$(verify "$work/cp-other" "" 2>&1)"; then
  echo "FAIL: a checkpoint signed by another key was accepted: $out"
  failures=$((failures + 1))
else
  echo "ok: a checkpoint signed by another key refused: $(echo "$out" | tail -1)"
fi
# ... while it is a good checkpoint for its own key.
if ! out="$("$work/ycr-tlog-verify" --vkey "@$work/other.vkey" \
  --checkpoint "$work/cp-other" --tiles "$tiles" 2>&1)"; then
  echo "FAIL: the other key's checkpoint does not verify with its own key: $out"
  failures=$((failures + 1))
fi
stop_server

if ((failures > 0)); then
  echo "go_live_test: $failures failure(s)"
  exit 1
fi
echo "go_live_test: all passed"
