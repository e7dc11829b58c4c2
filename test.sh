#!/usr/bin/env bash
# Set up on first use, then run every check: lint, format, types, and the whole test suite on
# SQLite; again on PostgreSQL when STVOS_TEST_DATABASE_URL is set (postgresql+asyncpg://...).
# Redis-backed rate-limit tests use STVOS_TEST_REDIS_URL (default redis://localhost:6379/15).
# Extra arguments go to pytest (e.g. ./test.sh -k idempotency).
set -euo pipefail
cd "$(dirname "$0")"
. tools/venv.sh
ensure_venv dev

echo "== ruff check"; .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy (strict, src/)"; .venv/bin/mypy

echo "== tests on SQLite"
env -u STVOS_TEST_DATABASE_URL .venv/bin/pytest "$@"

if [ -n "${STVOS_TEST_DATABASE_URL:-}" ]; then
  echo "== tests on PostgreSQL"
  .venv/bin/pytest "$@"
fi
