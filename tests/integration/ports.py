"""Ports for the servers that tests and benchmarks start, held until the test ends.

Picking a port by binding port 0 and closing the socket races: another test can be handed the
same port before the server binds it, and the kernel hands out those ports to every client
socket too. Here every port a server will bind is drawn below the kernel's ephemeral range
(so no client socket can take it) and recorded as a lock file naming its holder's process, so
parallel tests never draw the same one. A port is also checked free for the socket kinds and
addresses asked for. A lock dies with its holder: a lock whose process is gone is taken over.

From Python: reserve(count, kinds, hosts) -> first port of `count` consecutive ports.
From a shell test: `python3 ports.py --owner $$ [--count N] [--kinds udp,tcp] [--hosts A,B]`
prints the first port; the locks last as long as the shell (process $$) does.
"""
import argparse
import atexit
import os
import random
import socket

LOCK_DIR = os.environ.get("IW_PORT_LOCK_DIR", "/tmp/iceway-test-ports")
LOW = 10000
_mine = []  # lock files this process holds for itself


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _proc_start(pid):
    """The process's start time in clock ticks, so a reused pid is not taken for the holder."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _holder_alive(path):
    try:
        with open(path) as f:
            pid_s, start = f.read().split()
        return _proc_start(int(pid_s)) == start
    except (OSError, ValueError):
        return False


def _lock(port, owner):
    """Take port's lock for process owner; False if a live process holds it."""
    path = os.path.join(LOCK_DIR, str(port))
    start = _proc_start(owner)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _holder_alive(path):
                return False
            try:
                os.unlink(path)  # its holder is gone
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            f.write("%d %s\n" % (owner, start))
        return True
    return False


def _unlock(port):
    try:
        os.unlink(os.path.join(LOCK_DIR, str(port)))
    except FileNotFoundError:
        pass


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bindable(port, kinds, hosts):
    for h in hosts:
        for k in kinds:
            s = socket.socket(_family(h), socket.SOCK_DGRAM if k == "udp" else socket.SOCK_STREAM)
            try:
                s.bind((h, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def reserve(count=1, kinds=("udp", "tcp"), hosts=("127.0.0.1",), owner=None):
    """The first of `count` consecutive ports, free right now for every kind ("udp", "tcp") on
    every host and locked for process owner (default: this one; released at its exit)."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    owner = owner or os.getpid()
    high = _ephemeral_low() - count
    rnd = random.Random()
    for _ in range(500):
        base = rnd.randrange(LOW, high)
        taken = []
        for p in range(base, base + count):
            if not _lock(p, owner):
                break
            taken.append(p)
        if len(taken) == count and all(_bindable(p, kinds, hosts) for p in taken):
            if owner == os.getpid():
                _mine.extend(taken)
            return base
        for p in taken:
            _unlock(p)
    raise RuntimeError("no %d free consecutive ports below %d" % (count, high + count))


def hold(port, kinds=("tcp",), hosts=("127.0.0.1",), owner=None):
    """Lock one given port (a test that must use a fixed one, such as 443) for process owner;
    raises RuntimeError naming the reason when another test holds it or it is in use."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    owner = owner or os.getpid()
    if not _lock(port, owner):
        raise RuntimeError("port %d is held by another test (%s)" %
                           (port, os.path.join(LOCK_DIR, str(port))))
    if not _bindable(port, kinds, hosts):
        _unlock(port)
        raise RuntimeError("port %d is in use on %s (%s)" % (port, ",".join(hosts),
                                                             ",".join(kinds)))
    if owner == os.getpid():
        _mine.append(port)
    return port


def hand_over(pid):
    """Every lock this process holds now lives as long as process pid instead (a shell test
    that goes on using the ports after this interpreter exits)."""
    start = _proc_start(pid)
    while _mine:
        with open(os.path.join(LOCK_DIR, str(_mine.pop())), "w") as f:
            f.write("%d %s\n" % (pid, start))


def release_all():
    while _mine:
        _unlock(_mine.pop())


atexit.register(release_all)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--owner", type=int, required=True, help="pid the locks live as long as")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--kinds", default="udp,tcp")
    ap.add_argument("--hosts", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="hold this port instead of drawing one")
    a = ap.parse_args()
    kinds, hosts = tuple(a.kinds.split(",")), tuple(a.hosts.split(","))
    if a.port:
        try:
            print(hold(a.port, kinds, hosts, owner=a.owner))
        except RuntimeError as e:
            raise SystemExit("ports.py: %s" % e)
        return
    print(reserve(a.count, kinds, hosts, owner=a.owner))


if __name__ == "__main__":
    main()
