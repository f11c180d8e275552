#!/usr/bin/env bash
# Installs what iceway needs on Debian 12. One script for the README, CI and the Docker image.
#   tools/install-deps.sh build   compilers and libraries (what the Docker build stage needs)
#   tools/install-deps.sh run     build + what running iceway needs
#   tools/install-deps.sh test    run + the real peers the tests drive (coturn tools, chromium, ...)
set -euo pipefail
profile=${1:-test}

# libcap2-bin: setcap, so that the Docker image's binaries may bind ports below 1024.
build_pkgs=(build-essential cmake pkg-config libmbedtls-dev libwebsockets-dev libjansson-dev
	libjwt-dev libnice-dev libsrtp2-dev libglib2.0-dev ca-certificates libhiredis-dev liburing-dev
	libcap2-bin)
run_pkgs=(python3)
test_pkgs=(libcmocka-dev clang-format git coturn stun-client clang libclang-rt-14-dev python3-websockets
	python3-wsproto iproute2 iptables procps psmisc chromium nodejs npm docker.io debootstrap
	prometheus redis-server openssl haproxy nginx-light libnginx-mod-stream docker-compose fail2ban)

case "$profile" in
build) pkgs=("${build_pkgs[@]}") ;;
run) pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
test) pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}") ;;
*) echo "usage: $0 build|run|test" >&2; exit 2 ;;
esac

# A machine that already has Node.js from elsewhere keeps it: Debian's npm would conflict.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	pkgs=("${pkgs[@]/nodejs/}")
	pkgs=("${pkgs[@]/npm/}")
fi

missing=()
for p in "${pkgs[@]}"; do
	[ -n "$p" ] || continue
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# Debian's coturn package may start a system turnserver on 3478; the tests start their own
# servers on ephemeral ports, but the demo wants 3478, so leave a system coturn stopped.
if [ "$profile" = test ] && command -v systemctl >/dev/null 2>&1 && \
	systemctl is-active --quiet coturn 2>/dev/null; then
	systemctl stop coturn || true
fi
