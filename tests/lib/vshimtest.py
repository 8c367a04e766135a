# SPDX-License-Identifier: BSD-3-Clause
"""Host-side library for the vhost-shim end-to-end tests.

Python 3 standard library only (Debian's /usr/bin/python3).  Pieces:

* environment: ``skip_or_fail``, ``require_e2e_env``, ``cache_dir``,
  ``build_guest``, ``qemu_command``;
* ``NetNS``: a throw-away network namespace with a Linux bridge (the "top of
  rack switch"), helpers to run commands and open sockets inside it;
* ``Guest``: a TCG QEMU guest (tests/guest/) with a vhost-user or tap NIC,
  a QMP client and migration helpers;
* agent client: ``agent_cmd``, ``agent_stats``, ``agent_reset``,
  ``agent_send``, ``agent_tcpsend``, ``agent_timeline``,
  ``agent_wait_tx_idle`` (the guest workload, see tests/guest/agent.c);
* traffic: ``UdpSender``, ``UdpReceiver``, ``TcpSender``, ``TcpReceiver``
  (subprocesses inside a NetNS, see udpsend.py etc.);
* ``Tap``: TAP output for test scripts; ``compare_ram`` for telling the
  QEMU 7.2 TCG migration bug (docs/qemu-tcg-bug.md) apart from backend bugs.

Every process started here is tracked and stopped by PID (never by name);
namespaces are deleted on exit, on exceptions, and on SIGTERM/SIGHUP (turned
into SystemExit by ``install_signal_handlers``, which NetNS and Guest call).
Guest addresses are 10.77.0.0/24 inside the test namespace only.
"""

import atexit
import ctypes
import itertools
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import namedtuple

LIB_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LIB_DIR)
import proto  # noqa: E402  (tests/lib/proto.py)

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
# Environment
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
    objs = sorted(list(_live), key=lambda o: 0 if isinstance(o, Guest) else 1)
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


# ---------------------------------------------------------------------------
# Network namespace
# ---------------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_libc = None


def _setns_net(path):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def _call_in_netns(name, fn):
    """Run fn() in a short-lived thread that joined netns name; sockets it
    creates stay in that namespace."""
    box = {}

    def run():
        try:
            _setns_net("/run/netns/%s" % name)
            box["v"] = fn()
        except BaseException as e:  # propagated below
            box["e"] = e

    t = threading.Thread(target=run, name="setns-" + name)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["v"]


def _icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


PingResult = namedtuple("PingResult", "sent received rtts_ms")
PingResult.__doc__ = "Result of NetNS.ping: counts and round trip times (ms)."


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def cleanup_stale_netns():
    """Delete namespaces named vshimt-<pid>-<n> whose creating process is
    gone (left behind by a test that was SIGKILLed), killing the processes
    still inside them by PID.  Returns the names deleted."""
    r = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    done = []
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^vshimt-(\d+)-\d+$", name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        _kill_netns_pids(name)
        subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
        done.append(name)
    return done


def _kill_netns_pids(name):
    r = subprocess.run(["ip", "netns", "pids", name], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    pids = [int(x) for x in r.stdout.split() if x.isdigit() and int(x) != os.getpid()]
    for pid in pids:
        kill_pid(pid, grace=2.0)
    return pids


class NetNS:
    """A uniquely named network namespace ``vshimt-<pid>-<n>`` with lo up
    and a Linux bridge (default ``br0``, address 10.77.0.1/24, STP off,
    forward delay 0) standing for the top-of-rack switch; IPv6 is disabled
    inside unless ipv6=True.

    Use as a context manager::

        with NetNS() as ns:
            ns.run(["ip", "addr"])

    On exit (also on exceptions and SIGTERM) every process started through
    ``popen`` is stopped by PID, then any other process still inside the
    namespace (e.g. a QEMU started there) is killed by the PID that
    ``ip netns pids`` reports, and the namespace is deleted.

    Attributes: name, bridge, bridge_addr (with prefix), host_ip (without).
    """

    _counter = itertools.count()

    def __init__(self, bridge="br0", bridge_addr=DEFAULT_BRIDGE_ADDR, name=None, ipv6=False):
        """bridge: bridge name or None for no bridge; bridge_addr: CIDR
        address of the bridge or None; name: override the generated name;
        ipv6: keep IPv6 enabled in the namespace (off by default so that no
        router solicitations or MLD reports disturb packet counts)."""
        self.ipv6 = ipv6
        self.name = name or "vshimt-%d-%d" % (os.getpid(), next(NetNS._counter))
        self.bridge = bridge
        self.bridge_addr = bridge_addr
        self.host_ip = strip_prefix(bridge_addr) if bridge_addr else None
        self.procs = []
        self._sockets = []
        self._ctl_sock = None
        self._created = False
        self._veths = []

    def __repr__(self):
        return "NetNS(%s)" % self.name

    def __enter__(self):
        self.create()
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    def _ip(self, *args, check=True):
        r = subprocess.run(["ip", "-n", self.name] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        if check and r.returncode != 0:
            raise HarnessError("ip -n %s %s: %s" % (self.name, " ".join(args), r.stderr.strip()))
        return r

    def create(self):
        """Create the namespace and its bridge (called by __enter__)."""
        install_signal_handlers()
        cleanup_stale_netns()
        r = subprocess.run(["ip", "netns", "add", self.name], stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise HarnessError("ip netns add %s: %s" % (self.name, r.stderr.strip()))
        self._created = True
        _live.add(self)
        try:
            if not self.ipv6:
                self.run(["sh", "-c", "for f in all default; do "
                          "echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done"], check=False)
            self._ip("link", "set", "lo", "up")
            if self.bridge:
                self._ip("link", "add", self.bridge, "type", "bridge", "stp_state", "0",
                         "forward_delay", "0")
                if self.bridge_addr:
                    self._ip("addr", "add", self.bridge_addr, "dev", self.bridge)
                self._ip("link", "set", self.bridge, "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def cleanup(self):
        """Same as destroy(); used by the atexit handler."""
        self.destroy()

    def destroy(self):
        """Stop our processes by PID, kill leftovers inside the namespace by
        PID, delete the namespace.  Idempotent."""
        for p in reversed(self.procs):
            _terminate_popen(p)
        self.procs = []
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
        self._sockets = []
        self._ctl_sock = None
        if not self._created:
            return
        _kill_netns_pids(self.name)
        for outer in self._veths:
            subprocess.run(["ip", "link", "del", outer], stderr=subprocess.DEVNULL)
        self._veths = []
        for _ in range(20):
            r = subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.PIPE,
                               text=True)
            if r.returncode == 0 or not os.path.exists("/run/netns/" + self.name):
                break
            time.sleep(0.1)
        self._created = False
        _live.discard(self)

    # -- commands ----------------------------------------------------------

    def exec_prefix(self):
        """['ip', 'netns', 'exec', name]: prefix for commands run inside."""
        return ["ip", "netns", "exec", self.name]

    def run(self, cmd, check=True, timeout=60, input=None):
        """Run cmd (list) inside the namespace and wait for it.  Returns a
        CompletedProcess with text stdout/stderr; raises HarnessError when
        check is true and the status is non-zero."""
        r = subprocess.run(self.exec_prefix() + list(cmd), input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise HarnessError("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode,
                                                          r.stdout, r.stderr))
        return r

    def popen(self, cmd, **kw):
        """Start cmd (list) inside the namespace in its own session and return
        the Popen (its pid is the command's own: ``ip netns exec`` execs).
        Keyword arguments go to subprocess.Popen (stdin defaults to
        /dev/null).  Started from the main thread, it also gets SIGTERM when
        the test process dies (see pdeathsig_prefix).  The process is stopped by PID when the namespace is
        destroyed, or earlier with ``kill(proc)``."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw["start_new_session"] = True
        p = subprocess.Popen(pdeathsig_prefix() + self.exec_prefix() + list(cmd), **kw)
        self.procs.append(p)
        return p

    def kill(self, proc, grace=3.0):
        """Stop a process returned by popen (SIGTERM, then SIGKILL after grace
        seconds) and forget it."""
        _terminate_popen(proc, grace)
        if proc in self.procs:
            self.procs.remove(proc)

    def socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto_=0):
        """Return a new socket living in the namespace (created by a helper
        thread that joined it with setns()).  Closed when the namespace is
        destroyed."""
        s = _call_in_netns(self.name, lambda: socket.socket(family, type, proto_))
        self._sockets.append(s)
        return s

    # -- links -------------------------------------------------------------

    def link_exists(self, ifname):
        """True if interface ifname exists in the namespace."""
        return self._ip("link", "show", "dev", ifname, check=False).returncode == 0

    def wait_link(self, ifname, timeout=10.0):
        """Wait (bounded) until interface ifname appears in the namespace."""
        wait_for(lambda: self.link_exists(ifname), timeout, 0.05,
                 "interface %s in %s" % (ifname, self.name))

    def attach(self, ifname, timeout=10.0, bridge=None, mtu=None):
        """Wait for ifname to appear in the namespace (at most timeout
        seconds), enslave it to the bridge and bring it up."""
        self.wait_link(ifname, timeout)
        if mtu:
            self._ip("link", "set", ifname, "mtu", str(mtu))
        self._ip("link", "set", ifname, "master", bridge or self.bridge)
        self._ip("link", "set", ifname, "up")

    def move_in(self, ifname, attach=True):
        """Move host interface ifname (in the caller's namespace) into this
        namespace and, if attach, add it to the bridge."""
        r = subprocess.run(["ip", "link", "set", ifname, "netns", self.name],
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise HarnessError("moving %s into %s: %s" % (ifname, self.name, r.stderr.strip()))
        if attach:
            self.attach(ifname)

    def add_veth(self, inner, outer, attach=True):
        """Create a veth pair: inner end inside the namespace (added to the
        bridge if attach), outer end in the caller's namespace, up, without
        addresses (e.g. as a daemon's uplink).  Deleted with the namespace."""
        r = subprocess.run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner,
                            "netns", self.name], stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise HarnessError("creating veth %s/%s: %s" % (outer, inner, r.stderr.strip()))
        self._veths.append(outer)
        subprocess.run(["ip", "link", "set", outer, "up"], check=True)
        if attach:
            self.attach(inner)
        else:
            self._ip("link", "set", inner, "up")

    def fdb_add(self, mac, dev, vlan=None, sticky=True):
        """Add a static FDB entry on the bridge: frames to mac go out dev.
        sticky: learning cannot move it (a plain static entry moves when
        mac shows up as a source on another port)."""
        cmd = ["bridge", "-netns", self.name, "fdb", "replace", mac, "dev", dev, "master", "static"]
        if sticky:
            cmd.append("sticky")
        if vlan is not None:
            cmd += ["vlan", str(vlan)]
        r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise HarnessError("fdb add %s dev %s: %s" % (mac, dev, r.stderr.strip()))

    def fdb_del(self, mac, dev, vlan=None, check=False):
        """Delete the bridge FDB entry for mac on dev (missing entries are
        ignored unless check)."""
        cmd = ["bridge", "-netns", self.name, "fdb", "del", mac, "dev", dev, "master"]
        if vlan is not None:
            cmd += ["vlan", str(vlan)]
        r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        if check and r.returncode != 0:
            raise HarnessError("fdb del %s dev %s: %s" % (mac, dev, r.stderr.strip()))

    def fdb_show(self, dev=None):
        """Return ``bridge fdb show`` output for the bridge (or one port)."""
        cmd = ["bridge", "-netns", self.name, "fdb", "show"]
        cmd += ["dev", dev] if dev else ["br", self.bridge]
        return subprocess.run(cmd, stdout=subprocess.PIPE, text=True).stdout

    def neigh_add(self, ip, mac, dev=None):
        """Add a permanent neighbour (ARP) entry ip -> mac on dev (default the
        bridge), so host->guest traffic needs no ARP."""
        self._ip("neigh", "replace", strip_prefix(ip), "lladdr", mac, "dev", dev or self.bridge,
                 "nud", "permanent")

    def link_stats(self, ifname):
        """Return the kernel counters of ifname inside the namespace
        (dict: rx_packets, tx_packets, rx_dropped, ...)."""
        r = self._ip("-s", "-j", "link", "show", "dev", ifname)
        st = json.loads(r.stdout)[0].get("stats64", {})
        out = {}
        for d in ("rx", "tx"):
            for k, v in st.get(d, {}).items():
                out["%s_%s" % (d, k)] = v
        return out

    # -- ping --------------------------------------------------------------

    def ping(self, ip, count=3, interval=0.2, timeout=1.0, size=56):
        """ICMP echo from inside the namespace (raw socket, no ping binary).

        Sends count echo requests interval seconds apart, waiting up to
        timeout seconds for each reply.  Returns PingResult(sent, received,
        rtts_ms); received counts distinct sequence numbers answered."""
        ip = strip_prefix(ip)
        s = self.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        ident = random.randint(1, 0xFFFF)
        replies = {}
        sent_at = {}
        try:
            for seq in range(count):
                t_send = time.monotonic()
                body = struct.pack("!d", t_send) + bytes(max(0, size - 8))
                hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                pkt = struct.pack("!BBHHH", 8, 0, _icmp_checksum(hdr + body), ident, seq) + body
                s.sendto(pkt, (ip, 0))
                sent_at[seq] = t_send
                deadline = t_send + max(timeout, interval)
                next_send = t_send + interval
                while True:
                    now = time.monotonic()
                    limit = deadline if seq not in replies else next_send
                    if now >= limit:
                        break
                    s.settimeout(max(0.001, limit - now))
                    try:
                        data, addr = s.recvfrom(65536)
                    except socket.timeout:
                        continue
                    if addr[0] != ip or len(data) < 28:
                        continue
                    ihl = (data[0] & 0x0F) * 4
                    typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                    if typ == 0 and rid == ident and rseq in sent_at and rseq not in replies:
                        replies[rseq] = (time.monotonic() - sent_at[rseq]) * 1000.0
        finally:
            s.close()
            self._sockets.remove(s)
        return PingResult(count, len(replies), [replies[k] for k in sorted(replies)])


# ---------------------------------------------------------------------------
# QMP
# ---------------------------------------------------------------------------

class QMP:
    """Minimal QMP client over a unix socket: greeting, qmp_capabilities,
    ``execute``, and collection of asynchronous events."""

    def __init__(self, path, timeout=30.0, alive=None):
        """Connect to path, retrying until it accepts (at most timeout
        seconds; alive() returning false aborts early), and negotiate
        capabilities."""
        self.path = path
        self.events = []
        self._buf = b""
        self._id = itertools.count(1)
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                break
            except OSError as e:
                s.close()
                if alive is not None and not alive():
                    raise GuestError("QEMU exited before its QMP socket %s came up" % path)
                if time.monotonic() >= deadline:
                    raise GuestError("cannot connect to QMP socket %s: %s" % (path, e))
                time.sleep(0.05)
        self.sock = s
        # QEMU 7.2 can send an event before the greeting: events go to
        # every QMP monitor not in capability negotiation, and a monitor
        # enters negotiation only when its connection's OPENED event has
        # run, so an event emitted just as a client connects can reach it
        # first (seen in CI: RESUME from a destination that completed its
        # incoming migration while the test connected to ask its status).
        # Keep such events, wait for the greeting.
        deadline = time.monotonic() + timeout
        while True:
            greeting = self._read_msg(deadline)
            if "QMP" in greeting:
                break
            if "event" not in greeting:
                raise GuestError("bad QMP greeting: %r" % greeting)
            self.events.append(greeting)
        self.execute("qmp_capabilities")

    def close(self):
        """Close the connection."""
        try:
            self.sock.close()
        except OSError:
            pass

    def _read_msg(self, deadline):
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("QMP read timed out on %s" % self.path)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise GuestError("QMP connection %s closed" % self.path)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        line = line.strip()
        if not line:
            return self._read_msg(deadline)
        return json.loads(line)

    def execute(self, cmd, args=None, timeout=60.0):
        """Run QMP command cmd with the arguments dict args; return its
        'return' value or raise QMPError.  Events read meanwhile are appended
        to self.events."""
        mid = next(self._id)
        msg = {"execute": cmd, "id": mid}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_msg(deadline)
            if "event" in m:
                self.events.append(m)
                continue
            if m.get("id") != mid:
                continue
            if "error" in m:
                raise QMPError(cmd, m["error"])
            return m.get("return")

    def poll_events(self):
        """Read events that are already waiting (non-blocking); returns the
        full list self.events."""
        while True:
            self.sock.settimeout(0)
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, socket.timeout):
                break
            if not chunk:
                break
            self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            if line.strip():
                m = json.loads(line)
                if "event" in m:
                    self.events.append(m)
        return self.events

    def wait_event(self, name, timeout=30.0, since=0):
        """Wait for an event called name (among self.events[since:] and new
        ones); returns it or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events[since:]:
                if ev["event"] == name:
                    return ev
            try:
                m = self._read_msg(deadline)
            except TimeoutError:
                raise TimeoutError("QMP event %s not seen within %.1f s" % (name, timeout))
            if "event" in m:
                self.events.append(m)


# ---------------------------------------------------------------------------
# Guest
# ---------------------------------------------------------------------------

class VhostUserNetdev:
    """vhost-user NIC: ``-chardev socket,id=chr0,path=PATH[,server=on]
    [,reconnect=N] -netdev vhost-user,id=net0,chardev=chr0,queues=N``.

    path: the backend's socket; server: QEMU listens (the backend connects)
    instead of connecting; reconnect: seconds between reconnection attempts
    when QEMU is the client.  Note QEMU 7.2 blocks its startup until the
    vhost-user connection is up."""

    def __init__(self, path, queues=1, server=False, reconnect=None):
        self.path = path
        self.queues = queues
        self.server = server
        self.reconnect = reconnect

    def qemu_args(self):
        """QEMU arguments for the backend (id net0)."""
        chr_ = "socket,id=chr0,path=%s" % self.path
        if self.server:
            chr_ += ",server=on"
        elif self.reconnect:
            chr_ += ",reconnect=%d" % self.reconnect
        return ["-chardev", chr_, "-netdev",
                "vhost-user,id=net0,chardev=chr0,queues=%d" % self.queues]

    def device_opts(self):
        """Extra virtio-net-pci options."""
        return ",mq=on" if self.queues > 1 else ""

    def in_netns(self):
        """vhost-user QEMU can run in any namespace."""
        return False


class TapNetdev:
    """tap NIC created by QEMU: ``-netdev tap,id=net0,ifname=IF,script=no,
    downscript=no``.  QEMU is started inside the Guest's NetNS and, if
    attach, the tap is added to the bridge once it appears."""

    def __init__(self, ifname="vst0", attach=True):
        self.ifname = ifname
        self.attach = attach

    def qemu_args(self):
        """QEMU arguments for the backend (id net0)."""
        return ["-netdev", "tap,id=net0,ifname=%s,script=no,downscript=no" % self.ifname]

    def device_opts(self):
        """Extra virtio-net-pci options."""
        return ""

    def in_netns(self):
        """The tap must be created inside the namespace."""
        return True


class Guest:
    """A tiny TCG test guest (tests/guest/) in QEMU.

    Command line: ``-machine pc -accel tcg -m 256`` with memfd-backed shared
    memory (``-numa node,memdev=mem``), ``-nographic -nodefaults``, the
    serial console in ``workdir/console.log``, QMP on
    ``workdir/qmp.sock``, the NIC from netdev as
    ``virtio-net-pci,netdev=net0,mac=MAC,vectors=0,romfile=`` (vectors=0:
    QEMU 7.2 TCG + vhost-user + MSI-X segfaults), optional ``-incoming
    unix:workdir/migrate.sock`` and ``-S``.

    Typical use::

        with Guest(TapNetdev("vst0"), ns=ns) as g:
            g.wait_ready()
            print(g.stats())

    Attributes: name, ns, ip (with prefix), addr (without), mac, workdir,
    console_log, qmp_path, incoming_uri, proc, pid, started_at,
    ready_seconds (boot time measured by wait_ready), last_migration.
    """

    def __init__(self, netdev, ns=None, name="guest", ip=DEFAULT_GUEST_IP, mac=DEFAULT_GUEST_MAC,
                 workdir=None, incoming=False, paused=False, mem_mb=256, smp=1, append="",
                 mac_check=True, qemu_in_ns=None, extra_args=(), guest_dir=None, kernel=None):
        """netdev: VhostUserNetdev, TapNetdev, or any object with
        qemu_args()/device_opts()/in_netns(); ns: the NetNS used for agent
        commands (and for QEMU itself when the netdev needs it or qemu_in_ns);
        ip: guest address with prefix (kernel parameter vshim.ip); mac: NIC
        MAC (checked by the guest when mac_check); workdir: directory for
        logs and sockets (default: a new temporary directory, removed by
        stop() unless keep_workdir is set or a failure was seen);
        incoming: True to start with -incoming unix:workdir/migrate.sock (or
        a URI string); paused: -S; mem_mb: RAM size; append: extra kernel
        parameters; extra_args: extra QEMU arguments; guest_dir: guest build
        directory (default cache_dir()/guest); kernel: None for the fastest
        kernel of the build (uncompressed PVH vmlinux if present), 'vmlinuz'
        for the bzImage, or a path (env VSHIM_GUEST_KERNEL sets the default
        the same way)."""
        self.netdev = netdev
        self.ns = ns
        self.name = name
        self.ip = ip
        self.addr = strip_prefix(ip)
        self.mac = mac
        self.paused = paused
        self.mem_mb = mem_mb
        self.smp = smp
        self.append = append
        self.mac_check = mac_check
        self.extra_args = list(extra_args)
        self.guest_dir = guest_dir
        self.kernel = kernel or os.environ.get("VSHIM_GUEST_KERNEL") or None
        if qemu_in_ns is None:
            qemu_in_ns = netdev.in_netns()
        if qemu_in_ns and ns is None:
            raise ValueError("this netdev needs QEMU inside a NetNS: pass ns=")
        self.qemu_in_ns = qemu_in_ns
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="vshimt-%s-" % name)
        os.makedirs(self.workdir, exist_ok=True)
        self.keep_workdir = False
        self.console_log = os.path.join(self.workdir, "console.log")
        self.stderr_log = os.path.join(self.workdir, "qemu.log")
        self.qmp_path = os.path.join(self.workdir, "qmp.sock")
        if incoming is True:
            self.incoming_uri = "unix:" + os.path.join(self.workdir, "migrate.sock")
        else:
            self.incoming_uri = incoming or None
        self.proc = None
        self.pid = None
        self._qmp = None
        self.started_at = None
        self.ready_seconds = None
        self.last_migration = None
        self.cmdline = None

    def __repr__(self):
        return "Guest(%s, pid=%s)" % (self.name, self.pid)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, etype, exc, tb):
        if etype is not None:
            self.keep_workdir = True
            print("# guest %s: logs kept in %s" % (self.name, self.workdir), file=sys.stderr)
        self.stop()
        return False

    # -- lifecycle ---------------------------------------------------------

    def build_cmdline(self):
        """Return the full QEMU command (list) this guest runs."""
        paths = build_guest(self.guest_dir)
        if self.kernel is None:
            kernel = paths["kernel"]
        elif self.kernel == "vmlinuz":
            kernel = paths["vmlinuz"]
        else:
            kernel = self.kernel
        kparams = ["console=ttyS0", "quiet", "vshim.ip=%s" % self.ip]
        if self.mac_check:
            kparams.append("vshim.mac_check=%s" % self.mac)
        if self.append:
            kparams.append(self.append)
        mem = "%dM" % self.mem_mb
        cmd = qemu_command() + [
            "-name", self.name,
            "-machine", "pc", "-accel", "tcg",
            "-m", mem, "-smp", str(self.smp),
            "-object", "memory-backend-memfd,id=mem,size=%s,share=on" % mem,
            "-numa", "node,memdev=mem",
            "-nographic", "-nodefaults", "-no-user-config", "-no-reboot",
            "-chardev", "file,id=con0,path=%s" % self.console_log,
            "-serial", "chardev:con0",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-kernel", kernel, "-initrd", paths["initrd"],
            "-append", " ".join(kparams),
        ]
        cmd += self.netdev.qemu_args()
        cmd += ["-device", "virtio-net-pci,netdev=net0,mac=%s,vectors=0,romfile=%s"
                % (self.mac, self.netdev.device_opts())]
        if self.incoming_uri:
            cmd += ["-incoming", self.incoming_uri]
        if self.paused:
            cmd += ["-S"]
        cmd += self.extra_args
        return cmd

    def start(self):
        """Build the guest if needed and start QEMU (does not wait for the
        boot; see wait_ready).  Returns self."""
        install_signal_handlers()
        cmd = self.build_cmdline()
        self.cmdline = cmd
        for p in (self.qmp_path, self.console_log):
            if os.path.exists(p):
                os.unlink(p)
        if self.incoming_uri and self.incoming_uri.startswith("unix:"):
            p = self.incoming_uri[5:]
            if os.path.exists(p):
                os.unlink(p)
        with open(os.path.join(self.workdir, "cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        if self.qemu_in_ns:
            cmd = self.ns.exec_prefix() + cmd
        cmd = pdeathsig_prefix() + cmd
        err = open(self.stderr_log, "wb")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)
        finally:
            err.close()
        self.pid = self.proc.pid
        self.started_at = time.monotonic()
        _live.add(self)
        try:
            if isinstance(self.netdev, TapNetdev) and self.netdev.attach and self.ns is not None:
                ifname = self.netdev.ifname
                try:
                    wait_for(lambda: not self.alive() or self.ns.link_exists(ifname), 15, 0.05,
                             "tap %s" % ifname)
                except TimeoutError:
                    pass
                if not self.ns.link_exists(ifname):
                    raise GuestError("tap %s did not appear; %s" % (ifname, self.diagnostics()))
                self.ns.attach(ifname)
        except BaseException:
            self.keep_workdir = True
            self.stop()
            raise
        return self

    def alive(self):
        """True while the QEMU process runs."""
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        """Same as stop(); used by the atexit handler."""
        self.stop()

    def stop(self, grace=5.0):
        """Stop QEMU by PID (SIGTERM, SIGKILL after grace seconds), close QMP,
        remove the work directory if we created it and nothing asked to keep
        it.  Idempotent."""
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None
        if self.proc is not None:
            _terminate_popen(self.proc, grace)
        _live.discard(self)
        if self._own_workdir and not self.keep_workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- console -----------------------------------------------------------

    def console_text(self):
        """The serial console output so far (str)."""
        try:
            with open(self.console_log, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def console_tail(self, lines=40):
        """The last lines of the console (str)."""
        return "\n".join(self.console_text().splitlines()[-lines:])

    def crash_lines(self):
        """Console lines that indicate a guest kernel crash (list)."""
        return [l for l in self.console_text().splitlines()
                if any(p in l for p in CRASH_PATTERNS)]

    def diagnostics(self):
        """A multi-line description for error messages: QEMU state, stderr
        and console tail, log paths."""
        self.keep_workdir = True
        try:
            with open(self.stderr_log, errors="replace") as f:
                err = f.read()[-2000:]
        except OSError:
            err = ""
        rc = self.proc.poll() if self.proc else None
        return ("guest %s (pid %s, %s); console %s:\n%s\nqemu stderr (%s):\n%s"
                % (self.name, self.pid, "running" if rc is None else "exited %s" % rc,
                   self.console_log, self.console_tail(), self.stderr_log, err))

    def wait_ready(self, timeout=60.0):
        """Wait until the guest prints VSHIM-GUEST-READY on its console.
        Returns the seconds since start() (also in self.ready_seconds).
        Raises GuestError at once when QEMU exits, the guest reports
        VSHIM-GUEST-ERROR or its kernel crashes, and after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.console_text()
            if READY_MARKER in text:
                self.ready_seconds = time.monotonic() - self.started_at
                return self.ready_seconds
            if ERROR_MARKER in text:
                raise GuestError("guest reported an error; " + self.diagnostics())
            if self.crash_lines():
                raise GuestError("guest kernel crashed; " + self.diagnostics())
            if not self.alive():
                raise GuestError("QEMU exited during boot; " + self.diagnostics())
            if time.monotonic() >= deadline:
                raise GuestError("guest not ready after %.0f s; %s" % (timeout, self.diagnostics()))
            time.sleep(0.05)

    # -- QMP ---------------------------------------------------------------

    def qmp_client(self, timeout=60.0):
        """The (lazily connected) QMP client of this guest."""
        if self._qmp is None:
            self._qmp = QMP(self.qmp_path, timeout=timeout, alive=self.alive)
        return self._qmp

    def qmp(self, cmd, **args):
        """Execute QMP command cmd with keyword arguments (use the QMP names;
        for names with '-' pass a dict: ``g.qmp('x', **{'a-b': 1})``).
        Returns the 'return' value; raises QMPError."""
        return self.qmp_client().execute(cmd, args or None)

    def status(self):
        """QEMU's run state ('running', 'paused', 'inmigrate', 'postmigrate',
        ...)."""
        return self.qmp("query-status")["status"]

    def pause(self):
        """Stop the vCPUs (QMP stop)."""
        self.qmp("stop")

    def resume(self):
        """Resume the vCPUs (QMP cont)."""
        self.qmp("cont")

    def pmemsave(self, path, size=None):
        """Save guest physical memory [0, size) (default: all RAM) to path
        (QMP pmemsave; pause the guest first for a consistent image)."""
        size = size or self.mem_mb << 20
        self.qmp("pmemsave", val=0, size=size, filename=os.path.abspath(path))
        return path

    def migrate_to(self, dst, timeout=120.0, downtime_limit_ms=None, max_bandwidth=None,
                   capabilities=None, wait_dst_running=True):
        """Live-migrate this guest to dst, a Guest started with
        incoming=True, over its unix socket.

        downtime_limit_ms / max_bandwidth (bytes/s): migration parameters;
        capabilities: dict name -> bool for migrate-set-capabilities.  Waits
        until query-migrate reports completed (MigrationError on failure,
        cancel + MigrationError after timeout), then, unless dst was started
        paused or wait_dst_running is false, until dst runs.  Returns QEMU's
        reported downtime in ms; the full query-migrate answer is in
        self.last_migration."""
        if not dst.incoming_uri:
            raise ValueError("destination guest was not started with incoming=")
        if dst.incoming_uri.startswith("unix:"):
            sock = dst.incoming_uri[5:]
            wait_for(lambda: os.path.exists(sock) or not dst.alive(), 60, 0.05,
                     "migration socket %s" % sock)
            if not dst.alive():
                raise MigrationError("destination QEMU exited; " + dst.diagnostics())
        if capabilities:
            self.qmp("migrate-set-capabilities", capabilities=[
                {"capability": k, "state": bool(v)} for k, v in capabilities.items()])
        params = {}
        if downtime_limit_ms is not None:
            params["downtime-limit"] = int(downtime_limit_ms)
        if max_bandwidth is not None:
            params["max-bandwidth"] = int(max_bandwidth)
        if params:
            self.qmp_client().execute("migrate-set-parameters", params)
        self.qmp("migrate", uri=dst.incoming_uri)
        deadline = time.monotonic() + timeout
        info = {}
        while True:
            info = self.qmp("query-migrate")
            self.last_migration = info
            st = info.get("status")
            if st == "completed":
                break
            if st in ("failed", "cancelled"):
                raise MigrationError("migration %s: %s" % (st, info.get("error-desc", "")), info)
            if not dst.alive():
                raise MigrationError("destination QEMU died; " + dst.diagnostics(), info)
            if time.monotonic() >= deadline:
                try:
                    self.qmp("migrate_cancel")
                except HarnessError:
                    pass
                raise MigrationError("migration not completed after %.0f s (status %s)"
                                     % (timeout, st), info)
            time.sleep(0.05)
        if wait_dst_running and not dst.paused:
            wait_for(lambda: not dst.alive() or dst.status() == "running", 30, 0.05,
                     "destination running")
            if not dst.alive():
                raise MigrationError("destination QEMU died after migration; "
                                     + dst.diagnostics(), info)
        return info.get("downtime")

    # -- agent shortcuts (need ns) ----------------------------------------

    def check(self):
        """Raise GuestError (with diagnostics) if QEMU exited or the guest
        kernel crashed; returns self otherwise."""
        if not self.alive():
            raise GuestError("QEMU is not running; " + self.diagnostics())
        if self.crash_lines():
            raise GuestError("guest kernel crashed; " + self.diagnostics())
        return self

    def _agent(self, fn, *args):
        if self.ns is None:
            raise ValueError("Guest has no NetNS for agent commands")
        try:
            return fn(self.ns, self.addr, *args)
        except TimeoutError as e:
            self.check()  # a crash explains the silence better
            raise TimeoutError("%s; %s" % (e, self.diagnostics())) from None

    def wait_agent(self, timeout=30.0):
        """Wait until the agent answers 'ping' (e.g. on a migration
        destination, whose console never shows the READY marker).  Returns
        the seconds waited; GuestError if the guest crashed or QEMU exited,
        TimeoutError after timeout."""
        t0 = time.monotonic()
        while True:
            self.check()
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise TimeoutError("agent of %s silent for %.0f s; %s"
                                   % (self.name, timeout, self.diagnostics()))
            try:
                if agent_cmd(self.ns, self.addr, "ping", min(0.5, left), 1) == "pong":
                    return time.monotonic() - t0
            except TimeoutError:
                pass

    def cmd(self, text, timeout=1.0, retries=5):
        """agent_cmd(self.ns, self.addr, text); on timeout raises GuestError
        if the guest crashed, else TimeoutError with the console tail."""
        return self._agent(agent_cmd, text, timeout, retries)

    def stats(self):
        """agent_stats(self.ns, self.addr) (errors as for cmd)."""
        return self._agent(agent_stats)

    def reset(self):
        """agent_reset(self.ns, self.addr) (errors as for cmd)."""
        return self._agent(agent_reset)

    def send(self, dst_ip, port, count, pps, stream=0, size=64, start_seq=0):
        """agent_send(self.ns, self.addr, ...) (errors as for cmd)."""
        return self._agent(agent_send, dst_ip, port, count, pps, stream, size, start_seq)

    def tcpsend(self, dst_ip, port, nbytes):
        """agent_tcpsend(self.ns, self.addr, ...) (errors as for cmd)."""
        return self._agent(agent_tcpsend, dst_ip, port, nbytes)

    def wait_tx_idle(self, timeout=60.0):
        """agent_wait_tx_idle(self.ns, self.addr, timeout)."""
        return self._agent(agent_wait_tx_idle, timeout)

    def timeline(self, stream=0):
        """agent_timeline(self.ns, self.addr, stream) (errors as for cmd)."""
        return self._agent(agent_timeline, stream)


def compare_ram(path_a, path_b, page_size=4096, limit=None):
    """Compare two guest RAM images (Guest.pmemsave) page by page; returns
    the list of guest-physical addresses of pages that differ (at most
    limit).  Images of different sizes compare up to the shorter one."""
    diff = []
    chunk = page_size * 256
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        off = 0
        while True:
            a = fa.read(chunk)
            b = fb.read(chunk)
            n = min(len(a), len(b))
            if n == 0:
                break
            if a[:n] != b[:n]:
                for p in range(0, n, page_size):
                    if a[p:p + page_size] != b[p:p + page_size]:
                        diff.append(off + p)
                        if limit is not None and len(diff) >= limit:
                            return diff
            off += n
            if n < chunk:
                break
    return diff


# ---------------------------------------------------------------------------
# Agent client
# ---------------------------------------------------------------------------

_ctl_lock = threading.Lock()


def agent_cmd(ns, guest_ip, text, timeout=1.0, retries=5):
    """Send control request text to the guest agent at guest_ip:7001 from
    inside ns and return the reply (str).  Each of the retries tries waits
    timeout seconds; requests are tagged so late replies are ignored and a
    retried request runs only once.  Thread-safe.  Raises TimeoutError."""
    with _ctl_lock:
        if ns._ctl_sock is None:
            ns._ctl_sock = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        return proto.control(ns._ctl_sock, (strip_prefix(guest_ip), proto.PORT_CTL), text,
                             timeout, retries)


def _check_ok(reply, what):
    if reply != "ok":
        raise HarnessError("agent %s: %s" % (what, reply))
    return reply


def agent_stats(ns, guest_ip):
    """The agent's counters as a dict::

        {"now_us", "uptime_us", "bad_magic", "short", "bad_stream",
         "streams": {"0": {"received", "unique", "lost", "lost_since_first",
                           "reordered",
                           "duplicated", "corrupted", "too_old", "bytes",
                           "first_seq", "highest_seq", "first_us", "last_us",
                           "max_gap_us", "max_gap_seq", "max_gap_end_us",
                           "timeline", "timeline_dropped"}, ...},
         "tcp": {"connections", "active", "closed", "bytes", "corrupted",
                 "max_gap_us", "last_conn_bytes"},
         "tx": {"udp_runs", "udp_active", "udp_sent", "udp_errors",
                "udp_done", "tcp_runs", "tcp_active", "tcp_sent",
                "tcp_errors", "tcp_done", "tcp_last_bytes"}}

    Only streams that received something since the last reset are listed
    (use ``stream_stats`` for a zero default).  Times are the guest's
    CLOCK_MONOTONIC in microseconds; lost = highest_seq + 1 - unique
    (sequences start at 0), lost_since_first = highest_seq - first_seq + 1 -
    unique (first_seq: the first seq that arrived after the reset)."""
    reply = agent_cmd(ns, guest_ip, "stats")
    try:
        return json.loads(reply)
    except ValueError:
        raise HarnessError("agent stats: bad reply %r" % reply[:200])


def stream_stats(stats, stream=0):
    """stats['streams'][str(stream)] or all-zero counters if absent."""
    zero = {k: 0 for k in ("received", "unique", "lost", "reordered", "duplicated",
                           "corrupted", "too_old", "bytes", "max_gap_us", "timeline")}
    return stats.get("streams", {}).get(str(stream), zero)


def agent_reset(ns, guest_ip):
    """Zero all agent counters and timelines."""
    return _check_ok(agent_cmd(ns, guest_ip, "reset"), "reset")


def agent_send(ns, guest_ip, dst_ip, port, count, pps, stream=0, size=64, start_seq=0):
    """Make the guest send count datagrams (format of agent-proto.h, seq
    start_seq...) of size bytes to dst_ip:port at pps.  Returns at once;
    progress is in agent_stats()['tx'] (see agent_wait_tx_idle)."""
    return _check_ok(agent_cmd(ns, guest_ip, "send %s %d %d %d %d %d %d" % (
        strip_prefix(dst_ip), port, count, pps, stream, size, start_seq)), "send")


def agent_tcpsend(ns, guest_ip, dst_ip, port, nbytes):
    """Make the guest connect to dst_ip:port and send nbytes of the TCP
    pattern (byte k = k % 251).  Returns at once."""
    return _check_ok(agent_cmd(ns, guest_ip, "tcpsend %s %d %d" % (
        strip_prefix(dst_ip), port, nbytes)), "tcpsend")


def agent_wait_tx_idle(ns, guest_ip, timeout=60.0):
    """Wait until the guest has no UDP/TCP sender running; returns the final
    agent_stats().  Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        st = agent_stats(ns, guest_ip)
        if st["tx"]["udp_active"] == 0 and st["tx"]["tcp_active"] == 0:
            return st
        if time.monotonic() >= deadline:
            raise TimeoutError("guest senders still active after %.0f s: %r" % (timeout, st["tx"]))
        time.sleep(0.1)


def agent_timeline(ns, guest_ip, stream=0):
    """Page through the guest's arrival timeline of stream; returns the list
    of (arrival_us, seq) in arrival order (guest CLOCK_MONOTONIC, us).  The
    agent keeps the first 200000 arrivals after a reset."""
    out = []
    while True:
        reply = agent_cmd(ns, guest_ip, "timeline %d %d" % (stream, len(out)))
        off, total, ents = proto.decode_timeline(reply)
        if off != len(out):
            raise HarnessError("timeline: asked offset %d, got %d" % (len(out), off))
        out.extend(ents)
        if not ents or len(out) >= total:
            return out


# ---------------------------------------------------------------------------
# Traffic helpers (subprocesses inside a NetNS)
# ---------------------------------------------------------------------------

class _NsScript:
    """Common part of the traffic helpers: runs a tests/lib script inside a
    NetNS, optionally waits for its LISTENING line, and parses the JSON line
    it prints last."""

    script = None
    listens = False

    def __init__(self, ns, args):
        self.ns = ns
        self.args = [str(a) for a in args]
        self.proc = None
        self.result = None
        self._out = b""

    def start(self, timeout=10.0):
        """Start the script; receivers wait (bounded) until they listen.
        Returns self."""
        self.proc = self.ns.popen([PYTHON, os.path.join(LIB_DIR, self.script)] + self.args,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if self.listens:
            fd = self.proc.stdout.fileno()
            deadline = time.monotonic() + timeout
            while b"LISTENING\n" not in self._out:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise HarnessError("%s did not start listening" % self.script)
                r, _, _ = select.select([fd], [], [], left)
                if r:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        err = self.proc.stderr.read().decode(errors="replace")
                        raise HarnessError("%s exited: %s" % (self.script, err))
                    self._out += chunk
            self._out = self._out.split(b"LISTENING\n", 1)[1]
        return self

    def running(self):
        """True while the script runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=120.0):
        """Wait for the script to finish (at most timeout seconds, then it is
        stopped) and return its result dict."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.stop()
        return self._finish(out, err)

    def stop(self):
        """Ask the script to stop now (SIGTERM; it still reports) and return
        its result dict."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.ns.kill(self.proc)
            out, err = self.proc.communicate()
        return self._finish(out, err)

    def _finish(self, out, err):
        if self.proc in self.ns.procs:
            self.ns.procs.remove(self.proc)
        text = (self._out + (out or b"")).decode(errors="replace")
        lines = [l for l in text.splitlines() if l.startswith("{")]
        if not lines:
            raise HarnessError("%s %s gave no result (status %s): %s%s" % (
                self.script, " ".join(self.args), self.proc.returncode, text,
                (err or b"").decode(errors="replace")))
        self.result = json.loads(lines[-1])
        return self.result


class UdpSender(_NsScript):
    """Paced UDP sender (udpsend.py) inside ns towards dst:port.

    Result dict (wait()/stop()): sent, errors, error_seqs, first_seq,
    next_seq, elapsed, late_resets."""

    script = "udpsend.py"

    def __init__(self, ns, dst, pps, count=None, duration=None, port=proto.PORT_UDP_SINK,
                 stream=0, size=64, start_seq=0, burst=16, max_lag_ms=200, src=None):
        """pps: datagrams per second; count and/or duration (seconds) bound
        the run; size: datagram size including the 24-byte header."""
        if not count and not duration:
            raise ValueError("UdpSender needs count or duration")
        args = ["--dst", strip_prefix(dst), "--port", port, "--pps", pps, "--stream", stream,
                "--size", size, "--start-seq", start_seq, "--burst", burst,
                "--max-lag-ms", max_lag_ms]
        if count:
            args += ["--count", count]
        if duration:
            args += ["--duration", duration]
        if src:
            args += ["--src", src]
        super().__init__(ns, args)


class UdpReceiver(_NsScript):
    """UDP receiver (udprecv.py) inside ns on bind:port that checks the
    format and accounts per stream like the agent.

    Result dict: received, bad_magic, short, elapsed, streams {"0": {...}},
    and timeline {"0": [[us, seq], ...]} when timeline=True."""

    script = "udprecv.py"
    listens = True

    def __init__(self, ns, port, expect=None, idle=3.0, timeout=60.0, bind="0.0.0.0",
                 timeline=False):
        """expect: stop after that many datagrams; idle: stop that many
        seconds after the last datagram; timeout: overall bound."""
        args = ["--bind", bind, "--port", port, "--idle", idle, "--timeout", timeout]
        if expect:
            args += ["--expect", expect]
        if timeline:
            args += ["--timeline"]
        super().__init__(ns, args)


class TcpSender(_NsScript):
    """TCP pattern sender (tcpsend.py) inside ns to dst:port (default the
    guest's TCP sink 7002).  Result dict: ok, sent, elapsed, error."""

    script = "tcpsend.py"

    def __init__(self, ns, dst, nbytes, port=proto.PORT_TCP_SINK, timeout=30.0, rate=0):
        """rate: pace to this many bytes/s (0: as fast as TCP allows)."""
        super().__init__(ns, ["--dst", strip_prefix(dst), "--port", port, "--bytes", nbytes,
                              "--timeout", timeout, "--rate", rate])


class TcpReceiver(_NsScript):
    """TCP pattern receiver (tcprecv.py) inside ns on bind:port.  Result
    dict: connections, bytes, corrupted, max_gap_us, per_conn, elapsed."""

    script = "tcprecv.py"
    listens = True

    def __init__(self, ns, port, conns=1, timeout=60.0, bind="0.0.0.0"):
        super().__init__(ns, ["--bind", bind, "--port", port, "--conns", conns,
                              "--timeout", timeout])


# ---------------------------------------------------------------------------
# TAP output
# ---------------------------------------------------------------------------

class Tap:
    """Minimal TAP producer.

    ::

        tap = Tap(5)                 # prints 1..5
        tap.ok(x == 1, "x is one")
        tap.diag("boot took 2.1 s")
        sys.exit(tap.finish())       # reports unrun tests as not ok
    """

    def __init__(self, plan=None):
        """plan: number of tests (printed now) or None to print it at
        finish()."""
        self.plan = plan
        self.n = 0
        self.failed = 0
        if plan is not None:
            print("1..%d" % plan, flush=True)

    def ok(self, cond, desc, diag=None):
        """Report test desc as passed if cond is true; diag (str or object)
        is printed as a '#' comment when it fails.  Returns bool(cond)."""
        self.n += 1
        cond = bool(cond)
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc), flush=True)
        if not cond and diag is not None:
            self.diag(diag)
        return cond

    def skip(self, desc, reason):
        """Report a skipped test."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, reason), flush=True)

    def diag(self, msg):
        """Print msg as TAP comment lines."""
        for line in str(msg).splitlines() or [""]:
            print("# %s" % line, flush=True)

    def fail_remaining(self, reason):
        """Mark the planned tests that did not run as failed."""
        if self.plan is None:
            return
        while self.n < self.plan:
            self.ok(False, "not run: %s" % reason)

    def finish(self):
        """Print the plan if not yet printed, fail unrun planned tests, and
        return the exit status (0 iff everything passed)."""
        if self.plan is None:
            print("1..%d" % self.n, flush=True)
        else:
            self.fail_remaining("aborted")
        return 1 if self.failed else 0
