#!/usr/bin/env bash
# Build ycr with tests and run them under ctest.
# Default: AddressSanitizer + UBSan in build/asan. YCR_SANITIZE=0: plain build/test.
# YCR_TEST_PACKAGES: extra Debian packages the tests need (space separated).
# YCR_FUZZ_SECONDS: seconds each fuzz target runs after the tests (default
# 15; 0 skips fuzzing).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${YCR_SANITIZE:-1}" == 0 ]]; then
  build_dir=build/test
  sanitize=OFF
else
  build_dir=build/asan
  sanitize=ON
fi

# Leak checking is off: gRPC keeps process-lifetime singletons.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Phase timings, printed on exit whatever the outcome.
# shellcheck source=tests/phases.sh
source tests/phases.sh
trap 'phases_summary "$build_dir, sanitize=$sanitize"' EXIT

begin install
# The tests also need a real browser for the HTML audit report (chromium,
# with a font to render text),
# libpng to read its screenshot, clang with libFuzzer for the fuzz
# targets, and Go with its sumdb packages for the independent transparency
# log verifier (tests/tlog); etcd (its members for tests/etcd, and its .proto
# files, from which the build makes the replication layer's client).
# shellcheck disable=SC2086  # word splitting of the package list is intended
bash deploy/install-deps.sh chromium fonts-liberation libpng-dev clang libclang-rt-14-dev ccache lld \
  golang-go golang-golang-x-mod-dev etcd-server etcd-client golang-etcd-server-dev \
  ${YCR_TEST_PACKAGES:-}
end

begin configure
# A compiler cache (Debian's ccache, installed above) keyed on paths relative
# to the checkout, so any clone of the repository reuses what another built.
# The ASan tree and the clang tree of the fuzz targets (with a Release tree for
# benchmarks) pass ccache's default 5 GB, and evictions made CI compile cold:
# 12 GB unless the caller sets a size.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-12G}"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DYCR_SANITIZE="$sanitize" -DYCR_BUILD_TESTS=ON "${launcher[@]}"
end

begin build
cmake --build "$build_dir" -j"$(nproc)"
end

begin test
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300
end

# Each libFuzzer target briefly (tests/fuzz/run.sh SECONDS runs longer).
fuzz_seconds="${YCR_FUZZ_SECONDS:-15}"
if [[ "$fuzz_seconds" != 0 ]]; then
  begin fuzz
  bash tests/fuzz/run.sh "$fuzz_seconds"
  end
fi
