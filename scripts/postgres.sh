#!/usr/bin/env bash
# Starts the machine's PostgreSQL (Debian's cluster, e.g. `15 main`) on 127.0.0.1:5432 if
# it is down, gives the `postgres` role the test password, and creates the `test` database
# the tests connect through. Idempotent; prints the admin URL the tests use.
#   ARGUS_PG_PASSWORD  the role's password (default: argus)
set -euo pipefail
password="${ARGUS_PG_PASSWORD:-argus}"

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
as_postgres() { su postgres -s /bin/sh -c "$1"; }

if ! pg_up; then
  version="$(ls /etc/postgresql | sort -n | tail -1)"
  echo "starting postgresql $version" >&2
  # Listen on loopback only, whatever the cluster's configuration says.
  pg_ctlcluster --skip-systemctl-redirect "$version" main start -- -o "-c listen_addresses=127.0.0.1" >&2
  for _ in $(seq 100); do pg_up && break; sleep 0.1; done
  pg_up || { echo "postgresql did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

# Debian asks 127.0.0.1 clients for a password (scram-sha-256): give the role one.
as_postgres "psql -qAtX -c \"ALTER ROLE postgres PASSWORD '$password'\"" >/dev/null
if [ -z "$(as_postgres "psql -qAtX -c \"SELECT 1 FROM pg_database WHERE datname = 'test'\"")" ]; then
  as_postgres "createdb test"
fi
echo "postgres://postgres:$password@127.0.0.1:5432/test"
