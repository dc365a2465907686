#!/usr/bin/env bash
# deploy/migrate.sh - applies sql/NNN_*.sql to DATABASE_URL, each once, in order.
#
# Holds an advisory lock for the whole run, so instances starting together
# take turns; applied versions are recorded in schema_migrations.
set -eu
. "$(dirname "$0")/common.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
url=${1:-${DATABASE_URL:-}}
[ -n "$url" ] || die "usage: migrate.sh DATABASE_URL"

script=$(mktemp)
trap 'rm -f "$script"' EXIT
{
	echo "SET client_min_messages = warning;"
	echo "SELECT pg_advisory_lock(hashtext('capture_migrations')) \\gset"
	echo "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());"
	echo "COMMENT ON TABLE schema_migrations IS 'Which sql/ migrations have been applied (deploy/migrate.sh).';"
	for f in "$root"/sql/[0-9][0-9][0-9]_*.sql; do
		v=$(basename "$f" .sql)
		echo "SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$v') AS todo \\gset"
		echo "\\if :todo"
		echo "\\echo applying $v"
		echo "BEGIN;"
		echo "\\i '$f'"
		echo "INSERT INTO schema_migrations (version) VALUES ('$v');"
		echo "COMMIT;"
		echo "\\endif"
	done
	echo "SELECT capture_partitions_ensure(7) \\gset"
} >"$script"
# A password goes in the environment, which only we can read, not on psql's
# command line, which every local user can see.
case "$url" in
*://*:*@*)
	pw=${url#*://}; pw=${pw%%@*}; pw=${pw#*:}
	export PGPASSWORD
	PGPASSWORD=$(printf '%b' "${pw//%/\\x}")
	url="${url%%://*}://$(u=${url#*://}; printf '%s' "${u%%:*}")@${url#*@}"
	;;
esac
PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10} psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$script" >&2 ||
	die "migrations failed (is the database reachable? see the message above)"
