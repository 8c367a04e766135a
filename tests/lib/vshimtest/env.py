# SPDX-License-Identifier: BSD-3-Clause
"""The test environment: paths, errors, prerequisites, the guest build,
QEMU, waiting, and the processes the harness starts.

Every process started through the harness is tracked and stopped by PID
(never by name): objects with a ``cleanup()`` method register in ``_live``
and are cleaned up at exit, on exceptions, and on SIGTERM/SIGHUP (turned
into SystemExit by ``install_signal_handlers``, which NetNS and Guest
call)."""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref

# tests/lib: the package's parent, where the helper scripts (udpsend.py...)
# and proto.py live
LIB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if LIB_DIR not in sys.path:
    sys.path.insert(0, LIB_DIR)

REPO_ROOT = os.path.dirname(os.path.dirname(LIB_DIR))
GUEST_SRC_DIR = os.path.join(REPO_ROOT, "tests", "guest")
BUILD_GUEST = os.path.join(GUEST_SRC_DIR, "build-guest.sh")
PYTHON = sys.executable or "/usr/bin/python3"

DEFAULT_BRIDGE_ADDR = "10.77.0.1/24"
DEFAULT_GUEST_IP = "10.77.0.10/24"
DEFAULT_GUEST_MAC = "52:54:00:77:00:10"

READY_MARKER = "VSHIM-GUEST-READY"
ERROR_MARKER = "VSHIM-GUEST-ERROR"
# Console lines that mean the guest kernel crashed.
CRASH_PATTERNS = ("Kernel panic", "BUG: ", "Oops", "general protection fault",
                  "list_del corruption", "list_add corruption", "RIP: ")


class HarnessError(Exception):
    """Base class of errors raised by the harness itself."""


class GuestError(HarnessError):
    """The guest failed to boot, crashed or QEMU died."""


class QMPError(HarnessError):
    """QEMU answered a QMP command with an error (``.error`` holds it)."""

    def __init__(self, cmd, error):
        super().__init__("QMP %s failed: %s" % (cmd, error))
        self.cmd = cmd
        self.error = error


class MigrationError(HarnessError):
    """A migration failed or did not finish in time (``.info`` holds the last
    query-migrate answer)."""

    def __init__(self, msg, info=None):
        super().__init__(msg)
        self.info = info


# ---------------------------------------------------------------------------
# Prerequisites, guest build, QEMU
# ---------------------------------------------------------------------------

def skip_or_fail(msg):
    """Stop the test because the environment cannot run it.

    Prints ``1..0 # SKIP msg`` and exits with status 77 (the autotools/meson
    "skipped" code; register such tests with protocol 'exitcode', since meson
    counts any non-zero status of a 'tap' test as an error).  When the
    environment variable CI is "true" a missing prerequisite is a failure:
    prints the message to stderr and exits with status 1."""
    if os.environ.get("CI", "").lower() == "true":
        print("FATAL (CI=true, cannot skip): %s" % msg, file=sys.stderr, flush=True)
        sys.exit(1)
    print("1..0 # SKIP %s" % msg, flush=True)
    sys.exit(77)


def require_e2e_env(tap=False):
    """Check the prerequisites of an end-to-end test and call
    ``skip_or_fail`` when one is missing: root, ``ip`` with netns support,
    a QEMU binary (see ``qemu_command``), /dev/net/tun when ``tap`` is
    true."""
    if os.geteuid() != 0:
        skip_or_fail("end-to-end tests need root")
    if not shutil.which("ip"):
        skip_or_fail("'ip' (iproute2) not found")
    q = qemu_command()[0]
    if not (os.path.isfile(q) and os.access(q, os.X_OK)) and not shutil.which(q):
        skip_or_fail("QEMU not found (%s); apt-get install qemu-system-x86" % q)
    if tap and not os.path.exists("/dev/net/tun"):
        skip_or_fail("/dev/net/tun missing")


def cache_dir():
    """Root of the test cache: $VSHIM_CACHE, else ~/.cache/vhost-shim."""
    d = os.environ.get("VSHIM_CACHE")
    if not d:
        d = os.path.join(os.path.expanduser("~"), ".cache", "vhost-shim")
    return d


_guest_build = {}


def build_guest(outdir=None):
    """Build (or reuse) the test guest with tests/guest/build-guest.sh.

    outdir defaults to ``cache_dir()/guest``.  Runs at most once per process
    and outdir.  Returns a dict with 'kernel' (the uncompressed PVH vmlinux
    when available, else vmlinuz), 'vmlinuz' and 'initrd'.  Raises
    HarnessError with the script's output when the build fails."""
    outdir = outdir or os.path.join(cache_dir(), "guest")
    if outdir in _guest_build:
        return _guest_build[outdir]
    os.makedirs(outdir, exist_ok=True)
    r = subprocess.run(["bash", BUILD_GUEST, outdir], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=900)
    if r.returncode != 0:
        raise HarnessError("build-guest.sh failed (%d):\n%s" % (r.returncode, r.stdout))
    vmlinux = os.path.join(outdir, "vmlinux")
    vmlinuz = os.path.join(outdir, "vmlinuz")
    res = {
        "kernel": vmlinux if os.path.exists(vmlinux) else vmlinuz,
        "vmlinuz": vmlinuz,
        "initrd": os.path.join(outdir, "initrd.img"),
    }
    _guest_build[outdir] = res
    return res


def qemu_command():
    """The QEMU binary and its extra leading arguments, as a list.

    $VSHIM_QEMU wins; else ``cache_dir()/qemu/qemu-system-x86_64`` if it
    exists (a patched build, given ``-L /usr/share/qemu -L
    /usr/share/seabios`` for its firmware); else qemu-system-x86_64 from
    PATH."""
    env = os.environ.get("VSHIM_QEMU")
    if env:
        return [env]
    patched = os.path.join(cache_dir(), "qemu", "qemu-system-x86_64")
    if os.path.isfile(patched) and os.access(patched, os.X_OK):
        return [patched, "-L", "/usr/share/qemu", "-L", "/usr/share/seabios"]
    return [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"]


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or raise
    TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def strip_prefix(ip):
    """'10.77.0.10/24' -> '10.77.0.10'."""
    return ip.split("/")[0]


# ---------------------------------------------------------------------------
# Process tracking and cleanup
# ---------------------------------------------------------------------------

_live = weakref.WeakSet()   # objects with a cleanup() method
_signals_installed = False


def _cleanup_all():
    # Guests first (they may live inside a namespace), then the rest.
    objs = sorted(list(_live), key=lambda o: 0 if getattr(o, "cleanup_first", False) else 1)
    for o in objs:
        try:
            o.cleanup()
        except Exception as e:  # keep cleaning
            print("vshimtest: cleanup of %r failed: %s" % (o, e), file=sys.stderr)


atexit.register(_cleanup_all)


def install_signal_handlers():
    """Turn SIGTERM and SIGHUP into SystemExit (status 128+signal) so that
    context managers and atexit handlers clean up when a test runner kills
    the test.  Only touches signals whose handler is still the default, and
    only from the main thread.  Called by NetNS and Guest."""
    global _signals_installed
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    _signals_installed = True

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, handler)


def kill_pid(pid, grace=3.0, group=False, popen=None):
    """Stop process pid: SIGTERM (to its process group when group is true;
    use only for a pid that leads a session we started), then SIGKILL after
    grace seconds.  popen: the Popen of pid if it is our child (reaped
    through it).  Never looks processes up by name."""

    def send(sig):
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def gone():
        if popen is not None:
            return popen.poll() is not None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A zombie (someone else's child) counts as gone.
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except (OSError, IndexError):
            return True

    if not gone():
        send(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not gone():
            time.sleep(0.02)
        if not gone():
            send(signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not gone():
                time.sleep(0.02)


def pdeathsig_prefix():
    """['setpriv', '--pdeathsig', 'TERM'] when called from the main thread
    and setpriv exists, else [].  Prefixed to the commands we start so that
    they get SIGTERM if the test process dies without cleaning up (e.g.
    SIGKILL).  The kernel sends it when the *thread* that started the child
    exits, hence main thread only.  setpriv execs, so the PID is kept."""
    if threading.current_thread() is not threading.main_thread():
        return []
    p = shutil.which("setpriv")
    return [p, "--pdeathsig", "TERM"] if p else []


def _terminate_popen(p, grace=3.0):
    """Stop a Popen started with start_new_session=True (signals its process
    group, whose id is the PID we started) and reap it."""
    kill_pid(p.pid, grace=grace, group=True, popen=p)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
