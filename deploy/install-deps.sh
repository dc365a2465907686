#!/usr/bin/env bash
# deploy/install-deps.sh - installs the Debian packages a target needs: install-deps.sh run|test|bench
#
# As root, missing packages are installed with apt-get; as another user the
# script lists what is missing and how to install it. npm packages for the
# tests come from tests/package-lock.json (npm ci).
set -eu
. "$(dirname "$0")/common.sh"
root=$(cd "$(dirname "$0")/.." && pwd)

run_pkgs="build-essential pkg-config libfcgi-dev libcurl4-openssl-dev libjson-c-dev libpq-dev
	lighttpd postgresql postgresql-contrib postgresql-client util-linux"
test_pkgs="$run_pkgs nodejs npm chromium fonts-wqy-microhei clang libclang-rt-14-dev curl procps iproute2 valgrind
	nginx-light spawn-fcgi wrk"
bench_pkgs="$test_pkgs mitmproxy"

case "${1:-run}" in
run) want=$run_pkgs ;;
test) want=$test_pkgs ;;
bench) want=$bench_pkgs ;;
*) die "usage: install-deps.sh run|test|bench" ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
# nodejs may come from elsewhere than Debian: a working node and npm will do.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=$(printf '%s\n' $missing | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		die "missing packages: $missing
install them with: sudo apt-get install -y $missing"
	fi
	say "installing: $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || apt-get update
	# lighttpd and nginx packages start system services on port 80; we run our own.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.capture
	[ -e /usr/sbin/policy-rc.d ] || { cp /usr/sbin/policy-rc.d.capture /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; }
	rm -f /usr/sbin/policy-rc.d.capture
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		apt-get install -y --no-install-recommends $missing
fi

if [ "${1:-run}" != run ] && [ -f "$root/tests/package-lock.json" ]; then
	if [ ! -d "$root/tests/node_modules" ] ||
	   [ "$root/tests/package-lock.json" -nt "$root/tests/node_modules/.package-lock.json" ]; then
		say "installing npm packages for the tests (npm ci)"
		(cd "$root/tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
fi
