#!/usr/bin/env bash
# STUN Binding against the relay with two clients we did not write: coturn's
# turnutils_stunclient (RFC 5389, over IPv4 and IPv6) and the classic stun-client `stun`
# (RFC 3489 requests without the magic cookie, plus CHANGE-REQUEST probes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/iwtest-stun-XXXXXX)
pass=0
fail=0
failed=()
IW_SRV_PID=""
IW_SRV_DIR=""
slow=1
[ -n "${IW_SANITIZE:-}" ] && slow=4

stop_server() {
	[ -n "$IW_SRV_PID" ] || return 0
	kill -TERM "$IW_SRV_PID" 2>/dev/null || return 0
	for _ in $(seq 1 $((100 * slow))); do
		kill -0 "$IW_SRV_PID" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$IW_SRV_PID" 2>/dev/null || true
}
cleanup() {
	stop_server
	rm -rf "$work"
	[ -n "$IW_SRV_DIR" ] && rm -rf "$IW_SRV_DIR"
}
trap cleanup EXIT

check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		failed+=("$name")
		echo "FAIL $name"
	fi
}

if ! python3 "$here/iwtest.py" start "$work/srv.env" listen=127.0.0.1,::1; then
	echo "FAIL server start"
	. "$work/srv.env" 2>/dev/null && cat "$IW_SRV_LOG"
	exit 1
fi
. "$work/srv.env"
echo "server: $IW_SRV_KIND pid $IW_SRV_PID port $IW_SRV_PORT"

# turnutils_stunclient prints "UDP reflexive addr: IP:PORT".
stunclient_reflexive() { # HOST EXPECTED_IP
	local out
	out=$(timeout $((20 * slow)) turnutils_stunclient -p "$IW_SRV_PORT" "$1" 2>&1)
	echo "$out" | sed 's/^/    /'
	echo "$out" | grep -Eq "reflexive addr: $2:[0-9]+$"
}
check "turnutils_stunclient 127.0.0.1 gets reflexive 127.0.0.1" stunclient_reflexive 127.0.0.1 '127\.0\.0\.1'
check "turnutils_stunclient ::1 gets reflexive ::1" stunclient_reflexive ::1 '::1'

# stun-client: the server is HOST:PORT, -p is the client's source port (it also opens PORT+1).
# It exits with the NAT type (1 = open); 255 means it got no usable answer.
stun_mapped() {
	local sp out rc
	sp=$(python3 "$here/ports.py" --owner $$ --count 2 --kinds udp)
	out=$(timeout $((30 * slow)) stun "127.0.0.1:$IW_SRV_PORT" -v -p "$sp" 2>&1)
	rc=$?
	echo "$out" | grep -E "MappedAddress|ErrorCode|Primary|Return value" | sed 's/^/    /'
	echo "    exit status $rc"
	[ "$rc" -ne 255 ] && [ "$rc" -ne 124 ] &&
		echo "$out" | grep -q "MappedAddress = 127.0.0.1:$sp\$" &&
		echo "$out" | grep -q "Primary: Open"
}
check "stun (RFC 3489 client) gets MappedAddress 127.0.0.1:srcport and reports Open" stun_mapped

# The wire client: an RFC 8489 Binding over IPv6 with FINGERPRINT, answered with
# XOR-MAPPED-ADDRESS ::1 and the client's port.
wire_v6() {
	python3 - "$here" "$IW_SRV_PORT" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import iwtest
c = iwtest.Client("::1", int(sys.argv[2]))
m = c.binding()
print("    ", m, c.mapped)
sys.exit(0 if m is not None and m.cls == iwtest.CLASS_SUCCESS and c.mapped ==
         ("::1", c.sock.getsockname()[1]) else 1)
EOF
}
check "wire Binding to ::1 gets XOR-MAPPED-ADDRESS [::1]:srcport" wire_v6

check "server still running" kill -0 "$IW_SRV_PID"
if [ -n "${IW_SANITIZE:-}" ]; then
	check "no sanitizer report in the log" \
		bash -c "! grep -Eq 'ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer' '$IW_SRV_LOG'"
fi

echo "== test_relay_stun against $IW_SRV_KIND: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
	for f in "${failed[@]}"; do echo "   failed: $f"; done
	echo "---- server log ($IW_SRV_LOG, last 100 lines) ----"
	tail -n 100 "$IW_SRV_LOG"
	exit 1
fi
exit 0
