#!/usr/bin/env bash
# The include rules of the tree, checked from the #include lines alone:
#  - in turn/, a file includes only its own layer or the layers below it (the table below);
#  - nowhere (common/, turn/, signaling/, tools/) do modules include each other in a circle,
#    a module being a .c file with its .h.
# Prints each offending file:line or circle and exits 1; silent and 0 when the tree keeps them.
#   tools/check-layers.sh [TOP]
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"

python3 - <<'EOF'
import os, re, sys

# turn/ from the bottom up; a header is in its .c file's layer. common/ is below them all.
LAYERS = [
    ("common", ["common/*"]),
    ("tables", ["turn/alloc", "turn/ports", "turn/quota", "turn/auth", "turn/policy",
                "turn/revoked", "turn/conf.h", "turn/limit", "turn/realm"]),
    ("control", ["turn/control", "turn/acct", "turn/worker.h", "turn/mailbox", "turn/mobility",
                 "turn/wakeup"]),
    ("packet path", ["turn/relay"]),
    ("streams", ["turn/stream", "turn/tls", "turn/tcprelay"]),
    ("process", ["turn/main", "turn/conf.c", "turn/ops", "turn/metrics", "turn/check",
                 "turn/admin", "turn/admin_cli", "turn/userdb"]),
]

def layer_of(path):
    stem = path.rsplit(".", 1)[0]
    for i, (_, pats) in enumerate(LAYERS):
        for p in pats:
            if p == path or p == stem or (p.endswith("/*") and path.startswith(p[:-1])):
                return i
    return None

inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
files = []
for d in ("common", "turn", "signaling", "tools"):
    for root, _, names in os.walk(d):
        files += [os.path.join(root, n) for n in names if n.endswith((".c", ".h"))]
files.sort()

bad = 0
for f in files:
    if f.startswith("turn/") and layer_of(f) is None:
        print(f"{f}: not in any layer (add it to tools/check-layers.sh)")
        bad = 1
edges = {}  # module -> {module: "file:line" of the first include that makes the edge}
for f in files:
    mod = f.rsplit(".", 1)[0]
    with open(f, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            m = inc.match(line)
            if not m or not os.path.exists(m.group(1)):
                continue
            to = m.group(1)
            if f.startswith("turn/"):
                lf, lt = layer_of(f), layer_of(to)
                if lf is None:
                    pass
                elif lt is None:
                    print(f"{f}:{n}: includes {to}, which is in no layer")
                    bad = 1
                elif lt > lf:
                    print(f"{f}:{n}: {LAYERS[lf][0]} layer includes {to} ({LAYERS[lt][0]} layer)")
                    bad = 1
            tm = to.rsplit(".", 1)[0]
            if tm != mod:
                edges.setdefault(mod, {}).setdefault(tm, f"{f}:{n}")

# Circles: a depth-first walk; a back edge closes one, reported with the include of each step.
WHITE, GREY, BLACK = 0, 1, 2
state, stack, seen = {}, [], set()

def walk(u):
    global bad
    state[u] = GREY
    stack.append(u)
    for v, where in sorted(edges.get(u, {}).items()):
        if state.get(v, WHITE) == GREY:
            cyc = stack[stack.index(v):] + [v]
            key = frozenset(cyc)
            if key not in seen:
                seen.add(key)
                steps = ", ".join(f"{a} -> {b} ({edges[a][b]})" for a, b in zip(cyc, cyc[1:]))
                print(f"include circle: {steps}")
                bad = 1
        elif state.get(v, WHITE) == WHITE:
            walk(v)
    stack.pop()
    state[u] = BLACK

sys.setrecursionlimit(10000)
for u in sorted(edges):
    if state.get(u, WHITE) == WHITE:
        walk(u)
sys.exit(bad)
EOF
