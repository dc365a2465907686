#!/usr/bin/env bash
# tests/fuzz/run.sh - runs each libFuzzer harness in build/fuzz/ for a while over its seed corpus.
#
#   tests/fuzz/run.sh [SECONDS] [NAME...]    (default 60 s each, every harness)
#
# Build first with tests/fuzz/build.sh. Each harness starts from its committed
# seeds in tests/fuzz/corpus/NAME/ (read only: regression inputs run first)
# and keeps what it finds in build/fuzz/corpus-NAME/. A harness stops at its
# first crash; the input is saved as build/fuzz/NAME-crash-*, the whole output
# in build/fuzz/NAME.log. Prints one line per harness ("fuzz_x: N runs, ok"
# or the crash with its stack), then "N passed, N failed"; the exit status is
# non-zero if any harness failed. Env: BUILD (default build).
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

secs=${1:-60}
shift $(($# > 0 ? 1 : 0))
out=${BUILD:-build}/fuzz
case $secs in
	'' | *[!0-9]*) echo "usage: $0 [SECONDS] [NAME...]" >&2; exit 2 ;;
esac

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for src in tests/fuzz/fuzz_*.c; do
		names+=("$(basename "$src" .c)")
	done
fi

# UBSan prints no stack unless asked; the harnesses make its findings fatal.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# report LOG: what broke and where: the first report line, its stack less
# libFuzzer's own frames, and the sanitizer's summary.
report() {
	awk '
		!found && /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|FUZZ_CHECK failed/ {
			found = 1; print; next
		}
		found && /^ *#[0-9]+ / {
			if ($0 !~ /fuzzer::|libc_start|[ (]_start|in main /) print
			stack = 1; next
		}
		found && stack { exit }
	' "$1" | head -16 | sed 's/^/  /'
	grep -m1 '^SUMMARY:' "$1" | sed 's/^/  /'
}

passed=0 failed=0
for name in "${names[@]}"; do
	bin=$out/$name
	seeds=tests/fuzz/corpus/$name
	work=$out/corpus-$name
	log=$out/$name.log
	if [ ! -x "$bin" ]; then
		echo "$name: not built (run tests/fuzz/build.sh)"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$work" "$seeds"
	rm -f "$out/$name-"{crash,leak,timeout,oom,slow-unit}-*
	"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/$name-" "$work" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "$name: ${runs:-0} runs, ok"
		passed=$((passed + 1))
	else
		input=$(ls "$out/$name-"{crash,leak,timeout,oom}-* 2>/dev/null | head -1)
		echo "$name: CRASH after ${runs:-?} runs (input: ${input:-none}, log: $log)"
		report "$log"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
