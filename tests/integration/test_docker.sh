#!/usr/bin/env bash
# The Docker image end to end: build docker/Dockerfile on a private Docker engine, run the relay
# and the signaling service from it with host networking on free loopback ports, relay traffic
# through the container with coturn's turnutils_uclient/turnutils_peer, join a room over
# WebSocket, and check the HEALTHCHECK and the non-root user.
#
# The engine is private (its own socket, data and exec roots, no iptables, no bridge), so the
# host's networking is left alone. No registry is reachable: the debian:bookworm-slim base is
# made with debootstrap from the host's apt mirror and cached as a tarball under
# $IW_DOCKER_CACHE (default /var/cache/iceway-test), with the build stage's dependency layer
# next to it, so later runs skip both steps. Exits 77 (skipped) when not root.
set -euo pipefail

src=${IW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/debian_base.sh"
cache=${IW_DOCKER_CACHE:-/var/cache/iceway-test}
secret=docker-test-secret-$RANDOM$RANDOM
t0=$SECONDS

log() { echo "[test_docker +$((SECONDS - t0))s] $*"; }
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root for a private Docker engine"
	exit 77
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for tool in turnutils_uclient turnutils_peer; do
	command -v "$tool" >/dev/null || fail "$tool missing (package coturn: tools/install-deps.sh test)"
done
# python3-websockets is a Debian package: use Debian's interpreter.
py=/usr/bin/python3
"$py" -c 'import websockets' 2>/dev/null || fail "python3-websockets missing"

W=$(mktemp -d /tmp/iw-docker.XXXXXX)
tag=iceway-test:$$
dockerd_pid=""
peer_pid=""
containers=()

cleanup() {
	local rc=$?
	set +e
	if [ -n "$dockerd_pid" ]; then
		for c in "${containers[@]}"; do
			docker rm -f "$c" >/dev/null 2>&1
		done
	fi
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
	if [ -n "$dockerd_pid" ]; then
		kill "$dockerd_pid" 2>/dev/null
		# Bounded: dockerd stops its containerd and containers within a few seconds.
		for _ in $(seq 1 150); do
			kill -0 "$dockerd_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid"
		wait "$dockerd_pid" 2>/dev/null
		# The containerd this dockerd started, if it outlived a killed dockerd.
		local cpid
		cpid=$(cat "$W/exec/containerd/containerd.pid" 2>/dev/null)
		[ -n "$cpid" ] && tr '\0' ' ' <"/proc/$cpid/cmdline" 2>/dev/null | grep -qF "$W/" &&
			kill "$cpid"
	fi
	mountpoint -q "$W/exec/netns/default" 2>/dev/null && umount "$W/exec/netns/default"
	# Anything the engine left mounted under the work dir (overlay layers, shm).
	grep -o " $W/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m"
	done
	rm -rf "$W"
	log "cleaned up (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait up to $1 tenths of a second for a command to succeed.
wait_for() {
	local n=$1
	shift
	for _ in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# A port on 127.0.0.1 free for the given socket types (udp, tcp or both: the relay listens on
# UDP and TCP with one port number), held for this test (ports.py).
free_port() {
	local k=$1
	[ "$k" = both ] && k=udp,tcp
	"$py" "$src/tests/integration/ports.py" --owner $$ --kinds "$k"
}

# The compose file parses and names what it requires (when a compose client is installed).
if command -v docker-compose >/dev/null; then
	ICEWAY_SECRET=x ICEWAY_TURN_URI=turn:turn.test:3478 ICEWAY_STUN_URI=stun:turn.test:3478 \
		docker-compose -f "$src/docker/compose.yaml" config -q || fail "docker/compose.yaml"
	env -u ICEWAY_SECRET docker-compose -f "$src/docker/compose.yaml" config -q 2>/dev/null &&
		fail "docker/compose.yaml accepts a missing ICEWAY_SECRET"
	ICEWAY_SECRET=x ICEWAY_TURN_URI=turns:turn.test:443 ICEWAY_STUN_URI=stun:turn.test:3478 \
		ICEWAY_TLS_DIR=/etc/iceway/tls docker-compose -f "$src/docker/compose-443.yaml" config -q ||
		fail "docker/compose-443.yaml"
fi

export DOCKER_HOST=unix://$W/docker.sock
export DOCKER_BUILDKIT=0 # the legacy builder: no buildx here

# ---- a private engine ----
log "starting a private dockerd in $W"
dockerd --host "$DOCKER_HOST" --data-root "$W/data" --exec-root "$W/exec" \
	--pidfile "$W/dockerd.pid" --storage-driver overlay2 \
	--iptables=false --ip-forward=false --bridge=none >"$W/dockerd.log" 2>&1 &
dockerd_pid=$!
wait_for 300 docker version || {
	tail -n 20 "$W/dockerd.log" >&2
	fail "dockerd did not answer within 30 s"
}

# ---- the base image, cached ----
base_tar=$cache/debian-bookworm-slim.tar
iw_debian_base "$base_tar" "$W" || fail "no Debian base"

# The build stage's dependency layer (tools/install-deps.sh build, a few minutes of apt) is
# cached too, together with the base image it sits on, as one `docker save` archive: loaded
# images keep their IDs and history, so `--cache-from` reuses the layer. The key covers what
# the layer depends on; a week-old archive is dropped so that updates reach the tests.
deps_key=$( {
	sed -n '1,/install-deps.sh build/p' "$src/docker/Dockerfile" | grep -Ev '^[[:space:]]*(#|$)'
	cat "$src/tools/install-deps.sh"
	stat -c '%s %Y' "$base_tar"
} | sha256sum | cut -c1-16)
deps_tar=$cache/build-deps-$deps_key.tar
deps_tag=iceway-test-deps:$deps_key
find "$cache" -maxdepth 1 -name 'build-deps-*.tar' -mtime +7 -delete
cache_from=()
if [ -s "$deps_tar" ] && docker load -q -i "$deps_tar" >/dev/null; then
	cache_from=(--cache-from "$deps_tag")
	log "base image and build dependencies loaded from $deps_tar"
else
	docker import "$base_tar" local/bookworm:base >/dev/null
	docker tag local/bookworm:base debian:bookworm-slim
	log "base image imported"
fi

# ---- build the image ----
build_args=()
[ -n "${IW_DOCKER_CMAKE_ARGS:-}" ] && build_args=(--build-arg "IW_CMAKE_ARGS=$IW_DOCKER_CMAKE_ARGS")
log "docker build -f docker/Dockerfile"
build_rc=0
docker build --network host "${cache_from[@]}" "${build_args[@]}" -f "$src/docker/Dockerfile" \
	-t "$tag" "$src" >"$W/build.log" 2>&1 || build_rc=$?

# Cache the dependency layer even when a later step failed: it does not depend on the sources.
if [ "${#cache_from[@]}" = 0 ]; then
	# The image right after the dependency step: " ---> ID" once its container is removed.
	deps_id=$(awk '/^Step [0-9]+\/[0-9]+ : RUN bash tools\/install-deps.sh build/ { s = 1; next }
		s && /^ ---> [0-9a-f]+$/ { print $2; exit }' "$W/build.log")
	if [ -n "$deps_id" ]; then
		(
			flock -w 600 9 || exit 0
			[ -s "$deps_tar" ] && exit 0
			docker tag "$deps_id" "$deps_tag"
			docker save -o "$deps_tar.tmp.$$" debian:bookworm-slim "$deps_tag" &&
				mv -f "$deps_tar.tmp.$$" "$deps_tar"
			rm -f "$deps_tar.tmp.$$"
			find "$cache" -maxdepth 1 -name 'build-deps-*.tar' ! -name "${deps_tar##*/}" -delete
			log "build dependencies cached in $deps_tar ($(du -m "$deps_tar" | cut -f1) MB)"
		) 9>"$cache/.lock"
	fi
fi

if [ "$build_rc" != 0 ]; then
	tail -n 40 "$W/build.log" >&2
	fail "docker build"
fi
log "image built: $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1 / 1e6}')"
awk '/^runtime packages:/ { p = 1; printf "%s", $0; next }
	p && (/^Removing/ || /^ --->/) { exit } p { printf " %s", $0 } END { print "" }' "$W/build.log"

# The runtime image holds no toolchain and runs as a non-root user by default.
docker run --rm --network none --entrypoint /bin/sh "$tag" -c 'command -v cc || command -v cmake' &&
	fail "the runtime image contains a compiler"
uid=$(docker run --rm --network none --entrypoint /usr/bin/id "$tag" -u)
[ "$uid" != 0 ] || fail "the image runs as root"
for b in iceway-relay iceway-signal; do
	docker run --rm --network none --entrypoint /bin/sh "$tag" -c "test -x /usr/local/bin/$b" ||
		fail "$b is not in the image"
done

# Without a secret, `relay` refuses the default config's published demo secret.
if out=$(docker run --rm --network none "$tag" relay 2>&1); then
	fail "the relay started with the demo secret"
fi
grep -q 'demo secret' <<<"$out" || fail "no clear refusal of the demo secret: $out"

# ---- run the relay and the signaling service as the compose file does ----
relay_port=$(free_port both)
sig_port=$(free_port tcp)
peer_port=$(free_port udp)
# A narrow relay range inside the kernel's ephemeral range; the relay skips ports in use.
min_port=$((40000 + (RANDOM % 200) * 100))
max_port=$((min_port + 99))

log "relay on udp/$relay_port (relay ports $min_port-$max_port), signaling on tcp/$sig_port"
c_relay=iw-relay-$$
c_signal=iw-signal-$$
containers+=("$c_relay" "$c_signal")
# Hardened as docker/compose.yaml runs them: no capability at all, so the entry point must pick
# the binaries without the file capability (the kernel refuses to start the others).
hardened=(--cap-drop ALL --security-opt no-new-privileges --read-only --tmpfs /tmp)
docker run -d --name "$c_relay" --network host "${hardened[@]}" -e ICEWAY_SECRET="$secret" \
	-e ICEWAY_REALM=iceway.test --health-interval 1s --health-start-period 30s "$tag" \
	relay --listening-port "$relay_port" --listening-ip 127.0.0.1 --min-port "$min_port" \
	--max-port "$max_port" --allow-loopback-peers --allow-rfc5766-channels >/dev/null
docker run -d --name "$c_signal" --network host "${hardened[@]}" -e ICEWAY_SECRET="$secret" \
	-e ICEWAY_TURN_URI="turn:127.0.0.1:$relay_port?transport=udp" \
	--health-interval 1s --health-start-period 30s "$tag" \
	signal --listen "127.0.0.1:$sig_port" >/dev/null

health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1"; }
# Up to 60 s for the HEALTHCHECK to pass; gives up at once if the container stops.
wait_healthy() {
	local st
	for _ in $(seq 1 600); do
		st=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")
		case $st in
		"running healthy") return 0 ;;
		running*) sleep 0.1 ;;
		*) return 1 ;;
		esac
	done
	return 1
}
for c in "$c_relay" "$c_signal"; do
	if ! wait_healthy "$c"; then
		docker logs "$c" 2>&1 | tail -n 30 >&2
		docker inspect -f '{{json .State}}' "$c" >&2
		fail "$c did not become healthy (status: $(health_of "$c"))"
	fi
	[ "$(docker exec "$c" id -u)" != 0 ] || fail "$c runs as root"
done
log "both containers healthy and non-root"

# The secret reaches the processes through a private config file, never their command lines.
for c in "$c_relay" "$c_signal"; do
	pid=$(docker inspect -f '{{.State.Pid}}' "$c")
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$secret" && fail "$c has the secret on its command line"
done

# ---- TURN through the container: REST credentials, a small load, no loss ----
turnutils_peer -L 127.0.0.1 -p "$peer_port" >"$W/peer.log" 2>&1 &
peer_pid=$!
log "turnutils_uclient -m 5 -n 100 through the relay"
timeout 120 turnutils_uclient -m 5 -n 100 -l 120 -c -e 127.0.0.1 -r "$peer_port" \
	-W "$secret" -u docker-test -p "$relay_port" 127.0.0.1 >"$W/uclient.log" 2>&1 || {
	tail -n 30 "$W/uclient.log" >&2
	docker logs "$c_relay" 2>&1 | tail -n 20 >&2
	fail "turnutils_uclient failed"
}
# relay-io auto: io_uring where the container's seccomp profile allows it, else syscalls.
io_line=$(docker logs "$c_relay" 2>&1 | grep -o 'relay I/O: .*' | head -n 1)
[ -n "$io_line" ] || fail "the relay does not log which I/O path it took"
log "in the container, $io_line"
sent=$(sed -n -E 's/.*tot_send_msgs=([0-9]+).*/\1/p' "$W/uclient.log" | tail -n 1)
recv=$(sed -n -E 's/.*tot_recv_msgs=([0-9]+).*/\1/p' "$W/uclient.log" | tail -n 1)
lost=$(sed -n -E 's/.*Total lost packets ([0-9]+) .*/\1/p' "$W/uclient.log" | tail -n 1)
grep -E 'Total lost|Average round trip' "$W/uclient.log" | sed 's/^[0-9]*: : //'
[ -n "$lost" ] && [ -n "$sent" ] || {
	tail -n 30 "$W/uclient.log" >&2
	fail "no totals in the uclient output"
}
[ "$lost" = 0 ] || fail "$lost packets lost through the relay"
[ "$sent" -ge 500 ] || fail "uclient sent only $sent messages"
[ "$recv" = "$sent" ] || fail "$recv of $sent messages came back"
log "relay: ${recv} of ${sent:-?} messages echoed, 0 lost"

# ---- signaling: join a room, get welcome with iceServers and valid TURN credentials ----
"$py" - "127.0.0.1:$sig_port" "$secret" "$relay_port" <<'EOF'
import asyncio, base64, hashlib, hmac, json, sys, time
import websockets

addr, secret, relay_port = sys.argv[1], sys.argv[2], sys.argv[3]

def find(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            r = find(v, key)
            if r is not None:
                return r
    return None

async def main():
    async with websockets.connect(f"ws://{addr}/ws", open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "join", "room": "docker-test"}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg.get("type") == "welcome":
                break
            if msg.get("type") == "error":
                sys.exit(f"signaling answered join with an error: {msg}")
    servers = find(msg, "iceServers")
    assert isinstance(servers, list) and servers, f"no iceServers in welcome: {msg}"
    turn = [s for s in servers if any(str(u).startswith("turn:") for u in
            (s.get("urls") if isinstance(s.get("urls"), list) else [s.get("urls")]))]
    assert turn, f"no turn: URL in iceServers: {servers}"
    urls = turn[0]["urls"] if isinstance(turn[0]["urls"], list) else [turn[0]["urls"]]
    assert any(f":{relay_port}" in u for u in urls), f"turn URL does not name the relay: {urls}"
    user, cred = turn[0]["username"], turn[0]["credential"]
    expiry = int(user.split(":")[0])
    assert expiry > time.time(), f"TURN username already expired: {user}"
    want = base64.b64encode(hmac.new(secret.encode(), user.encode(), hashlib.sha1).digest()).decode()
    assert cred == want, "TURN credential is not HMAC-SHA1(secret, username)"
    print(f"signaling: welcome with {len(servers)} iceServers, TURN user {user}")

asyncio.run(main())
EOF

# ---- turns: and wss:// on 443 without a proxy: non-root, one capability ----
# The relay's TLS listener on 127.0.0.1:443 and signaling's on 127.0.0.2:443, each in a container
# running as user iceway with every capability dropped but NET_BIND_SERVICE, which the binaries'
# file capability turns into the right to bind below 1024. Host networking: 443 on the host.
"$py" "$src/tests/integration/ports.py" --owner $$ --port 443 --kinds tcp \
	--hosts 127.0.0.1,127.0.0.2 >/dev/null ||
	fail "TCP port 443 on 127.0.0.1/127.0.0.2 is not free on this host (see above): stop what holds it"
mkdir -p "$W/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=turn.test \
	-keyout "$W/tls/key.pem" -out "$W/tls/cert.pem" >/dev/null 2>&1 || fail "openssl req"
chmod 755 "$W/tls" && chmod 644 "$W/tls/key.pem" # readable by user iceway in the container
relay3=$(free_port both)
tls_opts=(-v "$W/tls:/tls:ro")
low=(--cap-drop ALL --cap-add NET_BIND_SERVICE --read-only --tmpfs /tmp)
relay443=(relay --listening-ip 127.0.0.1 --listening-port "$relay3" --tls-listening-port 443
	--cert /tls/cert.pem --pkey /tls/key.pem --min-port "$min_port" --max-port "$max_port"
	--allow-loopback-peers --allow-rfc5766-channels)

# Without the capability the relay cannot bind 443, and says so; nor with it under
# no-new-privileges, which keeps a file capability from taking effect (as the README says).
for how in "without NET_BIND_SERVICE" "with no-new-privileges"; do
	opts=("${hardened[@]}")
	[ "$how" = "with no-new-privileges" ] &&
		opts=(--cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges)
	out=$(timeout 60 docker run --rm --network host "${opts[@]}" "${tls_opts[@]}" \
		-e ICEWAY_SECRET="$secret" "$tag" "${relay443[@]}" 2>&1) &&
		fail "the relay started on 443 $how"
	grep -qi 'permission denied' <<<"$out" || fail "no clear error for 443 $how: $out"
	log "443 $how: refused ($(grep -i -m1 -o 'cannot listen.*' <<<"$out"))"
done

c_low=iw-relay443-$$
c_wss=iw-signal443-$$
containers+=("$c_low" "$c_wss")
docker run -d --name "$c_low" --network host "${low[@]}" "${tls_opts[@]}" -e ICEWAY_SECRET="$secret" \
	-e ICEWAY_REALM=iceway.test --health-interval 1s --health-start-period 30s "$tag" \
	"${relay443[@]}" >/dev/null
docker run -d --name "$c_wss" --network host "${low[@]}" "${tls_opts[@]}" -e ICEWAY_SECRET="$secret" \
	-e ICEWAY_TURN_URI="turns:turn.test:443?transport=tcp" \
	--health-interval 1s --health-start-period 30s "$tag" \
	signal --listen 127.0.0.2:443 --tls-cert /tls/cert.pem --tls-key /tls/key.pem >/dev/null
if ! wait_healthy "$c_low"; then
	docker logs "$c_low" 2>&1 | tail -n 30 >&2
	fail "the relay on 443 did not become healthy"
fi
# The image's health check reaches signaling's TLS listener (iceway-signal --check).
if ! wait_healthy "$c_wss"; then
	docker logs "$c_wss" 2>&1 | tail -n 30 >&2
	docker inspect -f '{{json .State.Health}}' "$c_wss" >&2
	fail "signaling with TLS on 443 did not become healthy"
fi
# Each process: user iceway, and exactly one capability in effect.
for c in "$c_low" "$c_wss"; do
	pid=$(docker inspect -f '{{.State.Pid}}' "$c")
	[ "$pid" -gt 0 ] || fail "$c is not running: $(docker logs "$c" 2>&1 | tail -n 5)"
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
	eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
	[ "$uid" = 10001 ] || fail "$c runs as uid $uid"
	[ "$eff" = 0000000000000400 ] || fail "$c has capabilities $eff, not cap_net_bind_service alone"
done
log "relay and signaling on 443 as uid 10001 with cap_net_bind_service only"

# A TLS TURN Allocate and relayed traffic on 443 (coturn's client), then a STUN Binding over TLS
# with ALPN stun.turn from 127.0.0.3: XOR-MAPPED-ADDRESS names the client.
timeout 120 turnutils_uclient -t -S -m 2 -n 50 -l 120 -c -e 127.0.0.1 -r "$peer_port" \
	-W "$secret" -u docker-test -p 443 127.0.0.1 >"$W/uclient443.log" 2>&1 || {
	tail -n 30 "$W/uclient443.log" >&2
	docker logs "$c_low" 2>&1 | tail -n 20 >&2
	fail "turnutils_uclient -t -S on 443 failed"
}
lost=$(sed -n -E 's/.*Total lost packets ([0-9]+) .*/\1/p' "$W/uclient443.log" | tail -n 1)
sent=$(sed -n -E 's/.*tot_send_msgs=([0-9]+).*/\1/p' "$W/uclient443.log" | tail -n 1)
[ "$lost" = 0 ] && [ "${sent:-0}" -ge 100 ] || {
	tail -n 30 "$W/uclient443.log" >&2
	fail "turns: on 443: sent ${sent:-?}, lost ${lost:-?}"
}
log "turns: on 443: $sent messages relayed over TLS, 0 lost"

"$py" - "$src/tests/integration" <<'EOF'
import asyncio, json, os, socket, ssl, sys
sys.path.insert(0, sys.argv[1])
import iwtest
import websockets

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["stun.turn"])
raw = socket.create_connection(("127.0.0.1", 443), timeout=5, source_address=("127.0.0.3", 0))
s = ctx.wrap_socket(raw)
s.sendall(iwtest.encode(iwtest.METHOD_BINDING, iwtest.CLASS_REQUEST, tid=os.urandom(12)))
d = iwtest.recv_frame(s, 5, bytearray())
mapped = iwtest.Msg(d).xor_addr(iwtest.ATTR_XOR_MAPPED_ADDRESS) if d else None
assert s.selected_alpn_protocol() == "stun.turn", s.selected_alpn_protocol()
assert mapped and mapped[0] == "127.0.0.3", "Binding over TLS on 443: %r" % (mapped,)
s.close()
print("turns: on 443: Binding over TLS with ALPN stun.turn, XOR-MAPPED-ADDRESS %s:%d" % mapped)

wctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
wctx.check_hostname = False
wctx.verify_mode = ssl.CERT_NONE


async def main():
    for _ in range(100):  # up to 10 s for the signaling container to listen
        try:
            ws = await websockets.connect("wss://127.0.0.2:443/ws", ssl=wctx, open_timeout=5)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        sys.exit("wss://127.0.0.2:443 did not answer")
    try:
        await ws.send(json.dumps({"type": "join", "room": "docker-443"}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if msg.get("type") in ("welcome", "error"):
                break
    finally:
        await ws.close()
    assert msg.get("type") == "welcome", msg
    assert "turns:turn.test:443?transport=tcp" in json.dumps(msg), msg
    print("wss:// on 443: welcome with turns:turn.test:443")

asyncio.run(main())
EOF
docker rm -f "$c_low" "$c_wss" >/dev/null

# ---- one container running both, as `docker run IMAGE all` ----
relay2=$(free_port both)
sig2=$(free_port tcp)
c_all=iw-all-$$
containers+=("$c_all")
docker run -d --name "$c_all" --network host --health-interval 1s --health-start-period 30s \
	-e ICEWAY_RELAY_ARGS="--listening-port $relay2 --listening-ip 127.0.0.1 --min-port $min_port --max-port $max_port" \
	-e ICEWAY_SIGNAL_ARGS="--listen 127.0.0.1:$sig2" "$tag" all >/dev/null
# No secret given: `all` makes a random one shared by both processes.
if ! wait_healthy "$c_all"; then
	docker logs "$c_all" 2>&1 | tail -n 30 >&2
	fail "the 'all' container did not become healthy (status: $(health_of "$c_all"))"
fi
# Stopping the container stops both processes cleanly (SIGTERM is forwarded).
docker stop -t 10 "$c_all" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$c_all")
# 137 would mean the processes ignored SIGTERM and were killed after the grace period.
[ "$code" = 0 ] || [ "$code" = 143 ] || fail "the 'all' container stopped with exit code $code"
log "'all' container healthy; stopped cleanly (exit code $code)"

log "PASS in $((SECONDS - t0)) s"
