#!/usr/bin/env bash
# Installs everything the tests need, builds iceway twice (a -Werror build and an
# ASan/UBSan build) and runs every test (unit, integration, fuzz replay, end to end) on both,
# then builds iceway-relay under ThreadSanitizer and runs the tsan-labelled test there.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash tools/install-deps.sh test

# Tests on explicitly: `build` may have been configured by tools/run.sh without them.
bash tools/build.sh build -DIW_TESTS=ON -DIW_WITH_BENCH=ON
bash tools/build.sh build-asan -DIW_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
# ThreadSanitizer: iceway-relay alone, for the reload-under-load test (label tsan).
cmake -S "$top" -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DIW_SANITIZE=thread -DIW_WITH_SIGNAL=OFF \
	-DIW_WITH_PROBE=OFF -DIW_WITH_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)" --target iceway-relay

# Formatting is not a review topic: every C file matches .clang-format. One clang-format for all
# files (it checks each and names each one that differs; a process per file took 20 s).
if ! fmt=$(git ls-files -z '*.c' '*.h' | xargs -0 -r clang-format --dry-run --Werror 2>&1 >/dev/null); then
	echo "format: these files differ from .clang-format (run clang-format -i on them):" >&2
	files=$(sed -n 's/^\([^: ]*\):[0-9]*:[0-9]*: error: .*/\1/p' <<<"$fmt" | sort -u)
	echo "${files:-$fmt}" >&2
	exit 1
fi

# The process boundary: neither process includes the other's code.
if grep -rn '#include "turn/' signaling/ common/ || grep -rn '#include "signaling/' turn/ common/; then
	echo "layout: a module includes code from the other process" >&2
	exit 1
fi
# The layers of turn/ (each file includes only its own layer or those below) and no include
# circle anywhere.
bash tools/check-layers.sh || {
	echo "layout: an include breaks the layers (tools/check-layers.sh)" >&2
	exit 1
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
echo "== tests: release build"
ctest --test-dir build --output-on-failure -j2 || status=1
echo "== tests: address,undefined sanitizer build"
ctest --test-dir build-asan --output-on-failure -j2 -LE no-asan || status=1
echo "== tests: thread sanitizer build (SIGHUP under load)"
ctest --test-dir build-tsan --output-on-failure -L tsan || status=1
exit $status
