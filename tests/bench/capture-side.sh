# tests/bench/capture-side.sh - sourced by run.sh (full mode): the capture side on its own.
#
# With realistic 2-8 KB chat requests (mkbodies.mjs) and the full-text index:
#   real      16 connections for 6 s: does the writer keep up with the proxy?
#             (proxy req/s, rows/s, backlog when the load ends, time to drain)
#   overflow  captures pile up while a session holds LOCK TABLE captures IN
#             SHARE MODE (the writer's INSERT waits, as behind a hung database),
#             past CAPTURE_QUEUE_MAX: what happens when the proxy outruns the
#             writer; then the lock goes and we time the drain: the rows/s the
#             writer sustains with the whole machine to itself
# Every capture must be stored in both (else the run fails): the queue
# bound is there to send captures to the spool, not to lose them.

realistic=$state/realistic.jsonl
note "capture side: 2-8 KB bodies, full-text index"

lock_start() {
	coproc LOCKER { psql "$db_url" -qAtX 2>&1; }
	pids+=("$LOCKER_PID")
	echo "BEGIN; LOCK TABLE captures IN SHARE MODE; SELECT 'locked';" >&"${LOCKER[1]}"
	read -r -t 20 line <&"${LOCKER[0]}"
	[ "$line" = locked ] || { fail "could not lock captures: $line"; return 1; }
}
lock_end() {
	echo "COMMIT;" >&"${LOCKER[1]}"
	echo '\q' >&"${LOCKER[1]}"
	wait "$LOCKER_PID" 2>/dev/null
}
kb() { kb_of "${PIDS[ours]}" VmRSS; }
rate() { echo "scale=0; $1 / $2" | bc; }
mark_phase real; mark_phase overflow

# --- real: does the writer keep up? ---
run_wrk ours real 2 16 6 "$realistic" nodrain
rows_end=$(rows_phase real)
ans=${ANSWERED[real]}
read -r rows drain < <(drain real "$DRAIN_WAIT")
proxy_rps=$(rate "$ans" 6)
[ "$rows" -lt "$ans" ] && fail "captures lost with 2-8 KB bodies: $ans answered, $rows rows"
emit "{\"kind\":\"capture\",\"phase\":\"real\",\"answered\":$ans,\"rows_at_end\":$rows_end,\"rows\":$rows,\"drain_s\":$drain,\"proxy_rps\":$proxy_rps,\"text\":\"with 2-8 KB requests at 16 connections the proxy answered $proxy_rps req/s for 6 s; $(( ans - rows_end )) captures were still queued when the load ended and the last was written $drain s later ($(rate "$ans" "$(echo "6 + $drain" | bc)") rows/s sustained end to end).\"}"
note "  real: $proxy_rps req/s, backlog $(( ans - rows_end )) at the end, drained in ${drain}s"

# --- overflow: more than CAPTURE_QUEUE_MAX behind the lock, then the writer alone ---
if [ -n "$qmax" ] && [ "$qmax" -gt 0 ] && [ "$proxy_rps" -gt 0 ]; then
	secs=$(( (qmax * 13 / 10) / proxy_rps + 1 ))
	if [ "$secs" -gt 15 ]; then
		emit "{\"kind\":\"capture\",\"phase\":\"overflow\",\"text\":\"overflow not measured: more than $qmax captures would take over 15 s at $proxy_rps req/s.\"}"
	elif lock_start; then
		drops0=$(grep -c 'capture queue full' "$out/ours.log")
		run_wrk ours overflow 2 16 "$secs" "$realistic" nodrain
		sleep 0.5
		kb1=$(kb)
		lock_end
		read -r rows drain < <(drain overflow "$DRAIN_WAIT" 10)
		ans=${ANSWERED[overflow]}
		wps=$(rate "$rows" "$drain")
		lost=$(( ans - rows ))
		logged=$(( $(grep -c 'capture queue full' "$out/ours.log") - drops0 ))
		if [ "$lost" -le 0 ]; then
			what="none was lost"
		else
			what="$lost were lost ($logged with a 'capture queue full' error in the log)"
			fail "overflow: $lost captures lost while the database hung (CAPTURE_QUEUE_MAX=$qmax; $logged drops logged)"
		fi
		emit "{\"kind\":\"capture\",\"phase\":\"overflow\",\"answered\":$ans,\"rows\":$rows,\"lost\":$lost,\"logged\":$logged,\"rss_kb\":$kb1,\"writer_rows_per_s\":$wps,\"text\":\"proxy outrunning the writer: $ans requests answered while the table was locked (CAPTURE_QUEUE_MAX=$qmax): $what; proxy_fcgi RSS reached $(( kb1 / 1024 )) MB. Once unlocked, the writer alone (no load) stored $rows rows in $drain s: $wps rows/s.\"}"
		note "  overflow: $ans answered, $rows stored, $lost lost, $logged drops logged"
	fi
fi
