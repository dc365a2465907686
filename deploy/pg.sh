#!/usr/bin/env bash
# deploy/pg.sh - the embedded PostgreSQL cluster: pg.sh start|stop|url DIR
#
# DIR holds data/ (the cluster), sock/ (its Unix socket) and postgresql.log.
# The cluster listens on its socket only (no TCP), is created once with
# initdb and reused afterwards, and runs as an unprivileged user when we are
# root (PG_OS_USER, default postgres). Its superuser and database are "capture".
set -eu
. "$(dirname "$0")/common.sh"

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pg.sh start|stop|url DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data sock=$dir/sock log=$dir/postgresql.log
port=${PG_PORT:-5432}

url() {
	printf 'postgresql:///capture?host=%s&port=%s&user=capture\n' "$sock" "$port"
}

owner_setup() {
	mkdir -p "$data" "$sock"
	chmod 700 "$data" "$sock"
	if [ "$(id -u)" = 0 ]; then
		id "${PG_OS_USER:-postgres}" >/dev/null 2>&1 ||
			die "user ${PG_OS_USER:-postgres} does not exist (install postgresql or set PG_OS_USER)"
		chown -R "${PG_OS_USER:-postgres}:" "$dir"
		as_pg_user test -x "$dir" ||
			die "user ${PG_OS_USER:-postgres} cannot reach $dir: make its parent folders world-executable (chmod o+x)"
	fi
}

start() {
	local bin
	bin=$(pg_bindir) || die "PostgreSQL server binaries not found (apt-get install postgresql)"
	owner_setup
	if [ ! -s "$data/PG_VERSION" ]; then
		say "initialising the embedded PostgreSQL cluster in $data"
		as_pg_user "$bin/initdb" -D "$data" -U capture --auth=trust -E UTF8 \
			--locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
	fi
	if as_pg_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		return 0
	fi
	# setsid: Ctrl-C on `make run` must not reach postgres before the proxy drains.
	as_pg_user setsid "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
		-o "-k '$sock' -p $port -c listen_addresses='' -c unix_socket_permissions=0700" \
		start >/dev/null || { tail -n 20 "$log" >&2; die "PostgreSQL did not start (log: $log)"; }
	if ! as_pg_user "$bin/psql" -h "$sock" -p "$port" -U capture -d postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname = 'capture'" | grep -q 1; then
		as_pg_user "$bin/createdb" -h "$sock" -p "$port" -U capture capture
	fi
}

stop() {
	local bin
	bin=$(pg_bindir) || return 0
	[ -f "$data/postmaster.pid" ] || return 0
	as_pg_user "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

case "$cmd" in
start) start; url ;;
stop) stop ;;
url) url ;;
*) die "usage: pg.sh start|stop|url DIR" ;;
esac
