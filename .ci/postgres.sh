#!/bin/sh
# Install PostgreSQL from Debian's packages, start a private cluster and create the
# test database `allocator_test` owned by role `allocator`.
#
# Run as root on a fresh Debian machine. Everything goes to stderr except one line
# on stdout, so that
#
#     eval "$(.ci/postgres.sh)"
#
# sets ALLOCATOR_TEST_POSTGRES_URL for the test run. Idempotent: a second run
# reuses the cluster. Settings (environment): PG_TEST_PORT (54329),
# PG_TEST_DIR (/tmp/allocator-pg).
set -eu

PORT="${PG_TEST_PORT:-54329}"
DIR="${PG_TEST_DIR:-/tmp/allocator-pg}"
SOCK="$DIR/sock"
ROLE=allocator
PASS=allocator
DB=allocator_test

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # postgresql-client for pg_dump (used by `allocator backup` on PostgreSQL)
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
mkdir -p "$DIR" "$SOCK"
chown -R postgres "$DIR"
chmod 700 "$DIR"

as_pg() { su postgres -s /bin/sh -c "$1"; }

if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_pg "'$BIN/initdb' -D '$DIR/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >&2 \
        || as_pg "'$BIN/initdb' -D '$DIR/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C" >&2
fi
if ! as_pg "'$BIN/pg_ctl' -D '$DIR/data' status" >/dev/null 2>&1; then
    as_pg "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -t 60 \
        -o \"-p $PORT -k $SOCK -c listen_addresses=127.0.0.1\" start" >&2
fi

psql_pg() { as_pg "'$BIN/psql' -X -q -v ON_ERROR_STOP=1 -h '$SOCK' -p $PORT -U postgres -d postgres -tAc \"$1\""; }

if [ "$(psql_pg "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    psql_pg "CREATE ROLE $ROLE LOGIN PASSWORD '$PASS'" >&2
fi
if [ "$(psql_pg "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
    psql_pg "CREATE DATABASE $DB OWNER $ROLE ENCODING 'UTF8' TEMPLATE template0" >&2
fi

URL="postgresql+psycopg://$ROLE:$PASS@127.0.0.1:$PORT/$DB"
echo "postgres: $URL (data in $DIR/data, log $DIR/server.log)" >&2
echo "export ALLOCATOR_TEST_POSTGRES_URL='$URL'"
