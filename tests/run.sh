#!/usr/bin/env bash
# tests/run.sh - runs every test (what `make test` runs after building build/ and build/asan/).
#
#   unit tests      build/tests/* and build/asan/tests/* ("name: N passed, N failed")
#   integration     node --test tests/integration/*.test.mjs, once against build/ and
#                   once against build/asan/ (ASan + UBSan)
#   browser         node --test tests/browser/*.test.mjs against build/, if present
#   valgrind        node --test tests/valgrind/*.test.mjs: a short load with both
#                   programs under valgrind (memory errors, definite leaks)
#   fuzz            each libFuzzer harness for a few seconds over its corpus
#   bench           tests/bench/run.sh --smoke: the benchmark with tiny loads,
#                   so its scripts cannot rot (one pass or one failure)
#
# One PostgreSQL cluster serves the whole run (each test stack makes its own
# database in it); it is stopped on exit, also on failure or Ctrl-C.
# Env: TESTS=unit,integration,asan,browser,valgrind,fuzz,bench picks suites (default all);
# NODE_TEST_ARGS adds arguments to node --test (e.g. --test-name-pattern=stream).
# The last line printed is "N passed, N failed"; the exit status is non-zero
# if anything failed.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
. "$root/deploy/common.sh"

passed=0 failed=0
suites=${TESTS:-unit,integration,asan,browser,valgrind,fuzz,bench}
want() { case ",$suites," in *",$1,"*) return 0 ;; esac; return 1; }
label=$(date +%Y%m%d-%H%M%S)-$$
out=$root/tests/out/$label
mkdir -p "$out"
export TEST_RUN_LABEL=$label

# Keep the state of the newest runs for debugging, drop older ones.
for d in $(ls -1d "$root"/tests/out/[0-9]*-[0-9]*-[0-9]* 2>/dev/null | sort -r | tail -n +4); do
	rm -rf -- "$d"
done

pgdir="" pgtmp=""
cleanup() {
	trap '' INT TERM
	if [ -n "$pgdir" ]; then
		"$root/deploy/pg.sh" stop "$pgdir" || true
		# The cluster's files are large: keep only its log once it is down.
		[ -f "$pgdir/data/postmaster.pid" ] || rm -rf -- "$pgdir/data"
		[ -n "$pgtmp" ] && [ ! -d "$pgdir/data" ] && rm -rf -- "$pgtmp"
		pgdir=""
	fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; cleanup; exit 130' INT TERM

# add NAME PASSED FAILED: counts one runner's result.
add() {
	passed=$((passed + $2)); failed=$((failed + $3))
}

# Starts the run's PostgreSQL cluster on a private socket (any port number will
# do: the socket directory is ours alone).
start_pg() {
	local port url
	pgdir=$out/pg
	port=$((20000 + RANDOM % 40000))
	if ! url=$(PG_PORT=$port "$root/deploy/pg.sh" start "$pgdir"); then
		# pg.sh needs the postgres user to reach the directory; fall back to /tmp.
		pgdir=$(mktemp -d /tmp/capture-test-pg.XXXXXX)
		pgtmp=$pgdir
		chmod 755 "$pgdir"
		url=$(PG_PORT=$port "$root/deploy/pg.sh" start "$pgdir") || return 1
	fi
	export TEST_PG_ADMIN_URL=$url
	say "test PostgreSQL: $url"
}

# run_unit DIR: runs each test binary in DIR, adding up their counts.
run_unit() {
	local dir=$1 t log line p f rc any=0
	[ -d "$dir" ] || { say "no unit tests in $dir"; return 0; }
	for t in "$dir"/*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		any=1
		log=$out/unit-$(basename "$dir")-$(basename "$(dirname "$dir")")-$(basename "$t").log
		ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} timeout 300 "$t" >"$log" 2>&1
		rc=$?
		line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
			f=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
		else
			p=0 f=0
		fi
		# A crash, a sanitizer report or a leak after the summary is a failure too.
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
		if [ -z "$line" ] && [ "$rc" = 0 ]; then f=1; line="(no summary line)"; fi
		add "$t" "$p" "$f"
		if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
			printf 'FAIL %s (exit %s): %s\n' "${t#$root/}" "$rc" "$line"
			sed 's/^/    /' "$log" | tail -n 40
		else
			printf 'ok   %s: %s\n' "${t#$root/}" "$line"
		fi
	done
	[ $any = 1 ] || say "no unit tests in $dir"
}

# run_node NAME BIN FILES...: node's test runner over FILES with CAPTURE_BIN=BIN;
# spec output to the terminal, TAP to a file whose summary is added up.
run_node() {
	local name=$1 bin=$2 tap rc p f c
	shift 2
	[ $# -gt 0 ] || return 0
	tap=$out/$name.tap
	say "== $name: ${*#$root/} (CAPTURE_BIN=$bin)"
	# shellcheck disable=SC2086
	CAPTURE_BIN=$bin timeout 900 node --test --test-concurrency=1 --test-timeout=180000 \
		--test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tap" \
		${NODE_TEST_ARGS:-} "$@"
	rc=$?
	p=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
	f=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
	c=$(sed -n 's/^# cancelled \([0-9][0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
	p=${p:-0} f=$(( ${f:-0} + ${c:-0} ))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		say "$name: node --test exited $rc"
		f=1
	fi
	say "$name: $p passed, $f failed"
	add "$name" "$p" "$f"
}

# run_fuzz SECONDS: builds the libFuzzer harnesses and runs each for SECONDS.
run_fuzz() {
	local log=$out/fuzz.log line
	say "== fuzz smoke (${1}s each)"
	"$root/tests/fuzz/build.sh" >"$log" 2>&1 || tail -n 40 "$log"
	"$root/tests/fuzz/run.sh" "$1" 2>&1 | tee -a "$log"
	line=$(tail -n 1 "$log")
	case "$line" in
	*" passed, "*" failed") add fuzz "${line%% passed*}" "$(echo "$line" | sed -E 's/.*, ([0-9]+) failed$/\1/')" ;;
	*) say "fuzz: no summary line"; add fuzz 0 1 ;;
	esac
}

nodefiles() {
	local f
	for f in "$@"; do [ -f "$f" ] && printf '%s\n' "$f"; done
}

main() {
	if want unit; then
		run_unit "$root/build/tests"
		run_unit "$root/build/asan/tests"
	fi
	if want fuzz; then
		run_fuzz 5
	fi

	local integ browser vg
	mapfile -t integ < <(nodefiles "$root"/tests/integration/*.test.mjs)
	mapfile -t browser < <(nodefiles "$root"/tests/browser/*.test.mjs)
	mapfile -t vg < <(nodefiles "$root"/tests/valgrind/*.test.mjs)
	if { want integration || want asan || want browser || want valgrind || want bench; } &&
	   [ $(( ${#integ[@]} + ${#browser[@]} + ${#vg[@]} )) -gt 0 ]; then
		if [ ! -d "$root/tests/node_modules" ]; then
			say "npm packages missing: installing (npm ci)"
			(cd "$root/tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || add npm 0 1
		fi
		start_pg || { say "could not start the test PostgreSQL cluster"; add postgres 0 1; return; }
		if want integration; then
			run_node integration "$root/build" "${integ[@]}"
		fi
		if want asan; then
			if [ -x "$root/build/asan/proxy_fcgi" ]; then
				run_node integration-asan "$root/build/asan" "${integ[@]}"
			else
				say "build/asan/proxy_fcgi missing (make asan)"; add asan 0 1
			fi
		fi
		if want browser; then
			run_node browser "$root/build" "${browser[@]}"
		fi
		if want valgrind; then
			run_node valgrind "$root/build" "${vg[@]}"
		fi
		if want bench; then
			say "== bench smoke"
			if "$root/tests/bench/run.sh" --smoke >"$out/bench-smoke.log" 2>&1; then
				add bench 1 0; say "bench smoke: ok"
			else
				add bench 0 1; tail -n 30 "$out/bench-smoke.log"
			fi
		fi
	fi
}

main
cleanup
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
