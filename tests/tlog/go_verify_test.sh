#!/usr/bin/env bash
# The log's tree, tiles and signed checkpoints, as ycr's code writes them,
# checked by a verifier ycr did not write: tests/tlog/verify.go, built on
# Go's golang.org/x/mod/sumdb/note and sumdb/tlog (Debian packages golang-go
# and golang-golang-x-mod-dev, installed by tests/run.sh). A good log
# passes; a tampered tile, a tampered record, a checkpoint signed by another
# key and a forked history each fail.
# Usage: go_verify_test.sh FIXTURE_BINARY WORK_DIR
set -euo pipefail
fixture="$1"
work="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v go >/dev/null || [[ ! -d /usr/share/gocode/src/golang.org/x/mod/sumdb ]]; then
  echo "go_verify_test: needs golang-go and golang-golang-x-mod-dev (tests/run.sh installs them)" >&2
  exit 1
fi

rm -rf "$work"
mkdir -p "$work"
# Debian's Go packages are a GOPATH tree; no network, no module proxy.
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" GOFLAGS= \
  go build -o "$work/ycr-tlog-verify" "$here/verify.go"

verify() {  # DIR [extra args]: runs the verifier on a fixture directory
  local dir="$1"
  shift
  "$work/ycr-tlog-verify" --vkey "@$dir/vkey" --checkpoint "$dir/checkpoint" \
    --old-checkpoint "$dir/old-checkpoint" --tiles "$dir" \
    --record "0=$dir/records/0" --record "$((old - 1))=$dir/records/$((old - 1))" \
    --record "$((size / 2))=$dir/records/$((size / 2))" \
    --record "$((size - 1))=$dir/records/$((size - 1))" "$@"
}

failures=0
# Sizes across tile edges: one tile, a full tile, many level-0 tiles and a
# level-1 tile, with the old checkpoint inside and at the edge of a tile.
for pair in "1 1" "7 3" "256 255" "257 256" "70000 65536" "70001 300"; do
  read -r size old <<<"$pair"
  dir="$work/good-$size-$old"
  "$fixture" --dir="$dir" --size="$size" --old="$old" >/dev/null
  if ! out="$(verify "$dir" 2>&1)"; then
    echo "FAIL: a good log of $size (old $old) was refused:"; echo "$out"
    failures=$((failures + 1))
  fi
done

size=1000
old=600
for tamper in tile record key fork; do
  dir="$work/$tamper"
  "$fixture" --dir="$dir" --size="$size" --old="$old" --tamper="$tamper" >/dev/null
  if out="$(verify "$dir" 2>&1)"; then
    echo "FAIL: a log with a tampered $tamper was accepted:"; echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: tampered $tamper refused: $(echo "$out" | tail -1)"
  fi
done

if ((failures > 0)); then
  echo "go_verify_test: $failures failure(s)"
  exit 1
fi
echo "go_verify_test: all passed"
