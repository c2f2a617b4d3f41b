#!/usr/bin/env bash
# Offline checks of deploy/ (run by scripts/test.sh after `cargo build --bins`):
#
#   scripts/check-deploy.sh systemd      # systemd-analyze verify + security scores, sysusers, tmpfiles
#   scripts/check-deploy.sh kubernetes   # kubernetes-validate --strict on deploy/kubernetes/*.yaml
#
# Everything runs against a throw-away root under target/, never the host's /etc.
set -euo pipefail
cd "$(dirname "$0")/.."

# The highest `systemd-analyze security` exposure each unit may have (systemd 252 measured
# 1.2, 1.6 and 1.6). rebound-agent stays root for its reboot duty: see its unit's header.
declare -A MAX_EXPOSURE=(
  [rebound.service]=2.0
  [rebound-agent.service]=2.0
  [notify-failure@.service]=2.0
)

check_systemd() {
  root=$(mktemp -d -p target deploy-root.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  # A root with the units, the built binaries at the units' paths, /bin/kill (ExecReload=)
  # and the host's own units (sysinit.target & co. that every service depends on).
  mkdir -p "$root"/etc/systemd/system "$root"/usr/local/bin "$root"/usr/lib/systemd "$root"/bin
  cp deploy/systemd/*.service "$root"/etc/systemd/system/
  for bin in rebound rebound-agent; do
    ln target/debug/$bin "$root"/usr/local/bin/ 2>/dev/null || cp target/debug/$bin "$root"/usr/local/bin/
  done
  cp /bin/kill "$root"/bin/
  cp -a /usr/lib/systemd/system "$root"/usr/lib/systemd/

  # verify warns (unknown keys, bad values) on stderr but exits 0: any output is a failure.
  local out
  out=$(systemd-analyze verify --root="$root" --man=no --generators=no \
    rebound.service rebound-agent.service notify-failure@app.service 2>&1) ||
    { echo "$out" >&2; echo "systemd-analyze verify failed" >&2; return 1; }
  if [[ -n "$out" ]]; then
    echo "$out" >&2
    echo "systemd-analyze verify complained about deploy/systemd" >&2
    return 1
  fi
  echo "systemd-analyze verify: deploy/systemd/*.service clean"

  local unit score failed=0
  for unit in "${!MAX_EXPOSURE[@]}"; do
    out=$(systemd-analyze security --offline=yes --no-pager "deploy/systemd/$unit" 2>&1)
    score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$out")
    if [[ -z "$score" ]]; then
      echo "$out" >&2
      echo "$unit: no \"Overall exposure level\" line" >&2
      return 1
    fi
    if awk -v s="$score" -v max="${MAX_EXPOSURE[$unit]}" 'BEGIN { exit !(s > max) }'; then
      echo "$out" | grep '✗' >&2 || true
      echo "$unit: exposure $score is above ${MAX_EXPOSURE[$unit]}" >&2
      failed=1
    else
      echo "$unit: exposure $score (at most ${MAX_EXPOSURE[$unit]})"
    fi
  done
  ((failed == 0)) || return 1

  # The user and directories the units rely on are created from deploy/ alone.
  systemd-sysusers --root="$root" "$PWD"/deploy/sysusers.d/rebound.conf 2>/dev/null
  grep -q '^rebound:' "$root"/etc/passwd || { echo "sysusers.d made no rebound user" >&2; return 1; }
  if [[ $(id -u) != 0 ]]; then
    echo "sysusers.d applied; tmpfiles.d not applied (giving directories away needs root)"
    return 0
  fi
  systemd-tmpfiles --root="$root" --create "$PWD"/deploy/tmpfiles.d/rebound.conf
  local uid
  uid=$(awk -F: '$1 == "rebound" { print $3 }' "$root"/etc/passwd)
  [[ $(stat -c %u "$root"/var/backups/rebound) == "$uid" ]] ||
    { echo "tmpfiles.d: /var/backups/rebound is not the rebound user's" >&2; return 1; }
  systemd-tmpfiles --root="$root" --create "$PWD"/deploy/tmpfiles.d/rebound-agent.conf
  [[ $(stat -c %a "$root"/var/lib/rebound-agent) == 700 ]] ||
    { echo "tmpfiles.d: /var/lib/rebound-agent is not private to root" >&2; return 1; }
  echo "sysusers.d and tmpfiles.d: rebound user, /etc/rebound, /var/backups/rebound and the agent's directories created"
}

# Kubernetes versions the manifests are for (preStop sleep: 1.30, or 1.29 with a feature gate),
# and the validator, pinned, in a venv of its own under target/.
K8S_VERSIONS=(1.30.0 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0 1.36.0 1.37.0)
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0

check_kubernetes() {
  local venv=target/deploy-venv
  if ! "$venv"/bin/python -c 'import kubernetes_validate' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv"/bin/python -m pip install --quiet --disable-pip-version-check "$KUBERNETES_VALIDATE"
  fi
  local version
  for version in "${K8S_VERSIONS[@]}"; do
    "$venv"/bin/kubernetes-validate --strict --quiet -k "$version" deploy/kubernetes/*.yaml \
      deploy/kubernetes/cluster/*.yaml
  done
  echo "kubernetes-validate --strict: deploy/kubernetes/*.yaml and cluster/*.yaml valid for ${K8S_VERSIONS[0]} to ${K8S_VERSIONS[-1]}"
  # 1.28 lacks preStop sleep: the check must be able to fail.
  if "$venv"/bin/kubernetes-validate --strict --quiet --no-warn -k 1.28.0 deploy/kubernetes/rebound.yaml \
    >/dev/null 2>&1; then
    echo "deploy/kubernetes/rebound.yaml validated for 1.28, which has no preStop sleep" >&2
    return 1
  fi
  # What the schemas cannot say: the hardening every pod must have, and the pieces around it.
  "$venv"/bin/python - <<'PY'
import json, re, sys, yaml
# Both variants: the single server (checked further below) first, then the cluster
# (check_kubernetes_cluster); every pod of either gets the same hardening.
docs = [d for f in ("rebound", "mosquitto", "cluster/rebound", "cluster/postgres")
        for d in yaml.safe_load_all(open(f"deploy/kubernetes/{f}.yaml"))]
errors = []
def kinds(kind):
    return [d for d in docs if d["kind"] == kind]
for deploy in kinds("Deployment") + kinds("StatefulSet"):
    name, pod = deploy["metadata"]["name"], deploy["spec"]["template"]["spec"]
    ctx = pod.get("securityContext", {})
    if ctx.get("runAsNonRoot") is not True:
        errors.append(f"{name}: securityContext.runAsNonRoot is not true")
    if ctx.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        errors.append(f"{name}: seccompProfile is not RuntimeDefault")
    for c in pod["containers"]:
        sc, res = c.get("securityContext", {}), c.get("resources", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{name}/{c['name']}: root filesystem is writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{name}/{c['name']}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            errors.append(f"{name}/{c['name']}: capabilities are not all dropped")
        for part in ("requests", "limits"):
            if set(res.get(part, {})) != {"cpu", "memory"}:
                errors.append(f"{name}/{c['name']}: resources.{part} lack cpu or memory")
    selector = deploy["spec"]["selector"]["matchLabels"]
    if not any(p["spec"]["podSelector"].get("matchLabels") == selector for p in kinds("NetworkPolicy")):
        errors.append(f"{name}: no NetworkPolicy")
version = re.search(r'^version = "(.*)"', open("Cargo.toml").read(), re.M)[1]
rebound = next(d for d in kinds("Deployment") if d["metadata"]["name"] == "rebound")
if rebound["spec"]["template"]["spec"]["containers"][0]["image"] != f"localhost/rebound:{version}":
    errors.append(f"rebound: image is not localhost/rebound:{version}")
if not any(p["spec"]["selector"]["matchLabels"] == {"app": "rebound"} for p in kinds("PodDisruptionBudget")):
    errors.append("rebound: no PodDisruptionBudget")
config = next(d for d in kinds("ConfigMap") if d["metadata"]["name"] == "rebound-config")
if "tokens_file" not in config["data"]["rebound.toml"]:
    errors.append("rebound: authentication is off (no auth.tokens_file)")
# The rebound pod runs the image of deploy/container/Containerfile as built: its user, its
# volume (holding the database), its entrypoint `rebound serve` (args are serve's options).
image = open("deploy/container/Containerfile").read()
uid = re.search(r"^USER (\d+)", image, re.M)[1]
volume = json.loads(re.search(r"^VOLUME (.*)$", image, re.M)[1])[0]
pod, container = rebound["spec"]["template"]["spec"], rebound["spec"]["template"]["spec"]["containers"][0]
if str(pod["securityContext"].get("runAsUser")) != uid:
    errors.append(f"rebound: runAsUser is not the image's user {uid}")
if volume not in {m["mountPath"] for m in container.get("volumeMounts", [])}:
    errors.append(f"rebound: the image's volume {volume} is not mounted")
if f'url = "sqlite://{volume}/' not in config["data"]["rebound.toml"]:
    errors.append(f"rebound: store.url is not on the image's volume {volume}")
if container.get("args", [])[:1] == ["serve"]:
    errors.append("rebound: args start with serve, which the image's entrypoint runs already")
# The broker's ConfigMap carries the shipped config and ACL verbatim.
data = next(d for d in kinds("ConfigMap") if d["metadata"]["name"] == "mosquitto-config")["data"]
if not data["mosquitto.conf"].startswith(open("deploy/mosquitto/mosquitto.conf").read()):
    errors.append("mosquitto-config: mosquitto.conf differs from deploy/mosquitto/mosquitto.conf")
if data["rebound.acl"] != open("deploy/mosquitto/rebound.acl").read():
    errors.append("mosquitto-config: rebound.acl differs from deploy/mosquitto/rebound.acl")
if errors:
    sys.exit("deploy/kubernetes:\n  " + "\n  ".join(errors))
print("deploy/kubernetes: hardened pods, resources, PDB, NetworkPolicies, auth, shipped broker config, the image's user, volume and entrypoint")
PY
  check_kubernetes_cluster "$venv"
}

# The cluster variant (deploy/kubernetes/cluster/): what docs/cluster.md promises of it.
check_kubernetes_cluster() {
  "$1"/bin/python - <<'PY'
import re, sys, yaml
docs = [d for f in ("rebound", "postgres")
        for d in yaml.safe_load_all(open(f"deploy/kubernetes/cluster/{f}.yaml"))]
errors = []
def kinds(kind):
    return [d for d in docs if d["kind"] == kind]
rebound = next(d for d in kinds("Deployment") if d["metadata"]["name"] == "rebound")
spec = rebound["spec"]
if spec["replicas"] < 3 or spec["strategy"]["type"] != "RollingUpdate":
    errors.append("rebound: not 3 replicas with a RollingUpdate")
if spec["strategy"].get("rollingUpdate", {}).get("maxUnavailable") != 0:
    errors.append("rebound: a rolling update may take a replica down before its successor is ready")
container = spec["template"]["spec"]["containers"][0]
for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
    if "grpc" not in container.get(probe, {}):
        errors.append(f"rebound: {probe} is not a gRPC probe")
env = {e["name"]: e for e in container.get("env", [])}
if "secretKeyRef" not in env.get("REBOUND_STORE__URL", {}).get("valueFrom", {}):
    errors.append("rebound: store.url (REBOUND_STORE__URL) does not come from a Secret")
if "$(POD_NAME)" not in env.get("REBOUND_CLUSTER__REPLICA_ID", {}).get("value", ""):
    errors.append("rebound: the replica id (and with it the MQTT client id) is not the pod's name")
version = re.search(r'^version = "(.*)"', open("Cargo.toml").read(), re.M)[1]
if container["image"] != f"localhost/rebound:{version}":
    errors.append(f"rebound: image is not localhost/rebound:{version}")
config = next(d for d in kinds("ConfigMap") if d["metadata"]["name"] == "rebound-config")
toml = config["data"]["rebound.toml"]
if "tokens_file" not in toml or re.search(r"^url = \"(sqlite|postgres)", toml, re.M):
    errors.append("rebound: authentication off, or a store URL in the ConfigMap")
pdb = [p for p in kinds("PodDisruptionBudget") if p["spec"]["selector"]["matchLabels"] == {"app": "rebound"}]
if not pdb or pdb[0]["spec"].get("maxUnavailable") != 1:
    errors.append("rebound: no PodDisruptionBudget keeping all but one replica")
if not kinds("StatefulSet") or not kinds("StatefulSet")[0]["spec"].get("volumeClaimTemplates"):
    errors.append("postgres: no StatefulSet with its own volume")
if errors:
    sys.exit("deploy/kubernetes/cluster:\n  " + "\n  ".join(errors))
print("deploy/kubernetes/cluster: 3 hardened replicas, RollingUpdate, PDB, gRPC probes, store URL from a Secret, a client id per pod, PostgreSQL StatefulSet")
PY
}

case "${1:-}" in
  systemd) check_systemd ;;
  kubernetes) check_kubernetes ;;
  *) echo "usage: $0 systemd|kubernetes" >&2; exit 64 ;;
esac
