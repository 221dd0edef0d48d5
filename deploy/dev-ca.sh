#!/usr/bin/env bash
# Makes a DEVELOPMENT certificate authority and certificates for ycr's mutual
# TLS (openssl). Not for production: there, certificates come from the
# organisation's own CA, with the same subject convention.
#
# Usage:
#   deploy/dev-ca.sh DIR                          the CA, the server's
#                                                 certificate and the standard
#                                                 identities (below)
#   deploy/dev-ca.sh DIR client ORG USER ROLE     one more client identity
#   deploy/dev-ca.sh DIR peer NAME                a certificate for a member
#                                                 of a cluster (etcd's peer
#                                                 port: both ends present
#                                                 it), DIR/peers/NAME.crt,
#                                                 .key (serverAuth and
#                                                 clientAuth; the server's
#                                                 subjectAltName)
#   deploy/dev-ca.sh DIR revoke ORG USER          revokes that caller's
#                                                 certificate and rewrites
#                                                 DIR/crl.pem (the server
#                                                 started with
#                                                 --tls_crl=DIR/crl.pem refuses
#                                                 it from its next handshake)
#
# Layout:
#   DIR/ca.crt, DIR/ca.key                 the CA (clients and server trust it)
#   DIR/server.crt, DIR/server.key         the server (subjectAltName:
#                                          127.0.0.1, ::1, localhost and any
#                                          names in $YCR_TLS_HOSTS, comma
#                                          separated, e.g. "ycr.internal,10.0.0.5")
#   DIR/clients/ORG/USER.crt, .key         a caller: subject O=ORG, OU=ROLE,
#                                          CN=USER (ycr reads its identity
#                                          from exactly these fields)
#   DIR/crl.pem                            the CA's certificate revocation
#                                          list, for ycr-server --tls_crl
#                                          (empty until a revoke; replaced
#                                          atomically); DIR/ca.cnf,
#                                          index.txt, crlnumber: openssl ca's
#                                          record of what was revoked
#
# Standard identities: ops/ycr-admin (admin), scheduler/ycr-scheduler
# (scheduler), auditor-county/auditor-1 (auditor), and everyone the demo
# county acts as (deploy/demo/county.jsonl), so that `ycr demo` runs over TLS.
# Files that exist are kept: running it again only adds what is missing.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[[ $# -ge 1 && "$1" != -h && "$1" != --help ]] || usage
dir="$1"
shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v openssl >/dev/null || {
  echo "dev-ca.sh: openssl is needed (apt-get install openssl)" >&2
  exit 1
}
umask 077
mkdir -p "$dir/clients"

days=825
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

# Signs DIR/NAME.csr with the CA into NAME.crt, with the extensions given.
sign() {
  local name="$1" extensions="$2"
  openssl x509 -req -in "$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -out "$name.crt" \
    -extfile <(printf '%b' "$extensions") 2>/dev/null
  rm -f "$name.csr"
}

ca() {
  [[ -s "$dir/ca.crt" && -s "$dir/ca.key" ]] && return
  openssl req -x509 "${newkey[@]}" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -days 3650 -subj "/O=ycr development/CN=ycr development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  chmod 0644 "$dir/ca.crt"
  echo "dev-ca: made the CA $dir/ca.crt"
}

# The names a server's (or a peer's) certificate is good for.
host_names() {
  local names="IP:127.0.0.1,IP:::1,DNS:localhost" host
  IFS=, read -ra hosts <<<"${YCR_TLS_HOSTS:-}"
  for host in "${hosts[@]}"; do
    [[ -z "$host" ]] && continue
    if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then
      names+=",IP:$host"
    else
      names+=",DNS:$host"
    fi
  done
  echo "$names"
}

server() {
  [[ -s "$dir/server.crt" && -s "$dir/server.key" ]] && return
  local names
  names="$(host_names)"
  openssl req -new "${newkey[@]}" -keyout "$dir/server.key" \
    -out "$dir/server.csr" -subj "/O=ycr/OU=server/CN=localhost" 2>/dev/null
  sign "$dir/server" "subjectAltName=$names\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n"
  echo "dev-ca: made the server's certificate $dir/server.crt ($names)"
}

# One caller: O=organisation, OU=role, CN=user.
client() {
  local organisation="$1" user="$2" role="$3" part
  for part in "$organisation" "$user" "$role"; do
    if [[ ! "$part" =~ ^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$ ]]; then
      echo "dev-ca.sh: '$part': use letters, digits and . _ @ - (1..128)" >&2
      exit 2
    fi
  done
  local stem="$dir/clients/$organisation/$user"
  [[ -s "$stem.crt" && -s "$stem.key" ]] && return
  mkdir -p "$dir/clients/$organisation"
  openssl req -new "${newkey[@]}" -keyout "$stem.key" -out "$stem.csr" \
    -subj "/O=$organisation/OU=$role/CN=$user" 2>/dev/null
  sign "$stem" "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n"
  made=$((made + 1))
}

# A cluster member NAME: one certificate for both ends of its peer links.
peer() {
  local name="$1" names
  if [[ ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
    echo "dev-ca.sh: '$name': use letters, digits and . _ - (1..64)" >&2
    exit 2
  fi
  local stem="$dir/peers/$name"
  [[ -s "$stem.crt" && -s "$stem.key" ]] && return
  mkdir -p "$dir/peers"
  names="$(host_names)"
  openssl req -new "${newkey[@]}" -keyout "$stem.key" -out "$stem.csr" \
    -subj "/O=ycr/OU=peer/CN=$name" 2>/dev/null
  sign "$stem" "subjectAltName=$names\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n"
}

# openssl ca's configuration and database, in DIR (relative names: run from
# DIR).
ca_database() {
  [[ -f "$dir/index.txt" ]] || : >"$dir/index.txt"
  [[ -f "$dir/crlnumber" ]] || echo 1000 >"$dir/crlnumber"
  [[ -f "$dir/ca.cnf" ]] && return
  cat >"$dir/ca.cnf" <<'CNF'
[ ca ]
default_ca = dev_ca
[ dev_ca ]
database = ./index.txt
crlnumber = ./crlnumber
certificate = ./ca.crt
private_key = ./ca.key
default_md = sha256
default_crl_days = 825
unique_subject = no
CNF
}

# DIR/crl.pem from the database: written beside it, then renamed over it,
# so that a server never reads half a list.
write_crl() {
  ca_database
  (cd "$dir" && openssl ca -config ca.cnf -gencrl -out crl.pem.tmp 2>/dev/null)
  chmod 0644 "$dir/crl.pem.tmp"
  mv -f "$dir/crl.pem.tmp" "$dir/crl.pem"
}

revoke() {
  local organisation="$1" user="$2" out
  local crt="$dir/clients/$organisation/$user.crt"
  if [[ ! -s "$crt" ]]; then
    echo "dev-ca.sh: no certificate $crt to revoke" >&2
    exit 1
  fi
  ca_database
  if ! out="$(cd "$dir" && openssl ca -config ca.cnf -revoke     "clients/$organisation/$user.crt" 2>&1)"; then
    # Revoking twice is not an error.
    if [[ "$out" != *"Already revoked"* ]]; then
      echo "dev-ca.sh: revoking $crt failed: $out" >&2
      exit 1
    fi
  fi
  write_crl
}

made=0
ca
if [[ $# -gt 0 ]]; then
  case "$1" in
    client)
      [[ $# -eq 4 ]] || usage
      client "$2" "$3" "$4"
      echo "dev-ca: $dir/clients/$2/$3.crt (O=$2, OU=$4, CN=$3)"
      ;;
    peer)
      [[ $# -eq 2 ]] || usage
      peer "$2"
      echo "dev-ca: $dir/peers/$2.crt (a cluster member's peer certificate)"
      ;;
    revoke)
      [[ $# -eq 3 ]] || usage
      revoke "$2" "$3"
      echo "dev-ca: revoked $dir/clients/$2/$3.crt; wrote $dir/crl.pem"
      ;;
    *) usage ;;
  esac
  exit 0
fi
[[ -s "$dir/crl.pem" ]] || write_crl
server
client ops ycr-admin admin
client scheduler ycr-scheduler scheduler
client auditor-county auditor-1 auditor
# Everyone the demo county acts as ("as":"organisation/user/role").
if [[ -f "$here/demo/county.jsonl" ]]; then
  while IFS=/ read -r organisation user role; do
    client "$organisation" "$user" "$role"
  done < <(grep -o '"as": *"[^"]*"' "$here/demo/county.jsonl" |
    sed -E 's/"as": *"([^"]*)"/\1/' | sort -u)
fi
echo "dev-ca: $made client certificate(s) made under $dir/clients"
