#!/usr/bin/env bash
# Long fuzzing runs, outside CI. Builds every libFuzzer harness of tests/fuzz/ with clang under
# ASan and UBSan (tests/fuzz/libfuzzer.sh), runs each for RUNS executions, as many at once as
# there are cores, and prints per harness: executions, time, executions per second, new corpus
# entries and crashes (crash, leak, out-of-memory and timeout inputs).
#
#   tools/fuzz.sh [-n RUNS] [-j JOBS] [-o DIR] [HARNESS...]
#
# RUNS: executions per harness (default 10000000). JOBS: harnesses at once (default: cores).
# DIR (default build-fuzz) keeps the binaries, a corpus per harness that grows run after run
# (the checked-in seeds in tests/fuzz/corpus are only read), each run's log and any failing
# input. HARNESS: stun, chandata, framer, ... (default: every tests/fuzz/fuzz_*.c).
# Exits 1 when a harness failed, 0 otherwise.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${IW_FUZZ_RUNS:-10000000}
jobs=$(nproc)
dir=$top/build-fuzz
while getopts "n:j:o:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	o) dir=$OPTARG ;;
	*)
		sed -n '2,13s/^# \{0,1\}//p' "$0"
		exit 2
		;;
	esac
done
shift $((OPTIND - 1))
case $runs$jobs in *[!0-9]*) echo "fuzz: -n and -j take numbers" >&2 && exit 2 ;; esac
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		n=${f##*/fuzz_}
		names+=("${n%.c}")
	done
fi
mkdir -p "$dir/bin" "$dir/log"
dir=$(cd "$dir" && pwd)

# Build (one clang call per harness; skipped with a reason when clang or libFuzzer is missing).
for n in "${names[@]}"; do
	[ -f "$top/tests/fuzz/fuzz_$n.c" ] || { echo "fuzz: no harness tests/fuzz/fuzz_$n.c" >&2 && exit 2; }
	rc=0
	IW_FUZZ_OUT=$dir/bin bash "$top/tests/fuzz/libfuzzer.sh" "$n" "$top" || rc=$?
	[ "$rc" -eq 77 ] && exit 77
	[ "$rc" -eq 0 ] || { echo "fuzz: building fuzz_$n failed" >&2 && exit 1; }
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# One harness: its own corpus and artifact directories, the result in log/NAME.result.
run_one() {
	local n=$1 corpus=$dir/corpus/$1 art=$dir/artifacts/$1
	mkdir -p "$corpus" "$art"
	rm -f "$art"/* "$dir/log/$n.result"
	local t0 t1 status=0
	t0=$(date +%s.%N)
	"$dir/bin/fuzz_$n" -runs="$runs" -max_len=2048 -timeout=10 -artifact_prefix="$art/" \
		-print_final_stats=1 "$corpus" "$top/tests/fuzz/corpus/$n" >"$dir/log/$n.log" 2>&1 || status=$?
	t1=$(date +%s.%N)
	echo "$status $t0 $t1" >"$dir/log/$n.result"
}

echo "fuzz: ${#names[@]} harnesses x $runs executions, $jobs at once, in $dir"
for n in "${names[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
	echo "fuzz: fuzz_$n started"
	run_one "$n" &
done
wait

# stat::number_of_executed_units and stat::new_units_added from -print_final_stats (printed on
# a crash too); the last "#N" status line when a run died before printing them.
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }
group() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
failed=0
printf '\n%-10s %14s %9s %10s %11s %8s\n' harness executions time exec/s new-corpus crashes
for n in "${names[@]}"; do
	read -r status t0 t1 <"$dir/log/$n.result"
	log=$dir/log/$n.log
	execs=$(stat number_of_executed_units "$log")
	[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
	added=$(stat new_units_added "$log")
	crashes=$(find "$dir/artifacts/$n" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' \
		-o -name 'timeout-*' \) | wc -l)
	secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
	rate=$(awk "BEGIN { printf \"%d\", ${execs:-0} / ($t1 - $t0) }")
	printf '%-10s %14s %8ss %10s %11s %8s\n' "$n" "$(group "${execs:-0}")" "$secs" "$(group "$rate")" \
		"${added:-?}" "$crashes"
	if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		failed=1
		echo "  fuzz_$n: exit $status; log $log; inputs in $dir/artifacts/$n/" >&2
	fi
done
exit $failed
