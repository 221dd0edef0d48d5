#!/usr/bin/env bash
# A 3-node ycr cluster on this machine (README "Running a cluster"): 3 etcd
# members and 3 ycr-server nodes on loopback, one cluster key-encryption key
# and one transparency-log signer key made for them (every node gets the
# same --cluster_kek and --tlog_key files). The nodes reach etcd over TLS
# with a client certificate (etcd --client-cert-auth), and etcd's members
# talk to each other over TLS with peer certificates (--peer-client-cert-auth),
# all from a development CA made here (deploy/dev-ca.sh $YCR_CLUSTER_DIR/tls);
# the nodes' own API is plain text (--insecure: for trying it out only).
# YCR_ETCD_INSECURE=1: etcd in plain text, clients and peers.
# Usage: deploy/cluster.sh start | stop | status | --help
# Env:   YCR_CLUSTER_DIR (default ./var/cluster), YCR_BIN (the directory of
#        ycr-server; default build/release/services), ETCD (default: etcd on
#        PATH), YCR_BASE_PORT (default 7170: nodes on 7170-7172),
#        YCR_ETCD_PORT (default 2479: etcd's clients on 2479/2489/2499,
#        peers one above each).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${YCR_CLUSTER_DIR:-./var/cluster}"
bin="${YCR_BIN:-build/release/services}"
etcd="${ETCD:-$(command -v etcd || true)}"
base="${YCR_BASE_PORT:-7170}"
etcd_base="${YCR_ETCD_PORT:-2479}"
host=127.0.0.1

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

etcd_client_port() { echo $((etcd_base + 10 * $1)); }
etcd_peer_port() { echo $((etcd_base + 1 + 10 * $1)); }
endpoints() {
  local out=() i
  for i in 0 1 2; do out+=("$host:$(etcd_client_port "$i")"); done
  (IFS=,; echo "${out[*]}")
}

# Waits (bounded) until `$1` answers: a command run every 0.2 s.
wait_for() {
  local what="$1" i
  shift
  for i in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "cluster: $what did not come up; see $dir/*.log" >&2
  return 1
}

start() {
  if [[ -z "$etcd" ]]; then
    echo "cluster: no etcd binary (apt-get install etcd-server etcd-client)" >&2
    exit 1
  fi
  if [[ ! -x "$bin/ycr-server" ]]; then
    echo "cluster: no $bin/ycr-server (build it, or set YCR_BIN)" >&2
    exit 1
  fi
  local name
  for name in node0 node1 node2 etcd0 etcd1 etcd2; do
    if [[ -f "$dir/$name.pid" ]] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
      echo "cluster: $name is already running (deploy/cluster.sh stop)" >&2
      exit 1
    fi
  done
  mkdir -p "$dir"
  if [[ ! -f "$dir/cluster.kek" ]]; then
    (umask 077 && openssl rand -hex 32 >"$dir/cluster.kek")
  fi
  # One signer of the log's checkpoints for every node.
  if [[ ! -f "$dir/tlog-signer.key" ]]; then
    "$bin/ycr-server" keygen --name=localhost/ycr/cluster-sh \
      --out="$dir/tlog-signer.key" >/dev/null
  fi
  # TLS to etcd's client port, with client certificates, and between its
  # members, with peer certificates.
  local scheme=https peer_scheme=https etcd_tls=() node_tls=() ctl_tls=()
  if [[ "${YCR_ETCD_INSECURE:-0}" == 1 ]]; then
    scheme=http
    peer_scheme=http
    node_tls=(--replication_insecure)
  else
    local tls="$dir/tls"
    bash deploy/dev-ca.sh "$tls" >/dev/null
    bash deploy/dev-ca.sh "$tls" client ycr-cluster ycr-node replication >/dev/null
    local client="$tls/clients/ycr-cluster/ycr-node"
    etcd_tls=(--cert-file="$tls/server.crt" --key-file="$tls/server.key"
      --client-cert-auth --trusted-ca-file="$tls/ca.crt")
    node_tls=(--replication_ca="$tls/ca.crt" --replication_cert="$client.crt"
      --replication_key="$client.key")
    ctl_tls=(--cacert="$tls/ca.crt" --cert="$client.crt" --key="$client.key")
  fi
  local peers=() i
  for i in 0 1 2; do
    peers+=("etcd$i=$peer_scheme://$host:$(etcd_peer_port "$i")")
  done
  local initial
  initial="$(IFS=,; echo "${peers[*]}")"
  for i in 0 1 2; do
    local state=new peer_tls=()
    [[ -d "$dir/etcd$i" ]] && state=existing
    if [[ "$peer_scheme" == https ]]; then
      bash deploy/dev-ca.sh "$dir/tls" peer "etcd$i" >/dev/null
      peer_tls=(--peer-cert-file="$dir/tls/peers/etcd$i.crt"
        --peer-key-file="$dir/tls/peers/etcd$i.key" --peer-client-cert-auth
        --peer-trusted-ca-file="$dir/tls/ca.crt")
    fi
    "$etcd" --name="etcd$i" --data-dir="$dir/etcd$i" "${etcd_tls[@]}" \
      "${peer_tls[@]}" \
      --listen-client-urls="$scheme://$host:$(etcd_client_port "$i")" \
      --advertise-client-urls="$scheme://$host:$(etcd_client_port "$i")" \
      --listen-peer-urls="$peer_scheme://$host:$(etcd_peer_port "$i")" \
      --initial-advertise-peer-urls="$peer_scheme://$host:$(etcd_peer_port "$i")" \
      --initial-cluster="$initial" --initial-cluster-state="$state" \
      --initial-cluster-token=ycr-cluster-sh \
      >"$dir/etcd$i.log" 2>&1 &
    echo $! >"$dir/etcd$i.pid"
  done
  if command -v etcdctl >/dev/null 2>&1; then
    wait_for "etcd" env ETCDCTL_API=3 etcdctl --endpoints="$(endpoints)" \
      "${ctl_tls[@]}" endpoint health
  fi
  for i in 0 1 2; do
    if ! kill -0 "$(cat "$dir/etcd$i.pid")" 2>/dev/null; then
      echo "cluster: etcd$i exited; see $dir/etcd$i.log" >&2
      exit 1
    fi
  done
  for i in 0 1 2; do
    local port=$((base + i))
    "$bin/ycr-server" --insecure --data_dir="$dir/node$i" \
      --listen="$host:$port" --advertise="$host:$port" --node_id="node$i" \
      --replication="etcd://$(endpoints)" "${node_tls[@]}" \
      --cluster_kek="$dir/cluster.kek" --tlog_key="$dir/tlog-signer.key" \
      --backup_dir="$dir/backups$i" \
      >"$dir/node$i.log" 2>&1 &
    echo $! >"$dir/node$i.pid"
  done
  for i in 0 1 2; do
    wait_for "node$i" grep -q 'server.listening' "$dir/node$i.log"
    if ! kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null; then
      echo "cluster: node$i exited; see $dir/node$i.log" >&2
      exit 1
    fi
  done
  status
  echo "ycr CLI: ycr --insecure --server=$host:$base ... (a follower names" \
    "the leader; the CLI follows it once)"
}

stop() {
  local name
  for name in node0 node1 node2 etcd0 etcd1 etcd2; do
    local pid_file="$dir/$name.pid"
    [[ -f "$pid_file" ]] || continue
    local pid
    pid="$(cat "$pid_file")"
    if kill "$pid" 2>/dev/null; then
      # Bounded: a server drains within its grace, etcd stops at once.
      for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
    fi
    rm -f "$pid_file"
  done
  echo "cluster: stopped (data kept in $dir; remove it to start afresh)"
}

status() {
  local i
  for i in 0 1 2; do
    local role=stopped
    if [[ -f "$dir/node$i.pid" ]] && kill -0 "$(cat "$dir/node$i.pid")" 2>/dev/null; then
      role="$(grep -o 'replication.role role=[a-z_]*' "$dir/node$i.log" |
        tail -1 | cut -d= -f2)"
      role="${role:-starting}"
    fi
    echo "node$i $host:$((base + i)) $role"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
