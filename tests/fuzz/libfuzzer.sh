#!/usr/bin/env bash
# Build one harness with clang's libFuzzer + ASan + UBSan into a temp dir and run it for a
# bounded number of inputs (and at most 60 s). Fails on any crash, leak or invariant abort.
# Exits 77 (skipped) when clang or libFuzzer is not installed.
# usage: libfuzzer.sh HARNESS SRC_DIR      e.g. libfuzzer.sh stun /work/iceway
# With IW_FUZZ_OUT=DIR it only builds DIR/fuzz_HARNESS (tools/fuzz.sh runs the harnesses).
set -euo pipefail
name=${1:?harness name}
src=${2:-${IW_SRC:?source dir}}
runs=${IW_FUZZ_RUNS:-200000}
max_time=${IW_FUZZ_MAX_TIME:-60}

cc=""
for c in clang-14 clang; do
	if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
done
if [ -z "$cc" ]; then
	echo "libfuzzer: clang not installed, skipping"
	exit 77
fi

tmp=$(mktemp -d -t iw-libfuzzer-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
bin=${IW_FUZZ_OUT:-$tmp}/fuzz_$name

# libFuzzer itself may be missing (Debian: libclang-rt-14-dev).
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
	>"$tmp/probe.c"
if ! "$cc" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" 2>/dev/null; then
	echo "libfuzzer: $cc has no libFuzzer runtime, skipping"
	exit 77
fi

# The sources each harness needs beyond common/.
extra=() libs=() defs=()
case "$name" in
sigmsg)
	extra=("$src/signaling/msg.c" "$src/signaling/hub.c" "$src/signaling/room.c"
		"$src/signaling/ice_servers.c" "$src/signaling/relays.c" "$src/common/log.c")
	libs=(-ljansson -lpthread)
	;;
proxy)
	extra=("$src/common/proxy.c" "$src/common/addr.c")
	;;
admin)
	extra=("$src/signaling/admin.c" "$src/signaling/msg.c" "$src/signaling/hub.c"
		"$src/signaling/room.c" "$src/signaling/ice_servers.c" "$src/signaling/relays.c"
		"$src/common/log.c" "$src/common/config.c" "$src/common/addr.c" "$src/common/version.c")
	libs=(-ljansson -lpthread)
	defs=(-DIW_VERSION='"fuzz"')
	;;
http)
	extra=("$src/common/http.c")
	;;
esac

"$cc" -g -O1 -std=c11 -D_GNU_SOURCE -I"$src" \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Wall -Wextra -Werror "${defs[@]}" \
	"$src/tests/fuzz/fuzz_$name.c" "$src/common/stun.c" "$src/common/stun_auth.c" \
	"$src/common/cred.c" "${extra[@]}" \
	"${libs[@]}" -lmbedcrypto -o "$bin"
[ -z "${IW_FUZZ_OUT:-}" ] || exit 0

# New inputs go to the temp corpus (first directory); the checked-in seeds are only read.
mkdir -p "$tmp/corpus"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
"$bin" -runs="$runs" -max_total_time="$max_time" -max_len=2048 \
	-artifact_prefix="$tmp/" -print_final_stats=1 \
	"$tmp/corpus" "$src/tests/fuzz/corpus/$name" 2>"$tmp/log" || status=$?
tail -n 25 "$tmp/log"
if [ "$status" -ne 0 ]; then
	for a in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/oom-* "$tmp"/timeout-*; do
		[ -e "$a" ] || continue
		echo "libfuzzer: failing input $(basename "$a"):"
		od -A x -t x1z "$a" | head -n 40
	done
	echo "libfuzzer: fuzz_$name failed (exit $status)"
	exit 1
fi
echo "libfuzzer: fuzz_$name ok"
