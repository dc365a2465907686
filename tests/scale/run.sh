#!/usr/bin/env bash
# tests/scale/run.sh - the dashboard API and the capture writer at a million captures: run.sh [N]
#
# Fills a database with N realistic captures (deploy/demo-data.sh, default
# 1,000,000 over DAYS=30 days), starts the service on it (deploy/run.sh,
# free ports, state under /tmp), then measures
#   - the JSON API: list, filtered list, search, detail, stats and group-bys,
#     each case SCALE_REQUESTS times (200) one at a time, in SCALE_PASSES
#     (4) stretches, the cases taking turns: p50 / p99; a 10,000-capture
#     JSONL export SCALE_EXPORTS times
#     (5): first byte and rows/s (tests/scale/api.mjs)
#   - the writer: rows/s into captures for SCALE_INSERTS chat calls of 2-8 KB
#     (20000) through the proxy to a fast fake upstream, on an empty table
#     and on the big one, SCALE_ROUNDS times each (5), alternating (insert.mjs)
# and prints one markdown table (tests/scale/report.mjs) with the machine,
# the commit and the load average (1-minute, sampled every 10 s while
# measuring: other work on the machine shows in the latencies). Exit status
# 1 when a target is missed: p50 < 100 ms and p99 < 300 ms, writer >= 80 % of
# its empty-table rate.
#
# Database: a fresh cluster in /tmp (deleted afterwards), or
# SCALE_DATABASE_URL (a scratch database: N captures are added to it; with
# SCALE_GENERATE=0 nothing is added and what it holds is measured). The
# empty-table baseline is a database created next to it and dropped after.
# SCALE_KEEP=1 keeps the cluster and state directory; SCALE_BIN picks the
# programs (default build/: make all); SCALE_ONLY=REGEX runs only the API
# cases whose "group: name" matches. Needs node and ~30 GB free per million
# captures.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/scale
. "$root/deploy/common.sh"

n=${1:-1000000}
days=${DAYS:-30}
requests=${SCALE_REQUESTS:-200}
inserts=${SCALE_INSERTS:-20000}
rounds=${SCALE_ROUNDS:-5}
passes=${SCALE_PASSES:-4}
exports=${SCALE_EXPORTS:-5}
case "$n$days$requests$inserts$rounds$passes$exports" in *[!0-9]*) die "usage: run.sh [N] (DAYS, SCALE_* numbers)" ;; esac
bin=$(cd "${SCALE_BIN:-$root/build}" 2>/dev/null && pwd) || die "no ${SCALE_BIN:-build} directory"
[ -x "$bin/proxy_fcgi" ] && [ -x "$bin/dashboard_fcgi" ] ||
	die "$bin/proxy_fcgi and $bin/dashboard_fcgi are needed: run make all"
command -v node >/dev/null || die "node is needed (apt-get install nodejs)"
if [ ! -d "$root/tests/node_modules/pg" ]; then
	say "installing the test packages (npm ci in tests/)"
	(cd "$root/tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed"
fi

state=$(mktemp -d /tmp/capture-scale.XXXXXX)
chmod 755 "$state"
results=$state/results.jsonl
pgdir="" url="" empty_url="" empty_db="" up_pid="" stack_pids=() t_start="" load_pid=""

# --- clean-up: everything we started, by pid ----------------------------------
cleanup() {
	trap '' INT TERM
	local p
	[ -n "$load_pid" ] && kill -TERM "$load_pid" 2>/dev/null
	for p in "${stack_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait_pid_gone "$p" 60 || kill -KILL "$p" 2>/dev/null || true
	done
	[ -n "$up_pid" ] && kill -TERM "$up_pid" 2>/dev/null
	if [ -n "$url" ] && [ -n "$t_start" ] && [ -z "$pgdir" ]; then
		psql -X -q -d "$url" -c "DELETE FROM captures WHERE started_at >= '$t_start' AND query LIKE 'scale=%'" \
			>/dev/null 2>&1 || true
	fi
	[ -n "$empty_db" ] && psql -X -q -d "$url" -c "DROP DATABASE IF EXISTS $empty_db WITH (FORCE)" >/dev/null 2>&1
	if [ -n "$pgdir" ]; then
		"$root/deploy/pg.sh" stop "$pgdir" || true
	fi
	if [ "${SCALE_KEEP:-0}" = 1 ]; then say "state kept in $state"; else rm -rf -- "$state"; fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

free_port() {
	node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
# url_for_db URL NAME: URL with its database name replaced.
url_for_db() {
	printf '%s' "$1" | sed -E "s#^(postgres(ql)?://[^/?]*/)[^?]*#\1$2#"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
# the 1-minute load average while measuring: "median (min-max)"
load_summary() {
	sort -n "$state/load" 2>/dev/null | awk '{ v[NR] = $1 } END {
		if (NR) printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR]; else printf "?" }'
}

# --- the database -------------------------------------------------------------
if [ -n "${SCALE_DATABASE_URL:-}" ]; then
	url=$SCALE_DATABASE_URL
else
	pgdir=$state/pg
	url=$(PG_PORT=$(free_port) "$root/deploy/pg.sh" start "$pgdir") || die "PostgreSQL did not start"
fi
"$root/deploy/migrate.sh" "$url"
empty_db=capture_scale_empty_$$
if psql -X -q -d "$url" -c "CREATE DATABASE $empty_db" >/dev/null 2>&1; then
	empty_url=$(url_for_db "$url" "$empty_db")
	"$root/deploy/migrate.sh" "$empty_url"
else
	say "cannot create a database next to $url: no empty-table baseline for the writer"
	empty_db=""
fi

load_before=$(load)
if [ "${SCALE_GENERATE:-1}" != 0 ]; then
	say "scale: generating $n captures over $days days"
	g0=$(date +%s)
	DATABASE_URL=$url "$root/deploy/demo-data.sh" "$n" "$days" || die "deploy/demo-data.sh failed"
	jobs=${DEMO_JOBS:-$(nproc 2>/dev/null || echo 2)}
	echo "{\"kind\":\"generate\",\"n\":$n,\"jobs\":$jobs,\"seconds\":$(( $(date +%s) - g0 ))}" >>"$results"
fi
# as autovacuum leaves a table that has stopped growing: visibility map set
# (index-only scans), statistics fresh; the rollup complete and right
v0=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -d "$url" -c 'VACUUM ANALYZE captures' -c 'SELECT captures_rollup_refresh(true)' >/dev/null
echo "{\"kind\":\"vacuum\",\"seconds\":$(( $(date +%s) - v0 ))}" >>"$results"
check=$(psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$here/check-rollup.sql" 2>&1) ||
	{ printf '%s\n' "$check" >&2; die "the statistics from the rollup differ from the captures"; }
say "scale: ${check##*NOTICE:  }"
captures=$(psql -X -qAt -d "$url" -c 'SELECT count(*) FROM captures')
size=$(psql -X -qAt -d "$url" -c "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'captures'::regclass")
pgver=$(psql -X -qAt -d "$url" -c 'SHOW server_version' | cut -d' ' -f1)
t_start=$(psql -X -qAt -d "$url" -c 'SELECT now()')

# --- the service --------------------------------------------------------------
node "$here/upstream.mjs" >"$state/upstream.out" 2>&1 &
up_pid=$!
for _ in $(seq 100); do grep -q '^port ' "$state/upstream.out" 2>/dev/null && break; sleep 0.05; done
up_port=$(sed -n 's/^port //p' "$state/upstream.out")
[ -n "$up_port" ] || die "the fake upstream did not start"

# start_stack NAME DATABASE_URL: deploy/run.sh in the background; sets
# PROXY_URL and WEB_URL.
start_stack() {
	local name=$1 db=$2 pp wp pid
	pp=$(free_port); wp=$(free_port)
	while [ "$wp" = "$pp" ]; do wp=$(free_port); done
	mkdir -p "$state/$name"
	DATABASE_URL=$db DASHBOARD_DATABASE_URL= CAPTURE_VAR=$state/$name CAPTURE_BIN=$bin \
	PROXY_HOST=127.0.0.1 PROXY_PORT=$pp WEB_HOST=127.0.0.1 WEB_PORT=$wp \
	OPENAI_API_BASE=http://127.0.0.1:$up_port MAX_REQUESTS_HISTORY=0 MAX_REQUESTS_AGE_DAYS=0 \
	LOG_LEVEL=WARN DASHBOARD_AUTH_FILE= \
		"$root/deploy/run.sh" >"$state/$name.log" 2>&1 &
	pid=$!
	stack_pids+=("$pid")
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || { cat "$state/$name.log" >&2; die "deploy/run.sh ($name) exited"; }
		curl -fs "http://127.0.0.1:$wp/api/info" >/dev/null 2>&1 && break
		sleep 0.1
	done
	PROXY_URL=http://127.0.0.1:$pp WEB_URL=http://127.0.0.1:$wp
}

start_stack full "$url"
full_proxy=$PROXY_URL full_web=$WEB_URL
if [ -n "$empty_url" ]; then
	start_stack empty "$empty_url"
	empty_proxy=$PROXY_URL
fi

# --- measurements -------------------------------------------------------------
(while :; do cut -d' ' -f1 /proc/loadavg >>"$state/load"; sleep 10; done) &
load_pid=$!
if [ "$requests" -gt 0 ] || [ "$exports" -gt 0 ]; then
	say "scale: the JSON API, $requests requests per case; $exports exports"
	node "$here/api.mjs" --web "$full_web" --db "$url" --requests "$requests" --passes "$passes" --exports "$exports" \
		${SCALE_ONLY:+--only "$SCALE_ONLY"} |
		tee -a "$results" | sed 's/^/  /' >&2
fi
if [ "$inserts" -gt 0 ]; then
	say "scale: the writer, $inserts captures per round, $rounds rounds"
	for ((r = 1; r <= rounds; r++)); do
		if [ -n "$empty_url" ]; then
			node "$here/insert.mjs" --proxy "$empty_proxy" --db "$empty_url" --label empty --count "$inserts" |
				tee -a "$results" | sed 's/^/  /' >&2
		fi
		node "$here/insert.mjs" --proxy "$full_proxy" --db "$url" --label full --count "$inserts" |
			tee -a "$results" | sed 's/^/  /' >&2
	done
fi

kill -TERM "$load_pid" 2>/dev/null || true; load_pid=""
commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
machine="$(nproc) × $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | sed 's/  */ /g'), $(free -g | awk '/^Mem:/ {print $2}') GB RAM"
printf '{"kind":"meta","captures":%s,"days":%s,"size":"%s","machine":"%s","pg":"%s","load_before":"%s","load_during":"%s","load_after":"%s","commit":"%s","date":"%s","command":"tests/scale/run.sh %s"}\n' \
	"$captures" "$days" "$size" "$machine" "$pgver" "$load_before" "$(load_summary)" "$(load)" "$commit" \
	"$(date -u +%Y-%m-%dT%H:%MZ)" "$n" >>"$results"
echo
node "$here/report.mjs" "$results"
