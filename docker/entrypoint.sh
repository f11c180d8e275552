#!/bin/bash
# Container entry point: starts the relay, the signaling service, or both, and answers the
# image's HEALTHCHECK.
#
#   relay [ARGS...]    iceway-relay with /etc/iceway/iceway-relay.conf, then ARGS
#   signal [ARGS...]   iceway-signal with /etc/iceway/iceway-signal.conf, then ARGS
#   all                both; ICEWAY_RELAY_ARGS and ICEWAY_SIGNAL_ARGS add options to each
#   check              the health check: a STUN Binding to the relay, GET /healthz on signaling
#   anything else      run as a command (e.g. "bash")
#
# Environment (all optional):
#   ICEWAY_SECRET, ICEWAY_SECRET_FILE   TURN REST shared secret, shared by both processes
#   ICEWAY_REALM, ICEWAY_EXTERNAL_IP    relay realm and the public address it advertises
#   ICEWAY_TURN_URI, ICEWAY_STUN_URI    what signaling hands browsers in iceServers (lists
#                                       separated by spaces)
#   ICEWAY_RELAY_CONF, ICEWAY_SIGNAL_CONF   base config files (defaults under /etc/iceway)
#   ICEWAY_RELAY_UNSET, ICEWAY_SIGNAL_UNSET option names to remove from the base config, so
#                                       that the binary's default applies (the image's
#                                       configs are for localhost: "listening-ip relay-ip
#                                       allow-loopback-peers" makes the relay public)
#   ICEWAY_RUNDIR                       writable directory for the effective configs (/tmp/iceway)
#   ICEWAY_BINDIR, ICEWAY_WEB_ROOT      where the binaries and web assets are (image paths)
#
# An option set by the environment or given on the command line replaces the base config's
# lines for it, repeatable ones (listen, listening-ip, turn-uri) included. The secret goes into
# a private copy of the config file rather than onto the command line, so that it never shows
# in /proc/PID/cmdline or `ps` on the host. Without a secret, `all` makes a random one; `relay`
# and `signal` refuse to start with the demo secret of the default configs.
set -euo pipefail

bindir=${ICEWAY_BINDIR:-/usr/local/bin}
relay_bin=$bindir/iceway-relay
signal_bin=$bindir/iceway-signal
relay_conf=${ICEWAY_RELAY_CONF:-/etc/iceway/iceway-relay.conf}
signal_conf=${ICEWAY_SIGNAL_CONF:-/etc/iceway/iceway-signal.conf}
web_root=${ICEWAY_WEB_ROOT:-/usr/share/iceway/web}
rundir=${ICEWAY_RUNDIR:-/tmp/iceway}

say() { echo "iceway-entrypoint: $*" >&2; }

# The last value of KEY in a config file ("key=value", "key value", optional "--").
conf_get() {
	local file=$1 key=$2
	[ -r "$file" ] || return 0
	sed -n -E "s/^[[:space:]]*(--)?${key}[[:space:]]*(=|[[:space:]])[[:space:]]*\"?([^\"#[:space:]]*)\"?.*/\\3/p" \
		"$file" | tail -n 1
}

# The last value of an option on a command line: "--key V", "--key=V" or "-s V".
arg_get() {
	local key=$1 short=$2 val="" a
	shift 2
	while [ $# -gt 0 ]; do
		a=$1
		shift
		case $a in
		--"$key"=*) val=${a#*=} ;;
		--"$key" | -"$short")
			if [ $# -gt 0 ]; then
				val=$1
				shift
			fi
			;;
		esac
	done
	printf '%s' "$val"
}

secret() {
	if [ -n "${ICEWAY_SECRET_FILE:-}" ]; then
		[ -r "$ICEWAY_SECRET_FILE" ] || { say "cannot read ICEWAY_SECRET_FILE $ICEWAY_SECRET_FILE"; exit 1; }
		tr -d '\r\n' <"$ICEWAY_SECRET_FILE"
	else
		printf '%s' "${ICEWAY_SECRET:-}"
	fi
}

# The long names of the options on a command line; MAP turns short ones into long ones
# ("p=listening-port L=listening-ip").
opt_names() {
	local map=$1 a m
	shift
	for a in "$@"; do
		case $a in
		--?*=*) a=${a%%=*}; echo "${a#--}" ;;
		--?*) echo "${a#--}" ;;
		-?)
			for m in $map; do
				if [ "${m%%=*}" = "${a#-}" ]; then echo "${m#*=}"; fi
			done
			;;
		esac
	done
}

relay_map="L=listening-ip p=listening-port E=relay-ip X=external-ip r=realm u=user
	a=lt-cred-mech f=fingerprint v=verbose l=log-file"
signal_map="L=listen"

# Write the effective config: the base file without the options given again (by the
# environment or on the command line: repeatable options such as listen or turn-uri would
# otherwise add to the defaults instead of replacing them), then the environment's settings.
#   write_conf BASE OUT "NAMES TO DROP" [name=value | flag]...
write_conf() {
	local base=$1 out=$2 drop=" $3 " kv
	shift 3
	for kv in "$@"; do
		if [ -n "${kv#*=}" ]; then drop+=" ${kv%%=*} "; fi
	done
	drop=$(printf '%s' "$drop" | tr '\n\t' '  ')
	(
		umask 077
		{
			if [ -r "$base" ]; then
				awk -v drop="$drop " '{ k = $0; sub(/^[ \t]*(--)?/, "", k); sub(/[ \t=].*/, "", k) }
					k != "" && index(drop, " " k " ") { next } { print }' "$base"
				echo
			fi
			echo "# from the container environment"
			for kv in "$@"; do
				if [ -n "${kv#*=}" ]; then printf '%s\n' "$kv"; fi
			done
		} >"$out.tmp"
		mv -f "$out.tmp" "$out"
	)
}

# Values of a space-separated variable as "name=value" lines.
each() {
	local name=$1 v
	shift
	for v in "$@"; do printf '%s=%s\n' "$name" "$v"; done
}

# prepare MODE: writes $rundir/relay.conf and $rundir/signal.conf from the base configs, the
# environment and the options in relay_args/signal_args.
prepare() {
	local mode=$1 sec auth=() turn=() stun=()
	mkdir -p "$rundir"
	chmod 700 "$rundir"
	sec=$(secret)
	if [ -z "$sec" ] && [ "$mode" = all ]; then
		# One container runs both: a random secret shared by the two processes is safe
		# and works. Separate containers must be given the same secret.
		sec=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
		say "no ICEWAY_SECRET given: using a random secret for this container"
	fi
	if [ -n "$sec" ]; then auth=("use-auth-secret" "static-auth-secret=$sec"); fi
	# shellcheck disable=SC2086 # space-separated lists
	mapfile -t turn < <(each turn-uri ${ICEWAY_TURN_URI:-})
	# shellcheck disable=SC2086
	mapfile -t stun < <(each stun-uri ${ICEWAY_STUN_URI:-})
	write_conf "$relay_conf" "$rundir/relay.conf" \
		"$(opt_names "$relay_map" "${relay_args[@]}") ${ICEWAY_RELAY_UNSET:-}" \
		"${auth[@]}" "realm=${ICEWAY_REALM:-}" "external-ip=${ICEWAY_EXTERNAL_IP:-}"
	write_conf "$signal_conf" "$rundir/signal.conf" \
		"$(opt_names "$signal_map" "${signal_args[@]}") ${ICEWAY_SIGNAL_UNSET:-}" \
		"static-auth-secret=$sec" "${turn[@]}" "${stun[@]}"
	# The default configs carry a published demo secret: never serve with it by accident.
	local f demo='^[[:space:]]*(--)?static-auth-secret.*iceway-demo-secret'
	for f in relay signal; do
		if [ "$mode" != all ] && [ "$mode" != "$f" ]; then continue; fi
		if grep -Eq "$demo" "$rundir/$f.conf"; then
			say "refusing the published demo secret in $f's config: set ICEWAY_SECRET (or ICEWAY_SECRET_FILE)"
			exit 1
		fi
	done
}

# Record where the health check finds each process (command line over config over default).
note_relay() {
	local port ip
	port=$(arg_get listening-port p "$@")
	[ -n "$port" ] || port=$(conf_get "$rundir/relay.conf" listening-port)
	ip=$(arg_get listening-ip L "$@")
	[ -n "$ip" ] || ip=$(conf_get "$rundir/relay.conf" listening-ip)
	printf 'relay=%s %s\n' "${ip:-127.0.0.1}" "${port:-3478}" >>"$rundir/health.tmp"
}

note_signal() {
	local listen
	listen=$(arg_get listen "" "$@")
	[ -n "$listen" ] || listen=$(conf_get "$rundir/signal.conf" listen)
	printf 'signal=%s\n' "${listen:-127.0.0.1:8080}" >>"$rundir/health.tmp"
}

publish_health() { mv -f "$rundir/health.tmp" "$rundir/health"; }

relay_cmd() { relay_argv=("$relay_bin" -c "$rundir/relay.conf" "$@"); }
signal_cmd() {
	signal_argv=("$signal_bin" -c "$rundir/signal.conf")
	[ -d "$web_root" ] && signal_argv+=(--web-root "$web_root")
	signal_argv+=("$@")
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
	local host port
	host=$(check_host "$1")
	port=$2
	case $host in *:*) host="[$host]" ;; esac
	"${ICEWAY_BINDIR:-/usr/local/bin}/iceway-relay" --check "$host:$port" >/dev/null 2>&1
}

check_signal() {
	local host port line
	host=$(check_host "${1%:*}")
	port=${1##*:}
	exec 4<>"/dev/tcp/$host/$port" || return 1
	printf 'GET /healthz HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$host" "$port" >&4
	IFS= read -r -t 3 line <&4 || return 1
	exec 4<&-
	case $line in
	"HTTP/1."?" 200"*) return 0 ;;
	esac
	return 1
}

health() {
	local f=$rundir/health key val ok=1
	[ -r "$f" ] || { echo "not started"; return 1; }
	while IFS='=' read -r key val; do
		case $key in
		relay)
			# shellcheck disable=SC2086 # "HOST PORT"
			if timeout 4 bash -c "$(declare -f check_host check_relay); check_relay $val"; then
				echo "relay $val: ok"
			else
				echo "relay $val: no STUN answer"
				ok=0
			fi
			;;
		signal)
			if timeout 4 bash -c "$(declare -f check_host check_signal); check_signal '$val'"; then
				echo "signal $val: ok"
			else
				echo "signal $val: /healthz failed"
				ok=0
			fi
			;;
		esac
	done <"$f"
	[ "$ok" = 1 ]
}

# Both processes in one container: forward SIGTERM/SIGINT/SIGHUP, and stop when either exits so
# that the container's restart policy takes over.
run_all() {
	local pids=() rc=0
	rm -f "$rundir/health.tmp"
	note_relay "${relay_args[@]}"
	note_signal "${signal_args[@]}"
	publish_health
	relay_cmd "${relay_args[@]}"
	signal_cmd "${signal_args[@]}"
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
case $cmd in
relay)
	relay_args=("$@")
	signal_args=()
	prepare relay
	rm -f "$rundir/health.tmp"
	note_relay "$@"
	publish_health
	relay_cmd "$@"
	exec "${relay_argv[@]}"
	;;
signal)
	relay_args=()
	signal_args=("$@")
	prepare signal
	rm -f "$rundir/health.tmp"
	note_signal "$@"
	publish_health
	signal_cmd "$@"
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
check)
	health
	;;
-*)
	say "options go after a command: relay|signal|all ARGS (got '$cmd')"
	exit 2
	;;
*)
	exec "$cmd" "$@"
	;;
esac
