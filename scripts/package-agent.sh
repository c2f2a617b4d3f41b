#!/usr/bin/env bash
# Builds the rebound-agent .deb packages: the agent alone (`--no-default-features`, so tonic,
# sqlx and rusqlite are not compiled), in release, stripped, for each Debian architecture
# asked for (default: amd64 arm64; armhf when its cross compiler is installed):
#
#   scripts/package-agent.sh [amd64] [arm64] [armhf]
#
# Writes target/debian/rebound-agent_<version>_<arch>.deb and, beside it, the binary's debug
# info (rebound-agent_<version>_<arch>.debug). Each package holds /usr/bin/rebound-agent, the
# units of deploy/systemd (rebound-agent.service, notify-failure@.service) under
# /lib/systemd/system, /etc/rebound-agent/agent.toml (a conffile), the state directory
# /var/lib/rebound-agent and its tmpfiles.d entry. The agent runs as root (see its unit), so
# there is no sysusers.d user. Cross builds need Debian's gcc-aarch64-linux-gnu
# (gcc-arm-linux-gnueabihf for armhf) and the rustup target.
set -euo pipefail
cd "$(dirname "$0")/.."

archs=("$@")
((${#archs[@]})) || archs=(amd64 arm64)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
out=target/debian
mkdir -p "$out"

# Debian architecture → Rust target triple and GNU tool prefix.
triple_of() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    armhf) echo armv7-unknown-linux-gnueabihf ;;
    *) echo "unknown architecture: $1 (amd64, arm64 or armhf)" >&2; return 1 ;;
  esac
}
tools_of() {
  case "$1" in
    amd64) echo "" ;;
    arm64) echo aarch64-linux-gnu- ;;
    armhf) echo arm-linux-gnueabihf- ;;
  esac
}

# The agent-only dependency tree must not hold the server's: checked on cargo's own
# resolution, before anything is built.
check_tree() {
  local triple=$1 found
  found=$(cargo tree --locked --no-default-features -e normal,build --target "$triple" \
    --prefix none --format '{p}' | awk '{print $1}' | sort -u |
    grep -xE 'tonic|tonic-.*|sqlx|sqlx-.*|rusqlite|libsqlite3-sys|prost|hyper' || true)
  if [[ -n "$found" ]]; then
    echo "the agent-only build would compile server dependencies: $found" >&2
    return 1
  fi
}

package() {
  local arch=$1 triple tools bin stage deb glibc start
  triple=$(triple_of "$arch")
  tools=$(tools_of "$arch")
  if [[ -n "$tools" ]] && ! command -v "${tools}gcc" >/dev/null; then
    echo "missing: ${tools}gcc (Debian's gcc-${tools%-}) for $arch" >&2
    return 1
  fi
  rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
  check_tree "$triple"

  start=$SECONDS
  # A cross linker only for a foreign target: for the host's own triple the variable would
  # also link the build scripts, and a changed linker rebuilds every dependency.
  local linker=()
  [[ -n "$tools" ]] && linker=("CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$triple")_LINKER=${tools}gcc")
  env "${linker[@]}" cargo build --locked --release --no-default-features \
    --target "$triple" --bin rebound-agent
  echo "$arch: agent-only release build took $((SECONDS - start)) s"
  bin=target/$triple/release/rebound-agent

  stage=target/debian/$arch.root
  rm -rf "$stage"
  install -d -m 0755 "$stage"/DEBIAN "$stage"/usr/bin "$stage"/lib/systemd/system \
    "$stage"/usr/lib/tmpfiles.d "$stage"/usr/share/doc/rebound-agent
  install -d -m 0700 "$stage"/etc/rebound-agent "$stage"/var/lib/rebound-agent
  # Debug info split out beside the package; the packaged binary is stripped.
  "${tools}objcopy" --only-keep-debug "$bin" "$out/rebound-agent_${version}_${arch}.debug"
  "${tools}strip" --strip-all -o "$stage"/usr/bin/rebound-agent "$bin"
  "${tools}objcopy" --add-gnu-debuglink="$out/rebound-agent_${version}_${arch}.debug" \
    "$stage"/usr/bin/rebound-agent
  if "${tools}readelf" -S "$stage"/usr/bin/rebound-agent | grep -qE '\.(symtab|debug_info)'; then
    echo "$arch: the packaged binary is not stripped" >&2
    return 1
  fi
  # deploy/ is written for a hand install (/usr/local/bin, /etc/rebound); the package puts
  # the binary in /usr/bin and the agent's files in /etc/rebound-agent.
  local paths='s#/usr/local/bin/rebound-agent#/usr/bin/rebound-agent#g; s#/etc/rebound/agent#/etc/rebound-agent/agent#g; s#/etc/rebound/broker-ca#/etc/rebound-agent/broker-ca#g'
  for unit in rebound-agent.service notify-failure@.service; do
    sed "$paths" "deploy/systemd/$unit" >"$stage/lib/systemd/system/$unit"
    chmod 0644 "$stage/lib/systemd/system/$unit"
  done
  sed "$paths" deploy/agent/agent.toml >"$stage"/etc/rebound-agent/agent.toml
  chmod 0600 "$stage"/etc/rebound-agent/agent.toml
  install -m 0644 deploy/tmpfiles.d/rebound-agent.conf "$stage"/usr/lib/tmpfiles.d/
  printf 'rebound-agent, the rebound device agent.\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' \
    >"$stage"/usr/share/doc/rebound-agent/copyright

  # The newest glibc symbol version the binary needs is its libc6 dependency.
  glibc=$("${tools}objdump" -T "$stage"/usr/bin/rebound-agent | grep -oE 'GLIBC_[0-9.]+' |
    sed 's/GLIBC_//' | sort -uV | tail -n1)
  cat >"$stage"/DEBIAN/control <<CONTROL
Package: rebound-agent
Version: $version
Architecture: $arch
Maintainer: rebound maintainers <rebound@localhost>
Depends: libc6 (>= $glibc)
Section: admin
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: rebound device agent
 Carries out rebound's device commands (reboot, shutdown, application restart) received
 over MQTT, and reports heartbeats, per contracts/mqtt-v1.md. Configure
 /etc/rebound-agent/agent.toml, then: systemctl enable --now rebound-agent.
CONTROL
  echo /etc/rebound-agent/agent.toml >"$stage"/DEBIAN/conffiles
  cat >"$stage"/DEBIAN/postinst <<'POSTINST'
#!/bin/sh
# Creates the agent's directories; tells a running systemd about the units. Nothing is
# started: the agent needs its broker and device identity in /etc/rebound-agent/agent.toml.
set -e
if [ "$1" = configure ]; then
  if command -v systemd-tmpfiles >/dev/null; then
    systemd-tmpfiles --create rebound-agent.conf || true
  fi
  # In a chroot or a container without systemd there is no manager to reload.
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
fi
POSTINST
  chmod 0755 "$stage"/DEBIAN/postinst

  deb="$out/rebound-agent_${version}_${arch}.deb"
  dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
  echo "$arch: $deb ($(stat -c %s "$deb") bytes; stripped binary $(stat -c %s "$stage"/usr/bin/rebound-agent) bytes)"
  rm -rf "$stage"
}

for arch in "${archs[@]}"; do
  package "$arch"
done
