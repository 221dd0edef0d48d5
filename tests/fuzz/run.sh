#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build/fuzz) and runs each for
# SECONDS (default 20) from seeds written by ycr-fuzz-seeds, keeping the
# corpus in build/fuzz/corpus/<target>. A crash stops the run with the
# crashing input saved as build/fuzz/crash-<target>-*; turn it into a test.
# Usage: tests/fuzz/run.sh [SECONDS]     e.g. tests/fuzz/run.sh 3600
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
seconds="${1:-20}"
build_dir=build/fuzz
targets=(record_codec_fuzz append_validation_fuzz domain_rules_fuzz api_fuzz)

# The compiler cache, as tests/run.sh uses it (clang's objects are kept
# apart from gcc's by the compiler in the cache key).
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-12G}"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYCR_FUZZ=ON -DYCR_BUILD_TESTS=OFF \
  "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}" ycr-fuzz-seeds

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
seeds="$build_dir/seeds"
"$build_dir/tests/fuzz/ycr-fuzz-seeds" "$seeds"
for target in "${targets[@]}"; do
  corpus="$build_dir/corpus/$target"
  mkdir -p "$corpus"
  echo "== $target for ${seconds}s"
  "$build_dir/tests/fuzz/$target" -max_total_time="$seconds" -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$build_dir/crash-$target-" \
    "$corpus" "$seeds/$target" 2>&1 | grep -E "^#|stat::|ERROR|SUMMARY|Done" | tail -6
  # The pipe hides the target's exit status: check it.
  [[ "${PIPESTATUS[0]}" == 0 ]] || { echo "fuzz: $target failed" >&2; exit 1; }
done
echo "fuzz: every target ran ${seconds}s without a crash"
