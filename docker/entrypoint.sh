#!/bin/bash
# Container entry point: chooses the binary and answers the image's HEALTHCHECK. The options
# themselves are the binaries' business: a config file, then the environment (ICEWAY_RELAY_*,
# ICEWAY_SIGNAL_*, see the README's option tables), then the arguments.
#
#   relay [ARGS...]    iceway-relay -c /etc/iceway/iceway-relay.conf ARGS
#   signal [ARGS...]   iceway-signal -c /etc/iceway/iceway-signal.conf ARGS
#   all                both; ICEWAY_RELAY_ARGS and ICEWAY_SIGNAL_ARGS add options to each
#   check              the health check: a STUN Binding to the relay, GET /healthz on signaling
#                      (over TLS and after a PROXY header when its listener wants them)
#   anything else      run as a command (e.g. "bash")
#
# Shorthands for both processes (all optional):
#   ICEWAY_SECRET, ICEWAY_SECRET_FILE   TURN REST shared secret (static-auth-secret of both)
#   ICEWAY_REALM, ICEWAY_EXTERNAL_IP    ICEWAY_RELAY_REALM, ICEWAY_RELAY_EXTERNAL_IP
#   ICEWAY_TURN_URI, ICEWAY_STUN_URI    ICEWAY_SIGNAL_TURN_URI, ICEWAY_SIGNAL_STUN_URI (lists
#                                       separated by spaces)
#   ICEWAY_RELAY_CONF, ICEWAY_SIGNAL_CONF   config files (default under /etc/iceway: localhost)
#   ICEWAY_RELAY_UNSET, ICEWAY_SIGNAL_UNSET option names the config file's lines are dropped for,
#                                       so that the binary's default applies ("listening-ip
#                                       relay-ip allow-loopback-peers" makes the relay public)
#   ICEWAY_RUNDIR                       writable directory (/tmp/iceway)
#
# The secret reaches the binaries as a file (static-auth-secret-file), never on a command line
# where /proc/PID/cmdline and `ps` on the host show it. Without a secret, `all` makes a random
# one; `relay` and `signal` refuse the published demo secret of the default configs.
set -euo pipefail

bindir=${ICEWAY_BINDIR:-/usr/local/bin}
# The image's binaries carry cap_net_bind_service, so that ports below 1024 (443) need no root.
# The kernel refuses to start them when that capability is outside the container's bounding
# set (cap_drop ALL without cap_add NET_BIND_SERVICE): then their copies without it run.
nocap_dir=/usr/local/lib/iceway/nocap
bset_has_bind() {
	local hex
	hex=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status 2>/dev/null)
	[ -n "$hex" ] && (((16#$hex >> 10) & 1))
}
if [ -z "${ICEWAY_BINDIR:-}" ] && [ -d "$nocap_dir" ] && ! bset_has_bind; then
	bindir=$nocap_dir
fi
rundir=${ICEWAY_RUNDIR:-/tmp/iceway}
web_root=${ICEWAY_WEB_ROOT:-/usr/share/iceway/web}
demo=iceway-demo-secret

say() { echo "iceway-entrypoint: $*" >&2; }

# The last value of KEY in a config file ("key=value", "key value", optional "--").
conf_get() {
	[ -r "$1" ] || return 0
	sed -n -E "s/^[[:space:]]*(--)?$2[[:space:]]*(=|[[:space:]])[[:space:]]*\"?([^\"#[:space:]]*)\"?.*/\\3/p" \
		"$1" | tail -n 1
}

# The last value of an option on a command line: "--key V", "--key=V" or "-s V".
arg_get() {
	local key=$1 short=$2 val=""
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--"$key"=*) val=${1#*=} ;;
		--"$key" | -"$short") [ $# -gt 1 ] && { val=$2; shift; } ;;
		esac
		shift
	done
	printf '%s' "$val"
}

# conf BASE UNSET: the config file to use, without the lines of the options named in UNSET.
conf() {
	local base=$1 names
	names=$(printf '%s' "$2" | tr -s ' \t\n' '|' | sed 's/^|//; s/|$//')
	if [ -z "$names" ]; then
		printf '%s' "$base"
		return
	fi
	grep -Ev "^[[:space:]]*(--)?($names)([[:space:]=]|$)" "$base" >"$rundir/${base##*/}" || true
	printf '%s' "$rundir/${base##*/}"
}

# The secret: ICEWAY_SECRET goes to a private file; a file is passed on as it is.
secret() {
	local mode=$1 file=${ICEWAY_SECRET_FILE:-} given=0 a confs=()
	if [ -n "${ICEWAY_SECRET:-}" ]; then
		file=$rundir/secret
		(umask 077 && printf '%s\n' "$ICEWAY_SECRET" >"$file")
		unset ICEWAY_SECRET
	fi
	for a in "${relay_args[@]}" "${signal_args[@]}"; do
		case $a in --static-auth-secret*) given=1 ;; esac
	done
	[ -n "${ICEWAY_RELAY_STATIC_AUTH_SECRET:-}${ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE:-}" ] && given=1
	[ -n "${ICEWAY_SIGNAL_STATIC_AUTH_SECRET:-}${ICEWAY_SIGNAL_STATIC_AUTH_SECRET_FILE:-}" ] && given=1
	[ "$mode" = signal ] || confs+=("$relay_conf")
	[ "$mode" = relay ] || confs+=("$signal_conf")
	if [ -z "$file" ] && [ "$given" = 0 ] && grep -Eqs "^[[:space:]]*(--)?static-auth-secret.*$demo" "${confs[@]}"; then
		if [ "$mode" != all ]; then
			say "refusing the published demo secret of the default config: set ICEWAY_SECRET (or ICEWAY_SECRET_FILE)"
			exit 1
		fi
		# One container runs both: a random secret shared by the two processes is safe and
		# works. Separate containers must be given the same secret.
		file=$rundir/secret
		(umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
		say "no ICEWAY_SECRET given: using a random secret for this container"
	fi
	[ -n "$file" ] || return 0
	if [ "$(tr -d '\r\n' <"$file" 2>/dev/null)" = "$demo" ]; then
		say "refusing the published demo secret: set ICEWAY_SECRET (or ICEWAY_SECRET_FILE) to your own"
		exit 1
	fi
	export ICEWAY_RELAY_STATIC_AUTH_SECRET_FILE=$file ICEWAY_SIGNAL_STATIC_AUTH_SECRET_FILE=$file
}

prepare() {
	mkdir -p "$rundir"
	chmod 700 "$rundir"
	relay_conf=$(conf "${ICEWAY_RELAY_CONF:-/etc/iceway/iceway-relay.conf}" "${ICEWAY_RELAY_UNSET:-}")
	signal_conf=$(conf "${ICEWAY_SIGNAL_CONF:-/etc/iceway/iceway-signal.conf}" "${ICEWAY_SIGNAL_UNSET:-}")
	secret "$1"
	export ICEWAY_RELAY_REALM=${ICEWAY_RELAY_REALM:-${ICEWAY_REALM:-}}
	export ICEWAY_RELAY_EXTERNAL_IP=${ICEWAY_RELAY_EXTERNAL_IP:-${ICEWAY_EXTERNAL_IP:-}}
	export ICEWAY_SIGNAL_TURN_URI=${ICEWAY_SIGNAL_TURN_URI:-${ICEWAY_TURN_URI:-}}
	export ICEWAY_SIGNAL_STUN_URI=${ICEWAY_SIGNAL_STUN_URI:-${ICEWAY_STUN_URI:-}}
	relay_argv=("$bindir/iceway-relay" -c "$relay_conf" "${relay_args[@]}")
	signal_argv=("$bindir/iceway-signal" -c "$signal_conf")
	[ -d "$web_root" ] && signal_argv+=(--web-root "$web_root")
	signal_argv+=("${signal_args[@]}")
	# Where the health check finds each process: arguments over environment over file.
	local ip port listen eip=${ICEWAY_RELAY_LISTENING_IP:-} elisten=${ICEWAY_SIGNAL_LISTEN:-}
	port=$(arg_get listening-port p "${relay_args[@]}")
	port=${port:-${ICEWAY_RELAY_LISTENING_PORT:-$(conf_get "$relay_conf" listening-port)}}
	ip=$(arg_get listening-ip L "${relay_args[@]}")
	ip=${ip:-${eip%% *}}
	ip=${ip:-$(conf_get "$relay_conf" listening-ip)}
	listen=$(arg_get listen L "${signal_args[@]}")
	listen=${listen:-${elisten%% *}}
	listen=${listen:-$(conf_get "$signal_conf" listen)}
	{
		[ "$1" = signal ] || printf 'relay=%s %s\n' "${ip:-127.0.0.1}" "${port:-3478}"
		[ "$1" = relay ] || printf 'signal=%s\n' "${listen:-127.0.0.1:8080}"
	} >"$rundir/health.tmp"
	# Signaling is checked by its own binary (--check) with the same arguments and the variables
	# derived here: it then speaks TLS and sends a PROXY header when its listener wants them.
	# No secret is written: the container's own environment reaches the check as it is.
	if [ "$1" != relay ]; then
		{
			declare -p signal_argv
			export -p | grep -E '^declare -x ICEWAY_SIGNAL_(TURN_URI|STUN_URI|STATIC_AUTH_SECRET_FILE)=' || true
		} >"$rundir/signal.check.tmp"
		mv -f "$rundir/signal.check.tmp" "$rundir/signal.check"
	fi
	mv -f "$rundir/health.tmp" "$rundir/health"
}

# A wildcard listen address is checked on loopback.
check_host() {
	case $1 in
	"" | 0.0.0.0 | "*") echo 127.0.0.1 ;;
	:: | "[::]") echo ::1 ;;
	\[*\]) local h=${1#[}; echo "${h%]}" ;;
	*) echo "$1" ;;
	esac
}

# One STUN Binding through the relay's own probe mode: exits 0 only on a Binding success with
# an XOR-MAPPED-ADDRESS, so a relay that answers but cannot parse fails the check.
check_relay() {
	local host
	host=$(check_host "$1")
	case $host in *:*) host="[$host]" ;; esac
	"$ICEWAY_BINDIR/iceway-relay" -n --check "$host:$2" >/dev/null 2>&1
}

# GET /healthz on signaling's first listener, by iceway-signal --check with the arguments it
# runs with: over TLS when it has a certificate, after a PROXY header (v2 LOCAL) when it wants
# one from loopback. $1 (the listener) names it in the output only.
check_signal() {
	local f=$ICEWAY_RUNDIR/signal.check
	[ -r "$f" ] || return 1
	# shellcheck disable=SC1090 # written by prepare: declare -p and export -p lines
	. "$f"
	"${signal_argv[@]}" --check 2>&1
}

health() {
	local f=$rundir/health key val ok=1 fn
	[ -r "$f" ] || { echo "not started"; return 1; }
	export ICEWAY_BINDIR=$bindir ICEWAY_RUNDIR=$rundir
	while IFS='=' read -r key val; do
		fn=check_$key
		# shellcheck disable=SC2086 # relay: "HOST PORT"
		if timeout 4 bash -c "$(declare -f check_host "$fn"); $fn $val"; then
			echo "$key $val: ok"
		else
			echo "$key $val: no answer"
			ok=0
		fi
	done <"$f"
	[ "$ok" = 1 ]
}

# Both processes in one container: forward SIGTERM/SIGINT/SIGHUP, and stop when either exits so
# that the container's restart policy takes over.
run_all() {
	local pids=() rc=0
	trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' TERM INT
	trap 'kill -HUP "${pids[@]}" 2>/dev/null || true' HUP
	"${relay_argv[@]}" &
	pids+=($!)
	"${signal_argv[@]}" &
	pids+=($!)
	while :; do
		wait -n "${pids[@]}" && rc=0 || rc=$?
		# A trapped signal interrupts wait with a status above 128; keep waiting while
		# both processes still run.
		if kill -0 "${pids[0]}" 2>/dev/null && kill -0 "${pids[1]}" 2>/dev/null; then
			continue
		fi
		break
	done
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
	say "a process exited (status $rc): stopping the container"
	exit "$rc"
}

cmd=${1:-all}
[ $# -gt 0 ] && shift
relay_args=()
signal_args=()
case $cmd in
relay)
	relay_args=("$@")
	prepare relay
	exec "${relay_argv[@]}"
	;;
signal)
	signal_args=("$@")
	prepare signal
	exec "${signal_argv[@]}"
	;;
all)
	# shellcheck disable=SC2206 # word splitting is the interface of these variables
	relay_args=(${ICEWAY_RELAY_ARGS:-})
	# shellcheck disable=SC2206
	signal_args=(${ICEWAY_SIGNAL_ARGS:-})
	prepare all
	run_all
	;;
check) health ;;
-*)
	say "options go after a command: relay|signal|all ARGS (got '$cmd')"
	exit 2
	;;
*) exec "$cmd" "$@" ;;
esac
