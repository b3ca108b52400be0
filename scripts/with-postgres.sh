#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster: `scripts/with-postgres.sh CMD ARGS...`.
#
# Creates a cluster in a fresh temporary directory (as the `postgres` user when running as root:
# PostgreSQL refuses to run as root), starts it on a free loopback port with its socket in that
# directory, exports `SCV2_TEST_PG_URL=postgres://scv2@127.0.0.1:PORT/postgres` (a superuser, so
# tests can create a database each) and the SCV2_TEST_PG_* variables below, runs the command, then stops the cluster and deletes the
# directory, also when the command fails or the script is interrupted. Exits with the command's
# status.
#
# Without PostgreSQL (no initdb under /usr/lib/postgresql/*/bin or on PATH): under CI=true this is
# a failure; elsewhere the command runs without SCV2_TEST_PG_URL and the PostgreSQL tests say that
# they skipped.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

bindir=""
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then bindir=$d; break; fi
done
if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1; then
    bindir=$(dirname "$(command -v initdb)")
fi
if [ -z "$bindir" ] && [ "${CI:-}" = "true" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing PostgreSQL (apt-get install postgresql)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ]; then bindir=$d; break; fi
    done
fi
if [ -z "$bindir" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "with-postgres: PostgreSQL is required under CI=true and was not found" >&2
        exit 1
    fi
    echo "with-postgres: PostgreSQL not found: running without it (its tests will skip)" >&2
    unset SCV2_TEST_PG_URL
    exec "$@"
fi

dir=$(mktemp -d /tmp/scv2-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U scv2 -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
# Durable commits as in production (fsync and synchronous_commit stay on); enough connections for
# several gateways with their pools.
opts="-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=300"
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o "$opts" >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }

export SCV2_TEST_PG_URL="postgres://scv2@127.0.0.1:$port/postgres"
export SCV2_TEST_PG_BIN="$bindir"
export SCV2_TEST_PG_DATA="$dir/data"
export SCV2_TEST_PG_SOCKET_DIR="$dir"
# For fault tests that stop and restart the server: `[runuser -u postgres --] $SCV2_TEST_PG_BIN/pg_ctl
# -D $SCV2_TEST_PG_DATA -l $SCV2_TEST_PG_DATA/../server.log -w start -o "$SCV2_TEST_PG_OPTS"`.
export SCV2_TEST_PG_OPTS="$opts"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)" >&2
set +e
"$@"
status=$?
set -e
exit $status
