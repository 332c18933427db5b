#!/bin/sh
# Install PostgreSQL from Debian's packages, start a private cluster and create the
# test database `allocator_test` owned by role `allocator`.
#
# Run as root on a fresh Debian machine, either sourced (`. .ci/postgres.sh`, which
# exports ALLOCATOR_TEST_POSTGRES_URL into the calling shell) or executed: then
# everything goes to stderr except one line on stdout, so that
#
#     eval "$(.ci/postgres.sh)"
#
# sets ALLOCATOR_TEST_POSTGRES_URL for the test run. Idempotent: a second run
# reuses the cluster. Settings (environment): PG_TEST_PORT (54329),
# PG_TEST_DIR (/tmp/allocator-pg).
set -eu

_PG_PORT="${PG_TEST_PORT:-54329}"
_PG_DIR="${PG_TEST_DIR:-/tmp/allocator-pg}"
_PG_SOCK="$_PG_DIR/sock"
_PG_ROLE=allocator
_PG_PASS=allocator
_PG_DB=allocator_test

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # postgresql-client for pg_dump (used by `allocator backup` on PostgreSQL)
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
fi
_PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
mkdir -p "$_PG_DIR" "$_PG_SOCK"
chown -R postgres "$_PG_DIR"
chmod 700 "$_PG_DIR"

as_pg() { su postgres -s /bin/sh -c "$1"; }

if [ ! -f "$_PG_DIR/data/PG_VERSION" ]; then
    as_pg "'$_PG_BIN/initdb' -D '$_PG_DIR/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >&2 \
        || as_pg "'$_PG_BIN/initdb' -D '$_PG_DIR/data' -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C" >&2
fi
if ! as_pg "'$_PG_BIN/pg_ctl' -D '$_PG_DIR/data' status" >/dev/null 2>&1; then
    as_pg "'$_PG_BIN/pg_ctl' -D '$_PG_DIR/data' -l '$_PG_DIR/server.log' -w -t 60 \
        -o \"-p $_PG_PORT -k $_PG_SOCK -c listen_addresses=127.0.0.1\" start" >&2
fi

psql_pg() { as_pg "'$_PG_BIN/psql' -X -q -v ON_ERROR_STOP=1 -h '$_PG_SOCK' -p $_PG_PORT -U postgres -d postgres -tAc \"$1\""; }

if [ "$(psql_pg "SELECT 1 FROM pg_roles WHERE rolname = '$_PG_ROLE'")" != "1" ]; then
    psql_pg "CREATE ROLE $_PG_ROLE LOGIN PASSWORD '$_PG_PASS'" >&2
fi
if [ "$(psql_pg "SELECT 1 FROM pg_database WHERE datname = '$_PG_DB'")" != "1" ]; then
    psql_pg "CREATE DATABASE $_PG_DB OWNER $_PG_ROLE ENCODING 'UTF8' TEMPLATE template0" >&2
fi

_PG_URL="postgresql+psycopg://$_PG_ROLE:$_PG_PASS@127.0.0.1:$_PG_PORT/$_PG_DB"
echo "postgres: $_PG_URL (data in $_PG_DIR/data, log $_PG_DIR/server.log)" >&2
export ALLOCATOR_TEST_POSTGRES_URL="$_PG_URL"
echo "export ALLOCATOR_TEST_POSTGRES_URL='$_PG_URL'"
