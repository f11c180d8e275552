"""Stop one thread of a server alone, as a tracer does (PTRACE_SEIZE and PTRACE_INTERRUPT: the
other threads of its process run on), to test what the rest does while a worker is stuck."""
import contextlib
import ctypes
import os

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000  # __WALL: wait for a thread that is not the main one

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(req, tid):
    if libc.ptrace(req, tid, None, None) < 0:
        e = ctypes.get_errno()
        raise OSError(e, "ptrace(%#x, %d): %s" % (req, tid, os.strerror(e)))


def thread_named(pid, name):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == name:
                return int(tid)
    return None


def stop_thread(tid):
    """Stop the thread tid alone. OSError without CAP_SYS_PTRACE or with Yama's ptrace_scope 3."""
    ptrace(PTRACE_SEIZE, tid)
    ptrace(PTRACE_INTERRUPT, tid)
    os.waitpid(tid, WALL)


def resume_thread(tid):
    ptrace(PTRACE_DETACH, tid)


@contextlib.contextmanager
def stopped_or_skip(c, tid):
    """with stopped_or_skip(c, tid) as stopped: the thread tid stopped alone for the block
    (stopped True) and resumed after it. Where ptrace is refused, c skips the check and the
    block gets False, to return at once."""
    try:
        stop_thread(tid)
    except OSError as e:
        # A container without CAP_SYS_PTRACE, or Yama's ptrace_scope 3.
        c.skip("a worker stopped by a tracer", str(e))
        yield False
        return
    try:
        yield True
    finally:
        resume_thread(tid)
