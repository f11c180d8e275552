# shellcheck shell=bash
# Sourced by run.sh and run_443.sh: what both check before they start, and how both take
# their network namespaces down.

# e2e_preflight NAME CMD...: exits 77 (skipped) without root, 1 when IW_RELAY or IW_SIGNAL is
# not built, a CMD or Chromium (IW_CHROMIUM, default /usr/bin/chromium, exported) is missing;
# then installs playwright-core if needed, which only ever drives Debian's Chromium.
e2e_preflight() {
	local name=$1 b c
	shift
	: "${IW_RELAY:?IW_RELAY must name iceway-relay}"
	: "${IW_SIGNAL:?IW_SIGNAL must name iceway-signal}"
	if [ "$(id -u)" != 0 ]; then
		echo "$name: needs root for ip netns; skipped" >&2
		exit 77
	fi
	for b in "$IW_RELAY" "$IW_SIGNAL"; do
		[ -x "$b" ] || { echo "$name: $b is not built" >&2; exit 1; }
	done
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "$name: $c is missing (tools/install-deps.sh test)" >&2; exit 1; }
	done
	export IW_CHROMIUM=${IW_CHROMIUM:-/usr/bin/chromium}
	[ -x "$IW_CHROMIUM" ] || { echo "$name: chromium is missing" >&2; exit 1; }
	export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
	if [ ! -d "$e2e_dir/node_modules/playwright-core" ]; then
		(cd "$e2e_dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
}

# e2e_netns_del NS...: whatever still runs in the namespaces was started by the test: TERM,
# a moment, KILL; then the namespaces go.
e2e_netns_del() {
	local ns pids
	for ns in "$@"; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		# shellcheck disable=SC2086 # one PID a word
		[ -z "$pids" ] || kill $pids 2>/dev/null || true
	done
	sleep 0.2
	for ns in "$@"; do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
}

e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
