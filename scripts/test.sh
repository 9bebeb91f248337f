#!/usr/bin/env bash
# Runs every test against real services: PostgreSQL on 127.0.0.1:5432 (started if it is
# down) and an S3 server (moto, installed into a cache by scripts/tools.sh and started by
# the tests themselves on a free loopback port).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_up; then
  echo "starting postgresql" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 50); do pg_up && break; sleep 0.2; done
fi

export ARGUS_TOOLS="$(bash scripts/tools.sh)"
export ARGUS_TEST_DATABASE_URL="${ARGUS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
cargo test --workspace --locked "$@"
