#!/usr/bin/env bash
# Build the concurrent tests with ThreadSanitizer and run them.
#
# Debian's abseil is not built with ThreadSanitizer, so absl::Mutex (ycr's and
# gRPC's locks) would give TSan no happens-before edges and it would report
# false races. This script builds Debian's own abseil source package (the
# version installed, with Debian's patches and SONAMEs) with -fsanitize=thread
# into build/tsan-deps/absl, builds ycr against it (YCR_TSAN=ON), and
# runs the tests with LD_LIBRARY_PATH pointing at it, so that Debian's gRPC,
# which links abseil by SONAME, takes its locks through the instrumented
# absl::Mutex too.
#
# Usage: tests/tsan.sh [CTEST_REGEX]   (default: every test in the TSan build)
# Environment: JOBS (default nproc), NICE (default 0), YCR_TSAN_DIR (default
# build/tsan).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
build_dir="${YCR_TSAN_DIR:-build/tsan}"
deps_dir="build/tsan-deps"
jobs="${JOBS:-$(nproc)}"
nice_cmd=(nice -n "${NICE:-0}")

# shellcheck source=tests/phases.sh
source tests/phases.sh
trap 'phases_summary "$build_dir, ThreadSanitizer"' EXIT

as_root=()
if ((EUID != 0)); then
  as_root=(sudo)
fi

begin install
# dpkg-dev unpacks the source package (dpkg-source).
bash deploy/install-deps.sh dpkg-dev
end

# The abseil version the rest of the build links: the TSan build must match it
# exactly, since gRPC loads it by SONAME.
absl_version="$(dpkg-query -W -f='${source:Version}' libabsl-dev)"
absl_upstream="${absl_version%-*}"
absl_prefix="$root/$deps_dir/absl"
stamp="$absl_prefix/.built-$absl_version"

if [[ ! -f "$stamp" ]]; then
  begin absl-src
  src_list=/etc/apt/sources.list.d/ycr-deb-src.sources
  # shellcheck disable=SC2016  # apt's own format, not a shell expansion
  if ! apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null |
    grep -q '^Sources$'; then
    # Debian's source packages, from the same archive as the binaries.
    "${as_root[@]}" tee "$src_list" >/dev/null <<'EOF'
# Added by ycr's tests/tsan.sh: Debian's source packages, to build abseil
# with ThreadSanitizer.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    "${as_root[@]}" apt-get update
  fi
  rm -rf "$deps_dir/src"
  mkdir -p "$deps_dir/src"
  (cd "$deps_dir/src" && apt-get source "abseil=$absl_version")
  end

  begin absl-build
  # Debian's own configuration (debian/rules: C++17, shared), plus TSan.
  rm -rf "$deps_dir/absl-build" "$absl_prefix"
  "${nice_cmd[@]}" cmake -S "$deps_dir/src/abseil-$absl_upstream" \
    -B "$deps_dir/absl-build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_STANDARD=17 \
    -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=thread" \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_INSTALL_PREFIX="$absl_prefix" -DCMAKE_INSTALL_LIBDIR=lib \
    ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER}
  "${nice_cmd[@]}" cmake --build "$deps_dir/absl-build" -j"$jobs"
  cmake --install "$deps_dir/absl-build" >/dev/null
  touch "$stamp"
  end
fi

begin configure
# CMAKE_PREFIX_PATH puts the TSan abseil before Debian's for find_package.
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DYCR_TSAN=ON -DYCR_BUILD_TESTS=ON \
  -DCMAKE_PREFIX_PATH="$absl_prefix" \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER}
end

# gtest_discover_tests runs each test binary at build time: the same abseil.
export LD_LIBRARY_PATH="$absl_prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

begin build
"${nice_cmd[@]}" cmake --build "$build_dir" -j"$jobs" --target ycr_tsan_tests
end

begin test
# ignore_noninstrumented_modules: the memcpy, memcmp, sendmsg and free that
# RocksDB, gRPC core, protobuf and libstdc++ (not built with TSan) call are not
# checked, since those libraries hand their own buffers between threads
# through atomics TSan cannot see. Races in ycr's own code, and in the
# header code it compiles (gRPC++, protobuf's generated code, abseil), are.
export TSAN_OPTIONS="halt_on_error=1:ignore_noninstrumented_modules=1:second_deadlock_stack=1:suppressions=$root/tests/tsan/suppressions.txt${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600 \
  -L tsan ${1:+-R "$1"}
end
