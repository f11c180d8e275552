#!/usr/bin/env bash
# iceway-probe end to end on loopback: iceway-relay (TURN REST secret) and iceway-signal,
# relay-only calls with real ICE (libnice), DTLS-SRTP (mbedTLS) and SRTP (libsrtp):
#   1. two probes in separate processes meet in a room: 500 SRTP packets each way,
#      authenticated and in order, relay/relay;
#   2. the same as one --pair command;
#   3. a wrong TURN secret, an unreachable relay, a tampered fingerprint and an unreachable
#      signaling URL each fail at the right stage with a non-zero exit;
#   4. signaling over wss:// with a throwaway certificate: trusted with --ca, skipped with
#      --insecure, and refused at the signaling stage, with what to do, when neither is given.
set -euo pipefail

build=${IW_BUILD:?IW_BUILD is not set (run through ctest)}
relay=${IW_RELAY:-$build/turn/iceway-relay}
signal=${IW_SIGNAL:-$build/signaling/iceway-signal}
probe=$build/tools/probe/iceway-probe
for b in "$relay" "$signal" "$probe"; do
	if [ ! -x "$b" ]; then
		echo "FAIL: $b is missing: build iceway-relay, iceway-signal and iceway-probe first" >&2
		exit 1
	fi
done

# Sanitized binaries are slower; the probe's limits are per stage, not per test.
slow=1
[ -n "${IW_SANITIZE:-}" ] && slow=3


tmp=$(mktemp -d /tmp/iw-probe-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { # $1 = udp|tcp: held for this test (ports.py)
	python3 "$(dirname "$0")/ports.py" --owner $$ --kinds "$1"
}

# Wait (bounded) until a log line shows up or a TCP port accepts.
wait_log() { # file pattern pid
	for _ in $(seq 1 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || { echo "FAIL: process $3 exited:"; cat "$1"; exit 1; }
		sleep 0.05
	done
	echo "FAIL: '$2' never appeared in $1"; cat "$1"; exit 1
}
wait_tcp() { # port pid log
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { echo "FAIL: process $2 exited:"; cat "$3"; exit 1; }
		sleep 0.05
	done
	echo "FAIL: nothing listens on tcp $1"; cat "$3"; exit 1
}

secret=$(head -c 18 /dev/urandom | base64)
tport=$(free_port udp)
minp=$((40000 + RANDOM % 150 * 100))
"$relay" -n --listening-ip 127.0.0.1 --listening-port "$tport" --relay-ip 127.0.0.1 \
	--min-port "$minp" --max-port $((minp + 99)) --realm probe.test --use-auth-secret \
	--static-auth-secret "$secret" --allow-loopback-peers >"$tmp/relay.log" 2>&1 &
rpid=$!
pids+=("$rpid")
wait_log "$tmp/relay.log" "ready" "$rpid"

start_signal() { # name secret turn-port [more options] -> sets sig_port
	local port name=$1 sec=$2 turn=$3
	shift 3
	port=$(free_port tcp)
	"$signal" --listen "127.0.0.1:$port" --static-auth-secret "$sec" \
		--turn-uri "turn:127.0.0.1:$turn?transport=udp" --log-level warn "$@" >"$tmp/$name.log" 2>&1 &
	pids+=("$!")
	wait_tcp "$port" "$!" "$tmp/$name.log"
	sig_port=$port
}

start_signal signal "$secret" "$tport"
good=$sig_port
start_signal signal-badsecret "not-the-secret" "$tport"
badsecret=$sig_port
dead_udp=$(free_port udp) # nothing listens there
start_signal signal-norelay "$secret" "$dead_udp"
norelay=$sig_port

check() { # json-file python-expression description
	if ! python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2], {}, {"r": r})
if not ok:
    print(json.dumps(r, indent=1))
sys.exit(0 if ok else 1)
PY
	then
		echo "FAIL: $3"
		exit 1
	fi
	echo "ok: $3"
}

run_probe() { # out-file expected-exit args...
	local out=$1 want=$2 rc=0 t0=$SECONDS
	shift 2
	timeout $((60 * slow)) "$probe" --json --timeout $((10 * slow)) "$@" >"$out" 2>"$out.err" || rc=$?
	if [ "$rc" != "$want" ] && ! { [ "$want" = nonzero ] && [ "$rc" != 0 ]; }; then
		echo "FAIL: iceway-probe $* exited $rc, want $want"
		cat "$out" "$out.err"
		exit 1
	fi
	echo "   ($((SECONDS - t0)) s: iceway-probe $*)"
}

media='r["ok"] and r["pair"] == "relay/relay" and r["packets_sent"] == 500 and r["packets_received"] == 500 and r["packets_lost"] == 0 and r["out_of_order"] == 0 and r["srtp_auth_failures"] == 0 and r["srtp_replayed"] == 0 and r["rtt_samples"] > 0'

# 1. Two processes meet in a room through iceway-signal.
room="r$RANDOM$RANDOM"
"$probe" --json --timeout $((10 * slow)) --signal "ws://127.0.0.1:$good/ws" --room "$room" \
	--policy relay --packets 500 --rate 100 >"$tmp/a.json" 2>"$tmp/a.err" &
apid=$!
pids+=("$apid")
run_probe "$tmp/b.json" 0 --signal "ws://127.0.0.1:$good/ws" --room "$room" --policy relay \
	--packets 500 --rate 100
arc=0
wait "$apid" || arc=$?
[ "$arc" = 0 ] || { echo "FAIL: first probe exited $arc"; cat "$tmp/a.json" "$tmp/a.err"; exit 1; }
check "$tmp/a.json" "$media and r['mode'] == 'room'" "room: first probe, 500 SRTP packets each way, relay/relay"
check "$tmp/b.json" "$media and r['mode'] == 'room'" "room: second probe, 500 SRTP packets each way, relay/relay"

# 2. One command, both ends.
run_probe "$tmp/pair.json" 0 --pair --signal "ws://127.0.0.1:$good/ws" --room "p$RANDOM" \
	--policy relay --packets 500 --rate 100
check "$tmp/pair.json" 'r["ok"] and r["pair"] == "relay/relay" and r["relay_pairs"] == 2 and r["packets_received"] == 1000 and r["packets_lost"] == 0 and r["out_of_order"] == 0 and r["srtp_auth_failures"] == 0' \
	"--pair: 500 SRTP packets each way, relay/relay on both ends"

# 3. Failure stages.
run_probe "$tmp/badsecret.json" nonzero --pair --signal "ws://127.0.0.1:$badsecret/ws" \
	--policy relay --duration 1
check "$tmp/badsecret.json" 'not r["ok"] and r["stage"] == "gather" and "authentication refused" in r["error"]' \
	"wrong TURN secret: authentication refused at gathering"

run_probe "$tmp/norelay.json" nonzero --pair --signal "ws://127.0.0.1:$norelay/ws" \
	--policy relay --duration 1
check "$tmp/norelay.json" 'not r["ok"] and r["stage"] == "gather" and "unreachable" in r["error"]' \
	"unreachable relay: reported at gathering"

run_probe "$tmp/tamper.json" nonzero --pair --signal "ws://127.0.0.1:$good/ws" \
	--policy relay --duration 1 --tamper-fingerprint
check "$tmp/tamper.json" 'not r["ok"] and r["stage"] == "dtls" and "fingerprint mismatch" in r["error"] and r["packets_received"] == 0' \
	"tampered fingerprint: refused in the DTLS handshake"

dead_tcp=$(free_port tcp)
run_probe "$tmp/nosig.json" nonzero --signal "ws://127.0.0.1:$dead_tcp/ws" --room x
check "$tmp/nosig.json" 'not r["ok"] and r["stage"] == "signaling" and "unreachable" in r["error"]' \
	"signaling unreachable"

# 4. wss://
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
start_signal signal-tls "$secret" "$tport" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
tls=$sig_port
run_probe "$tmp/wss-ca.json" 0 --pair --signal "wss://127.0.0.1:$tls/ws" --ca "$tmp/cert.pem" \
	--room "w$RANDOM" --policy relay --packets 200 --rate 100
check "$tmp/wss-ca.json" 'r["ok"] and r["pair"] == "relay/relay" and r["packets_received"] == 400 and r["packets_lost"] == 0' \
	"wss:// with --ca: 200 SRTP packets each way, relay/relay"
run_probe "$tmp/wss-insecure.json" 0 --pair --signal "wss://127.0.0.1:$tls/ws" --insecure \
	--room "w$RANDOM" --policy relay --packets 200 --rate 100
check "$tmp/wss-insecure.json" 'r["ok"] and r["packets_received"] == 400' "wss:// with --insecure"
run_probe "$tmp/wss-untrusted.json" nonzero --pair --signal "wss://127.0.0.1:$tls/ws" \
	--room "w$RANDOM" --policy relay --duration 1
check "$tmp/wss-untrusted.json" 'not r["ok"] and r["stage"] == "signaling" and "not trusted" in r["error"] and "--ca" in r["error"]' \
	"wss:// with an untrusted certificate: refused at signaling, saying what to do"

echo "PASS: test_probe_pair"
