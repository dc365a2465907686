# tests/bench/stack.sh - starts what tests/bench/run.sh measures (sourced): the stub
# upstream (nginx + sse-stub.mjs), nginx proxy_pass, lighttpd mod_proxy, mitmdump
# and ours (deploy/run.sh with its own database), each on a free port of
# 127.0.0.1, and stops them all by pid when run.sh exits.
#
# Sets URL[target], PIDS[target] (the processes whose memory is measured),
# db_url, qmax, threads, body_max, order (the targets, in measuring order).

# --- processes we start, stopped by pid on exit -----------------------------------
pids=()
ours_pid="" pgdir="" dbname="" admin_url=""
cleanup() {
	trap '' INT TERM
	local p
	if [ -n "$ours_pid" ] && kill -0 "$ours_pid" 2>/dev/null; then
		kill -TERM "$ours_pid" 2>/dev/null
		wait_pid_gone "$ours_pid" 60 || kill -KILL "$ours_pid" 2>/dev/null
	fi
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait_pid_gone "$p" 10 || kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$dbname" ]; then
		psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $dbname" >/dev/null 2>&1
	fi
	[ -n "$pgdir" ] && "$root/deploy/pg.sh" stop "$pgdir"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "state kept in $state"; else rm -rf "$state"; fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# --- fixtures -------------------------------------------------------------------
note "bench ($mode): results in $out"
reply=$(tr -d '\n' <"$here/chat-reply.json")
case "$reply" in *"'"*|*'$'*|*'\'*) die "chat-reply.json must hold no ' \$ or \\ (it goes into nginx.conf)";; esac
big=$state/big.bin
big_bytes=$((BIG_MB * 1000000))
head -c "$big_bytes" /dev/urandom >"$big"
chmod 644 "$big"
node "$here/mkbodies.mjs" 64 2048 8192 >"$state/realistic.jsonl" || die "mkbodies.mjs failed"

read -r P_STUB_DIRECT P_STUB_NGINX P_STUB_LIGHTTPD P_STUB_MITM P_STUB_OURS P_SSE \
	P_NGINX P_LIGHTTPD P_MITM P_OURS P_WEB < <(free_ports 11)

# --- the stub upstream: nginx + sse-stub.mjs --------------------------------------
mkdir -p "$state/stub" "$state/stub/logs" "$state/stub/tmp"
chmod 777 "$state/stub/tmp" "$state/stub/logs"
stub_servers=""
for t in direct:$P_STUB_DIRECT nginx:$P_STUB_NGINX lighttpd:$P_STUB_LIGHTTPD mitmproxy:$P_STUB_MITM ours:$P_STUB_OURS; do
	stub_servers="$stub_servers
	server {
		listen 127.0.0.1:${t#*:} reuseport;
		access_log $state/stub/logs/${t%%:*}.log bench buffer=256k flush=1s;
		location = /v1/chat/completions {
			if (\$arg_stream = true) { rewrite ^ /_sse last; }
			default_type application/json;
			return 200 '$reply';
		}
		location = /v1/files {
			default_type application/json;
			return 200 '{\"id\":\"file-bench\",\"object\":\"file\",\"bytes\":$big_bytes,\"purpose\":\"batch\",\"status\":\"uploaded\"}';
		}
		location = /v1/files/big/content {
			default_type application/octet-stream;
			alias $big;
		}
		location = /_sse {
			internal;
			proxy_pass http://sse;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
			proxy_buffering off;
		}
	}"
done
cat >"$state/stub/nginx.conf" <<EOF
worker_processes ${BENCH_STUB_WORKERS:-1};
pid $state/stub/nginx.pid;
error_log $state/stub/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
	log_format bench '\$arg_bench \$status';
	client_body_temp_path $state/stub/tmp/body;
	proxy_temp_path $state/stub/tmp/proxy;
	fastcgi_temp_path $state/stub/tmp/fcgi; uwsgi_temp_path $state/stub/tmp/uwsgi; scgi_temp_path $state/stub/tmp/scgi;
	client_max_body_size 0;
	client_body_buffer_size 1m;
	keepalive_requests 10000000;
	keepalive_timeout 300s;
	sendfile on;
	tcp_nodelay on;
	upstream sse { server 127.0.0.1:$P_SSE; keepalive 64; }
$stub_servers
}
EOF
node "$here/sse-stub.mjs" "$P_SSE" "$SSE_EVENTS" "$SSE_MS" 2>"$out/sse-stub.log" &
pids+=($!); SSE_PID=$!
nginx -p "$state/stub" -c "$state/stub/nginx.conf" -g 'daemon off;' 2>"$out/stub-nginx.log" &
pids+=($!); STUB_PID=$!
wait_port "$P_SSE" || die "sse-stub did not start (see $out/sse-stub.log)"
wait_port "$P_STUB_DIRECT" || die "stub nginx did not start (see $out/stub-nginx.log)"

# --- the peers ------------------------------------------------------------------
declare -A URL PIDS
URL[direct]=http://127.0.0.1:$P_STUB_DIRECT

if has nginx; then
	mkdir -p "$state/nginx/tmp"; chmod 777 "$state/nginx/tmp"
	cat >"$state/nginx/nginx.conf" <<EOF
worker_processes ${BENCH_NGINX_WORKERS:-auto};
pid $state/nginx/nginx.pid;
error_log $state/nginx/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
	access_log off;
	client_body_temp_path $state/nginx/tmp/body;
	proxy_temp_path $state/nginx/tmp/proxy;
	fastcgi_temp_path $state/nginx/tmp/fcgi; uwsgi_temp_path $state/nginx/tmp/uwsgi; scgi_temp_path $state/nginx/tmp/scgi;
	client_max_body_size 0;
	keepalive_requests 10000000;
	keepalive_timeout 300s;
	tcp_nodelay on;
	upstream stub { server 127.0.0.1:$P_STUB_NGINX; keepalive 128; keepalive_requests 10000000; keepalive_timeout 300s; }
	server {
		listen 127.0.0.1:$P_NGINX;
		location / {
			proxy_pass http://stub;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
		}
	}
}
EOF
	nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -g 'daemon off;' 2>"$out/nginx.log" &
	PIDS[nginx]=$!; pids+=($!)
	URL[nginx]=http://127.0.0.1:$P_NGINX
fi

if has lighttpd; then
	mkdir -p "$state/lighttpd/tmp" "$state/lighttpd/www"
	cat >"$state/lighttpd/lighttpd.conf" <<EOF
# the front server of lighttpd.conf, with mod_proxy where ours has mod_fastcgi
server.modules = ( "mod_proxy" )
server.bind = "127.0.0.1"
server.port = $P_LIGHTTPD
server.document-root = "$state/lighttpd/www"
server.pid-file = "$state/lighttpd/lighttpd.pid"
server.errorlog = "$state/lighttpd/error.log"
server.max-fds = 16384
server.max-connections = 4096
server.listen-backlog = 4096
server.upload-dirs = ( "$state/lighttpd/tmp" )
server.stream-response-body = 2
server.stream-request-body = 0
server.max-request-size = 2097152
server.max-write-idle = 3600
proxy.server = ( "/" => ( ( "host" => "127.0.0.1", "port" => $P_STUB_LIGHTTPD ) ) )
EOF
	lighttpd -D -f "$state/lighttpd/lighttpd.conf" >"$out/lighttpd.log" 2>&1 &
	PIDS[lighttpd]=$!; pids+=($!)
	URL[lighttpd]=http://127.0.0.1:$P_LIGHTTPD
fi

if has mitmproxy; then
	mkdir -p "$state/mitm"
	mitmdump --mode "reverse:http://127.0.0.1:$P_STUB_MITM" --listen-host 127.0.0.1 \
		--listen-port "$P_MITM" --set confdir="$state/mitm" -q -w "$state/mitm/flows.mitm" \
		>"$out/mitmproxy.log" 2>&1 &
	PIDS[mitmproxy]=$!; pids+=($!)
	URL[mitmproxy]=http://127.0.0.1:$P_MITM
fi

# ours: deploy/run.sh with its own state directory and database.
ours_var=$state/ours
if has ours; then
	if [ -n "${TEST_PG_ADMIN_URL:-}" ]; then
		admin_url=$TEST_PG_ADMIN_URL
		dbname=bench_$$_$RANDOM
		psql "$admin_url" -qAtc "CREATE DATABASE $dbname" >/dev/null || die "cannot create database $dbname"
		db_url=$(printf '%s' "$admin_url" | sed -E "s#^(postgres(ql)?://[^/]*/)[^?]*#\1$dbname#")
	else
		pgdir=$state/pg
		db_url=$(PG_PORT=$((20000 + RANDOM % 40000)) "$root/deploy/pg.sh" start "$pgdir" 2>"$out/pg.log") ||
			{ cat "$out/pg.log" >&2; die "PostgreSQL did not start"; }
	fi
	# A copy of the program, so that a rebuild during the run changes nothing,
	# and a stand-in for dashboard_fcgi: lighttpd needs the file, the dashboard
	# is not benchmarked (and a real one would only add noise).
	mkdir -p "$state/bin"
	cp "$bin/proxy_fcgi" "$state/bin/proxy_fcgi"
	printf '#!/bin/sh\n# dashboard stand-in for the benchmark\nexec sleep 2147483647\n' >"$state/bin/dashboard_fcgi"
	chmod 755 "$state/bin/dashboard_fcgi"
	bin=$state/bin
	# the settings ours runs with (config.env, overridden by the environment)
	cfg=$(PROXY_HOST=127.0.0.1 PROXY_PORT="$P_OURS" WEB_HOST=127.0.0.1 WEB_PORT="$P_WEB" \
		CAPTURE_CONFIG=${CAPTURE_CONFIG:-$root/config.env} "$bin/proxy_fcgi" --check-config) ||
		die "proxy_fcgi --check-config failed"
	cfgval() { printf '%s\n' "$cfg" | sed -n "s/^$1='\{0,1\}\([^']*\)'\{0,1\}\$/\1/p"; }
	qmax=$(cfgval CAPTURE_QUEUE_MAX) threads=$(cfgval PROXY_THREADS) body_max=$(cfgval CAPTURE_BODY_MAX)
	mkdir -p "$ours_var"
	env DATABASE_URL="$db_url" CAPTURE_VAR="$ours_var" CAPTURE_BIN="$bin" \
		PROXY_HOST=127.0.0.1 PROXY_PORT="$P_OURS" WEB_HOST=127.0.0.1 WEB_PORT="$P_WEB" \
		OPENAI_API_BASE="http://127.0.0.1:$P_STUB_OURS" INSTANCE_NAME=bench SPOOL_DIR="$ours_var/spool" \
		"$root/deploy/run.sh" >"$out/ours.log" 2>&1 &
	ours_pid=$!
	URL[ours]=http://127.0.0.1:$P_OURS
fi

for t in nginx lighttpd mitmproxy ours; do
	has "$t" || continue
	port=${URL[$t]##*:}
	wait_port "$port" 60 || { tail -n 30 "$out/$t.log" >&2; die "$t did not start (log: $out/$t.log)"; }
done
if has ours; then
	for _ in $(seq 100); do [ -s "$ours_var/run/proxy_fcgi.pid" ] && break; sleep 0.1; done
	PIDS[ours]=$(cat "$ours_var/run/proxy_fcgi.pid" 2>/dev/null)
	PIDS[ours_lighttpd]=$(cat "$ours_var/run/lighttpd.pid" 2>/dev/null)
	[ -n "${PIDS[ours]}" ] || die "proxy_fcgi did not start (log: $out/ours.log)"
	# for attaching strace or perf by hand while a load runs
	echo "proxy_fcgi=${PIDS[ours]} lighttpd=${PIDS[ours_lighttpd]}" >"$out/ours.pids"
fi
order=""
for t in direct nginx lighttpd mitmproxy ours; do has "$t" && order="$order $t"; done

# BENCH_SQL: statements run in ours' database once it is up (to try a schema
# or setting change, e.g. BENCH_SQL='DROP INDEX captures_id_trgm_idx').
if has ours && [ -n "${BENCH_SQL:-}" ]; then
	sql "$BENCH_SQL" >"$out/bench-sql.log" 2>&1 || die "BENCH_SQL failed: $(cat "$out/bench-sql.log")"
fi
