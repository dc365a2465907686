#!/usr/bin/env bash
# deploy/run.sh - `make run`: database, migrations, then lighttpd in the foreground.
#
# Uses DATABASE_URL when set, else starts (and afterwards stops) the embedded
# cluster in var/pg. Ctrl-C or SIGTERM: lighttpd shuts down gracefully, the
# FastCGI programs drain their capture queues, then PostgreSQL stops.
# Overridable for tests: CAPTURE_BIN (programs), CAPTURE_VAR (state),
# CAPTURE_CONFIG (config file).
set -eu
. "$(dirname "$0")/common.sh"

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CAPTURE_BIN:-$root/build}
var=${CAPTURE_VAR:-$root/var}
export CAPTURE_CONFIG=${CAPTURE_CONFIG:-$root/config.env}
[ -x "$bin/proxy_fcgi" ] || die "$bin/proxy_fcgi is not built (run make)"

# The C loader is the one judge of config: it exits non-zero naming a bad
# option or a port in use, else prints NAME='value' lines.
cfg=$("$bin/proxy_fcgi" --check-config) || exit 1
eval "$cfg"

mkdir -p "$var/run" "$var/tmp" "$var/log"
chmod 700 "$var/run" "$var/tmp"
run=$(cd "$var/run" && pwd)
if [ -f "$run/lighttpd.pid" ] && kill -0 "$(cat "$run/lighttpd.pid")" 2>/dev/null; then
	die "already running (lighttpd pid $(cat "$run/lighttpd.pid"), state in $var)"
fi

started_pg=""
if [ -z "$DATABASE_URL" ]; then
	DATABASE_URL=$("$root/deploy/pg.sh" start "$var/pg")
	started_pg=1
	db_label="embedded PostgreSQL in $var/pg"
else
	db_label=$(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#; s#(password=)[^& ]*#\1***#')
fi
export DATABASE_URL

# spawn-fcgi gives each program its listening socket as fd 0, as lighttpd
# does. -n: it execs the program instead of forking it off with stderr on
# /dev/null, so the program's log reaches ours and $! is its pid. The
# program writes its pid file once set up (config, database, threads).
spawn_program() {
	local name=$1 pid i=0
	rm -f "$run/$name.sock" "$run/$name.pid"
	spawn-fcgi -n -s "$run/$name.sock" -M 0600 -- "$CAPTURE_BIN/$name" &
	pid=$!
	echo "$pid" >"$run/$name.spawn.pid"
	while [ ! -s "$run/$name.pid" ]; do
		pid_running "$pid" || die "$name did not start (see its log above)"
		i=$((i + 1))
		[ "$i" -lt 600 ] || die "$name did not start within 30 s"
		sleep 0.05
	done
}

start_nginx() {
	local conf=$run/nginx.conf listen_p listen_w
	command -v nginx >/dev/null && command -v spawn-fcgi >/dev/null ||
		die "CAPTURE_FRONT=nginx needs nginx and spawn-fcgi (apt-get install nginx-light spawn-fcgi)"
	# sed and nginx would read these in the path as syntax
	case "$auth_file" in *[\"\#\&\$\\]*) die "DASHBOARD_AUTH_FILE: under nginx its path may not hold \", #, &, \$ or \\" ;; esac
	case "$PROXY_HOST" in *:*) listen_p="[$PROXY_HOST]:$PROXY_PORT" ;; *) listen_p="$PROXY_HOST:$PROXY_PORT" ;; esac
	listen_w=$web_sock
	mkdir -p "$CAPTURE_TMP"
	sed -e "s#@RUN@#$run#g; s#@TMP@#$CAPTURE_TMP#g; s#@ROOT@#$root#g" \
	    -e "s#@PROXY_LISTEN@#$listen_p#; s#@WEB_LISTEN@#$listen_w#" \
	    -e "s#@MAX_BODY_KB@#$CAPTURE_MAX_REQUEST_KB#" \
	    -e "s#@AUTH_LINES@#${auth_file:+auth_basic \"capture dashboard\"; auth_basic_user_file \"$auth_file\";}#" \
	    -e "s#@USER_LINE@#$([ "$(id -u)" = 0 ] && echo 'user root root;')#" "$root/deploy/nginx.conf" >"$conf"
	spawn_program proxy_fcgi
	spawn_program dashboard_fcgi
	nginx -t -q -e stderr -c "$conf" -p "$run" || die "nginx rejected $conf (see above)"
	# setsid: Ctrl-C must reach run.sh only, which stops nginx gracefully
	setsid nginx -e stderr -c "$conf" -p "$run" &
	lpid=$!
}

stop_all() {
	trap '' INT TERM
	if [ -n "${lpid:-}" ] && kill -0 "$lpid" 2>/dev/null; then
		# lighttpd: SIGINT is a graceful stop; nginx: SIGQUIT is
		if [ "${front:-lighttpd}" = nginx ]; then kill -QUIT "$lpid"; else kill -INT "$lpid"; fi 2>/dev/null || true
		wait_pid_gone "$lpid" 20 || kill -KILL "$lpid" 2>/dev/null || true
	fi
	# lighttpd has sent SIGTERM to its FastCGI children; give them time to
	# write their queued captures before the database goes away.
	local f
	for f in "$run"/proxy_fcgi.pid "$run"/dashboard_fcgi.pid "$run"/*.spawn.pid; do
		stop_pidfile "$f" 30
	done
	[ -n "$started_pg" ] && "$root/deploy/pg.sh" stop "$var/pg"
	say "stopped"
}
trap 'stop_all; exit 1' EXIT
trap 'stop_all; trap - EXIT; exit 0' INT TERM

"$root/deploy/migrate.sh" "$DATABASE_URL"

# The login, for either front server (lighttpd: web-auth.conf; nginx:
# auth_basic lines in start_nginx).
auth_file=""
if [ -n "$DASHBOARD_AUTH_FILE" ]; then
	[ -r "$DASHBOARD_AUTH_FILE" ] || die "DASHBOARD_AUTH_FILE: cannot read $DASHBOARD_AUTH_FILE"
	auth_file="$(cd "$(dirname "$DASHBOARD_AUTH_FILE")" && pwd)/$(basename "$DASHBOARD_AUTH_FILE")"
	cat >"$run/web-auth.conf" <<AUTH
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "$auth_file"
auth.require = ( "/" => ( "method" => "basic", "realm" => "capture dashboard", "require" => "valid-user" ) )
AUTH
else
	: >"$run/web-auth.conf"
fi

case "$WEB_HOST" in *:*) web_sock="[$WEB_HOST]:$WEB_PORT" ;; *) web_sock="$WEB_HOST:$WEB_PORT" ;; esac
export CAPTURE_ROOT=$root CAPTURE_RUN=$run CAPTURE_BIN=$(cd "$bin" && pwd)
export CAPTURE_TMP=$(cd "$var/tmp" && pwd) CAPTURE_WEB_SOCKET=$web_sock
# KB; the front server's own limit, far above MAX_REQUEST_BODY (see lighttpd.conf)
export CAPTURE_MAX_REQUEST_KB=$(( MAX_REQUEST_BODY / 1024 * 4 + 1048576 ))
export PROXY_HOST PROXY_PORT WEB_HOST WEB_PORT
# a relative spool path is relative to the state directory
case "$SPOOL_DIR" in /*) ;; *) SPOOL_DIR="$var/${SPOOL_DIR#var/}" ;; esac
mkdir -p "$SPOOL_DIR" && chmod 700 "$SPOOL_DIR"
export SPOOL_DIR

front=${CAPTURE_FRONT:-lighttpd}
case "$front" in
lighttpd)
	lighttpd -tt -f "$root/lighttpd.conf" >/dev/null || die "lighttpd rejected lighttpd.conf (see above)"
	lighttpd -D -f "$root/lighttpd.conf" &
	lpid=$!
	;;
nginx)
	start_nginx
	;;
*) die "CAPTURE_FRONT must be lighttpd or nginx" ;;
esac

for _ in $(seq 100); do
	kill -0 "$lpid" 2>/dev/null || die "$front exited at start (see its message above)"
	(exec 3<>"/dev/tcp/$PROXY_HOST/$PROXY_PORT") 2>/dev/null && break
	sleep 0.05
done

cat <<BANNER
🚀 OpenAI capture proxy (OpenAI 代理服务)
============================================================
📡 Proxy:      http://$PROXY_HOST:$PROXY_PORT   (base_url http://$PROXY_HOST:$PROXY_PORT/v1)
🌐 Dashboard:  http://$WEB_HOST:$WEB_PORT
🗄  Database:   $db_label
============================================================
Press Ctrl-C to stop.
BANNER

wait "$lpid" || true
lpid=""
say "$front exited"
