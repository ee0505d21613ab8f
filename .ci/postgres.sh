#!/usr/bin/env bash
# Starts a local PostgreSQL for hubdesk's storage tests and prints the line
#   HUBDESK_TEST_POSTGRES_URL=postgres://...
# on stdout (everything else goes to stderr), so CI can run
#   export "$(.ci/postgres.sh)"
# Idempotent: installs Debian's postgresql only if missing, creates the
# cluster, role and database only if missing, starts the cluster only if down.
# Must run as root (it uses pg_ctlcluster and runuser -u postgres).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
role=hubdesk
password=hubdesk-test # a throwaway server on loopback, for tests only
db=hubdesk_test

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
  pg_createcluster "$version" main >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $3 }')
if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
  pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 100); do
  runuser -u postgres -- pg_isready -q -p "$port" && break
  sleep 0.1
done
runuser -u postgres -- pg_isready -p "$port" >&2

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" ]; then
  psql_admin -c "CREATE ROLE $role LOGIN PASSWORD '$password'" >&2
fi
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
  psql_admin -c "CREATE DATABASE $db OWNER $role" >&2
fi
echo "HUBDESK_TEST_POSTGRES_URL=postgres://$role:$password@127.0.0.1:$port/$db?sslmode=disable"
