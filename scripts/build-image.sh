#!/usr/bin/env bash
# Builds the server's container image, localhost/rebound:<Cargo.toml version>, offline: no base
# image and no registry. rebound and rebound-mcp are built as static binaries for
# x86_64-unknown-linux-musl (Debian's musl-tools for the C parts: ring, the bundled SQLite),
# stripped (the debug info is kept beside them as target/image/<bin>.debug), and copied with
# Debian's CA bundle and deploy/container/ into a FROM scratch image (deploy/container/Containerfile).
# podman, musl-tools and ca-certificates are installed from Debian when missing (as root).
#
#   scripts/build-image.sh          # build and tag the image
#   scripts/build-image.sh --test   # build, then prove the image complete (scripts/test.sh runs this)
#
# Containers cannot run in every sandbox (`podman run` may fail with "setrlimit: Operation not
# permitted"), so --test exports the image's root filesystem and runs its entrypoint and command
# in it under chroot (with /proc mounted, as a runtime does), as the image's user, in its working
# directory, with its environment: the server must start on SQLite in /data, report SERVING,
# hot-restart in exec mode (what it does as PID 1) and exit 0 on SIGTERM. It also checks the
# image's config: a numeric non-root user, /data a volume, `rebound serve` the entrypoint.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-musl
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
IMAGE=localhost/rebound:$VERSION
BINS=(rebound rebound-mcp)
OUT=target/image

run_test=false
case "${1:-}" in
  "") ;;
  --test) run_test=true ;;
  *) echo "usage: $0 [--test]" >&2; exit 64 ;;
esac

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "build-image: $*" >&2; exit 1; }

step "tools: podman, musl-gcc, the CA bundle, objcopy, file, the $TARGET target"
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
[[ -s $CA_BUNDLE ]] || missing+=(ca-certificates)
command -v objcopy >/dev/null || missing+=(binutils)
command -v file >/dev/null || missing+=(file)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || fail "missing: ${missing[*]}; run as root or apt-get install them"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"

step "static binaries: cargo build --release --target $TARGET (${BINS[*]})"
started=$SECONDS
CC_x86_64_unknown_linux_musl=musl-gcc \
  cargo build --release --locked --target "$TARGET" "${BINS[@]/#/--bin=}"
echo "built in $((SECONDS - started)) s"

# The build context: only what the image holds.
context=$OUT/context
rm -rf "$context"
mkdir -p "$context"/etc "$context"/dirs/tmp "$context"/data
for bin in "${BINS[@]}"; do
  built=target/$TARGET/release/$bin
  file -b "$built" | grep -Eq 'static(ally|-pie) linked' || fail "$built is not static: $(file -b "$built")"
  objcopy --only-keep-debug "$built" "$OUT/$bin.debug"
  objcopy --strip-all --add-gnu-debuglink="$OUT/$bin.debug" "$built" "$context/$bin"
  printf '%-12s %9d bytes built, %9d bytes stripped\n' "$bin" "$(stat -c %s "$built")" \
    "$(stat -c %s "$context/$bin")"
done
cp deploy/container/etc/passwd deploy/container/etc/group "$context"/etc/
cp deploy/container/rebound.toml "$CA_BUNDLE" "$context"/
chmod 1777 "$context"/dirs/tmp

step "image: podman build -t $IMAGE (FROM scratch)"
podman build --pull=never --build-arg VERSION="$VERSION" -t "$IMAGE" \
  -f deploy/container/Containerfile "$context"
podman image ls "$IMAGE"
$run_test || exit 0

step "image config: numeric non-root user, /data a volume, entrypoint rebound serve"
config() { podman image inspect --format "$1" "$IMAGE"; }
user=$(config "{{.Config.User}}")
uid=${user%%:*} gid=${user#*:}
[[ $user == *:* ]] || gid=$uid
[[ $uid =~ ^[0-9]+$ && $gid =~ ^[0-9]+$ ]] || fail "Config.User \"$user\" is not numeric uid:gid"
((uid != 0)) || fail "Config.User \"$user\" is root"
[[ $(config '{{range $path, $_ := .Config.Volumes}}{{$path}} {{end}}') == *"/data "* ]] ||
  fail "Config.Volumes lacks /data"
entrypoint=$(config '{{json .Config.Entrypoint}}')
[[ $entrypoint == '["/usr/local/bin/rebound","serve"]' ]] || fail "Config.Entrypoint is $entrypoint, not rebound serve"
echo "user $uid:$gid, volume /data, entrypoint $entrypoint, command $(config '{{json .Config.Cmd}}')"

step "image root filesystem: podman export, then the entrypoint under chroot as $uid:$gid"
root=$(mktemp -d -p target image-root.XXXXXX)
chmod 0755 "$root" # what a runtime gives the image's / (mktemp makes it 0700)
log=$root.log
container=$(podman create "$IMAGE")
server=""
cleanup() {
  if [[ -n $server ]]; then kill -KILL "$server" 2>/dev/null || true; fi
  podman rm --force "$container" >/dev/null
  if mountpoint -q "$root"/proc; then umount "$root"/proc; fi
  rm -rf --one-file-system "$root" "$log"
}
trap cleanup EXIT
podman export "$container" | tar -x --numeric-owner -C "$root"
certs=$(grep -c 'BEGIN CERTIFICATE' "$root$CA_BUNDLE") || fail "no CA certificates at $CA_BUNDLE"
grep -q '^listen = "0.0.0.0:50051"$' "$root"/etc/rebound/rebound.toml ||
  fail "/etc/rebound/rebound.toml does not listen on 0.0.0.0:50051"
[[ $(stat -c %u:%g "$root"/data) == "$uid:$gid" ]] || fail "/data is not owned by $uid:$gid"
[[ $(stat -c %a "$root"/tmp) == 1777 ]] || fail "/tmp is not mode 1777"
echo "CA bundle: $certs certificates; listen 0.0.0.0:50051; /data $uid:$gid; /tmp 1777"
# A runtime mounts /proc: the hot restart re-executes /proc/self/exe.
mkdir "$root"/proc
mount -t proc proc "$root"/proc

# What a runtime does with the image config, minus the namespaces: chroot, working directory,
# user, environment (plus VAR=VALUE arguments), then the arguments given, or else the
# entrypoint and command. The server's listen address moves to a free loopback port.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A shell function run in the background would be a subshell between $! and the server.
in_image=(python3 -c '
import json, os, sys
root, uid, gid, config, *args = sys.argv[1:]
config = json.loads(config)
env = dict(e.split("=", 1) for e in config.get("Env") or [])
while args and "=" in args[0]:
    env.update([args.pop(0).split("=", 1)])
argv = args or (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
os.chroot(root)
os.chdir(config.get("WorkingDir") or "/")
os.setgroups([])
os.setgid(int(gid))
os.setuid(int(uid))
os.execve(argv[0], argv, env)
' "$root" "$uid" "$gid" "$(config '{{json .Config}}')")
"${in_image[@]}" /usr/local/bin/rebound-mcp --version
"${in_image[@]}" "REBOUND_SERVER__LISTEN=127.0.0.1:$port" >"$log" 2>&1 &
server=$!

# The image's own binary, run from outside, asks for the health report (exit 0 when SERVING).
deadline=$((SECONDS + 120))
until "$root"/usr/local/bin/rebound health --addr "127.0.0.1:$port" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; fail "rebound serve exited before serving"; }
  ((SECONDS < deadline)) || { cat "$log" >&2; fail "rebound serve not SERVING within 120 s"; }
  sleep 0.2
done
"$root"/usr/local/bin/rebound health --addr "127.0.0.1:$port"
if command -v grpc-health-probe >/dev/null; then
  grpc-health-probe -addr "127.0.0.1:$port"
fi
[[ $(stat -c %u "$root"/data/rebound.db) == "$uid" ]] ||
  { cat "$log" >&2; fail "no database in /data written by $uid"; }

# As PID 1 of a container the server hot-restarts in exec mode: same pid, next generation.
"$root"/usr/local/bin/rebound restart --mode exec --wait --addr "127.0.0.1:$port" ||
  { cat "$log" >&2; fail "rebound restart --mode exec failed"; }
health=$("$root"/usr/local/bin/rebound health --addr "127.0.0.1:$port") ||
  { cat "$log" >&2; fail "not SERVING after the restart"; }
grep -Eq "^pid +$server$" <<<"$health" && grep -Eq '^generation +1$' <<<"$health" ||
  { echo "$health" >&2; fail "after the exec restart: not pid $server, generation 1"; }

kill -TERM "$server"
deadline=$((SECONDS + 60))
while kill -0 "$server" 2>/dev/null; do
  ((SECONDS < deadline)) || { cat "$log" >&2; fail "rebound serve still running 60 s after SIGTERM"; }
  sleep 0.2
done
rc=0
wait "$server" || rc=$?
server=""
((rc == 0)) || { cat "$log" >&2; fail "rebound serve exited $rc after SIGTERM"; }
echo "rebound serve from the image's root filesystem: SERVING on 127.0.0.1:$port, database in /data, hot restart in exec mode, exit 0 on SIGTERM"
