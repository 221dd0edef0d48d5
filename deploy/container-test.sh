#!/usr/bin/env bash
# Build deploy/Containerfile and run the image for real: grpc.health.v1 answers
# SERVING, one write and one read through the image's own `ycr`, /metrics
# counts them, then SIGTERM: NOT_SERVING during the drain delay, a clean stop
# (exit 0, the drain's log lines in order), and the store on the volume
# verifies. Slow (a Release build of ycr in the builder stage): an operator's
# check, not part of CI.
#
# Usage (root, Debian 12): deploy/container-test.sh
# Needs no container registry: the debian:12 base image is made from Debian's
# archive with debootstrap when it is missing (localhost/debian:12).
# Environment:
#   YCR_IMAGE            image to build and run (default localhost/ycr:dev)
#   YCR_CT_RUNNER        auto (default), podman or chroot: how to run the image.
#                        auto uses `podman run` when it works on this host, else
#                        chroot: the image's root filesystem (buildah mount),
#                        read-only, in new PID, mount, UTS and IPC namespaces
#                        (unshare), the server as PID 1 and user 10001, the
#                        volume bound on /var/lib/ycr; host network.
#   YCR_CT_GRPC_PORT     loopback port for gRPC (default 17070)
#   YCR_CT_METRICS_PORT  loopback port for /metrics (default 19464)
#   YCR_CT_REBUILD_BASE  1: make localhost/debian:12 again
#   YCR_CT_BUILD         0: run $YCR_IMAGE as it is, without building it
#   NICE                 niceness of the base and image builds (default 0)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
image="${YCR_IMAGE:-localhost/ycr:dev}"
base=localhost/debian:12
work="$PWD/build/container"
grpc_port="${YCR_CT_GRPC_PORT:-17070}"
metrics_port="${YCR_CT_METRICS_PORT:-19464}"
nice_cmd=(nice -n "${NICE:-0}")
py=/usr/bin/python3 # Debian's, where python3-grpcio is
mkdir -p "$work"

# shellcheck source=tests/phases.sh
source tests/phases.sh
cleanup_steps=()
on_exit() {
  local rc=$? step
  for step in "${cleanup_steps[@]}"; do eval "$step" || true; done
  (exit "$rc") # phases_summary reads the script's status from $?
  phases_summary "container $image"
}
trap on_exit EXIT
die() { echo "container-test: $*" >&2; exit 1; }

if ((EUID != 0)); then
  die "run as root (debootstrap, buildah and the chroot runner need it)"
fi

begin install
# buildah builds, podman imports the base (and runs the image where it can),
# debootstrap makes the base, python3-grpcio speaks grpc.health.v1.
bash deploy/install-deps.sh buildah podman debootstrap python3-grpcio
end

if [[ "${YCR_CT_REBUILD_BASE:-0}" == 1 ]] || ! podman image exists "$base"; then
  begin base
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  "${nice_cmd[@]}" debootstrap --variant=minbase bookworm "$rootfs" \
    http://deb.debian.org/debian
  # The same apt sources as Debian's own debian:12 image.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$base"
  rm -rf "$rootfs"
  end
fi

if [[ "${YCR_CT_BUILD:-1}" != 0 ]]; then
  begin build
  # chroot isolation builds without namespaces or cgroups of its own.
  BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}" "${nice_cmd[@]}" \
    buildah bud --layers -f deploy/Containerfile -t "$image" .
  end
fi

# The image's own start command, on loopback ports, and its user.
buildah inspect --type image "$image" >"$work/image.json"
mapfile -t command < <("$py" -c '
import json, sys
config = json.load(open(sys.argv[1]))["OCIv1"]["config"]
grpc_port, metrics_port = sys.argv[2:4]
for arg in (config.get("Entrypoint") or []) + (config.get("Cmd") or []):
    if arg.startswith("--listen="):
        arg = "--listen=127.0.0.1:" + grpc_port
    elif arg.startswith("--metrics_listen="):
        arg = "--metrics_listen=127.0.0.1:" + metrics_port
    print(arg)
' "$work/image.json" "$grpc_port" "$metrics_port")
((${#command[@]} > 0)) || die "no start command in $image"
user="$("$py" -c 'import json, sys
print(json.load(open(sys.argv[1]))["OCIv1"]["config"].get("User", ""))' \
  "$work/image.json")"
[[ -n "$user" && "${user%%:*}" != 0 && "${user%%:*}" != root ]] ||
  die "the image runs as root ($user)"
echo "command: ${command[*]} (user $user)"

runner="${YCR_CT_RUNNER:-auto}"
if [[ "$runner" == auto ]]; then
  if podman run --rm --network host --entrypoint /bin/true "$image" \
    >"$work/podman-probe.log" 2>&1; then
    runner=podman
  else
    runner=chroot
    echo "podman run does not work here ($(tail -1 "$work/podman-probe.log")): chroot runner"
  fi
fi

volume="$work/volume"
rm -rf "$volume"
mkdir -p "$volume"
chown "${user%%:*}" "$volume"
chmod 0700 "$volume"
server_log="$work/server.log"
# Development certificates, readable by the image's user, mounted at
# /etc/ycr/tls where the image's command looks for them.
tls="$work/tls"
rm -rf "$tls"
bash deploy/dev-ca.sh "$tls" >/dev/null
bash deploy/dev-ca.sh "$tls" client school-1 container-test school >/dev/null
chown -R "$user" "$tls"

# start_server; signal_server SIG; wait_server -> exit status; in_image CMD...
if [[ "$runner" == podman ]]; then
  name="ycr-container-test-$$"
  start_server() {
    podman run -d --name "$name" --network host --read-only \
      -v "$volume:/var/lib/ycr" -v "$tls:/etc/ycr/tls:ro" \
      --entrypoint "${command[0]}" "$image" \
      "${command[@]:1}" >/dev/null
    cleanup_steps+=("podman rm -f $name >/dev/null")
  }
  signal_server() { podman kill --signal "$1" "$name" >/dev/null; }
  wait_server() {
    local rc
    rc="$(podman wait "$name")"
    podman logs "$name" >"$server_log" 2>&1
    return "$rc"
  }
  in_image() {
    podman run --rm --network host --read-only -v "$volume:/var/lib/ycr" \
      -v "$tls:/etc/ycr/tls:ro" --entrypoint "$1" "$image" "${@:2}"
  }
else
  container="$(buildah from --pull=never "$image")"
  cleanup_steps+=("buildah rm $container >/dev/null")
  rootfs="$(buildah mount "$container")"
  # Mounts live in the new mount namespace only and vanish with it.
  # shellcheck disable=SC2016  # expanded by the inner sh
  enter='set -e
    root=$1; volume=$2; user=$3; tls=$4; shift 4
    mount --bind "$root" "$root"
    mount -o remount,bind,ro "$root"
    mount --rbind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    mount -t tmpfs tmpfs "$root/tmp"
    mount --bind "$volume" "$root/var/lib/ycr"
    mount --bind "$tls" "$root/etc/ycr/tls"
    exec chroot --userspec="$user" "$root" \
      env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/ycr "$@"'
  start_server() {
    unshare --pid --fork --kill-child --mount --uts --ipc \
      sh -c "$enter" sh "$rootfs" "$volume" "$user" "$tls" "${command[@]}" \
      >"$server_log" 2>&1 &
    unshare_pid=$!
    cleanup_steps+=("kill -KILL $unshare_pid 2>/dev/null")
  }
  signal_server() {
    # The server is PID 1 of its namespace, unshare's only child.
    local pid
    pid="$(ps -o pid= --ppid "$unshare_pid" | tr -d ' ')"
    [[ -n "$pid" ]] || die "no server process under unshare $unshare_pid"
    kill -s "$1" "$pid"
  }
  wait_server() { wait "$unshare_pid"; }
  in_image() {
    unshare --pid --fork --kill-child --mount --uts --ipc \
      sh -c "$enter" sh "$rootfs" "$volume" "$user" "$tls" "$@"
  }
fi

# grpc.health.v1.Health/Check for the whole server (service ""), over mutual
# TLS as the admin, with no generated code: the request is empty, the
# answer's field 1 is the status.
health() {
  "$py" - "127.0.0.1:$grpc_port" "$tls" <<'EOF'
import sys
import grpc
def read(name):
    return open(sys.argv[2] + "/" + name, "rb").read()
credentials = grpc.ssl_channel_credentials(
    read("ca.crt"), read("clients/ops/ycr-admin.key"),
    read("clients/ops/ycr-admin.crt"))
channel = grpc.secure_channel(sys.argv[1], credentials)
try:
    answer = channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=2)
except grpc.RpcError as error:
    print("DOWN(%s)" % error.code().name)
    sys.exit(0)
print({b"\x08\x01": "SERVING", b"\x08\x02": "NOT_SERVING"}.get(answer, "OTHER(%r)" % answer))
EOF
}

# Polls until health answers $1, for at most $2 seconds.
await_health() {
  local want=$1 limit=$2 start=$SECONDS got
  while :; do
    got="$(health)"
    [[ "$got" == "$want" ]] && return 0
    ((SECONDS - start < limit)) || die "health still $got after ${limit}s, wanted $want"
    sleep 0.2
  done
}

begin start
start_server
await_health SERVING 60
echo "health: SERVING after $((SECONDS - phase_start))s"
end

begin call
cli=(env YCR_SERVER="127.0.0.1:$grpc_port" YCR_TLS_CA=/etc/ycr/tls/ca.crt
  YCR_TLS_CERT=/etc/ycr/tls/clients/school-1/container-test.crt
  YCR_TLS_KEY=/etc/ycr/tls/clients/school-1/container-test.key
  /usr/local/bin/ycr)
in_image "${cli[@]}" subjects put-record --set record.subject_id=s-ct-1 \
  --set record.given_name=Ada --set record.family_name=Lovelace \
  --set record.date_of_birth=2012-03-04
read_back="$(in_image "${cli[@]}" subjects get-record --set subject_id=s-ct-1)"
echo "$read_back"
grep -q Lovelace <<<"$read_back" || die "the record did not read back"
metrics="$("$py" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
  "http://127.0.0.1:$metrics_port/metrics")"
appended="$(awk '$1 == "ycr_log_events_appended_total" {print $2}' <<<"$metrics")"
echo "metrics: ycr_log_events_appended_total $appended"
[[ -n "$appended" && "$appended" != 0 ]] || die "/metrics counts no appended event"
end

begin drain
signal_server TERM
# Still answering, NOT_SERVING, during the drain delay (5 s in the image).
await_health NOT_SERVING 3
echo "health: NOT_SERVING $((SECONDS - phase_start))s after SIGTERM"
rc=0
wait_server || rc=$?
echo "server exit status $rc after $((SECONDS - phase_start))s"
cat "$server_log"
((rc == 0)) || die "the server exited with $rc"
# The drain's lifecycle, in order.
events="$(grep -o '"event":"server\.[a-z_]*"' "$server_log" | tr '\n' ' ')"
expected='"event":"server.listening" "event":"server.draining" "event":"server.shutting_down" "event":"server.stopped" '
[[ "$events" == "$expected" ]] || die "lifecycle log: $events"
end

begin verify
in_image /usr/local/bin/ycr-server verify --data_dir=/var/lib/ycr/data
end
echo "container-test: ok ($runner runner)"
