# SPDX-License-Identifier: BSD-3-Clause
"""``NetNS``: a throw-away network namespace with a Linux bridge (the "top
of rack switch"), and helpers to run commands and open sockets inside it.
Guest addresses are 10.77.0.0/24 inside the test namespace only."""

import ctypes
import itertools
import json
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time
from collections import namedtuple

from .env import (DEFAULT_BRIDGE_ADDR, HarnessError, _live, _terminate_popen,
                  install_signal_handlers, kill_pid, pdeathsig_prefix, strip_prefix, wait_for)

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

    def set_mtu(self, ifname, mtu):
        """Set the MTU of interface ifname inside the namespace."""
        self._ip("link", "set", ifname, "mtu", str(mtu))

    def link_mtu(self, ifname):
        """The MTU of interface ifname inside the namespace."""
        return json.loads(self._ip("-j", "link", "show", "dev", ifname).stdout)[0]["mtu"]

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
