# SPDX-License-Identifier: BSD-3-Clause
"""Run real vhost-shim daemons for end-to-end tests (``import shimlib``
still works: tests/lib/shimlib.py re-exports this module).

A ``Shim`` is one "host": a vhost-shim process inside the test's network
namespace (so its net_tap uplinks appear there and join the bridge), with
its own EAL --file-prefix, control socket, vhost-user sockets and, if
asked, a tunnel listener on the namespace's loopback.  Its control socket
speaks QMP, so the harness's QMP client drives it.

    with NetNS() as ns:
        a = Shim(ns, "hosta", workdir, tunnel_port=7401, peers={"hostb": 7402})
        a.add_port("vm1", "52:54:00:00:00:11")
        a.start()
        a.qmp.execute("query-stats", {"port": "vm1"})
"""

import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket as so
import subprocess
import time

from .env import REPO_ROOT, HarnessError, _live, skip_or_fail, wait_for
from .guest import VhostUserNetdev
from .qmp import QMP
from .traffic import UdpReceiver, UdpSender, stream_stats

REPO = REPO_ROOT


def shim_binary():
    """Path of the vhost-shim binary: $VSHIM_BIN, else build/vhost-shim/vhost-shim."""
    p = os.environ.get("VSHIM_BIN") or os.path.join(REPO, "build", "vhost-shim", "vhost-shim")
    if not os.access(p, os.X_OK):
        skip_or_fail("vhost-shim binary not found at %s (build first)" % p)
    return p


def write_key(path, key_hex=None):
    """Write a pre-shared tunnel key file (mode 0600); returns the hex key."""
    key_hex = key_hex or secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key_hex + "\n")
    os.chmod(path, 0o600)
    return key_hex


class Port:
    """One VM port of a Shim: name, MAC, vhost-user socket, tap uplink."""

    def __init__(self, shim, name, mac, tap, opts, uplink=None):
        self.shim = shim
        self.name = name
        self.mac = mac
        self.tap = tap if uplink is None else None
        self.uplink = uplink
        self.socket = os.path.join(shim.workdir, "%s-%s.sock" % (shim.name, name))
        self.opts = dict(opts)

    def spec(self, vdev_index):
        extra = "".join(",%s=%s" % (k, v) for k, v in self.opts.items())
        uplink = self.uplink or "net_tap%d,iface=%s" % (vdev_index, self.tap)
        return "name=%s,socket=%s,mac=%s%s,uplink=%s" % (
            self.name, self.socket, self.mac, extra, uplink)

    def netdev(self, **kw):
        """A VhostUserNetdev for QEMU on this port."""
        return VhostUserNetdev(self.socket, **kw)


class Shim:
    """A vhost-shim daemon standing for one host."""

    _count = 0

    def __init__(self, ns, name, workdir, tunnel_port=None, peers=None, key_file=None,
                 memory_mb=512, log_level="info", extra_args=None, hugepages="no",
                 uplink_drivers=None):
        """ns: vshimtest.NetNS; name: node name (also in file names);
        tunnel_port: listen on 127.0.0.1:PORT inside ns; peers: {name: port}
        of other shims on the same loopback; key_file: PSK (shared).
        workdir is also the daemon's socket-dir: the ports' sockets are
        there.  uplink_drivers: drivers allowed besides the default ones
        ("net_null net_vhost" for the benchmarks)."""
        Shim._count += 1
        self.ns = ns
        self.name = name
        self.workdir = workdir
        self.tunnel_port = tunnel_port
        self.peers = dict(peers or {})
        self.key_file = key_file
        self.memory_mb = memory_mb
        self.log_level = log_level
        self.extra_args = list(extra_args or [])
        self.hugepages = hugepages
        self.uplink_drivers = uplink_drivers
        self.ports = []
        self.control = os.path.join(workdir, "%s.ctl" % name)
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self.prefix = "vshimt-%d-%s" % (os.getpid(), name)
        self.proc = None
        self.qmp = None
        self._tap_seq = Shim._count * 10

    def add_port(self, name, mac, uplink=None, **opts):
        """Declare a port before start(); opts are extra spec keys
        (buffer policy, mode=client...); uplink: DPDK devargs (default: a
        net_tap that start() puts on the bridge).  Returns the Port."""
        self._tap_seq += 1
        tap = "vt%d%s" % (os.getpid() % 10000, self._tap_seq)
        p = Port(self, name, mac, tap[:15], opts, uplink)
        self.ports.append(p)
        return p

    def port(self, name):
        return next(p for p in self.ports if p.name == name)

    def command(self):
        cmd = [shim_binary(), "--hugepages", self.hugepages, "-m", str(self.memory_mb),
               "--file-prefix", self.prefix, "--control", self.control,
               "--socket-dir", os.path.normpath(self.workdir),
               "--log-level", self.log_level, "--node-name", self.name]
        if self.uplink_drivers:
            cmd += ["--uplink-drivers",
                    "net_tap net_af_packet net_virtio_user pci " + self.uplink_drivers]
        for i, p in enumerate(self.ports):
            cmd += ["--port", p.spec(i)]
        if self.tunnel_port:
            cmd += ["--tunnel-listen", "127.0.0.1:%d" % self.tunnel_port]
        for peer, port in self.peers.items():
            cmd += ["--peer", "%s=127.0.0.1:%d" % (peer, port)]
        if self.key_file:
            cmd += ["--key-file", self.key_file]
        return cmd + self.extra_args

    def start(self, timeout=30.0):
        """Start the daemon, wait for its control socket, attach its taps
        to the bridge.  Returns self."""
        if os.path.exists(self.control):
            os.unlink(self.control)
        self._log = open(self.log_path, "ab")
        self.proc = self.ns.popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT)
        _live.add(self)     # stopped at exit if the test does not
        try:
            self.qmp = QMP(self.control, timeout=timeout, alive=self.alive)
        except HarnessError as e:
            raise HarnessError("%s: %s\n%s" % (self.name, e, self.log_tail()))
        for p in self.ports:
            if p.tap:
                self.ns.attach(p.tap)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def execute(self, cmd, args=None, timeout=30.0):
        """Run a control command; returns its result (raises QMPError)."""
        return self.qmp.execute(cmd, args, timeout=timeout)

    def stats(self, port):
        """query-stats for one port (dict)."""
        r = self.execute("query-stats", {"port": port})
        return r[0] if isinstance(r, list) else r

    def migration(self, port):
        """query-migration for one port (dict)."""
        return self.execute("query-migration", {"port": port})[0]

    def wait_state(self, port, states, timeout=30.0):
        """Wait until the port's migration state is one of states."""
        if isinstance(states, str):
            states = (states,)
        wait_for(lambda: self.migration(port)["state"] in states, timeout, 0.05,
                    "%s/%s in state %s" % (self.name, port, "|".join(states)))

    def telemetry(self, cmd):
        """Ask the daemon's DPDK telemetry socket (what dpdk-telemetry.py
        reads) for cmd, e.g. "/vhost_shim/stats,vm1"; returns the value."""
        path = os.path.join(dpdk_runtime_dir(self.prefix), "dpdk_telemetry.v2")
        s = so.socket(so.AF_UNIX, so.SOCK_SEQPACKET)
        try:
            s.settimeout(5)
            s.connect(path)
            json.loads(s.recv(16384).decode())      # greeting
            s.send(cmd.encode())
            reply = json.loads(s.recv(65536).decode())
        finally:
            s.close()
        return reply[cmd.split(",")[0]]

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=30):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def kill(self, sig=signal.SIGKILL):
        """Kill the daemon abruptly (fault injection)."""
        if self.alive():
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self._close_qmp()

    def _close_qmp(self):
        if self.qmp:
            self.qmp.close()
            self.qmp = None

    def cleanup(self):
        """Same as stop(); used by the atexit handler."""
        self.stop()

    def stop(self, timeout=20.0):
        """SIGTERM and wait, then remove the files EAL leaves behind (hugepage
        files, the runtime directory); returns the exit status (None if it
        had to be killed).  Idempotent."""
        self._close_qmp()
        _live.discard(self)
        if not self.proc:
            return None
        status = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                status = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        else:
            status = self.proc.returncode
        self.ns.kill(self.proc)
        self._log.close()
        remove_dpdk_files(self.prefix)
        return status


# ---------------------------------------------------------------------------
# What EAL leaves behind
# ---------------------------------------------------------------------------

DPDK_RUNTIME = "/var/run/dpdk"

# The EAL --file-prefix of everything the tests start carries the PID of
# the test process: vshimt-PID-NAME (daemons, the uplinks test's switch),
# vshimt-tp-PID-NAME (testpmd.py), vshimb-PID-N-NAME (bench/lib)
_PREFIX_OWNER = re.compile(r"^vshim[tb]-(?:tp-)?(\d+)-")


def dpdk_runtime_dir(prefix):
    """The runtime directory EAL gives prefix when run as root (config,
    memory segment lists, the multi-process and telemetry sockets)."""
    return os.path.join(DPDK_RUNTIME, prefix)


def remove_dpdk_files(prefix):
    """Remove what an EAL process with --file-prefix prefix leaves when it
    exits or is killed: its hugepage files and its runtime directory.  Call
    it once the process is gone."""
    remove_hugepage_files(prefix)
    shutil.rmtree(dpdk_runtime_dir(prefix), ignore_errors=True)


def prefix_owner(prefix):
    """The PID of the test process a test prefix belongs to, or None."""
    m = _PREFIX_OWNER.match(prefix)
    return int(m.group(1)) if m else None


def dpdk_leftovers(pid=None):
    """Runtime directories of the daemons and testpmds that test process
    pid (default: this one) started, still in /var/run/dpdk."""
    pid = os.getpid() if pid is None else pid
    try:
        names = os.listdir(DPDK_RUNTIME)
    except OSError:
        return []
    return sorted(n for n in names if prefix_owner(n) == pid)


def remove_stale_dpdk_files():
    """Remove the runtime directories and hugepage files of test prefixes
    whose test process is gone (tools/cleanup-stale.sh does the same)."""
    try:
        names = os.listdir(DPDK_RUNTIME)
    except OSError:
        names = []
    for n in names:
        owner = prefix_owner(n)
        if owner is not None and not os.path.exists("/proc/%d" % owner):
            remove_dpdk_files(n)
    remove_stale_hugepage_files()


def remove_hugepage_files(prefix):
    """EAL leaves a file per hugepage segment (PREFIXmap_N) in hugetlbfs when
    the daemon exits or is killed, for secondary processes that tests never
    start; the pages stay taken until it is removed.  A run of the uplinks
    test on hugepages leaked 128 of them per run this way, and a later CI run
    could not reserve its 300."""
    for path in glob.glob(os.path.join("/dev/hugepages", glob.escape(prefix) + "map_*")):
        try:
            os.unlink(path)
        except OSError:
            pass


def remove_stale_hugepage_files():
    """Remove the hugepage files of test daemons (prefix vshimt-PID-) whose
    test process PID is gone: what a test killed before its cleanup left."""
    for path in glob.glob("/dev/hugepages/vshimt-*-*map_*"):
        pid = os.path.basename(path).split("-")[1]
        if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            try:
                os.unlink(path)
            except OSError:
                pass


def drops(stats):
    """Total drops of a query-stats result."""
    return sum(stats.get("drops", {}).values())


# -- helpers shared by the end-to-end tests --------------------------------

LOSS_KEYS = ("received", "lost", "reordered", "duplicated", "corrupted")


def loss_counts(stream):
    """The loss/order/integrity counters of one agent stream."""
    return {k: stream.get(k) for k in LOSS_KEYS}


def lossless(n):
    """What loss_counts() must be for n datagrams all received intact."""
    return {"received": n, "lost": 0, "reordered": 0, "duplicated": 0, "corrupted": 0}


def wait_stream(guest, n, stream=0, timeout=10.0):
    """Wait (bounded) until the guest's agent received n datagrams of
    stream, give late copies 0.3 s to show up, return the stream's stats."""
    try:
        wait_for(lambda: stream_stats(guest.stats(), stream)["received"] >= n, timeout,
                    0.1, "%s to receive %d datagrams" % (guest.name, n))
    except TimeoutError:
        pass
    time.sleep(0.3)
    return stream_stats(guest.stats(), stream)


def check_vm_traffic(tap, ns, g, what):
    """One TAP line: the VM answers 5/5 pings, receives 1000/1000 datagrams
    in order and sends 500/500 to the namespace (port 7150)."""
    pr = ns.ping(g.addr, count=5, interval=0.2, timeout=2.0)
    g.reset()
    res = UdpSender(ns, g.addr, pps=1000, count=1000, size=200).start().wait(timeout=30)
    s = wait_stream(g, 1000)
    rcv = UdpReceiver(ns, 7150, expect=500, idle=5, timeout=40).start()
    g.send(ns.host_ip, 7150, 500, 500, stream=5, size=200)
    rres = rcv.wait(timeout=45)
    tap.ok(pr.received == 5 and res["sent"] == 1000 and
           loss_counts(s) == lossless(1000) and rres["received"] == 500,
           "%s: 5/5 pings, 1000/1000 datagrams to the VM, 500/500 from it" % what,
           {"ping": pr, "guest": s, "host": rres})
