#!/usr/bin/env bash
# Build ycr in Release and start ycr-server on this machine.
# Usage: deploy/quickstart.sh [--demo | --foreground | --stop | --help]
# Env:   YCR_PORT (default 7070; 0 picks a free port), YCR_TLOG_PORT (7072)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

build_dir=build/release
server_bin="$build_dir/services/ycr-server"
cli_bin="$build_dir/clients/cli/ycr"
var_dir=./var
data_dir="$var_dir/data"
port_file="$var_dir/ycr-server.port"
tlog_port_file="$var_dir/ycr-server.tlog-port"
pid_file="$var_dir/ycr-server.pid"
log_file="$var_dir/ycr-server.log"
# Development certificates (deploy/dev-ca.sh): mutual TLS is the default.
tls_dir="$var_dir/tls"
env_file="$var_dir/ycr.env"
host=127.0.0.1
port="${YCR_PORT:-7070}"
# The transparency log's read API (/checkpoint, /tile/...): hashes and
# signed checkpoints only, on a port of its own so it can be public while
# the gRPC port is not.
tlog_port="${YCR_TLOG_PORT:-7072}"
start_timeout=30

usage() {
  cat <<USAGE
Usage: deploy/quickstart.sh [--demo | --foreground | --stop | --help]

Installs build dependencies, builds ycr (Release) into $build_dir, makes a
development CA and certificates in $tls_dir (deploy/dev-ca.sh) and starts
ycr-server on $host:\${YCR_PORT:-7070} over mutual TLS, with data in
$data_dir, with the transparency log's checkpoint and tiles over HTTP on
$host:\${YCR_TLOG_PORT:-7072}. $env_file then sets up the ycr CLI as the
admin.

  (no option)    start the server in the background (log: $log_file)
  --demo         the same, then seed a small demo county (ycr demo: schools,
                 a young carers' service, agreements, referrals, consents,
                 interventions, correspondence, a safeguarding case)
  --foreground   run the server in the foreground instead
  --stop         stop a server started by this script
  --help         show this help

Environment:
  YCR_PORT       port to listen on (default 7070, 0 = any free port)
  YCR_TLOG_PORT  port of the transparency log's HTTP read API (/checkpoint,
                 /tile/...; default 7072, 0 = any free port)
USAGE
}

mode=background
demo=0
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --foreground) mode=foreground ;;
    --stop) mode=stop ;;
    -h | --help) usage; exit 0 ;;
    *) echo "quickstart: unknown option: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

# Prints the pid from the pid file if that process is a live ycr-server.
running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(<"$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse by an unrelated process.
  if [[ -r "/proc/$pid/cmdline" ]] &&
    ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'ycr-server'; then
    return 1
  fi
  echo "$pid"
}

# Prints the port from the port file once it holds a number.
read_port() {
  [[ -s "$port_file" ]] || return 1
  local p
  p="$(tr -d '[:space:]' <"$port_file")"
  [[ "$p" =~ ^[0-9]+$ ]] || return 1
  echo "$p"
}

print_info() {
  local pid="$1" p tp
  p="$(read_port || echo "$port")"
  tp="$({ tr -d '[:space:]' <"$tlog_port_file"; } 2>/dev/null || echo "$tlog_port")"
  cat <<INFO

ycr-server is running (pid $pid)
  listening on  $host:$p
  tlog tiles    http://$host:$tp (the log's signed checkpoint: curl -s http://$host:$tp/checkpoint)
  data dir      $root/${data_dir#./}
  log           $root/${log_file#./}
  stop with     deploy/quickstart.sh --stop

  TLS           mutual; CA and certificates in $root/${tls_dir#./}

Try (the CLI's server and certificate come from $env_file; the admin sees
no personal data):
  source $env_file
  $cli_bin head
  $cli_bin head --tls_cert $tls_dir/clients/auditor-county/auditor-1.crt --tls_key $tls_dir/clients/auditor-county/auditor-1.key
INFO
}

# The CLI's environment: this server, its CA, and the admin's certificate.
write_env() {
  local p
  p="$(read_port || echo "$port")"
  cat >"$env_file" <<ENV
# Written by deploy/quickstart.sh: the ycr CLI as this machine's admin.
export YCR_SERVER=$host:$p
export YCR_TLS_CA=$root/${tls_dir#./}/ca.crt
export YCR_TLS_CERT=$root/${tls_dir#./}/clients/ops/ycr-admin.crt
export YCR_TLS_KEY=$root/${tls_dir#./}/clients/ops/ycr-admin.key
export YCR_TLS_IDENTITIES=$root/${tls_dir#./}/clients
ENV
}

stop_server() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "quickstart: no running ycr-server (pid file: $pid_file)"
    rm -f "$pid_file" "$port_file"
    return 0
  fi
  echo "quickstart: stopping ycr-server (pid $pid)"
  kill -TERM "$pid"
  local i
  for ((i = 0; i < start_timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "quickstart: pid $pid ignored SIGTERM for ${start_timeout}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file" "$port_file"
  echo "quickstart: stopped"
}

if [[ "$mode" == stop ]]; then
  stop_server
  exit 0
fi
if [[ "$demo" == 1 && "$mode" == foreground ]]; then
  echo "quickstart: --demo runs the server in the background; drop --foreground" >&2
  exit 2
fi

# Seeds the demo county into the running server (ycr demo is idempotent).
seed_demo() {
  local p
  p="$(read_port || echo "$port")"
  echo "== seeding the demo county (ycr demo, each call with its own certificate)"
  write_env
  # shellcheck disable=SC1090  # written just above
  (source "$env_file" && "$cli_bin" demo --server="$host:$p")
}

if pid="$(running_pid)"; then
  if [[ "$mode" == foreground ]]; then
    echo "quickstart: ycr-server already running in the background (pid $pid);" \
      "stop it first with deploy/quickstart.sh --stop" >&2
    exit 1
  fi
  echo "quickstart: ycr-server is already running; not starting a second one"
  write_env
  print_info "$pid"
  if [[ "$demo" == 1 ]]; then
    if [[ ! -x "$cli_bin" ]]; then
      cmake --build "$build_dir" -j"$(nproc)" --target ycr
    fi
    seed_demo
  fi
  exit 0
fi

echo "== installing dependencies"
bash deploy/install-deps.sh ccache lld

echo "== configuring $build_dir"
# The compiler cache (Debian's ccache, in the user's ~/.cache/ccache) keyed
# on paths relative to the checkout: a rebuild, or another clone, reuses it.
# YCR_ETCD=OFF: quickstart runs one node, and nothing it starts uses the
# etcd replication layer yet, so it neither needs etcd's packages nor builds it.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYCR_BUILD_TESTS=OFF \
  -DYCR_ETCD=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache

echo "== building"
cmake --build "$build_dir" -j"$(nproc)"

[[ -x "$server_bin" ]] || { echo "quickstart: $server_bin was not built" >&2; exit 1; }

echo "== development certificates in $tls_dir"
bash deploy/dev-ca.sh "$tls_dir"

mkdir -p "$data_dir"
rm -f "$port_file" "$pid_file" "$tlog_port_file"
server_args=(--listen="$host:$port" --data_dir="$data_dir" --port_file="$port_file"
  --tlog_listen="$host:$tlog_port" --tlog_port_file="$tlog_port_file"
  --tls_cert="$tls_dir/server.crt" --tls_key="$tls_dir/server.key"
  --tls_client_ca="$tls_dir/ca.crt")

if [[ "$mode" == foreground ]]; then
  echo "== starting ycr-server in the foreground (Ctrl-C to stop)"
  exec "$server_bin" "${server_args[@]}"
fi

echo "== starting ycr-server in the background"
nohup "$server_bin" "${server_args[@]}" </dev/null >"$log_file" 2>&1 &
pid=$!
echo "$pid" >"$pid_file"

# Wait for the server to write its port file.
fail_start() {
  echo "quickstart: $1; last lines of $log_file:" >&2
  tail -n 20 "$log_file" >&2 || true
  exit 1
}
for ((i = 0; i < start_timeout * 10; i++)); do
  read_port >/dev/null && break
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pid_file"
    fail_start "ycr-server exited during startup"
  fi
  sleep 0.1
done
if ! read_port >/dev/null; then
  # Do not leave a half-started server behind.
  kill -TERM "$pid" 2>/dev/null || true
  rm -f "$pid_file"
  fail_start "ycr-server did not write $port_file within ${start_timeout}s (stopped it)"
fi

write_env
print_info "$pid"
if [[ "$demo" == 1 ]]; then
  seed_demo
fi
