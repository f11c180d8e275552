#!/usr/bin/env bash
# The relay's data path does not touch the heap: with an LD_PRELOAD shim counting
# malloc/calloc/realloc/free/memalign process-wide (libiw_alloc_count.so), warm up
# (allocations, permissions, channels, 1,000 echoed packets), read the counters (SIGUSR2),
# relay 100,000 ChannelData packets to a loopback echo peer and back, read them again:
# the malloc/calloc/realloc/memalign deltas must be 0, and the echo counts show that the
# packets were relayed. Then the same with two workers (30,000 packets): the clients' source
# ports spread over both, and the shared port pool's lock stays off the packet path. The
# first two cases use the default relay I/O (io_uring where the kernel allows it); a third
# runs the plain recvmmsg/sendmmsg path (--relay-io syscalls), and a fourth has every rate
# limit on (max-bps, max-pps, user-max-bps, max-new-peers-per-sec, bps-capacity), high enough
# never to bind: the buckets and the user's shared budget take nothing from the heap either.
# Each runs with the admin API on (worker mailboxes polled every wake-up).
# Labelled no-asan (ASan replaces the allocator).
set -u
here=$(cd "$(dirname "$0")" && pwd)
shim=${IW_BUILD:-}/tests/integration/libiw_alloc_count.so
work=$(mktemp -d /tmp/iwtest-nomalloc-XXXXXX)
IW_SRV_PID=""
IW_SRV_DIR=""

stop_server() {
	[ -n "$IW_SRV_PID" ] || return 0
	kill -TERM "$IW_SRV_PID" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
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

if [ ! -f "$shim" ]; then
	echo "FAIL the counting shim is not built: $shim"
	exit 1
fi
if [ -n "${IW_SANITIZE:-}" ]; then
	# ASan interposes malloc itself, so counts through a preload shim mean nothing there.
	echo "== test_relay_nomalloc: not meaningful in a sanitizer build (label no-asan)"
	exit 0
fi

# run_case THREADS PACKETS IO [OPTION...]: one server, warm-up, PACKETS relayed, allocator
# deltas checked.
run_case() {
	local threads=$1 packets=$2 io=$3 rc
	shift 3
	rm -f "$work/srv.env" "$work/counts"
	# The admin API on: every worker's loop polls its mailbox, which must cost no allocation.
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/admin.token"
	# Not --verbose: per-packet debug logging is not the production data path. Accounting
	# counts every packet and writes an interim record of each allocation every second (the
	# longest run has them while the packets flow): neither may allocate either.
	if ! python3 "$here/iwtest.py" start "$work/srv.env" verbose=0 nports=64 \
		preload="$shim" env.IW_ALLOC_COUNT_FILE="$work/counts" -- --relay-threads "$threads" \
		--relay-io "$io" --accounting-interval 1 --prometheus --prometheus-port 0 \
		--admin-token-file "$work/admin.token" "$@"; then
		echo "FAIL server start ($threads worker(s))"
		. "$work/srv.env" 2>/dev/null && cat "$IW_SRV_LOG"
		return 1
	fi
	. "$work/srv.env"
	echo "server: $IW_SRV_KIND pid $IW_SRV_PID port $IW_SRV_PORT, $threads worker(s), counting shim $shim${*:+, options $*}"
	grep -o "relay I/O: .*" "$IW_SRV_LOG" | head -1
	python3 - "$here" "$work/srv.env" "$work/counts" "$packets" <<'EOF'
import os, signal, socket, sys, time
sys.path.insert(0, sys.argv[1])
import iwtest as t

env = dict(ln.strip().split("=", 1) for ln in open(sys.argv[2]) if "=" in ln)
pid, port, counts_path = int(env["IW_SRV_PID"]), int(env["IW_SRV_PORT"]), sys.argv[3]
CLIENTS, WINDOW, WARMUP, PACKETS = 8, 64, 1000, int(sys.argv[4])
TIME_LIMIT = 120.0
failures = []


def check(cond, what, detail=""):
    print("%s %s%s" % ("ok  " if cond else "FAIL", what, (": " + detail) if not cond and detail else ""))
    if not cond:
        failures.append(what)


def snapshot(label):
    """Ask the shim for its counters (SIGUSR2) and wait for the file (bounded)."""
    try:
        os.unlink(counts_path)
    except FileNotFoundError:
        pass
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while not os.path.exists(counts_path):
        if time.monotonic() > deadline:
            raise RuntimeError("no counters from the shim after SIGUSR2 (%s)" % label)
        time.sleep(0.01)
    c = dict((k, int(v)) for k, v in (ln.split() for ln in open(counts_path)))
    print("  counters %-16s %s" % (label + ":", " ".join("%s=%d" % kv for kv in c.items())))
    return c


peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(("127.0.0.1", 0))
peer_port = peer.getsockname()[1]
clients = []
for i in range(CLIENTS):
    cl = t.Client("127.0.0.1", port)
    m = cl.allocate()
    check(m is not None and m.cls == t.CLASS_SUCCESS, "allocation %d" % i, repr(m))
    m = cl.channel_bind(0x4000 + i, "127.0.0.1", peer_port)
    check(m is not None and m.cls == t.CLASS_SUCCESS, "channel 0x%04x bound" % (0x4000 + i), repr(m))
    cl.sock.setblocking(False)
    clients.append(cl)
if failures:
    sys.exit(1)

stats = {"peer": 0, "back": 0, "sent": 0}


def pump(n, deadline):
    """Send n ChannelData packets, WINDOW at a time, through the channels; the peer echoes
    each one back. Counts what the peer got and what came back."""
    payload = b"x" * 100
    left = n
    while left > 0 and time.monotonic() < deadline:
        w = min(WINDOW, left)
        for j in range(w):
            cl = clients[j % CLIENTS]
            cl.sock.sendto(t.channel_data(0x4000 + j % CLIENTS, payload), cl.server)
        stats["sent"] += w
        left -= w
        peer.settimeout(1.0)
        got = 0
        while got < w:
            try:
                d, a = peer.recvfrom(2048)
            except socket.timeout:
                break
            got += 1
            peer.sendto(d, a)
        stats["peer"] += got
        drain(0.0)


def drain(wait):
    deadline = time.monotonic() + wait
    while True:
        n = 0
        for cl in clients:
            while True:
                try:
                    d = cl.sock.recv(2048)
                except BlockingIOError:
                    break
                if len(d) >= 4 and 0x40 <= d[0] <= 0x4F:
                    stats["back"] += 1
                    n += 1
        if stats["back"] >= stats["peer"] or time.monotonic() > deadline:
            return
        if n == 0:
            time.sleep(0.005)


pump(WARMUP, time.monotonic() + TIME_LIMIT)
drain(2.0)
check(stats["back"] >= WARMUP * 0.99, "warm-up: %d packets relayed both ways" % WARMUP,
      "%d reached the peer, %d came back" % (stats["peer"], stats["back"]))
before = snapshot("after warm-up")
check(before.get("malloc", 0) + before.get("calloc", 0) > 0,
      "the shim counts (start-up allocations seen)")
base = dict(stats)
t0 = time.monotonic()
pump(PACKETS, t0 + TIME_LIMIT)
drain(2.0)
dt = time.monotonic() - t0
after = snapshot("after %d" % PACKETS)
peer_n, back_n = stats["peer"] - base["peer"], stats["back"] - base["back"]
print("  relayed %d client->peer and %d peer->client in %.1f s" % (peer_n, back_n, dt))
check(stats["sent"] - base["sent"] == PACKETS, "%d packets sent within %.0f s" % (PACKETS, TIME_LIMIT))
check(peer_n >= PACKETS * 0.99 and back_n >= PACKETS * 0.99,
      "about %d packets relayed each way" % PACKETS, "%d and %d" % (peer_n, back_n))
for k in ("malloc", "calloc", "realloc", "memalign"):
    d = after[k] - before[k]
    check(d == 0, "%s calls during the relaying: %d" % (k, d))
print("  free calls during the relaying: %d" % (after["free"] - before["free"]))
sys.exit(1 if failures else 0)
EOF
	rc=$?
	# The short runs may end before the first interim record is due (a second or two after
	# the allocations): wait for it, bounded.
	for _ in $(seq 1 40); do
		grep -q "session kind=interim" "$IW_SRV_LOG" && break
		sleep 0.1
	done
	if ! grep -q "session kind=interim" "$IW_SRV_LOG"; then
		echo "FAIL no interim accounting record was written"
		rc=1
	fi
	if ! kill -0 "$IW_SRV_PID" 2>/dev/null; then
		echo "FAIL server died ($threads worker(s))"
		rc=1
	fi
	if [ $rc -ne 0 ]; then
		echo "---- server log ($IW_SRV_LOG, last 60 lines) ----"
		tail -n 60 "$IW_SRV_LOG"
	fi
	stop_server
	rm -rf "$IW_SRV_DIR"
	IW_SRV_PID=""
	IW_SRV_DIR=""
	return $rc
}

verdict() { [ "$1" -eq 0 ] && echo passed || echo FAILED; }
run_case 1 100000 auto
rc1=$?
run_case 2 30000 auto
rc2=$?
run_case 1 30000 syscalls
rc3=$?
run_case 2 30000 auto --max-bps 1000000000 --max-pps 10000000 --user-max-bps 1000000000 \
	--max-new-peers-per-sec 100000 --bps-capacity 1000000000000
rc4=$?
rc=$((rc1 | rc2 | rc3 | rc4))
echo "== test_relay_nomalloc against ${IW_SRV_KIND:-?}: one worker $(verdict $rc1), two workers $(verdict $rc2), one worker without io_uring $(verdict $rc3), two workers with every limit on $(verdict $rc4)"
exit $rc
