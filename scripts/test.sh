#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine: installs the tools the tests
# use (grpc-health-probe and grpcurl via `go install`, buf via npx, Mosquitto from Debian
# when running as root; pinned Python packages in a venv under target/, the Go protoc
# plugins via scripts/gen-clients.sh), then lint, format, clippy, the rebound-agent .deb
# packages (amd64, arm64; the arm64 one is run under qemu-user by the tests), the whole cargo test
# suite, benchmark smoke runs, the generated-clients staleness check, mypy --strict on the
# Python client, the Python, MCP and Go client tests, and the offline checks of deploy/
# (systemd units, Kubernetes manifests), and the container image, built and run from its root
# filesystem (scripts/build-image.sh --test).
#
#   ./scripts/test.sh            # everything
#   ./scripts/test.sh --quick    # skip buf lint, clippy, the aarch64 check and the image (inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."

GRPC_HEALTH_PROBE_VERSION=v0.4.61
GRPCURL_VERSION=v1.9.4
BUF_VERSION=1.75.0
quick=false
[[ "${1:-}" == "--quick" ]] && quick=true

step() { printf '\n==> %s\n' "$*"; }

export PATH="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin:$PATH"

step "tools"
command -v grpc-health-probe >/dev/null ||
  go install "github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION}"
command -v grpcurl >/dev/null ||
  go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION}"
# Mosquitto (broker + mosquitto_passwd) for the device tests, from Debian. (TLS test
# certificates are made in the tests with rcgen.)
missing=()
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
# systemd-analyze, systemd-sysusers and systemd-tmpfiles check deploy/ offline.
command -v systemd-analyze >/dev/null || missing+=(systemd)
# The console's browser tests (tests/console.rs) drive Debian's Chromium through chromedriver;
# no browser is ever downloaded.
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
if (( ${#missing[@]} )); then
  if [[ "$(id -u)" == 0 ]]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  else
    echo "missing: ${missing[*]}; run as root or apt-get install them" >&2
    exit 1
  fi
fi
echo "mosquitto: $(command -v mosquitto || echo /usr/sbin/mosquitto)"
echo "grpc-health-probe: $(command -v grpc-health-probe)"
echo "grpcurl: $(command -v grpcurl)"

if ! $quick; then
  step "buf lint (proto/ is the API contract)"
  npx --yes "@bufbuild/buf@${BUF_VERSION}" lint

  step "cargo fmt --check"
  cargo fmt --all -- --check

  step "cargo clippy"
  cargo clippy --locked --all-targets -- -D warnings
  # The agent-only build (no `server` feature) has cfg paths of its own.
  cargo clippy --locked --no-default-features --lib --bin rebound-agent -- -D warnings
fi

if ! $quick; then
  # rebound-agent runs on Raspberry Pis: its .deb packages (amd64, arm64) are built here, and
  # tests/agent_package.rs runs the arm64 one under qemu-user in `cargo test` below (under
  # CI=true it fails when the package is missing). The cross build needs Debian's
  # gcc-aarch64-linux-gnu (ring's build script); qemu-user-static runs the result.
  step "rebound-agent packages (scripts/package-agent.sh amd64 arm64)"
  missing=()
  command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  if (( ${#missing[@]} )); then
    if [[ "$(id -u)" == 0 ]]; then
      apt-get update
      DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    else
      echo "missing: ${missing[*]}; run as root or apt-get install them" >&2
      exit 1
    fi
  fi
  scripts/package-agent.sh amd64 arm64
fi

# Pinned Python packages first: tests/metrics.rs (in `cargo test`) parses /metrics with the
# official Prometheus parser from this venv ($PYTHON); the clients use it further down.
step "Python tools (pinned, in a venv under target/)"
venv=target/pyenv
if ! python3 -m venv "$venv" 2>/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv python3-pip
    python3 -m venv "$venv"
  else
    echo "python3 -m venv failed: install python3-venv" >&2
    exit 1
  fi
fi
export PYTHON="$PWD/$venv/bin/python"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -r clients/python/requirements-dev.txt
"$PYTHON" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./clients/python

# One PostgreSQL 15 for the whole run: the store suite and the whole-process tests make a
# fresh database per test on it (tests/support/postgres.rs). Installed with apt when missing;
# stopped and removed at exit. Under CI=true a test that cannot reach it fails instead of
# skipping.
step "PostgreSQL 15 for the tests (scripts/test-postgres.sh)"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/rebound-test-pg.XXXXXX")
trap 'scripts/test-postgres.sh stop "$pg_dir"' EXIT
REBOUND_TEST_POSTGRES=$(scripts/test-postgres.sh start "$pg_dir")
export REBOUND_TEST_POSTGRES
echo "postgres: $REBOUND_TEST_POSTGRES"

step "cargo test"
cargo test --locked --all-targets

step "benchmark smoke runs (figures need release builds: see docs/benchmarks.md)"
cargo run --quiet --locked -- bench reload --smoke
cargo run --quiet --locked -- bench fanout --smoke
cargo run --quiet --locked -- bench console --smoke
cargo run --quiet --locked -- bench memory --smoke
cargo run --quiet --locked -- bench recovery --smoke
cargo run --quiet --locked -- bench cluster --smoke --store-url "$REBOUND_TEST_POSTGRES"

# The clients and the MCP adapter are tested against the binaries cargo just built.
cargo build --locked --bins

step "clients: generated code is up to date with proto/ (scripts/gen-clients.sh --check)"
scripts/gen-clients.sh --check

export REBOUND_BIN="$PWD/target/debug/rebound" REBOUND_MCP_BIN="$PWD/target/debug/rebound-mcp"
# pytest exits 5 when it collected nothing; say so instead of passing or failing silently.
run_pytest() {
  local rc=0
  "$PYTHON" -m pytest -p no:cacheprovider "$@" || rc=$?
  if ((rc == 5)); then
    echo "ERROR: pytest collected no tests in $* (exit 5)" >&2
  fi
  return "$rc"
}

step "clients: Python client typing (mypy --strict, config in clients/python/pyproject.toml)"
(cd clients/python && "$PYTHON" -m mypy --strict src/rebound_client)

step "clients: Python client tests (pytest against a real server)"
run_pytest clients/python/tests

step "rebound-mcp tests (official MCP Python SDK over stdio, real server)"
run_pytest tests/mcp

step "clients: Go client tests (go test against a real server)"
(cd clients/go && go test -count=1 ./...)

# deploy/ checked offline against the binaries built above (scripts/check-deploy.sh).
step "deploy: systemd units (systemd-analyze verify, security exposure), sysusers.d, tmpfiles.d"
scripts/check-deploy.sh systemd

step "deploy: Kubernetes manifests (kubernetes-validate --strict, Kubernetes 1.30 to 1.37)"
scripts/check-deploy.sh kubernetes

if ! $quick; then
  # The release build for x86_64-unknown-linux-musl is the expensive part (rebound and
  # rebound-mcp only); podman builds FROM scratch, nothing is pulled.
  step "container image: built offline, its root filesystem run under chroot (scripts/build-image.sh --test)"
  scripts/build-image.sh --test
fi
