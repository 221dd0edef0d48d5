#!/usr/bin/env bash
# Install every Debian 12 package needed to build and test ycr.
# Idempotent: only missing packages are installed; a second run does nothing.
# Usage: deploy/install-deps.sh [EXTRA_PACKAGE...]
set -euo pipefail

packages=(
  g++ make cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev libgtest-dev libssl-dev libmicrohttpd-dev
  libcurl4-openssl-dev
  # deploy/dev-ca.sh makes development certificates with the openssl tool.
  openssl
  # ycr-server's allocator (CMakeLists.txt, YCR_TCMALLOC).
  libtcmalloc-minimal4
)
packages+=("$@")

# Drop duplicates, keep order.
declare -A seen=()
wanted=()
for p in "${packages[@]}"; do
  [[ -z "$p" || -n "${seen[$p]:-}" ]] && continue
  seen[$p]=1
  wanted+=("$p")
done

missing=()
for p in "${wanted[@]}"; do
  # dpkg-query exits non-zero for packages it has never heard of.
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi

echo "install-deps: missing ${#missing[@]} of ${#wanted[@]}: ${missing[*]}"

# Root runs apt-get directly; others go through sudo.
as_root=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-deps: not root and sudo is not installed;" \
      "run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
