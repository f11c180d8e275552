#!/usr/bin/env bash
# The README's two commands on a bare Debian 12, as a new user runs them: a debootstrapped
# bookworm minbase (nothing added) with the repository copied in, used as a chroot.
#   1. `bash tools/run.sh` until /healthz answers on 8080, a STUN Binding is answered on UDP
#      3478 and the demo page's iceway.js loads; then it is stopped (SIGTERM), and every
#      process it started must be gone.
#   2. `bash tools/install-deps.sh test`, a build with the tests, and the unit tests.
# A failure names the step, and the package or line the step stopped at.
#
# The chroot shares the host's network, so the demo's fixed ports 3478 and 8080 must be free
# (no test draws them: ports.py draws from 10000 up to the ephemeral range, and the browser test
# keeps its 3478 inside a network namespace). Packages' own services are not started in the
# chroot (policy-rc.d), as they would take host ports. Downloaded packages are kept in
# $IW_BARE_CACHE (default /var/cache/iceway-test/bare-apt) so later runs skip the download but
# still install everything. IW_BARE_SRC names another source tree to try (an older commit).
# Exits 77 (skipped) when not root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${IW_BARE_SRC:-${IW_SRC:-$(cd "$here/../.." && pwd)}}
cache=${IW_DOCKER_CACHE:-/var/cache/iceway-test}
apt_cache=${IW_BARE_CACHE:-$cache/bare-apt}
t0=$SECONDS
. "$here/debian_base.sh"

log() { echo "[test_bare_debian +$((SECONDS - t0))s] $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root for a chroot"
	exit 77
fi
command -v debootstrap >/dev/null || fail "debootstrap missing (tools/install-deps.sh test)"

W=$(mktemp -d /tmp/iw-bare.XXXXXX)
root=$W/root
run_pid=""

# Every process whose root is the chroot: what the test started there.
chroot_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
	done
	return 0
}

cleanup() {
	local rc=$?
	set +e
	local pids
	pids=$(chroot_pids)
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	grep -o " $root[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m"
	done
	rm -rf "$W"
	log "cleaned up (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The last lines of a step's log, and what it says it missed.
explain() { # LOG STEP
	echo "---- last lines of $2 ----" >&2
	tail -n 40 "$1" >&2
	echo "---- what $2 names as missing ----" >&2
	grep -E "No package '[^']*' found|Could NOT find|not found|No such file|E: |missing" "$1" |
		sort -u | head -n 20 >&2 || true
	# CMake names the line that asked for a package (its own "No package" line goes to the
	# build script's hidden output): show that line, which names the package.
	grep -oE "[A-Za-z0-9_/.-]*CMakeLists.txt:[0-9]+ \((pkg_check_modules|find_package|find_library|find_path)\)" "$1" |
		sort -u | while read -r where _; do
			sed -n "${where##*:}p" "$root/src/${where%:*}" | sed "s|^ *|  ${where}: |" >&2
		done
}

# One bare system at a time on a machine: they share the demo's ports.
mkdir -p /tmp/iceway-test-ports
exec 8>/tmp/iceway-test-ports/bare-debian.lock
flock -w 2400 8 || fail "another test_bare_debian held the demo's ports for 40 minutes"
for p in 3478/udp 8080/tcp; do
	ss -Hln "$([ "${p#*/}" = udp ] && echo -u || echo -t)" "sport = :${p%/*}" | grep -q . &&
		fail "port $p is in use on this host: the demo's default config needs it"
done

# ---- a bare Debian 12 with the repository in /src ----
base_tar=$cache/debian-bookworm-slim.tar
iw_debian_base "$base_tar" "$W" || fail "no Debian base"
mkdir -p "$root" "$apt_cache/partial"
tar -C "$root" -xf "$base_tar"
# The slim image's cleaning would empty the package cache this test keeps between runs.
rm -f "$root/etc/apt/apt.conf.d/docker-clean"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/src"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# What a clone holds: the tracked files, as they are in the work tree.
	(cd "$src" && git ls-files -z | xargs -0 -r tar -cf - 2>/dev/null) | tar -C "$root/src" -xf -
else
	tar -C "$src" --exclude='./build*' --exclude=node_modules -cf - . | tar -C "$root/src" -xf -
fi
log "bare root ready ($(du -sm "$root" | cut -f1) MB)"
for m in proc sys dev dev/pts; do
	mount --bind "/$m" "$root/$m"
done
mount --bind "$apt_cache" "$root/var/cache/apt/archives"

in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# ---- 1. bash tools/run.sh ----
log "bash tools/run.sh"
setsid chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	bash -c 'cd /src && exec bash tools/run.sh' >"$W/run.log" 2>&1 </dev/null &
run_pid=$!

stun_ok() { python3 "$here/iwtest.py" binding 127.0.0.1 3478 1 >/dev/null 2>&1; }
http_ok() { python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:8080" + sys.argv[1], timeout=2) as r:
        body = r.read()
        sys.exit(0 if r.status == 200 and body else 1)
except Exception:
    sys.exit(1)
EOF
}
# Installing the packages and building takes minutes on a cold cache: bounded at 20.
deadline=$((SECONDS + 1200))
until http_ok /healthz && stun_ok; do
	if ! kill -0 "$run_pid" 2>/dev/null; then
		explain "$W/run.log" "tools/run.sh"
		fail "tools/run.sh stopped before iceway answered"
	fi
	[ "$SECONDS" -lt "$deadline" ] || { explain "$W/run.log" "tools/run.sh"; fail "tools/run.sh: no answer within 20 minutes"; }
	sleep 1
done
log "ok   /healthz answers and a STUN Binding on UDP 3478 is answered"
http_ok /iceway.js || { explain "$W/run.log" "tools/run.sh"; fail "the demo page's iceway.js does not load"; }
log "ok   the demo page's iceway.js loads"
http_ok / || fail "the demo page does not load"
log "ok   the demo page loads"

# Stopped as `kill` stops it (a background job ignores SIGINT, so Ctrl-C cannot be sent from
# here): run.sh's trap stops the relay and the signaling service.
kill -TERM "$run_pid"
for _ in $(seq 1 100); do
	[ -z "$(chroot_pids)" ] && break
	sleep 0.1
done
left=$(chroot_pids)
[ -z "$left" ] || fail "after Ctrl-C these still run: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
wait "$run_pid" 2>/dev/null || true
log "ok   stopping tools/run.sh stops everything it started"

# ---- 2. the test profile, a build with tests, the unit tests ----
log "bash tools/install-deps.sh test"
in_root bash -c 'cd /src && bash tools/install-deps.sh test' >"$W/deps.log" 2>&1 || {
	explain "$W/deps.log" "tools/install-deps.sh test"
	fail "tools/install-deps.sh test"
}
log "bash tools/build.sh build -DIW_TESTS=ON"
in_root bash -c 'cd /src && bash tools/build.sh build -DIW_TESTS=ON' >"$W/build.log" 2>&1 || {
	explain "$W/build.log" "tools/build.sh with tests"
	fail "the build with tests"
}
log "ctest -L unit"
in_root bash -c 'cd /src && ctest --test-dir build -L unit --output-on-failure' >"$W/unit.log" 2>&1 || {
	explain "$W/unit.log" "the unit tests"
	fail "the unit tests"
}
grep -E "tests passed|tests failed" "$W/unit.log"
log "ok   the test profile installs, builds with the tests and runs the unit tests"
