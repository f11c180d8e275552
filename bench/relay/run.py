#!/usr/bin/env python3
"""Relay benchmark: the same load against iceway-relay, coturn and a null forwarder, in one run.

Prints a table and the ratios iceway/coturn and iceway/null, and (unless --smoke) writes
bench/RESULTS.md. The relay is pinned to core 0 and the load generator to core 1 (taskset).
CPU per relayed datagram = server utime+stime over the run / (2 x echoed datagrams): each echo
is one client->peer and one peer->client forward.
"""
import argparse, atexit, json, os, platform, shutil, signal, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")
USER, PASS, REALM = "bench", "bench-pass", "bench"


sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import ports  # noqa: E402  (every port a server binds: drawn and held so parallel runs never meet)


def free_port(kind=socket.SOCK_DGRAM):
    return ports.reserve(1, ("udp",) if kind == socket.SOCK_DGRAM else ("tcp",))


def free_port_udp_tcp():
    """A port free for both UDP and TCP on 127.0.0.1 (a relay listens on both)."""
    return ports.reserve(1, ("udp", "tcp"))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def user_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[11])


# Every rate limit on, high enough never to bind (README "Bandwidth and packet limits").
LIMITS = ["--max-bps", "1000000000", "--max-pps", "10000000", "--user-max-bps", "10000000000",
          "--max-new-peers-per-sec", "100000", "--bps-capacity", "100000000000"]


def limits_rows(args):
    """The same binary with every rate limit off and on, alternating run by run at each rate
    (the machine's load moves between runs more than the limits cost), one relay thread:
    median CPU per relayed datagram, all of it and the relay's own (user) time, and the ratio."""
    import statistics
    iceway = dict(servers(args, 1)).get("iceway")
    if iceway is None:
        sys.exit("bench: no iceway-relay to measure")
    rates = [int(r) for r in args.rates.split(",")]
    res = {}
    for rate in rates:
        for rep in range(args.repeat):
            for name, extra in (("off", []), ("on", LIMITS)):
                port = free_port()
                srv = iceway(port, "0", extra)
                try:
                    t0, u0 = cpu_ticks(srv.proc.pid), user_ticks(srv.proc.pid)
                    r = loadgen(args, port, rate, args.duration, args.flows, ["--user", USER, "--pass", PASS])
                    t1, u1 = cpu_ticks(srv.proc.pid), user_ticks(srv.proc.pid)
                finally:
                    srv.stop()
                fw = 2 * r.get("received", 0)
                row = res.setdefault((rate, name), {"all": [], "user": [], "loss": []})
                if fw:
                    row["all"].append((t1 - t0) / CLK_TCK * 1e9 / fw)
                    row["user"].append((u1 - u0) / CLK_TCK * 1e9 / fw)
                row["loss"].append(r.get("loss_pct", 100))
                print(f"limits {name:3} rate {rate:>7} run {rep + 1}: loss {r.get('loss_pct', 'n/a')}% "
                      f"cpu/dgram {fmt(row['all'][-1] if fw else None)} ns "
                      f"(user {fmt(row['user'][-1] if fw else None)} ns)", flush=True)
    lines = ["| rate | limits | runs | max loss % | ns/dgram (median) | user ns/dgram (median) |",
             "|---|---|---|---|---|---|"]
    ratios = []
    for rate in rates:
        med = {}
        for name in ("off", "on"):
            row = res[(rate, name)]
            med[name] = (statistics.median(row["all"]) if row["all"] else None,
                         statistics.median(row["user"]) if row["user"] else None)
            lines.append(f"| {rate} | {name} | {len(row['all'])} | {fmt(max(row['loss']), '{:.2f}')} | "
                         f"{fmt(med[name][0])} | {fmt(med[name][1])} |")
        if med["off"][0] and med["on"][0]:
            user = (f", user time {med['on'][1] / med['off'][1]:.3f}"
                    if med["off"][1] and med["on"][1] else "")
            ratios.append(f"- @{rate // 1000}k: CPU per datagram, limits on / off: "
                          f"{med['on'][0] / med['off'][0]:.3f}{user}")
    print("\n".join([""] + lines + [""] + ratios))
    return 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stun_ready(port, deadline=15.0):
    """Wait until something answers a STUN Binding on 127.0.0.1:port."""
    req = bytes.fromhex("000100002112a442") + os.urandom(12)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    end = time.time() + deadline
    try:
        while time.time() < end:
            s.sendto(req, ("127.0.0.1", port))
            try:
                s.recvfrom(2048)
                return True
            except socket.timeout:
                pass
        return False
    finally:
        s.close()


class Server:
    def __init__(self, name, argv, port, ready="stun", cores="0"):
        self.name, self.port = name, port
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        pin = ["taskset", "-c", cores] if cores else []
        self.proc = subprocess.Popen(pin + argv, stdout=self.log, stderr=subprocess.STDOUT)
        ok = stun_ready(port) if ready == "stun" else self._wait_line(ready)
        if not ok or self.proc.poll() is not None:
            with open(self.log.name, errors="replace") as f:
                tail = f.read()[-1500:]
            self.stop()
            raise RuntimeError(f"{name} did not start; its log ends:\n{tail}")

    def _wait_line(self, text, deadline=10.0):
        end = time.time() + deadline
        while time.time() < end:
            with open(self.log.name) as f:
                if text in f.read():
                    return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.log.name)


def servers(args, threads):
    """(name, factory) for each relay under test, same options where they share names."""
    lo, hi = args.relay_ports
    common = ["--listening-ip", "127.0.0.1", "--min-port", str(lo), "--max-port", str(hi),
              "--realm", REALM, "--lt-cred-mech", "--user", f"{USER}:{PASS}", "--allow-loopback-peers"]
    out = []

    def iceway_at(binary, name):
        def iceway(port, cores, extra=()):
            # coturn's uclient binds channels in the RFC 5766 range (up to 0x7FFF), which
            # RFC 8656 reserves; coturn accepts them, iceway only when told to
            argv = [binary, "-n", "--listening-port", str(port), "--allow-rfc5766-channels"] + common
            argv += list(extra)
            argv += ["--relay-threads", str(threads)]  # the default is one per CPU
            return Server(name, argv, port, cores=cores)
        return iceway
    if os.path.exists(args.relay):
        out.append(("iceway", iceway_at(args.relay, "iceway")))
    if args.base_relay:
        # the same relay built from another commit: before/after figures from one run
        out.append(("base", iceway_at(args.base_relay, "base")))
    if shutil.which("turnserver"):
        def coturn(port, cores, extra=()):
            tls = [] if "--cert" in extra else ["--no-tls"]
            # every port coturn binds is named: no DTLS, no RFC 5780 alternate port, TLS only
            # on the port the caller passes with its certificate
            argv = ["turnserver", "-n", "--no-cli", "--no-dtls", "--no-rfc5780", "--log-file", "stdout",
                    "--listening-port", str(port), "--relay-threads", str(threads),
                    "--total-quota", "0", "--user-quota", "0"] + tls + common + list(extra)
            return Server("coturn", argv, port, cores=cores)
        out.append(("coturn", coturn))
    if os.path.exists(args.nullfwd):
        out.append(("null", None))  # started by measure_null with its own echo peer
    return out


def loadgen(args, port, rate, duration, flows, extra=(), cores="1"):
    pin = ["taskset", "-c", cores] if cores else []
    argv = pin + [args.loadgen, "--server", f"127.0.0.1:{port}", "--flows", str(flows), "--rate",
                  str(rate), "--duration", str(duration), "--size", str(args.size)] + list(extra)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
    res = json.loads(line)
    res["exit"] = r.returncode
    if r.returncode != 0:
        res["stderr"] = r.stderr[-500:]
    return res


def measure_rate(args, name, factory, rate, cores_srv, cores_gen):
    """One run at one offered rate: loss, latency, server CPU per relayed datagram."""
    if name == "null":
        return measure_null(args, rate, cores_srv, cores_gen)
    port = free_port()
    srv = factory(port, cores_srv)
    try:
        before = cpu_ticks(srv.proc.pid)
        res = loadgen(args, port, rate, args.duration, args.flows, ["--user", USER, "--pass", PASS],
                      cores=cores_gen)
        after = cpu_ticks(srv.proc.pid)
    finally:
        srv.stop()
    res["cpu_s"] = (after - before) / CLK_TCK
    fw = 2 * res.get("received", 0)
    res["cpu_ns_per_dgram"] = res["cpu_s"] * 1e9 / fw if fw else float("nan")
    return res


def measure_null(args, rate, cores_srv, cores_gen):
    # nullfwd forwards to a fixed echo address, so the echo peer runs as its own process
    # (the same batched echo loop the load generator uses for TURN runs).
    port = free_port()
    echo_port = free_port()
    echo = subprocess.Popen(["taskset", "-c", cores_gen, args.loadgen, "--echo-only", f"127.0.0.1:{echo_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = Server("null", ["taskset", "-c", cores_srv, args.nullfwd, f"127.0.0.1:{port}",
                          f"127.0.0.1:{echo_port}", str(args.flows)], port, ready="ready", cores=None)
    try:
        before = cpu_ticks(srv.proc.pid)
        res = loadgen(args, port, rate, args.duration, args.flows, ["--null"], cores=cores_gen)
        after = cpu_ticks(srv.proc.pid)
    finally:
        srv.stop()
        echo.terminate()
        echo.wait()
    res["cpu_s"] = (after - before) / CLK_TCK
    fw = 2 * res.get("received", 0)
    res["cpu_ns_per_dgram"] = res["cpu_s"] * 1e9 / fw if fw else float("nan")
    return res


def measure_setup_and_memory(args, name, factory, n):
    """Allocation setup rate and resident memory per allocation with n allocations held."""
    if name == "null":
        return None
    port = free_port()
    srv = factory(port, "0")
    try:
        rss0 = rss_kib(srv.proc.pid)
        gen = subprocess.Popen(["taskset", "-c", "1", args.loadgen, "--server", f"127.0.0.1:{port}",
                                "--flows", str(n), "--hold", "--user", USER, "--pass", PASS,
                                # clients on 127.0.1.1-64: their ephemeral ports stay out of
                                # the relay's port range on 127.0.0.1, and iceway's per-source
                                # limit on 401 challenges sees 64 sources, not one flood
                                "--bind", "127.0.1.1"],
                               stdout=subprocess.PIPE, text=True)
        line = gen.stdout.readline()
        res = json.loads(line) if line.strip() else {"ready": 0, "setup_s": 0}
        time.sleep(0.5)
        rss1 = rss_kib(srv.proc.pid)
        gen.send_signal(signal.SIGTERM)
        gen.wait(30)
    finally:
        srv.stop()
    ready = res.get("ready", 0)
    return {"allocs": ready, "allocs_per_s": ready / res["setup_s"] if res.get("setup_s") else 0,
            "rss_kib_per_alloc": (rss1 - rss0) / ready if ready else float("nan"),
            "rss_before_kib": rss0, "rss_after_kib": rss1}


def uclient_standard(args, name, factory, transport="udp"):
    """coturn's own load generator at its standard load, as a load nobody here wrote: over UDP,
    and with -t (TCP) and -t -S (TLS) for the stream transports, the relayed leg staying UDP."""
    if name == "null" or not shutil.which("turnutils_uclient"):
        return None
    port, peer_port, tls_port = free_port_udp_tcp(), free_port(), free_port(socket.SOCK_STREAM)
    peer = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(peer_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    extra, flags, target = [], [], port
    if transport == "tls":
        extra = ["--cert", args.cert, "--pkey", args.key, "--tls-listening-port", str(tls_port)]
        flags, target = ["-t", "-S"], tls_port
    elif transport == "tcp":
        flags = ["-t"]
    try:
        srv = factory(port, "0", extra)
    except Exception:
        peer.terminate()  # a relay that did not start must not leave the echo peer behind
        peer.wait()
        raise
    env = dict(os.environ)
    if os.path.exists(args.rcvbuf):
        env["LD_PRELOAD"] = args.rcvbuf  # uclient's own buffers, the same for every relay
    try:
        before = cpu_ticks(srv.proc.pid)
        m, n = args.uclient_load
        r = subprocess.run(["taskset", "-c", "1", "turnutils_uclient", "-m", str(m), "-n", str(n), "-l", "120",
                            "-z", "0"] + flags + ["-e", "127.0.0.1", "-r", str(peer_port), "-u", USER, "-w", PASS,
                            "-p", str(target), "127.0.0.1"], capture_output=True, text=True, timeout=300, env=env)
        after = cpu_ticks(srv.proc.pid)
    finally:
        srv.stop()
        peer.terminate()
        peer.wait()
    loss = None
    for line in r.stdout.splitlines() + r.stderr.splitlines():
        if "Total lost packets" in line:
            # "... Total lost packets 0 (0.000000%), ..."
            try:
                loss = float(line.split("(")[1].split("%")[0])
            except (IndexError, ValueError):
                pass
    sent = m * n
    return {"loss_pct": loss, "cpu_s": (after - before) / CLK_TCK,
            "cpu_ns_per_dgram": (after - before) / CLK_TCK * 1e9 / (2 * sent)}


def stream_rows(args):
    """Only the uclient rows over TCP and TLS, iceway against coturn, one relay thread each."""
    res = {}
    for name, factory in servers(args, 1):
        if name == "null" or (args.only and name not in args.only.split(",")):
            continue
        for transport in ("tcp", "tls"):
            r = res[(name, transport)] = uclient_standard(args, name, factory, transport)
            print(f"{name:7} uclient {transport}: loss {fmt((r or {}).get('loss_pct'), '{:.2f}')} % "
                  f"cpu {fmt((r or {}).get('cpu_s'), '{:.2f}')} s "
                  f"ns/dgram {fmt((r or {}).get('cpu_ns_per_dgram'))}", flush=True)
    for transport in ("tcp", "tls"):
        a, b = res.get(("iceway", transport)) or {}, res.get(("coturn", transport)) or {}
        if a.get("cpu_ns_per_dgram") and b.get("cpu_ns_per_dgram"):
            print(f"- uclient m{args.uclient_load[0]} n{args.uclient_load[1]} over {transport.upper()}, "
                  f"relay CPU per datagram iceway / coturn: {a['cpu_ns_per_dgram'] / b['cpu_ns_per_dgram']:.2f}")
    ok = [r for r in res.values() if r and r.get("loss_pct") is not None]
    return 0 if ok and len(ok) == len(res) else 1


def fmt(v, spec="{:.0f}"):
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    return spec.format(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--smoke", action="store_true", help="seconds, small counts, no file written")
    ap.add_argument("--rates", default="40000,80000,120000,150000,180000,220000")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--flows", type=int, default=50)
    ap.add_argument("--size", type=int, default=120)
    ap.add_argument("--mem-allocs", type=int, default=10000)
    ap.add_argument("--only", default="", help="comma list of iceway,coturn,null,base")
    ap.add_argument("--rows", default="all", choices=("all", "stream", "limits"),
                    help="stream: only the uclient TCP and TLS rows (no rates, no file written); "
                         "limits: iceway with every rate limit off and on, alternating, at each "
                         "rate (no file written)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per rate and side with --rows limits")
    ap.add_argument("--uclient-load", default="", metavar="MxN",
                    help="uclient clients x messages (default 50x1000, 5x50 with --smoke)")
    ap.add_argument("--relay", default="", help="iceway-relay binary (default: the build's)")
    ap.add_argument("--base-relay", default="",
                    help="another iceway-relay binary (e.g. built from the previous commit), "
                         "measured in the same run as row 'base', with ratios iceway / base")
    args = ap.parse_args()
    args.relay = args.relay or os.path.join(args.build, "turn", "iceway-relay")
    load = args.uclient_load or ("5x50" if args.smoke else "50x1000")
    args.uclient_load = tuple(int(v) for v in load.split("x"))
    args.loadgen = os.path.join(args.build, "bench", "relay", "iw_loadgen")
    args.nullfwd = os.path.join(args.build, "bench", "relay", "iw_nullfwd")
    args.rcvbuf = os.path.join(args.build, "tests", "integration", "libiw_rcvbuf.so")
    # a throwaway certificate for the TLS rows
    certdir = tempfile.mkdtemp(prefix="bench-tls-")
    atexit.register(shutil.rmtree, certdir, True)
    args.cert, args.key = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", args.key, "-out", args.cert], check=True,
                   capture_output=True)
    if args.smoke:
        args.rates, args.duration, args.flows, args.mem_allocs = "2000,5000", 1.0, 10, 200
    # the relays' port range: room for the held allocations and the loadgen's flows
    n_relay_ports = max(1000, args.mem_allocs + 2000)
    lo = ports.reserve(n_relay_ports, ("udp",))
    args.relay_ports = (lo, lo + n_relay_ports - 1)
    rates = [int(r) for r in args.rates.split(",")]
    if (not args.only or "iceway" in args.only) and not os.path.exists(args.relay):
        sys.exit(f"bench: {args.relay} is missing: build the tree first (tools/build.sh)")
    if args.rows == "stream":
        return stream_rows(args)
    if not os.path.exists(args.loadgen):
        sys.exit(f"bench: {args.loadgen} is missing: build the tree first (tools/build.sh)")
    if args.rows == "limits":
        return limits_rows(args)

    rows = {}
    for threads in ([1] if args.smoke else [1, 2]):
        for name, factory in servers(args, threads):
            if args.only and name not in args.only.split(","):
                continue
            if threads == 2 and name == "null":
                continue
            key = f"{name} x{threads}"
            row = rows[key] = {"rates": {}}
            cores_srv, cores_gen = ("0", "1") if threads == 1 else ("0,1", "0,1")
            for rate in rates:
                res = measure_rate(args, name, factory, rate, cores_srv, cores_gen)
                row["rates"][rate] = res
                print(f"{key:10} rate {rate:>7}: loss {res.get('loss_pct', 'n/a')}% cpu/dgram "
                      f"{fmt(res.get('cpu_ns_per_dgram'))} ns p99 {res.get('rtt_p99_us')} us", flush=True)
                if res.get("loss_pct", 100) > 5:
                    break  # far past the knee: higher rates say nothing new
            ok = [r for r, v in row["rates"].items() if v.get("loss_pct", 100) < 0.1 and v.get("exit") == 0]
            row["max_lossfree"] = max(ok) if ok else 0
            # the stricter reading: the highest rate up to which every step was clean
            row["clean_upto"] = 0
            for r in sorted(row["rates"]):
                if r not in ok:
                    break
                row["clean_upto"] = r
            if threads == 1:
                row["setup"] = measure_setup_and_memory(args, name, factory, args.mem_allocs)
                row["uclient"] = uclient_standard(args, name, factory)
                row["uclient_tcp"] = uclient_standard(args, name, factory, "tcp")
                row["uclient_tls"] = uclient_standard(args, name, factory, "tls")

    # table
    hdr = ["relay", "threads"] + [f"ns/dgram @{r//1000}k" for r in rates] + \
          ["max loss-free pps", "p99 us @first", "allocs/s", "KiB/alloc", "uclient loss %", "uclient ns/dgram",
           "uclient TCP loss %", "uclient TCP ns/dgram", "uclient TLS loss %", "uclient TLS ns/dgram"]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for key, row in rows.items():
        name, thr = key.split(" x")
        cells = [name, thr]
        for r in rates:
            cells.append(fmt(row["rates"].get(r, {}).get("cpu_ns_per_dgram")))
        first = row["rates"].get(rates[0], {})
        su, uc = row.get("setup") or {}, row.get("uclient") or {}
        cells += [str(row["max_lossfree"]), fmt(first.get("rtt_p99_us")), fmt(su.get("allocs_per_s")),
                  fmt(su.get("rss_kib_per_alloc"), "{:.2f}"), fmt(uc.get("loss_pct"), "{:.2f}"),
                  fmt(uc.get("cpu_ns_per_dgram"))]
        for key2 in ("uclient_tcp", "uclient_tls"):
            u = row.get(key2) or {}
            cells += [fmt(u.get("loss_pct"), "{:.2f}"), fmt(u.get("cpu_ns_per_dgram"))]
        lines.append("| " + " | ".join(cells) + " |")

    def ratio(a, b, metric):
        ra, rb = rows.get(a), rows.get(b)
        if not ra or not rb:
            return []
        out = []
        for r in rates:
            va = ra["rates"].get(r, {}).get(metric)
            vb = rb["rates"].get(r, {}).get(metric)
            if va and vb and va == va and vb == vb:
                out.append(f"@{r//1000}k {va / vb:.2f}")
        return out

    ratios = []
    for other in ("base x1", "base x2", "coturn x1", "null x1"):
        rr = ratio("iceway x" + other[-1], other, "cpu_ns_per_dgram")
        if rr:
            ratios.append(f"- CPU per datagram, iceway / {other.split()[0]} ({other.split()[1]}): "
                          + ", ".join(rr))
    for thr in ("x1", "x2"):
        a, b = rows.get("iceway " + thr), rows.get("base " + thr)
        if a and b and b["max_lossfree"]:
            ratios.append(f"- max loss-free rate {thr}, iceway / base: {a['max_lossfree'] / b['max_lossfree']:.2f} "
                          f"({a['max_lossfree']} vs {b['max_lossfree']} pps)")
    for key2 in ("setup", "uclient", "uclient_tcp", "uclient_tls"):
        a = (rows.get("iceway x1") or {}).get(key2) or {}
        b = (rows.get("base x1") or {}).get(key2) or {}
        for metric in ("allocs_per_s", "cpu_ns_per_dgram"):
            if a.get(metric) and b.get(metric):
                ratios.append(f"- {key2} {metric}, iceway / base: {a[metric] / b[metric]:.2f}")
    if "iceway x1" in rows and "coturn x1" in rows:
        a, b = rows["iceway x1"]["max_lossfree"], rows["coturn x1"]["max_lossfree"]
        if b:
            ratios.append(f"- max loss-free rate, iceway / coturn: {a / b:.2f} ({a} vs {b} pps; "
                          f"offered rates tried: {args.rates}); every step clean up to "
                          f"{rows['iceway x1']['clean_upto']} vs {rows['coturn x1']['clean_upto']} pps")
        sa, sb = (rows["iceway x1"].get("setup") or {}), (rows["coturn x1"].get("setup") or {})
        if sa.get("allocs_per_s") and sb.get("allocs_per_s"):
            ratios.append(f"- allocation setup rate, iceway / coturn: {sa['allocs_per_s'] / sb['allocs_per_s']:.2f}")
    for key2, label in (("uclient", "UDP"), ("uclient_tcp", "TCP"), ("uclient_tls", "TLS")):
        a = (rows.get("iceway x1") or {}).get(key2) or {}
        b = (rows.get("coturn x1") or {}).get(key2) or {}
        if a.get("cpu_ns_per_dgram") and b.get("cpu_ns_per_dgram"):
            ratios.append(f"- uclient {'m5 n50' if args.smoke else 'm50 n1000'} over {label}, relay CPU per datagram iceway / coturn: "
                          f"{a['cpu_ns_per_dgram'] / b['cpu_ns_per_dgram']:.2f} (loss {fmt(a.get('loss_pct'), '{:.2f}')} % vs "
                          f"{fmt(b.get('loss_pct'), '{:.2f}')} %)")
    table = "\n".join(lines + [""] + ratios)
    print()
    print(table)
    if not args.smoke:
        cpu = platform.processor() or ""
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
        except (OSError, StopIteration):
            pass
        cmd = "python3 bench/relay/run.py " + " ".join(sys.argv[1:])
        with open(os.path.join(TOP, "bench", "RESULTS.md"), "a") as f:
            f.write(f"\n## Relay, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
                    f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}. "
                    f"Command: `{cmd}`. Flows {args.flows}, payload {args.size} bytes, "
                    f"{args.duration} s per rate, relay on core 0 and load generator on core 1 "
                    f"(x2 rows: both unpinned). Memory: {args.mem_allocs} allocations held.\n\n"
                    + table + "\n")
    # No performance thresholds here (benchmarks are not tests), but a run in which a relay moved
    # nothing is broken, not slow.
    broken = [k for k, row in rows.items()
              if not any(v.get("received", 0) > 0 and v.get("ready") == v.get("flows")
                         for v in row["rates"].values())]
    if not rows or broken:
        print(f"bench: no traffic relayed by: {', '.join(broken) or 'any relay'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
