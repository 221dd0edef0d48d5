#!/usr/bin/env bash
# The long crash test: builds ycr-server and crash_test (Release, in
# build/crash) and kills the server KILLS times (default 1000) under
# concurrent appends and domain commands, checking after each restart that
# nothing acknowledged was lost and nothing half-written remains, then that
# the hash chain verifies, the Merkle tree recovered with the log agrees
# with it (root over the stored hashes = root from the leaves) and the
# projections equal a rebuild.
# Usage: tests/crash/crash.sh [KILLS] [SEED]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
kills="${1:-1000}"
build_dir=build/crash
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DYCR_SANITIZE=OFF -DYCR_BUILD_TESTS=ON >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target crash_test ycr-server
export YCR_CRASH_KILLS="$kills"
[[ -n "${2:-}" ]] && export YCR_CRASH_SEED="$2"
exec "$build_dir/tests/crash/crash_test"
