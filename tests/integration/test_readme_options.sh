#!/bin/bash
# README.md's option tables are what the binaries print with --help=markdown: a renamed option,
# a new one or a changed default fails here until tools/readme_options.py rewrites the README.
set -euo pipefail
src=${IW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${IW_BUILD:-$src/build}
python3 "$src/tools/readme_options.py" --check "$build"
echo "ok   README.md's option tables match iceway-relay, iceway-signal and iceway-probe --help=markdown"
