#!/usr/bin/env bash
# Offline checks of deploy/ (run by scripts/test.sh after `cargo build --bins`):
#
#   scripts/check-deploy.sh systemd      # systemd-analyze verify + security scores, sysusers, tmpfiles
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
  systemd-sysusers --root="$root" "$PWD"/deploy/sysusers.d/rebound.conf
  grep -q '^rebound:' "$root"/etc/passwd || { echo "sysusers.d made no rebound user" >&2; return 1; }
  systemd-tmpfiles --root="$root" --create "$PWD"/deploy/tmpfiles.d/rebound.conf
  local uid
  uid=$(awk -F: '$1 == "rebound" { print $3 }' "$root"/etc/passwd)
  [[ $(stat -c %u "$root"/var/backups/rebound) == "$uid" ]] ||
    { echo "tmpfiles.d: /var/backups/rebound is not the rebound user's" >&2; return 1; }
  echo "sysusers.d and tmpfiles.d: rebound user, /etc/rebound and /var/backups/rebound created"
}

case "${1:-}" in
  systemd) check_systemd ;;
  *) echo "usage: $0 systemd" >&2; exit 64 ;;
esac
