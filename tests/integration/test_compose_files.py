"""The shipped compose files (docker/compose*.yaml) as `docker-compose config` resolves them, no
engine needed: each parses with its .env settings given and refuses to run without the secret;
every iceway service drops all capabilities and runs read-only; a service that binds a port
below 1024 (from its command or ICEWAY_* variables) keeps NET_BIND_SERVICE and is not under
no-new-privileges (which would stop the image's file capability), and every other iceway
service has no capability and keeps no-new-privileges. One file serves turns: on 443 directly,
another puts nginx on 443 in front."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC = os.environ.get("IW_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DOCKER = os.path.join(SRC, "docker")
SETTINGS = {
    "ICEWAY_SECRET": "x",
    "ICEWAY_EXTERNAL_IP": "203.0.113.7",
    "ICEWAY_TLS_DIR": "/etc/iceway/tls",
    "ICEWAY_TURN_URI": "turns:turn.example.com:443?transport=tcp",
    "ICEWAY_STUN_URI": "stun:turn.example.com:3478",
}
# Options whose value is a port (relay, coturn's names) or ends in one (signaling's listen).
PORT_OPTS = {"--listening-port", "-p", "--tls-listening-port", "--alt-listening-port",
             "--alt-tls-listening-port", "--prometheus-port"}
NNP = "no-new-privileges:true"


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def log(msg):
    print("[test_compose_files] " + msg, flush=True)


def config(path, env, empty):
    # A developer's docker/.env must not fill in what the test leaves out.
    e = {k: v for k, v in os.environ.items() if not k.startswith("ICEWAY_")}
    e.update(env)
    return subprocess.run(["docker-compose", "--env-file", empty, "-f", path, "config"],
                          env=e, capture_output=True, text=True, timeout=60)


def low_ports(svc):
    """Ports below 1024 the service's command or ICEWAY_* variables make it bind."""
    ports = []
    cmd = [str(a) for a in (svc.get("command") or [])]
    for i, a in enumerate(cmd):
        name, eq, val = a.partition("=")
        if not eq:
            val = cmd[i + 1] if i + 1 < len(cmd) else ""
        if name in PORT_OPTS and val.isdigit():
            ports.append(int(val))
        elif name == "--listen":
            ports += [int(p) for p in re.findall(r":(\d+)$", val)]
    for k, v in (svc.get("environment") or {}).items():
        if re.match(r"ICEWAY_(RELAY|SIGNAL)_\w*(PORT|LISTEN)$", k):
            ports += [int(p) for p in re.findall(r"(?:^|:)(\d+)(?=\s|$)", str(v))]
    return sorted(p for p in set(ports) if p < 1024)


def main():
    if not shutil.which("docker-compose"):
        fail("needs docker-compose (tools/install-deps.sh test)")
    files = sorted(f for f in os.listdir(DOCKER) if re.match(r"compose.*\.ya?ml$", f))
    if "compose.yaml" not in files:
        fail("no docker/compose.yaml")
    direct_443 = proxy_443 = 0
    empty = tempfile.NamedTemporaryFile(prefix="iw-compose-", suffix=".env")
    for f in files:
        path = os.path.join(DOCKER, f)
        r = config(path, SETTINGS, empty.name)
        if r.returncode != 0:
            fail("%s: docker-compose config: %s" % (f, r.stderr.strip()))
        r2 = config(path, {k: v for k, v in SETTINGS.items() if k != "ICEWAY_SECRET"},
                    empty.name)
        if r2.returncode == 0 or "ICEWAY_SECRET" not in r2.stderr:
            fail("%s: accepted without ICEWAY_SECRET (%s)" % (f, r2.stderr.strip()))
        services = yaml.safe_load(r.stdout)["services"]
        for name, svc in services.items():
            what = "%s: service %s" % (f, name)
            caps_add = set(svc.get("cap_add") or [])
            sec = svc.get("security_opt") or []
            low = low_ports(svc)
            if not str(svc.get("image", "")).startswith("iceway"):
                # nginx's own image: a root master process that binds 443 before dropping
                # privileges; cutting its capabilities would need NET_BIND_SERVICE back.
                if "ALL" in (svc.get("cap_drop") or []) and "NET_BIND_SERVICE" not in caps_add:
                    fail("%s drops every capability and cannot bind its port" % what)
                proxy_443 += 1
                log("%s: image %s, left as it is" % (what, svc.get("image")))
                continue
            if svc.get("cap_drop") != ["ALL"] or not svc.get("read_only"):
                fail("%s: not hardened (cap_drop %s, read_only %s)"
                     % (what, svc.get("cap_drop"), svc.get("read_only")))
            if low:
                if caps_add != {"NET_BIND_SERVICE"}:
                    fail("%s binds %s but keeps capabilities %s, not NET_BIND_SERVICE alone"
                         % (what, low, sorted(caps_add)))
                if NNP in sec:
                    fail("%s binds %s under no-new-privileges: the file capability cannot "
                         "take effect" % (what, low))
                if 443 in low:
                    direct_443 += 1
                log("%s binds %s: cap_add NET_BIND_SERVICE, no no-new-privileges" % (what, low))
            else:
                if caps_add:
                    fail("%s binds no port below 1024 but adds %s" % (what, sorted(caps_add)))
                if NNP not in sec:
                    fail("%s binds no port below 1024 and runs without no-new-privileges" % what)
                log("%s: no capability, no-new-privileges" % what)
    if not direct_443:
        fail("no compose file serves turns: on 443 directly (relay with tls-listening-port 443)")
    if not proxy_443:
        fail("no compose file puts a proxy on 443")
    print("PASS")


if __name__ == "__main__":
    sys.exit(main())
