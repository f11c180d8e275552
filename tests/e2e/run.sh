#!/usr/bin/env bash
# End-to-end browser test: creates a network namespace with a veth pair whose both ends stay
# inside it (Chromium gathers no ICE candidates on a loopback-only host), and runs e2e.mjs in
# it; the relay, the signaling service and Chromium all live in that namespace, which is
# deleted on exit. Needs root (ip netns), node and /usr/bin/chromium.
#   IW_RELAY=.../iceway-relay IW_SIGNAL=.../iceway-signal bash tests/e2e/run.sh
# Optional: IW_CHROMIUM (default /usr/bin/chromium), IW_E2E_ARTIFACTS (default ./artifacts:
# server logs, metrics, the mid-call screenshot, results.json), IW_E2E_WEB_ROOT (default the
# repository's web/), IW_E2E_CONNECT_MS (how long a call may take to connect, default 45000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
e2e_preflight e2e iptables node

ns=iw-e2e-$$-$RANDOM
cleanup() { e2e_netns_del "$ns"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip link add va type veth peer name vb
ip netns exec "$ns" ip addr add 10.200.0.1/24 dev va
ip netns exec "$ns" ip link set va up
ip netns exec "$ns" ip link set vb up
ip netns exec "$ns" ip route add default dev va
# A NAT in front of the STUN port: Binding requests from the browser's host address reach the
# relay from 10.200.0.254, so the reflexive candidate differs from the host candidate (Chromium
# drops a srflx equal to a host address) and shows the relay's XOR-MAPPED-ADDRESS is right.
# The NAT address sits on lo, so replies from the relay's 127.0.0.1 socket stay on loopback.
ip netns exec "$ns" ip addr add 10.200.0.254/32 dev lo
ip netns exec "$ns" iptables -t nat -A POSTROUTING -o lo -p udp -s 10.200.0.1 -d 127.0.0.1 \
	--dport 3478 -j SNAT --to-source 10.200.0.254
export IW_E2E_NAT=10.200.0.254

# Chromium wants a writable HOME for its profile; keep it inside the run's temp dir.
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
export HOME=$tmp
ip netns exec "$ns" node "$here/e2e.mjs"
