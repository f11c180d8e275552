#!/usr/bin/env bash
# Installs, builds and starts iceway on localhost with the default config: the relay on UDP
# 3478 and the signaling service with the demo page on http://127.0.0.1:8080/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash tools/install-deps.sh run
bash tools/build.sh build

conf=${ICEWAY_CONF:-$top/docker/iceway-relay.conf}
sconf=${ICEWAY_SIGNAL_CONF:-$top/docker/iceway-signal.conf}

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

build/turn/iceway-relay -c "$conf" &
pids+=($!)
if [ -x build/signaling/iceway-signal ]; then
	build/signaling/iceway-signal -c "$sconf" --web-root "$top/web" &
	pids+=($!)
	echo "iceway: demo page on http://127.0.0.1:8080/ , TURN on 127.0.0.1:3478 (Ctrl-C stops)"
else
	echo "iceway: TURN on 127.0.0.1:3478 (Ctrl-C stops)"
fi
wait -n "${pids[@]}"
