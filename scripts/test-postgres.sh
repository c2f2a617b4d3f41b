#!/usr/bin/env bash
# A private PostgreSQL 15 for one run of the tests (scripts/test.sh starts it once and exports
# REBOUND_TEST_POSTGRES; tests/support/postgres.rs makes a fresh database per test on it).
#
#   scripts/test-postgres.sh start DIR   # initdb DIR/data, start on a free port, print the URL
#   scripts/test-postgres.sh stop DIR    # stop it (fast shutdown) and remove DIR
#
# Debian's postgresql-15 is installed with apt when missing (as root). PostgreSQL refuses to
# run as root, so initdb and pg_ctl run as the `postgres` user then; the cluster trusts local
# connections and listens on 127.0.0.1 only. It is a throwaway: fsync is off.
set -euo pipefail

bin=${REBOUND_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
usage() { echo "usage: $0 start|stop DIR" >&2; exit 64; }
(( $# == 2 )) || usage
cmd=$1 dir=$2

# Runs a PostgreSQL program as the postgres user when we are root.
as_postgres() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [[ ! -x "$bin/initdb" ]]; then
      if [[ "$(id -u)" == 0 ]]; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15
      else
        echo "no PostgreSQL 15 in $bin; run as root or apt-get install postgresql-15" >&2
        exit 1
      fi
    fi
    mkdir -p "$dir"
    [[ "$(id -u)" == 0 ]] && chown postgres "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port can be taken between choosing and binding it: try a few.
    for _ in 1 2 3 4 5; do
      port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      if as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null; then
        echo "postgres://postgres@127.0.0.1:$port/postgres"
        exit 0
      fi
    done
    echo "PostgreSQL did not start; its log:" >&2
    cat "$dir/postgres.log" >&2
    exit 1
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
