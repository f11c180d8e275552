#!/usr/bin/env bash
# Installs, builds and starts iceway on localhost with the default config: the relay on UDP
# 3478 and the signaling service with the demo page on http://127.0.0.1:8080/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash tools/install-deps.sh run
# Only what running needs: no tests (cmocka) and no benchmark tools.
bash tools/build.sh build -DIW_TESTS=OFF -DIW_WITH_BENCH=OFF

conf=${ICEWAY_CONF:-$top/docker/iceway-relay.conf}
sconf=${ICEWAY_SIGNAL_CONF:-$top/docker/iceway-signal.conf}

# The default configs carry a placeholder secret; every start of the demo gets a fresh one,
# written into private copies of the configs (not onto command lines, where `ps` shows it).
secret=${ICEWAY_SECRET:-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}
run=$(mktemp -d)
chmod 700 "$run"
sed -E "s|^static-auth-secret=.*|static-auth-secret=$secret|" "$conf" >"$run/relay.conf"
sed -E "s|^static-auth-secret=.*|static-auth-secret=$secret|" "$sconf" >"$run/signal.conf"

pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$run"
}
trap cleanup EXIT INT TERM

build/turn/iceway-relay -c "$run/relay.conf" &
pids+=($!)
if [ -x build/signaling/iceway-signal ]; then
	build/signaling/iceway-signal -c "$run/signal.conf" --web-root "$top/web" &
	pids+=($!)
	echo "iceway: demo page on http://127.0.0.1:8080/ , TURN on 127.0.0.1:3478 (Ctrl-C stops)"
else
	echo "iceway: TURN on 127.0.0.1:3478 (Ctrl-C stops)"
fi
wait -n "${pids[@]}"
