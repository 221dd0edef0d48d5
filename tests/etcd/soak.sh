#!/usr/bin/env bash
# The failover soak of issue 17 (not part of CI; README "Running a cluster"):
# ROUNDS runs of tests/etcd/failover_soak_test, each killing the leading
# ycr-server node KILLS times with SIGKILL under a load and checking that no
# acknowledged append is lost. Builds the test in BUILD_DIR first.
# Usage: tests/etcd/soak.sh [KILLS=10] [ROUNDS=1]   (env BUILD_DIR=build/asan)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
kills="${1:-10}"
rounds="${2:-1}"
build_dir="${BUILD_DIR:-build/asan}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
ninja -C "$build_dir" failover_soak_test ycr-server >/dev/null
failed=0
for round in $(seq 1 "$rounds"); do
  echo "soak: round $round of $rounds, $kills leader kills"
  if ! YCR_SOAK_KILLS="$kills" "$build_dir/tests/etcd/failover_soak_test"; then
    failed=$((failed + 1))
  fi
done
echo "soak: $rounds rounds of $kills kills, $failed failed"
[[ "$failed" == 0 ]]
