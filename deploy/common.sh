# deploy/common.sh - shell helpers sourced by the other deploy scripts.

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

# The PostgreSQL server binaries (initdb, pg_ctl, postgres) of the newest installed major.
pg_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
	done
	command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return 0; }
	return 1
}

# Runs a command as the unprivileged database user when we are root
# (PostgreSQL refuses to run as root), else as ourselves.
as_pg_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "${PG_OS_USER:-postgres}" -- "$@"
	else
		"$@"
	fi
}

# true while process $1 runs (an exited one that nobody has reaped yet, as
# spawn-fcgi's children can be, counts as gone).
pid_running() {
	kill -0 "$1" 2>/dev/null || return 1
	case "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" in Z|X) return 1 ;; esac
	return 0
}

# Waits up to $2 seconds (default 30) for process $1 to exit.
wait_pid_gone() {
	local pid=$1 limit=$(( ${2:-30} * 10 )) i=0
	while pid_running "$pid" && [ $i -lt "$limit" ]; do
		sleep 0.1; i=$((i + 1))
	done
	! pid_running "$pid"
}

# Stops the process named in a pid file: SIGTERM, then SIGKILL after $2 seconds.
stop_pidfile() {
	local file=$1 grace=${2:-20} pid
	[ -f "$file" ] || return 0
	pid=$(cat "$file" 2>/dev/null)
	case "$pid" in ''|*[!0-9]*) rm -f "$file"; return 0 ;; esac
	if pid_running "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		wait_pid_gone "$pid" "$grace" || kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$file"
}
