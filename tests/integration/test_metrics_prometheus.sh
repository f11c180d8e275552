#!/usr/bin/env bash
# A real Prometheus server scrapes both services on loopback (1 s interval): after a relay
# session (wire client + loopback peer through a channel) and a signaling exchange (two
# websocket peers, one offer), its query API returns non-zero relayed bytes and signaling
# messages. promtool also checks both expositions. Everything started here is killed by PID.
set -euo pipefail

: "${IW_RELAY:?IW_RELAY not set}"
: "${IW_SIGNAL:?IW_SIGNAL not set}"
SRC=${IW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v prometheus >/dev/null || { echo "SKIP: prometheus not installed"; exit 77; }

dir=$(mktemp -d /tmp/iw-prom-XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

free_port() { # a TCP port on 127.0.0.1, held for this test (ports.py)
	python3 "$SRC/tests/integration/ports.py" --owner $$ --kinds tcp
}
free_udp() {
	python3 "$SRC/tests/integration/ports.py" --owner $$ --kinds udp
}
fail() {
	echo "FAIL: $*"
	for f in relay.log signal.log prometheus.log; do
		echo "---- $f ----"
		tail -n 40 "$dir/$f" 2>/dev/null || true
	done
	exit 1
}

relay_port=$(free_udp)
relay_mport=$(free_port)
prom_port=$(free_port)
minp=$(python3 "$SRC/tests/integration/ports.py" --owner $$ --count 40 --kinds udp)
"$IW_RELAY" -n --listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --listening-port "$relay_port" \
	--min-port "$minp" --max-port $((minp + 39)) --lt-cred-mech --user alice:secret \
	--realm iceway --allow-loopback-peers --prometheus --prometheus-port "$relay_mport" \
	>"$dir/relay.log" 2>&1 &
pids+=($!)
sig_port=$(free_port)
sig_mport=$(free_port)
"$IW_SIGNAL" --listen "127.0.0.1:$sig_port" --web-root "$SRC/web" --prometheus \
	--prometheus-port "$sig_mport" >"$dir/signal.log" 2>&1 &
pids+=($!)

# Both services up (bounded waits on their own readiness).
python3 "$SRC/tests/integration/iwtest.py" binding 127.0.0.1 "$relay_port" 20 ||
	fail "relay did not answer a Binding"
signal_port=
signal_mport=
for _ in $(seq 200); do
	signal_port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$dir/signal.log" | head -n1)
	signal_mport=$(sed -n 's|.*metrics on http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$dir/signal.log" | head -n1)
	[ -n "$signal_port" ] && [ -n "$signal_mport" ] && break
	sleep 0.05
done
[ -n "$signal_port" ] && [ -n "$signal_mport" ] || fail "signaling did not start"

for url in "http://127.0.0.1:$relay_mport/metrics" "http://127.0.0.1:$signal_mport/metrics"; do
	curl -fsS "$url" >"$dir/exp.txt" || fail "cannot scrape $url"
	promtool check metrics <"$dir/exp.txt" || fail "promtool refuses $url"
	echo "ok   promtool check metrics accepts $url"
done

cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: iceway-relay
    static_configs:
      - targets: ['127.0.0.1:$relay_mport']
  - job_name: iceway-signal
    static_configs:
      - targets: ['127.0.0.1:$signal_mport']
EOF
promtool check config "$dir/prometheus.yml" >/dev/null || fail "promtool refuses the config"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
	--web.listen-address="127.0.0.1:$prom_port" >"$dir/prometheus.log" 2>&1 &
pids+=($!)

# A relay session and a signaling exchange.
/usr/bin/python3 - "$relay_port" "$signal_port" "$SRC" <<'PY' || fail "session failed"
import asyncio, json, os, socket, sys
sys.path.insert(0, os.path.join(sys.argv[3], "tests", "integration"))
import iwtest as t
import websockets

relay_port, signal_port = int(sys.argv[1]), int(sys.argv[2])
cl = t.Client("127.0.0.1", relay_port, user="alice", password="secret")
assert cl.allocate().cls == t.CLASS_SUCCESS, "allocate"
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(("127.0.0.1", 0))
peer.settimeout(5)
assert cl.channel_bind(0x4000, "127.0.0.1", peer.getsockname()[1]).cls == t.CLASS_SUCCESS
got = 0
for i in range(20):
    cl.send_raw(t.channel_data(0x4000, b"m" * 200))
    try:
        d, _ = peer.recvfrom(2048)
        got += 1
        peer.sendto(d, ("127.0.0.1", cl.relayed[1]))
        cl.recv_data(2)
    except socket.timeout:
        pass
assert got > 0, "nothing relayed"
print("ok   relay session: %d packets relayed to the peer" % got)

async def signaling():
    url = "ws://127.0.0.1:%d/ws" % signal_port
    async with websockets.connect(url) as a, websockets.connect(url) as b:
        async def join(ws):
            await ws.send(json.dumps({"type": "join", "room": "metrics"}))
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if m.get("type") == "welcome":
                    return m["peer"]
        await join(a)
        bid = await join(b)
        await a.send(json.dumps({"type": "offer", "to": bid, "sdp": "v=0"}))
        while True:
            m = json.loads(await asyncio.wait_for(b.recv(), 10))
            if m.get("type") == "offer":
                break
    print("ok   signaling: offer delivered")

asyncio.run(signaling())
PY

query() { # the value of a PromQL expression, or nothing
	curl -fsS --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
wait_nonzero() { # expression, what
	for _ in $(seq 120); do
		v=$(query "$1")
		if [ -n "$v" ] && python3 -c "import sys; sys.exit(0 if float('$v') > 0 else 1)"; then
			echo "ok   prometheus: $2 = $v"
			return 0
		fi
		sleep 0.5
	done
	fail "prometheus never returned a non-zero $2 (last: '${v:-}')"
}
wait_nonzero 'sum(iceway_relay_bytes_relayed_total{direction="client_to_peer"})' "relayed bytes client_to_peer"
wait_nonzero 'sum(iceway_relay_bytes_relayed_total{direction="peer_to_client"})' "relayed bytes peer_to_client"
wait_nonzero 'sum(iceway_signal_messages_relayed_total)' "signaling messages relayed"
wait_nonzero 'up{job="iceway-relay"}' "relay target up"
wait_nonzero 'up{job="iceway-signal"}' "signaling target up"

# The Grafana dashboard: every query parses in this Prometheus, and every metric it names
# is one that the two services export.
python3 - "$SRC/docker/grafana/iceway.json" "$prom_port" <<'PY' || fail "dashboard queries"
import json, re, sys, urllib.parse, urllib.request
dash, port = json.load(open(sys.argv[1])), int(sys.argv[2])
def api(path, **q):
    url = "http://127.0.0.1:%d/api/v1/%s?%s" % (port, path, urllib.parse.urlencode(q))
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)
known = set(api("label/__name__/values")["data"])
bad, n = [], 0
for p in dash["panels"]:
    for t in p.get("targets", []):
        e = t["expr"].replace("$instance", ".*").replace("$__rate_interval", "1m")
        n += 1
        if api("query", query=e)["status"] != "success":
            bad.append(e)
        for m in re.findall(r"\b(iceway_[a-z_]+?)(?:_bucket)?\b", t["expr"]):
            if m not in known and m + "_bucket" not in known:
                bad.append("unknown metric " + m)
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("ok   dashboard: %d queries accepted, every metric exported" % n)
PY
echo "== test_metrics_prometheus: passed"
