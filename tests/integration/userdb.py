"""Helpers for the Redis user database tests (test_relay_redis_userdb*): a throw-away
redis-server that keeps its data across a stop and a start, coturn's turnadmin, and the
long-term key turnadmin stores."""
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwtest as t  # noqa: E402
import sigtest  # noqa: E402


class Redis(sigtest.Redis):
    """sigtest's throw-away redis-server; its data (dump.rdb) stays in its directory across a
    stop and a start."""

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), capture_output=True,
                              text=True, timeout=10).stdout.strip()

    def shutdown_save(self):
        """Stop, keeping the data on disk for the next start."""
        self.cli("SHUTDOWN", "SAVE")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def turnadmin(*args):
    """coturn's turnadmin with args: its exit status."""
    r = subprocess.run(["turnadmin"] + list(args), capture_output=True, text=True, timeout=20)
    return r.returncode


def md5_key(user, password):
    return hashlib.md5(("%s:%s:%s" % (user, t.REALM, password)).encode()).hexdigest()
