#!/usr/bin/env bash
# Runs every test against real services: PostgreSQL on 127.0.0.1:5432 (started, with a
# password for the tests, by scripts/postgres.sh) and an S3 server (moto, installed into a
# cache by scripts/tools.sh and started by the tests themselves on a free loopback port).
set -euo pipefail
cd "$(dirname "$0")/.."

export ARGUS_TOOLS="$(bash scripts/tools.sh)"
if [ -z "${ARGUS_TEST_DATABASE_URL:-}" ]; then
  ARGUS_TEST_DATABASE_URL="$(bash scripts/postgres.sh)"
fi
export ARGUS_TEST_DATABASE_URL
cargo test --workspace --locked --no-fail-fast "$@"
