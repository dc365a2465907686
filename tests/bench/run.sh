#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: the capture proxy side by side with a plain
# reverse proxy, lighttpd mod_proxy and mitmproxy, against one fast stub upstream.
#
#   tests/bench/run.sh            the full benchmark (a few minutes on 2 cores)
#   tests/bench/run.sh --smoke    seconds, tiny loads: the scripts still work, the
#                                 captures are complete, the table prints
#
# Targets, all on 127.0.0.1, each with its own port on the stub (so the stub's
# access log counts what each one forwarded):
#   direct     wrk straight to the stub (the floor)
#   nginx      nginx proxy_pass, upstream keep-alive, records nothing
#   lighttpd   lighttpd mod_proxy (the front server we run, without our program)
#   mitmproxy  mitmdump --mode reverse:..., writes every flow to a file (-w)
#   ours       deploy/run.sh: lighttpd + proxy_fcgi, every call into PostgreSQL
# The stub: nginx answers POST /v1/chat/completions with a fixed ~1 KB chat
# completion, /v1/files with an upload receipt, /v1/files/big/content with a
# 20 MB file; POST /v1/chat/completions?stream=true goes on to sse-stub.mjs
# (server-sent events at a fixed interval, each stamped with its send time).
#
# Prints one markdown table (tests/bench/report.mjs) and the checks; the
# results stay in tests/out/bench-<label>/ (results.jsonl, table.md, logs).
# Exit status: 0, or 1 when a capture is missing from PostgreSQL (or not
# there within 30 s of the end), a tool failed, or (BENCH_ENFORCE_TARGETS=1)
# a target of the issue was missed.
#
# Every measurement of ours is followed by a wait until PostgreSQL holds a row
# for each answered request (the time it took is reported), so a capture
# backlog never runs into the next measurement.
#
# Env: BENCH_TARGETS=direct,nginx,... picks targets; BENCH_SECS overrides the
# length of each wrk run and BENCH_ROUNDS their number; BENCH_SOAK=N requests
# for the RSS soak (0: none); BENCH_CAPSIDE=0|1 the capture-side measurements;
# BENCH_LOADS=lat,tput,sse,big picks the loads (default all); BENCH_BIG_MB and
# BENCH_BIG_REPS the size and number of the large bodies, BENCH_HUGE_X how
# many times bigger the one body of the memory check is (1: none); BENCH_CONNS="16 64"
# the connection counts of the throughput loads; BENCH_SQL=STATEMENTS runs in
# ours' database before the loads (to try a schema or setting change);
# BENCH_PERF=PHASE profiles the first run of ours in that phase (c64, lat1...):
# CPU of the whole machine by process and role, and proxy_fcgi and the
# PostgreSQL backend of its writer with DWARF call graphs (perf-PHASE-*.txt); BENCH_QUIET_WAIT=S waits up to S seconds for the
# machine to be idle first; BENCH_KEEP=1 keeps the state directory;
# BENCH_ENFORCE_TARGETS=1 fails the run on a missed target. Options of
# config.env (PROXY_THREADS, CAPTURE_QUEUE_MAX, ...) in the environment go to
# ours; CAPTURE_BIN picks the programs (default build/); TEST_PG_ADMIN_URL
# (set by tests/run.sh) puts the database in that cluster instead of a new one.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/bench
. "$root/deploy/common.sh"

mode=full
case "${1:-}" in
--smoke) mode=smoke ;;
"") ;;
*) die "usage: tests/bench/run.sh [--smoke]" ;;
esac

# --- parameters ---------------------------------------------------------------
if [ "$mode" = smoke ]; then
	WARM=0 LAT=1 TPUT=1 LAT_ROUNDS=1 TPUT_ROUNDS=1 CONNS="4" SSE_ROUNDS=1 SSE_CONC=2 SSE_STREAMS=4 SSE_EVENTS=10 SSE_MS=5
	BIG_MB=2 BIG_REPS=1 HUGE_X=1 SOAK_REQ=0 CAPSIDE=0
else
	WARM=2 LAT=1 TPUT=2 LAT_ROUNDS=5 TPUT_ROUNDS=3 CONNS="16 64" SSE_ROUNDS=3 SSE_CONC=16 SSE_STREAMS=128 SSE_EVENTS=40 SSE_MS=10
	BIG_MB=20 BIG_REPS=3 HUGE_X=5 SOAK_REQ=100000 CAPSIDE=1
fi
[ -n "${BENCH_SECS:-}" ] && LAT=$BENCH_SECS TPUT=$BENCH_SECS
[ -n "${BENCH_ROUNDS:-}" ] && LAT_ROUNDS=$BENCH_ROUNDS TPUT_ROUNDS=$BENCH_ROUNDS
SOAK_REQ=${BENCH_SOAK:-$SOAK_REQ} CAPSIDE=${BENCH_CAPSIDE:-$CAPSIDE}
BIG_MB=${BENCH_BIG_MB:-$BIG_MB} BIG_REPS=${BENCH_BIG_REPS:-$BIG_REPS} HUGE_X=${BENCH_HUGE_X:-$HUGE_X}
CONNS=${BENCH_CONNS:-$CONNS}
LOADS=${BENCH_LOADS:-lat,tput,sse,big}
load() { case ",$LOADS," in *",$1,"*) return 0 ;; esac; return 1; }
TARGETS=${BENCH_TARGETS:-direct,nginx,lighttpd,mitmproxy,ours}
DRAIN_LIMIT=30   # seconds after the end of a load for every capture to be in PostgreSQL
DRAIN_WAIT=${BENCH_DRAIN_WAIT:-180}   # how long we wait to report the time it took

for tool in wrk nginx lighttpd node curl psql; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make bench installs it: deploy/install-deps.sh bench)"
done
if ! command -v mitmdump >/dev/null; then
	say "mitmdump not found: the mitmproxy column is skipped"
	TARGETS=$(printf '%s' "$TARGETS" | tr ',' '\n' | grep -vx mitmproxy | paste -sd, -)
fi
has() { case ",$TARGETS," in *",$1,"*) return 0 ;; esac; return 1; }
has direct || die "BENCH_TARGETS must include direct (every ratio is to it)"

bin=${CAPTURE_BIN:-$root/build}
bin=$(cd "$bin" 2>/dev/null && pwd) || die "CAPTURE_BIN: no such directory"
[ -x "$bin/proxy_fcgi" ] || die "$bin/proxy_fcgi is not built (make build/proxy_fcgi)"

label=$(date +%Y%m%d-%H%M%S)-$mode-$$
out=$root/tests/out/bench-$label
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
. "$here/lib.sh"

# The machine must be quiet: other work on the two cores shows in every figure.
if [ -n "${BENCH_QUIET_WAIT:-}" ]; then
	for _ in $(seq $(( BENCH_QUIET_WAIT / 2 + 1 ))); do
		busy=$(cpu_busy 2); [ "$busy" -lt 15 ] && break
		note "machine busy ($busy% CPU), waiting"
	done
fi
busy_before=$(cpu_busy 1)
[ "$busy_before" -ge 15 ] && note "warning: the machine is busy ($busy_before% CPU before the run): figures will be off"

state=$(mktemp -d /tmp/capture-bench.XXXXXX)
chmod 755 "$state"   # the postgres user and nginx workers must reach it
. "$here/stack.sh"   # starts everything; stops it all on exit
single=$state/single.jsonl
tr -d '\n' <"$here/chat-request.json" >"$single"; echo >>"$single"

# --- 1. latency and throughput ------------------------------------------------------
if [ "$WARM" -gt 0 ]; then
	note "warm-up ($WARM s each)"
	for t in $order; do run_wrk "$t" warm 2 16 "$WARM" "$single"; done
fi
# Each load runs in rounds that take the targets in turn, and the report takes
# the median of the rounds' percentiles: a burst of other work on the machine
# then spoils one round of one target, not a whole column.
load lat && note "latency, 1 connection ($LAT_ROUNDS rounds of $LAT s each)"
for _ in $(seq "$LAT_ROUNDS"); do
	load lat || break
	for t in $order; do run_wrk "$t" lat1 1 1 "$LAT" "$single"; done
done
for c in $CONNS; do
	load tput || break
	note "throughput, $c connections ($TPUT_ROUNDS rounds of $TPUT s each)"
	for _ in $(seq "$TPUT_ROUNDS"); do
		for t in $order; do run_wrk "$t" "c$c" 2 "$c" "$TPUT" "$single"; done
	done
done

# --- 2. streaming -------------------------------------------------------------------
load sse && note "streaming: $SSE_ROUNDS rounds of $SSE_STREAMS streams, $SSE_CONC at a time, $SSE_EVENTS events every $SSE_MS ms"
load sse && run_sse direct ssewarm   # first streams through the stub are slower (JIT, connections)
for round in $(seq "$SSE_ROUNDS"); do
	for t in $order; do
		load sse || break 2
		run_sse "$t" sse; js=$SSE_JS
		emit "{\"kind\":\"sse\",\"target\":\"$t\",\"round\":$round,$(printf '%s' "$js" | sed 's/^{//')"
		note "  $(printf '%-9s' "$t") $(json_get "$js" '`${j.ok}/${j.streams} streams, ${j.events} events; first event p50 ${j.ttfe_p50_ms} ms p99 ${j.ttfe_p99_ms} ms; event delay p50 ${j.delay_p50_ms} ms p99 ${j.delay_p99_ms} ms` + (j.coalesced ? `; ${j.coalesced} events arrived with others` : "") + `  CPU µs/stream ${JSON.stringify(j.cpu_us)}`')"
	done
done

# --- 3. memory under load, then large bodies ----------------------------------------------
emit_mem loads
for t in $order ours_lighttpd; do reset_hwm "$t"; done
load big && note "large bodies: $BIG_MB MB up and down, median of $BIG_REPS"
for t in $order; do
	load big || break
	for dir in up down; do
		n_ok=0 runs="" phase=$([ $dir = up ] && echo upload || echo download)
		[ "$t" = ours ] && mark_phase "$phase"
		cpu0=$(cpu_roles "$t")
		for _ in $(seq "$BIG_REPS"); do
			if [ $dir = up ]; then
				r=$(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_upload}' -H 'Expect:' \
					-H 'Content-Type: application/octet-stream' -H 'Authorization: Bearer sk-bench-0000000000000000000000000000big1' \
					--data-binary @"$big" "${URL[$t]}/v1/files?bench=upload")
			else
				r=$(curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}' \
					-H 'Authorization: Bearer sk-bench-0000000000000000000000000000big1' \
					"${URL[$t]}/v1/files/big/content?bench=download")
			fi
			set -- $r
			[ "$t" = ours ] && [ "$1" != 000 ] && count_ours "$phase" 1 0
			if [ "$1" = 200 ] && { [ $dir = up ] || [ "${3%.*}" = "$big_bytes" ]; }; then
				n_ok=$((n_ok + 1)); runs="$runs${runs:+,}$2"
			else
				fail "$BIG_MB MB $dir through $t: status $1, $3 bytes"
			fi
		done
		cpu=$(cpu_json "$cpu0" "$(cpu_roles "$t")" "$BIG_REPS")
		emit "{\"kind\":\"big\",\"target\":\"$t\",\"dir\":\"$dir\",\"bytes\":$big_bytes,\"ok\":$n_ok,\"secs\":[$runs],\"cpu_us\":$cpu}"
		note "  $(printf '%-9s %-4s' "$t" "$dir") seconds: $runs  CPU µs/transfer $cpu"
	done
done
emit_mem big
# Memory must follow the capture cap, not the body: ours once more with a
# body HUGE_X times bigger, up and down (the stub serves big.bin, which holds
# the huge body meanwhile), peak RSS measured the same way.
if has ours && load big && [ "$HUGE_X" -gt 1 ]; then
	huge_bytes=$((big_bytes * HUGE_X))
	for _ in $(seq "$HUGE_X"); do cat "$big"; done >"$big.huge"
	chmod 644 "$big.huge"
	mv "$big" "$big.keep" && mv "$big.huge" "$big"
	note "memory: one $((BIG_MB * HUGE_X)) MB body up and down through ours"
	reset_hwm ours
	mark_phase upload; mark_phase download
	up=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -H 'Content-Type: application/octet-stream' \
		-H 'Authorization: Bearer sk-bench-0000000000000000000000000000big1' \
		--data-binary @"$big" "${URL[ours]}/v1/files?bench=upload")
	down=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' \
		-H 'Authorization: Bearer sk-bench-0000000000000000000000000000big1' \
		"${URL[ours]}/v1/files/big/content?bench=download")
	[ "$up" != 000 ] && count_ours upload 1 0
	[ "${down% *}" != 000 ] && count_ours download 1 0
	[ "$up" = 200 ] || fail "$((BIG_MB * HUGE_X)) MB up through ours: status $up"
	[ "$down" = "200 $huge_bytes" ] || fail "$((BIG_MB * HUGE_X)) MB down through ours: status and bytes $down"
	emit "{\"kind\":\"rss\",\"phase\":\"huge\",\"target\":\"ours\",\"bytes\":$huge_bytes,\"hwm_kb\":$(mem_sum ours VmHWM),\"rss_kb\":$(mem_sum ours VmRSS)}"
	mv "$big.keep" "$big"
fi
if has ours && load big; then
	for phase in upload download; do
		read -r rows dr < <(drain "$phase" "$DRAIN_WAIT")
		[ "$rows" -lt "${ANSWERED[$phase]:-0}" ] && fail "ours, $phase: ${ANSWERED[$phase]} answered, $rows rows"
	done
fi

# --- 4. ours alone: RSS across SOAK_REQ requests --------------------------------------------
# In two halves, each drained: the first is the warm-up (threads, arenas and
# buffers reach their working size, a backlog its high-water mark); RSS flat
# means the second half leaves it where the first did.
if has ours && [ "$SOAK_REQ" -gt 0 ]; then
	note "soak: proxy_fcgi RSS across $SOAK_REQ requests in two halves (16 connections, 2 s runs)"
	samples="[0,$(kb_of "${PIDS[ours]}" VmRSS)]" seg=0 drained=""
	for half in 1 2; do
		seg=0   # each half its own budget of 2 s runs
		while [ "${ANSWERED[soak]:-0}" -lt $((SOAK_REQ * half / 2)) ] && [ $seg -lt 30 ]; do
			seg=$((seg + 1))
			run_wrk ours soak 2 16 2 "$single" nodrain 2>/dev/null
			samples="$samples,[${ANSWERED[soak]},$(kb_of "${PIDS[ours]}" VmRSS)]"
		done
		read -r rows dr < <(drain soak "$DRAIN_WAIT")
		[ "$rows" -lt "${ANSWERED[soak]}" ] && fail "ours, soak: ${ANSWERED[soak]} answered, $rows rows after $dr s"
		sleep 2   # the writer gives the drained backlog's memory back (malloc_trim) just after
		after=$(kb_of "${PIDS[ours]}" VmRSS)
		drained="$drained${drained:+,}[${ANSWERED[soak]},$after,$dr]"
	done
	emit "{\"kind\":\"soak\",\"target\":\"ours\",\"requests\":${ANSWERED[soak]},\"samples\":[$samples],\"drained\":[$drained],\"rss_drained_kb\":$after,\"drain_s\":$dr,\"rows\":$rows}"
	note "  RSS kB by requests: $samples; drained after each half [requests, kB, s]: $drained"
fi

# --- 5. completeness: every answered call of ours is a row ---------------------------------
# Per phase: rows >= answered, rows <= answered + connections cut at the end,
# and rows that got an upstream answer == requests the stub logged for ours.
check_complete() {
	local want=0 have=0 p detail="" ok=1 rows up hits ans cut
	declare -A R U
	sleep 1.2   # nginx flushes its buffered access log every second
	while IFS='|' read -r p rows up; do
		R[$p]=$rows U[$p]=$up
	done < <(sql "SELECT substring(query from 'bench=([a-z0-9_]+)'), count(*), count(ttfb_ms) FROM captures GROUP BY 1")
	for p in $(printf '%s\n' "${!ANSWERED[@]}" | sort); do
		rows=${R[$p]:-0} up=${U[$p]:-0} ans=${ANSWERED[$p]} cut=${CUT[$p]:-0}
		want=$((want + ans)) have=$((have + rows))
		hits=$(awk -v p="$p" '$1 == p' "$state/stub/logs/ours.log" | wc -l)
		detail="$detail${detail:+,}{\"phase\":\"$p\",\"answered\":$ans,\"cut_at_end\":$cut,\"rows\":$rows,\"rows_upstream\":$up,\"stub_hits\":$hits}"
		if [ "$rows" -lt "$ans" ]; then
			fail "captures lost in phase $p: $ans answered, $rows rows in PostgreSQL"; ok=0
		elif [ "$rows" -gt $((ans + cut)) ]; then
			fail "phase $p: $rows rows for $ans answered (+$cut connections cut at the end)"; ok=0
		fi
		if [ "$up" != "$hits" ]; then
			fail "phase $p: the stub answered $hits requests of ours, $up rows show an upstream answer"; ok=0
		fi
	done
	emit "{\"kind\":\"complete\",\"want\":$want,\"rows\":$have,\"ok\":$ok,\"limit_s\":$DRAIN_LIMIT,\"phases\":[$detail]}"
	note "  $have rows for $want answered requests: $([ $ok = 1 ] && echo complete || echo INCOMPLETE)"
}
if has ours; then
	note "completeness"
	check_complete
fi

# --- 6. the capture side: writer rows/s with 2-8 KB bodies and the full-text index -----------
if has ours && [ "$CAPSIDE" = 1 ]; then
	. "$here/capture-side.sh"
fi

# --- report ---------------------------------------------------------------------------
{
	printf '{"kind":"env","mode":"%s","cpu":"%s","cores":%s,"kernel":"%s","debian":"%s","busy_before":%s,"load_after":"%s",' \
		"$mode" "$(lscpu | sed -n 's/^Model name: *//p' | head -n1)" "$(nproc)" "$(uname -r)" "$(cat /etc/debian_version)" \
		"$busy_before" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '"nginx":"%s","lighttpd":"%s","mitmproxy":"%s","wrk":"%s","postgres":"%s",' \
		"$(nginx -v 2>&1 | sed 's/.*nginx\///')" "$(lighttpd -v 2>&1 | sed -n 's/^lighttpd\/\([^ ]*\).*/\1/p')" \
		"$(mitmdump --version 2>/dev/null | sed -n 's/^Mitmproxy: *//p')" "$(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p')" \
		"$( [ -n "${db_url:-}" ] && sql 'SHOW server_version' | cut -d' ' -f1)"
	printf '"synchronous_commit":"%s","proxy_threads":"%s","capture_queue_max":"%s","capture_body_max":"%s",' \
		"$( [ -n "${db_url:-}" ] && sql 'SHOW synchronous_commit' )" "${threads:-}" "${qmax:-}" "${body_max:-}"
	printf '"date":"%s","commit":"%s","lat_s":%s,"tput_s":%s,"lat_rounds":%s,"tput_rounds":%s,"big_mb":%s,"drain_limit_s":%s}\n' \
		"$(date -u +%Y-%m-%dT%H:%MZ)" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null)" "$LAT" "$TPUT" "$LAT_ROUNDS" "$TPUT_ROUNDS" "$BIG_MB" "$DRAIN_LIMIT"
} >>"$results"
node "$here/report.mjs" "$results" >"$out/table.md" || fail "report.mjs failed"
cat "$out/table.md"
if grep -q '^MISSED' "$out/table.md" && [ "${BENCH_ENFORCE_TARGETS:-0}" = 1 ]; then
	fail "targets missed (BENCH_ENFORCE_TARGETS=1)"
fi
if [ "$failures" -gt 0 ]; then
	say "bench: $failures failure(s), see above and $out/failures.txt"
	exit 1
fi
say "bench: ok ($out)"
exit 0
