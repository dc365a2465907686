# tests/bench/lib.sh - helpers of tests/bench/run.sh (sourced): processes, ports, loads, memory.
#
# Expects from run.sh: root, here, out, state, results, mode and the parameters.

failures=0
fail() { say "FAIL: $*"; printf '%s\n' "$*" >>"$out/failures.txt"; failures=$((failures + 1)); }
note() { printf '%s\n' "$*" >&2; }
emit() { printf '%s\n' "$*" >>"$results"; }
# json_get JSON EXPR: a value out of a JSON document (EXPR uses j).
json_get() { node -e 'const j = JSON.parse(process.argv[1]); console.log(eval(process.argv[2]))' "$1" "$2"; }

# free_ports N: N distinct TCP ports on 127.0.0.1 that were free a moment ago.
free_ports() {
	node -e '
		const net = require("net"), n = +process.argv[1], ss = [];
		for (let i = 0; i < n; i++) {
			const s = net.createServer();
			s.listen(0, "127.0.0.1", () => {
				ss.push(s);
				if (ss.length === n) { console.log(ss.map((x) => x.address().port).join(" ")); ss.forEach((x) => x.close()); }
			});
		}' "$1"
}

# wait_port PORT [SECONDS]: until 127.0.0.1:PORT accepts a connection.
wait_port() {
	local i
	for i in $(seq $(( ${2:-20} * 20 ))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# cpu_busy SECONDS: percent of all CPUs busy (any process) over that time.
cpu_busy() {
	local a b
	a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
	sleep "$1"
	b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
	echo "$a $b" | awk '{ d = $4 - $2; printf "%d\n", (d > 0 ? 100 * ($3 - $1) / d : 0) }'
}

# --- memory -----------------------------------------------------------------------
# kb_of PID FIELD: a /proc/PID/status field (VmRSS, VmHWM) in kB.
kb_of() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
# procs_of TARGET: the pids whose memory is the target's (nginx: master and workers).
procs_of() {
	local p=${PIDS[$1]:-}
	[ -n "$p" ] || return 0
	echo "$p"
	[ "$1" = nginx ] && pgrep -P "$p" 2>/dev/null
	return 0
}
mem_sum() { # TARGET FIELD -> kB summed over its processes
	local s=0 p v
	for p in $(procs_of "$1"); do v=$(kb_of "$p" "$2"); s=$((s + ${v:-0})); done
	echo "$s"
}
# reset_hwm TARGET: VmHWM starts again from the current RSS (Linux clear_refs 5).
reset_hwm() { local p; for p in $(procs_of "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null; done; }
emit_mem() { # PHASE: VmHWM and VmRSS of every target's processes
	local t
	for t in $order ours_lighttpd; do
		[ -n "${PIDS[$t]:-}" ] || continue
		emit "{\"kind\":\"rss\",\"phase\":\"$1\",\"target\":\"$t\",\"hwm_kb\":$(mem_sum "$t" VmHWM),\"rss_kb\":$(mem_sum "$t" VmRSS)}"
	done
}

# --- CPU ----------------------------------------------------------------------
# cpu_ticks PID...: user + system clock ticks the processes have used so far.
cpu_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
writer_pid() { sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'capture-proxy writer'" | head -n1; }
# cpu_roles TARGET: "role=ticks" words for the processes that serve TARGET
# (ours: its lighttpd, proxy_fcgi and the PostgreSQL backend of its writer).
cpu_roles() {
	if [ "$1" = direct ]; then
		echo ""   # the stub's CPU is not a proxy's
	elif [ "$1" = ours ]; then
		echo "lighttpd=$(cpu_ticks "${PIDS[ours_lighttpd]}") proxy_fcgi=$(cpu_ticks "${PIDS[ours]}") writer=$(cpu_ticks $(writer_pid))"
	else
		echo "$1=$(cpu_ticks $(procs_of "$1"))"
	fi
}
# cpu_json BEFORE AFTER REQUESTS: {"role": microseconds of CPU per request, ...}
cpu_json() {
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " "); out = ""
		for (i in x) { split(x[i], k, "="); before[k[1]] = k[2] }
		for (i in y) { split(y[i], k, "="); if (n > 0 && (k[1] in before))
			out = out sprintf("%s\"%s\":%.1f", out == "" ? "" : ",", k[1], (k[2] - before[k[1]]) * 1e6 / hz / n) }
		print "{" out "}" }'
}

# --- ours: what it answered, and what PostgreSQL holds ------------------------------------
sql() { psql "$db_url" -qAtX -c "$1"; }
# Per phase of ours ("bench=PHASE" in the query string): requests answered, and
# connections open when the load stopped (those may have reached the proxy
# without the client counting an answer).
declare -A ANSWERED CUT PHASE_T0 PERFED
count_ours() { # PHASE ANSWERED CUT
	ANSWERED[$1]=$(( ${ANSWERED[$1]:-0} + $2 ))
	CUT[$1]=$(( ${CUT[$1]:-0} + $3 ))
}
# mark_phase PHASE: remembers when the phase started (the database's clock).
mark_phase() { [ -n "${PHASE_T0[$1]:-}" ] || PHASE_T0[$1]=$(sql "SELECT now() - interval '1 second'"); }
rows_phase() { # PHASE -> rows of that phase in PostgreSQL
	sql "SELECT count(*) FROM captures WHERE started_at >= '${PHASE_T0[$1]}' AND query IN ('bench=$1', 'stream=true&bench=$1')"
}
# drain PHASE LIMIT [STALL]: waits (at most LIMIT s, or until the count has
# not moved for STALL s) until PostgreSQL holds a row for every answered
# request of PHASE; prints "rows seconds" (seconds until the last row came).
drain() {
	local p=$1 limit=$2 stall=${3:-0} t0 rows el last=-1 moved=0
	t0=$(date +%s%N)
	while :; do
		rows=$(rows_phase "$p")
		el=$(( ($(date +%s%N) - t0) / 1000000 ))
		if [ "$rows" != "$last" ]; then moved=$el; last=$rows; fi
		[ "${rows:-0}" -ge "${ANSWERED[$p]:-0}" ] && break
		[ $el -ge $((limit * 1000)) ] && break
		[ "$stall" -gt 0 ] && [ $(( el - moved )) -ge $((stall * 1000)) ] && { el=$moved; break; }
		sleep 0.1
	done
	printf '%s %d.%03d\n' "${rows:-0}" $((el / 1000)) $((el % 1000))
}

# --- loads -----------------------------------------------------------------------
# run_wrk TARGET PHASE THREADS CONNS SECS BODIES [nodrain]: one wrk run, its
# summary to results.jsonl. Against ours, it then waits until every answered
# request is a row (unless nodrain), so a backlog never runs into the next
# measurement, and records how long that took.
run_wrk() {
	local t=$1 phase=$2 th=$3 c=$4 secs=$5 bodies=$6 nodrain=${7:-} log js n extra="" rows dr perf_pid="" cpu0 cpu
	log=$out/wrk-$phase-$t.log
	[ "$t" = ours ] && mark_phase "$phase"
	if [ "$t" = ours ] && [ "${BENCH_PERF:-}" = "$phase" ] && [ -z "${PERFED[$phase]:-}" ] && command -v perf >/dev/null; then
		PERFED[$phase]=1
		# the whole machine, by process and symbol; and proxy_fcgi and the
		# PostgreSQL backend of its writer with DWARF call graphs
		perf record -e cpu-clock -F 999 -a -o "$out/perf-$phase.data" -- sleep "$secs" \
			>"$out/perf-$phase.log" 2>&1 &
		perf_pid=$!
		perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "${PIDS[ours]}" \
			-o "$out/perf-$phase-proxy.data" -- sleep "$secs" >>"$out/perf-$phase.log" 2>&1 &
		perf_pid="$perf_pid $!"
		perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$(writer_pid)" \
			-o "$out/perf-$phase-writer.data" -- sleep "$secs" >>"$out/perf-$phase.log" 2>&1 &
		perf_pid="$perf_pid $!"
	fi
	cpu0=$(cpu_roles "$t")
	if [ "$c" = 1 ] && [ "$(wc -l <"$bodies")" = 1 ]; then
		# one connection: wrk's latency figures do not add up there (see latency.c)
		[ -x "$state/latency" ] || cc -O2 -o "$state/latency" "$here/latency.c" ||
			die "cannot build tests/bench/latency.c"
		"$state/latency" "${URL[$t]}/v1/chat/completions?bench=$phase" "$bodies" "$secs" >"$state/wrk.out" 2>&1
	else
		BENCH_BODIES=$bodies wrk -t"$th" -c"$c" -d"${secs}s" --timeout 10s -s "$here/post.lua" \
			"${URL[$t]}/v1/chat/completions?bench=$phase" >"$state/wrk.out" 2>&1
	fi
	[ -n "$perf_pid" ] && wait $perf_pid
	cat "$state/wrk.out" >>"$log"
	js=$(sed -n 's/^BENCH_JSON //p' "$state/wrk.out" | tail -n 1)
	if [ -z "$js" ]; then
		fail "wrk $phase against $t printed no summary (log: $log)"
		js='{"requests":0,"duration_us":1}'
	fi
	if [ "$t" = ours ]; then
		n=$(json_get "$js" j.requests)
		count_ours "$phase" "$n" "$c"
		if [ -z "$nodrain" ]; then
			read -r rows dr < <(drain "$phase" "$DRAIN_WAIT")
			extra=",\"drain_s\":$dr,\"rows\":$rows,\"answered_total\":${ANSWERED[$phase]}"
			if [ "$rows" -lt "${ANSWERED[$phase]}" ]; then
				fail "ours, $phase: ${ANSWERED[$phase]} answered, only $rows rows in PostgreSQL $DRAIN_WAIT s after the load"
			elif [ "${dr%.*}" -ge "$DRAIN_LIMIT" ]; then
				fail "ours, $phase: the last capture reached PostgreSQL ${dr} s after the load (limit $DRAIN_LIMIT s)"
			fi
		fi
	fi
	# CPU per answered request, for ours until its captures were all written
	cpu=$(cpu_json "$cpu0" "$(cpu_roles "$t")" "$(json_get "$js" j.requests)")
	emit "{\"kind\":\"wrk\",\"phase\":\"$phase\",\"target\":\"$t\",\"threads\":$th,\"conns\":$c,\"secs\":$secs$extra,\"cpu_us\":$cpu,$(printf '%s' "$js" | sed 's/^{//')"
	note "  $(printf '%-9s %-6s' "$t" "$phase") $(json_get "$js" '`${(j.requests / (j.duration_us / 1e6)).toFixed(0)} req/s  p50 ${(j.p50_us / 1000).toFixed(3)} ms  p99 ${(j.p99_us / 1000).toFixed(3)} ms` +
		(j.non2xx ? `  non-2xx ${j.non2xx}` : "") +
		(j.connect_errors + j.read_errors + j.write_errors + j.timeouts ? `  socket errors c${j.connect_errors}/r${j.read_errors}/w${j.write_errors}/t${j.timeouts}` : "")')${dr:+  (all captured ${dr} s after)}  CPU µs/req $cpu"
	if [ -n "$perf_pid" ]; then
		perf report -i "$out/perf-$phase.data" --no-children --sort comm --stdio 2>/dev/null |
			grep -E '^ +[0-9.]+%' >"$out/perf-$phase-comm.txt"
		perf report -i "$out/perf-$phase.data" --no-children --sort comm,dso,sym --stdio 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n 150 >"$out/perf-$phase-sym.txt"
		perf report -i "$out/perf-$phase-proxy.data" --children --sort sym --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | grep -v '\] 0x0000' | head -n 150 >"$out/perf-$phase-proxy_fcgi.txt"
		perf report -i "$out/perf-$phase-writer.data" --children --sort sym --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | grep -v '\] 0x0000' | head -n 200 >"$out/perf-$phase-writer.txt"
		perf_roles "$out/perf-$phase.data" >"$out/perf-$phase-roles.txt"
		note "  perf profiles: $out/perf-$phase-{roles,comm,sym,proxy_fcgi,writer}.txt"
	fi
}

# perf_roles PERF_DATA: the machine's CPU by role in our setup (proxy_fcgi, its
# lighttpd, its PostgreSQL, the stub, wrk, ...), "other" for processes not ours.
perf_roles() {
	local map=$out/perf-pids.txt p pm
	: >"$map"
	{
		echo "${PIDS[ours]} proxy_fcgi"
		echo "${PIDS[ours_lighttpd]} lighttpd(ours)"
		for p in $STUB_PID $(pgrep -P "$STUB_PID"); do echo "$p stub(nginx)"; done
		echo "$SSE_PID stub(sse)"
		[ -n "${PIDS[nginx]:-}" ] && for p in ${PIDS[nginx]} $(pgrep -P "${PIDS[nginx]}"); do echo "$p nginx(peer)"; done
		[ -n "${PIDS[lighttpd]:-}" ] && echo "${PIDS[lighttpd]} lighttpd(peer)"
		[ -n "${PIDS[mitmproxy]:-}" ] && echo "${PIDS[mitmproxy]} mitmproxy"
		p=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'capture-proxy writer'" | head -n1)
		if [ -n "$p" ]; then
			echo "$p postgres(writer)"
			pm=$(ps -o ppid= -p "$p" | tr -d ' ')
			for p in $pm $(pgrep -P "$pm"); do echo "$p postgres(other)"; done
		fi
	} >>"$map"
	perf script -i "$1" -F comm,pid 2>/dev/null |
		awk -v map="$map" '
			BEGIN { while ((getline l < map) > 0) { split(l, a, " "); if (!(a[1] in role)) role[a[1]] = a[2] } }
			{ pid = $NF; comm = $1; r = (pid in role) ? role[pid] : (comm == "wrk" ? "wrk" : "other: " comm); n[r]++; total++ }
			END { for (r in n) printf "%6.2f%%  %s\n", 100 * n[r] / total, r }' | sort -rn
}

# run_sse TARGET PHASE: the streaming client against a target; its JSON
# summary in SSE_JS, with the CPU per stream of the target's processes (ours:
# its writer's until the round's captures are stored) as "cpu_us".
run_sse() {
	local t=$1 phase=$2 cpu0 n ok ev rows
	[ "$t" = ours ] && mark_phase "$phase"
	[ -x "$state/sse-client" ] || cc -O2 -o "$state/sse-client" "$here/sse-client.c" ||
		die "cannot build tests/bench/sse-client.c"
	cpu0=$(cpu_roles "$t")
	SSE_JS=$("$state/sse-client" "${URL[$t]}/v1/chat/completions?stream=true&bench=$phase" \
		"$SSE_CONC" "$SSE_STREAMS" 2>>"$out/sse-client.log")
	[ -n "$SSE_JS" ] || { fail "sse-client against $t printed nothing"; SSE_JS='{"ok":0,"statuses":{}}'; }
	n=$(json_get "$SSE_JS" 'Object.values(j.statuses || {}).reduce((a, b) => a + b, 0)')
	read -r ok ev < <(json_get "$SSE_JS" '`${j.ok} ${j.events}`')
	[ "$ok" = "$SSE_STREAMS" ] && [ "$ev" = $((SSE_STREAMS * (SSE_EVENTS + 1))) ] ||
		fail "streams through $t: $ok of $SSE_STREAMS whole, $ev of $((SSE_STREAMS * (SSE_EVENTS + 1))) events"
	if [ "$t" = ours ]; then
		count_ours "$phase" "$n" "$SSE_CONC"
		read -r rows _ < <(drain "$phase" "$DRAIN_WAIT")
		[ "$rows" -lt "${ANSWERED[$phase]}" ] && fail "ours, $phase: ${ANSWERED[$phase]} answered, $rows rows"
	fi
	SSE_JS="${SSE_JS%\}},\"cpu_us\":$(cpu_json "$cpu0" "$(cpu_roles "$t")" "$n")}"
	return 0
}
