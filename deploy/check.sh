#!/usr/bin/env bash
# Offline checks of the deployment files: the systemd units verify with no
# unknown keys (systemd-analyze), the Kubernetes manifest parses and has the
# pieces it promises (python3 with PyYAML). A missing tool skips its part;
# with no tool at all the script exits 77 (ctest: skipped).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
checked=0

if command -v systemd-analyze >/dev/null 2>&1; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  for unit in systemd/*.service; do
    # verify wants the executables to exist: point them at /bin/true.
    sed -E 's|^ExecStart=/usr/local/bin/[a-z-]+|ExecStart=/bin/true|' "$unit" \
      >"$tmp/$(basename "$unit")"
  done
  out="$(cd "$tmp" && systemd-analyze verify ./*.service 2>&1 || true)"
  # Complaints about the host (no D-Bus in a container) are not ours.
  ours="$(grep -E '\.service' <<<"$out" || true)"
  if [[ -n "$ours" ]]; then
    echo "check: systemd units:" >&2
    echo "$ours" >&2
    exit 1
  fi
  if ! grep -q -- '--tlog_listen=' systemd/ycr-server.service; then
    echo "check: systemd/ycr-server.service has no --tlog_listen" >&2
    exit 1
  fi
  echo "check: systemd units verify"
  checked=1
else
  echo "check: systemd-analyze not found; units not verified"
fi

if python3 -c 'import yaml' >/dev/null 2>&1; then
  python3 - <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open("k8s/ycr.yaml")) if d]
kinds = {d["kind"]: d for d in docs}
errors = []
sts = kinds.get("StatefulSet")
if sts is None:
    errors.append("no StatefulSet")
else:
    spec = sts["spec"]
    if not spec.get("volumeClaimTemplates"):
        errors.append("StatefulSet has no volumeClaimTemplates")
    c = spec["template"]["spec"]["containers"][0]
    # The gRPC port wants a client certificate: probes read /healthz.
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if c.get(probe, {}).get("httpGet", {}).get("path") != "/healthz":
            errors.append(f"{probe} does not read /healthz")
    for flag in ("--tls_cert=", "--tls_key=", "--tls_client_ca="):
        if not any(a.startswith(flag) for a in c.get("args", [])):
            errors.append(f"the server has no {flag}")
    # The transparency log's tiles on a port of their own, in the Service.
    if not any(a.startswith("--tlog_listen=") for a in c.get("args", [])):
        errors.append("the server has no --tlog_listen")
    if "tlog" not in {p["name"] for p in c.get("ports", [])}:
        errors.append("the container has no tlog port")
    # Replicated (README "Running a cluster"): three nodes on etcd, each
    # named after its pod, with the cluster key.
    if spec.get("replicas", 1) < 3:
        errors.append("the StatefulSet runs fewer than 3 nodes")
    for flag in ("--replication=etcd://", "--node_id=$(POD_NAME)",
                 "--advertise=$(POD_NAME).", "--cluster_kek=",
                 "--replication_ca=", "--replication_cert=",
                 "--replication_key="):
        if not any(a.startswith(flag) for a in c.get("args", [])):
            errors.append(f"the server has no {flag}")
    if any(a in ("--insecure", "--replication_insecure")
           for a in c.get("args", [])):
        errors.append("the server runs --insecure")
    mounts = {m["name"] for m in c.get("volumeMounts", [])}
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    if not claims <= mounts:
        errors.append("a claim is not mounted")
if "Service" not in kinds:
    errors.append("no Service")
elif not any(p.get("targetPort") == "tlog"
             for d in docs if d["kind"] == "Service"
             for p in d["spec"].get("ports", [])):
    errors.append("no Service port for tlog")
if errors:
    print("check: k8s/ycr.yaml: " + "; ".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"check: k8s/ycr.yaml parses ({len(docs)} objects)")
PY
  checked=1
else
  echo "check: python3 with PyYAML not found; manifest not checked"
fi

((checked)) || exit 77
