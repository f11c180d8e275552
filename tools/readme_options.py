#!/usr/bin/env python3
"""Write the README's option tables from the binaries' own tables (`--help=markdown`), so the
names, defaults and environment variables there are the ones the code applies.

    tools/readme_options.py [--check] [BUILD_DIR]

Each table sits between `<!-- options: BINARY -->` and `<!-- /options -->`. With --check,
nothing is written and the status is 1 when the README differs (tests/integration runs this).
"""
import difflib
import os
import re
import subprocess
import sys

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARIES = {
    "iceway-relay": "turn/iceway-relay",
    "iceway-signal": "signaling/iceway-signal",
    "iceway-probe": "tools/probe/iceway-probe",
}
BLOCK = re.compile(r"(<!-- options: ([a-z-]+) -->\n)(.*?)(<!-- /options -->)", re.S)


def table(build, name):
    exe = os.path.join(build, BINARIES[name])
    r = subprocess.run([exe, "--help=markdown"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit("%s --help=markdown failed: %s" % (exe, r.stderr))
    return r.stdout


def main(argv):
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    build = rest[0] if rest else os.environ.get("IW_BUILD", os.path.join(SRC, "build"))
    path = os.path.join(SRC, "README.md")
    with open(path) as f:
        old = f.read()
    seen = []

    def fill(m):
        seen.append(m.group(2))
        return m.group(1) + table(build, m.group(2)) + m.group(4)

    new = BLOCK.sub(fill, old)
    missing = sorted(set(BINARIES) - set(seen))
    if missing:
        print("README.md has no option table for %s" % ", ".join(missing))
        return 1
    if new == old:
        return 0
    if check:
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                   "README.md", "generated"))
        print("README.md's option tables differ from the binaries: run tools/readme_options.py")
        return 1
    with open(path, "w") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
