#!/usr/bin/env bash
# Realistic relay load: N concurrent relay-only calls (ICE, DTLS-SRTP, SRTP at RATE packets/s
# per direction) from iceway-probe through iceway-signal, first against iceway-relay, then
# against coturn with the same TURN REST secret. Prints one Markdown table row per relay:
# loss, RTT, and the relay's CPU time over the steady-state media window.
#   bench/probe/run.sh [BUILD_DIR] [CALLS] [RATE] [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
calls=${2:-100}
rate=${3:-50}
secs=${4:-10}
relay=$build/turn/iceway-relay
signal=$build/signaling/iceway-signal
probe=$build/tools/probe/iceway-probe
for b in "$relay" "$signal" "$probe"; do
	[ -x "$b" ] || { echo "missing $b: build first (tools/build.sh $build)" >&2; exit 1; }
done
command -v turnserver >/dev/null || { echo "coturn's turnserver is not installed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/iw-probe-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket,sys
t = socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
wait_udp() { # port: until something is bound to it (bounded)
	for _ in $(seq 1 100); do
		ss -Hlun "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	echo "nothing listens on udp $1" >&2
	exit 1
}
wait_tcp() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on tcp $1" >&2
	exit 1
}

secret=$(head -c 18 /dev/urandom | base64)

run_one() { # name relay-pid turn-port
	local sport
	sport=$(free_port tcp)
	"$signal" --listen "127.0.0.1:$sport" --static-auth-secret "$secret" \
		--turn-uri "turn:127.0.0.1:$3?transport=udp" --log-level warn \
		--max-message-rate 200 >"$tmp/signal-$1.log" 2>&1 &
	local spid=$!
	pids+=("$spid")
	wait_tcp "$sport"
	"$probe" --json --signal "ws://127.0.0.1:$sport/ws" --room "bench-$1" --pair \
		--calls "$calls" --rate "$rate" --duration "$secs" --policy relay \
		--relay-pid "$2" --timeout 30 --ramp "${RAMP:-10}" >"$tmp/$1.json" || true
	kill "$spid" 2>/dev/null || true
	python3 - "$tmp/$1.json" "$1" "$calls" "$rate" "$secs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, calls, rate, secs = sys.argv[2:6]
cpu = r.get("relay_cpu_pct")
print(f"| {name} | {calls} calls x {rate} pps x 2 dirs, {secs} s | "
      f"{r['endpoints_ok']}/{r['endpoints']} ok | {r['relay_pairs']} relay/relay | "
      f"{r['packets_lost']}/{r['packets_expected']} ({r['loss_pct']:.3f} %) | "
      f"{r['rtt_p50_ms']:.2f} / {r['rtt_p99_ms']:.2f} ms | {r['jitter_ms']:.2f} ms | "
      f"{r['srtp_auth_failures']} | "
      + (f"{cpu:.1f} % of a core, {r['relay_cpu_us_per_pkt']:.1f} us/pkt |" if cpu is not None else "n/a |"))
if not r["ok"]:
    print(f"|   | error: {r['error']} | | | | | | | |")
PY
}

echo "| relay | load | endpoints | pairs | lost | RTT p50 / p99 | jitter | SRTP auth fail | relay CPU (steady media) |"
echo "|---|---|---|---|---|---|---|---|---|"

port=$(free_port udp)
minp=$((40000 + RANDOM % 100 * 100))
"$relay" -n --listening-ip 127.0.0.1 --listening-port "$port" --relay-ip 127.0.0.1 \
	--min-port "$minp" --max-port $((minp + 999)) --realm bench --use-auth-secret \
	--static-auth-secret "$secret" --allow-loopback-peers >"$tmp/relay.log" 2>&1 &
rpid=$!
pids+=("$rpid")
wait_udp "$port"
run_one iceway-relay "$rpid" "$port"
kill "$rpid"

port=$(free_port udp)
minp=$((40000 + RANDOM % 100 * 100))
turnserver -n --no-cli --no-tls --no-dtls --listening-ip 127.0.0.1 --listening-port "$port" \
	--relay-ip 127.0.0.1 --min-port "$minp" --max-port $((minp + 999)) --realm bench \
	--use-auth-secret --static-auth-secret "$secret" --allow-loopback-peers \
	--log-file stdout >"$tmp/coturn.log" 2>&1 &
cpid=$!
pids+=("$cpid")
wait_udp "$port"
run_one coturn "$cpid" "$port"
