"""--version on all three binaries prints the one version CMake's project(VERSION) sets, and the
relay's start-up line and iceway_build_info carry the same string."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest  # noqa: E402


def project_version():
    with open(os.path.join(os.environ["IW_SRC"], "CMakeLists.txt")) as f:
        m = re.search(r"project\(iceway VERSION ([0-9.]+)", f.read())
    return m.group(1)


def body(c):
    want = project_version()
    build = os.environ["IW_BUILD"]
    for name, path in (("iceway-relay", "turn/iceway-relay"),
                       ("iceway-signal", "signaling/iceway-signal"),
                       ("iceway-probe", "tools/probe/iceway-probe")):
        exe = os.path.join(build, path)
        if not os.path.exists(exe):
            c.check(False, f"{name} is built", exe)
            continue
        r = subprocess.run([exe, "--version"], capture_output=True, timeout=30)
        out = r.stdout.decode().strip()
        c.check(r.returncode == 0 and out == f"{name} {want}",
                f"{name} --version prints '{name} {want}'", f"rc {r.returncode}: {out!r}")

    mport = iwtest.free_tcp_port()
    srv = iwtest.Server(extra=["--prometheus", "--prometheus-port", str(mport)]).start()
    c.check(f"ready: iceway-relay {want}," in srv.log_text(),
            "the relay's start-up line names its version", srv.log_text()[-300:])
    text = iwtest.metrics_scrape(mport)
    c.check(f'iceway_build_info{{version="{want}"}} 1' in text,
            "iceway_build_info carries the same version")
    srv.stop()


if __name__ == "__main__":
    iwtest.run("version", body)
