#!/usr/bin/env bash
# End to end on one public TCP 443: Chromium reaches iceway-signal (https://, wss://) and
# iceway-relay (turns:) only through nginx, then HAProxy, on port 443, using the shipped
# docker/nginx/iceway-443.conf and docker/haproxy/iceway-443.cfg.
#
# Two network namespaces joined by a veth pair:
#   server  10.201.0.1: nginx or HAProxy on :443, the relay's TLS port and signaling's TLS
#           listener on 127.0.0.1 behind it (PROXY protocol from 127.0.0.1 only). Its firewall
#           takes TCP 443 from the veth and drops every other port and all of UDP.
#   client  10.201.0.2: Chromium (a veth address, so it gathers candidates at all); UDP out of
#           the veth is dropped and counted, to show the call used none.
# IPv6 is off in both, so nothing goes around the IPv4 rules. Both are deleted on exit.
#   IW_RELAY=.../iceway-relay IW_SIGNAL=.../iceway-signal bash tests/e2e/run_443.sh
# Optional: IW_CHROMIUM (default /usr/bin/chromium), IW_E2E_ARTIFACTS (default ./artifacts-443),
# IW_E2E_NETLOG (a file for Chromium's --log-net-log, to see what each connection did).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
e2e_preflight e2e-443 iptables node nginx haproxy openssl
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
	{ echo "e2e-443: libnginx-mod-stream is missing" >&2; exit 1; }

tag=$$-$RANDOM
srv=iw-443s-$tag
cli=iw-443c-$tag
tmp=$(mktemp -d)
cleanup() {
	e2e_netns_del "$cli" "$srv"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

S() { ip netns exec "$srv" "$@"; }
C() { ip netns exec "$cli" "$@"; }
ip netns add "$srv"
ip netns add "$cli"
for ns in "$srv" "$cli"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$ns" ip link set lo up
done
ip link add vs netns "$srv" type veth peer name vc netns "$cli"
S ip addr add 10.201.0.1/24 dev vs
S ip link set vs up
C ip addr add 10.201.0.2/24 dev vc
C ip link set vc up

# The server's only door: TCP 443 from the veth. Everything on lo (nginx to the backends, the
# relay between two allocations) stays allowed.
S iptables -A INPUT -i lo -j ACCEPT
S iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
S iptables -A INPUT -i vs -p tcp --dport 443 --syn -j ACCEPT
S iptables -A INPUT -i vs -p udp -j DROP
S iptables -A INPUT -j DROP
# The client side counts what UDP Chromium sends towards the server, and drops it.
C iptables -A OUTPUT -o vc -p udp -j DROP
C iptables -A OUTPUT -o vc -p tcp --dport 443 -j ACCEPT
C iptables -A OUTPUT -o vc -j DROP

# Chromium runs in the client namespace through this wrapper; playwright drives it over the
# pipes it inherits.
cat >"$tmp/chromium" <<EOF
#!/bin/sh
exec ip netns exec $cli "$IW_CHROMIUM" "\$@"
EOF
chmod +x "$tmp/chromium"
export IW_E2E_CHROMIUM_WRAPPER=$tmp/chromium IW_E2E_SRV_NS=$srv IW_E2E_CLI_NS=$cli
export HOME=$tmp
S node "$here/e2e_443.mjs"
