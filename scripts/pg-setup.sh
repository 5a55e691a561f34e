#!/usr/bin/env bash
# Makes the local PostgreSQL ready for Domicile's tests: the database the
# tests connect to first (DOMICILE_TEST_PG, default
# postgres://postgres@127.0.0.1:5432/test). Each test then creates and drops
# its own databases (domicile_test_<random>). Quiet when all is in place;
# says what is wrong when the server is unreachable (the tests then skip
# locally and fail in CI).
set -euo pipefail
dsn="${DOMICILE_TEST_PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
if ! command -v psql >/dev/null 2>&1; then
  echo "pg-setup: psql not found; install PostgreSQL (apt-get install postgresql)" >&2
  exit 0
fi
if psql "$dsn" -Atqc 'select 1' >/dev/null 2>&1; then
  exit 0
fi
admin="${dsn/\/test\?/\/postgres?}"
if psql "$admin" -Atqc 'select 1' >/dev/null 2>&1; then
  psql "$admin" -qc 'CREATE DATABASE test' >/dev/null
  echo "pg-setup: created database test" >&2
  exit 0
fi
echo "pg-setup: PostgreSQL is not reachable at 127.0.0.1:5432; start it with:" >&2
echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
