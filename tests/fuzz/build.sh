#!/usr/bin/env bash
# tests/fuzz/build.sh - builds every libFuzzer harness tests/fuzz/fuzz_*.c into build/fuzz/.
#
#   tests/fuzz/build.sh [NAME...]    e.g. tests/fuzz/build.sh fuzz_sse (default: all)
#
# The code under test (common/, proxy_fcgi/ and dashboard_fcgi/, less each
# main.c) is compiled once with coverage and ASan + UBSan into static archives
# under build/fuzz/obj/; each harness links the archives, so it pulls in only
# the objects it reaches. A module that fails to compile is reported and left
# out: only the harnesses that need it fail to link. Env: CC (default clang),
# BUILD (default build), FUZZ_CFLAGS (added last, e.g. to silence one UBSan
# check while its known finding waits for a fix: -fno-sanitize=pointer-overflow).
# Prints one line per harness; the exit status is non-zero if any failed.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

CC=${CC:-clang}
out=${BUILD:-build}/fuzz
obj=$out/obj
WARN="-Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Wvla
      -Wwrite-strings -Wshadow"
# -fno-sanitize-recover: a UBSan finding must stop the run, or libFuzzer
# would never see it as a crash.
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
     -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -pthread $WARN -Icommon -Iproxy_fcgi -Idashboard_fcgi
        $(pkg-config --cflags json-c libpq libcurl)"
CFLAGS="$CFLAGS ${FUZZ_CFLAGS:-}"
LIBS="-ljson-c -lpq -lcurl -lfcgi -pthread"

mkdir -p "$obj"
# Objects built with other flags are stale.
if [ "$(cat "$obj/flags" 2>/dev/null)" != "$CC $CFLAGS $SAN" ]; then
	rm -f "$obj"/*.o "$obj"/*.a
	echo "$CC $CFLAGS $SAN" >"$obj/flags"
fi

# compile DIR: compiles DIR/*.c less main.c into $obj/DIR.a; prints failures.
compile() {
	local dir=$1 src o objs=()
	for src in "$dir"/*.c; do
		[ -e "$src" ] || continue
		[ "$(basename "$src")" = main.c ] && continue
		o=$obj/$dir-$(basename "$src" .c).o
		if [ "$src" -nt "$o" ] || newer_header "$o"; then
			# shellcheck disable=SC2086
			if ! $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link -c -o "$o" "$src" \
				2>"$o.log"; then
				echo "build: $src does not compile (left out):" >&2
				sed 's/^/  /' "$o.log" | head -20 >&2
				rm -f "$o"
				continue
			fi
		fi
		objs+=("$o")
	done
	rm -f "$obj/$dir.a"
	[ ${#objs[@]} -eq 0 ] || ar rcs "$obj/$dir.a" "${objs[@]}"
}

# newer_header OBJ: true if any project header is newer than OBJ.
newer_header() {
	[ -e "$1" ] || return 0
	[ -n "$(find common proxy_fcgi dashboard_fcgi -name '*.h' -newer "$1" 2>/dev/null | head -1)" ]
}

for dir in common proxy_fcgi dashboard_fcgi; do
	[ -d "$dir" ] && compile "$dir"
done
archives=()
for dir in proxy_fcgi dashboard_fcgi common; do
	[ -e "$obj/$dir.a" ] && archives+=("$obj/$dir.a")
done

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for src in tests/fuzz/fuzz_*.c; do
		names+=("$(basename "$src" .c)")
	done
fi

passed=0 failed=0
for name in "${names[@]}"; do
	# The harness itself is ours: warnings are errors, as in the Makefile.
	# A group: the archives call into each other, and ld searches each once.
	# shellcheck disable=SC2086
	if $CC $CFLAGS -Werror $SAN -fsanitize=fuzzer -Itests/fuzz -o "$out/$name" \
		"tests/fuzz/$name.c" -Wl,--start-group "${archives[@]}" -Wl,--end-group $LIBS \
		2>"$out/$name.build.log"; then
		echo "build: $name ok"
		passed=$((passed + 1))
	else
		echo "build: $name FAILED:"
		sed 's/^/  /' "$out/$name.build.log" | head -30
		failed=$((failed + 1))
	fi
done
echo "build: $passed built, $failed failed"
[ "$failed" -eq 0 ]
