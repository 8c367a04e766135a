# SPDX-License-Identifier: BSD-3-Clause
"""OVS-DPDK (Open vSwitch 3.1's userspace datapath) as a vhost-user
backend: another backend a fleet moves from (issue 18).

An ``OvsDpdkHost`` stands for one host the way a ``shimlib.Shim`` does: a
private ovsdb-server and ``ovs-vswitchd-dpdk`` (Debian's
openvswitch-switch-dpdk) inside the test namespace, with their own
database, run and log directories under the work directory (nothing of the
system's OVS is used or started), one ``datapath_type=netdev`` bridge with
a ``dpdkvhostuserclient`` port (QEMU is the vhost-user server and OVS
connects to it, retrying every second: the port type OVS recommends; its
server-mode ``dpdkvhostuser`` registers linear buffers without external
ones, and DPDK then withholds host TSO even with userspace TSO on) and a
DPDK ``net_tap`` port (a tap in the namespace)
enslaved to the test bridge, L2 learning between them (the NORMAL action).
Not the bridge's internal port: with userspace TSO, OVS 3.1 sent the
guest's UDP to it with the checksum the guest left partial, and the
namespace's kernel dropped it (tried 2026-12-07); net_tap finishes the
checksums OVS leaves to it.

DPDK runs without hugepages (``dpdk-extra``: ``--no-huge``, its own file
prefix), one PMD thread on core 1 (``pmd-cpu-mask``), the rest on core 0.
``tso``: ``other_config:userspace-tso-enable`` (off by default in OVS, as
here by default: "OVS-DPDK 3.1 with its defaults").
"""

import os
import signal
import subprocess

import vshimtest as vt

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def available():
    return os.path.exists(VSWITCHD) and os.path.exists(SCHEMA)


class OvsDpdkHost:
    """OVS-DPDK forwarding between a vhost-user socket and a tap."""

    _count = 0

    def __init__(self, ns, name, workdir, tso=False, port="vhu0"):
        OvsDpdkHost._count += 1
        self.ns = ns
        self.name = name
        self.dir = os.path.join(workdir, "ovs-%s" % name)
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, "conf.db")
        self.db_sock = os.path.join(self.dir, "db.sock")
        self.port = port
        self.socket = os.path.join(self.dir, port + ".sock")    # QEMU's (server)
        self.bridge = ("ov%d%d" % (os.getpid() % 1000, OvsDpdkHost._count))[:15]
        self.tap = ("ot%d%d" % (os.getpid() % 1000, OvsDpdkHost._count))[:15]
        self.prefix = "vshimt-ovs-%d-%s" % (os.getpid(), name)
        self.tso = tso
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir,
                        OVS_DBDIR=self.dir, OVS_SYSCONFDIR=self.dir, OVS_PKGDATADIR=os.path.dirname(SCHEMA))
        self.dbserver = None
        self.vswitchd = None
        self._logs = []

    def netdev(self, **kw):
        """QEMU listens on the port's socket; a guest that left (migrated
        away, stopped) left its socket file behind, removed first."""
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        return vt.VhostUserNetdev(self.socket, server=True, **kw)

    def vsctl(self, *args, timeout=30):
        return self.ns.run(["ovs-vsctl", "--db=unix:%s" % self.db_sock, "--timeout=%d" % timeout]
                           + list(args), timeout=timeout + 5)

    def _popen(self, cmd, log):
        f = open(os.path.join(self.dir, log), "ab")
        self._logs.append(f)
        return self.ns.popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=self.env)

    def start(self):
        subprocess.run(["ovsdb-tool", "create", self.db, SCHEMA], check=True,
                       stdout=subprocess.DEVNULL, env=self.env)
        self.dbserver = self._popen(
            ["ovsdb-server", self.db, "--remote=punix:%s" % self.db_sock,
             "--unixctl=%s" % os.path.join(self.dir, "ovsdb-server.ctl"),
             "--log-file=%s" % os.path.join(self.dir, "ovsdb-server.log")], "ovsdb-server.out")
        vt.wait_for(lambda: os.path.exists(self.db_sock) or self.dbserver.poll() is not None,
                    30, 0.05, "ovsdb-server socket")
        if self.dbserver.poll() is not None:
            raise vt.HarnessError("ovsdb-server exited: %s" % self.log_tail("ovsdb-server.log"))
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true",
                   "other_config:dpdk-extra=--no-huge --legacy-mem -m 1024 --no-pci --file-prefix=%s"
                   % self.prefix,
                   "other_config:dpdk-lcore-mask=0x1", "other_config:pmd-cpu-mask=0x2",
                   "other_config:userspace-tso-enable=%s" % ("true" if self.tso else "false"))
        self.vswitchd = self._popen(
            [VSWITCHD, "unix:%s" % self.db_sock,
             "--unixctl=%s" % os.path.join(self.dir, "ovs-vswitchd.ctl"),
             "--log-file=%s" % os.path.join(self.dir, "ovs-vswitchd.log")], "ovs-vswitchd.out")
        try:
            self.vsctl("add-br", self.bridge, "--", "set", "bridge", self.bridge,
                       "datapath_type=netdev", timeout=60)
            self.vsctl("add-port", self.bridge, self.port, "--", "set", "Interface", self.port,
                       "type=dpdkvhostuserclient",
                       "options:vhost-server-path=%s" % self.socket, timeout=60)
            self.vsctl("add-port", self.bridge, "uplink", "--", "set", "Interface", "uplink",
                       "type=dpdk", "options:dpdk-devargs=net_tap%d,iface=%s"
                       % (OvsDpdkHost._count, self.tap),
                       # OVS gives a port a TX queue per PMD thread plus one;
                       # net_tap wants as many RX queues as TX queues
                       "options:n_rxq=2", timeout=60)
        except vt.HarnessError as e:
            raise vt.HarnessError("%s; ovs-vswitchd: %s" % (e, self.log_tail())) from None
        self.ns.attach(self.tap, timeout=30)
        if not self.alive():
            raise vt.HarnessError("ovs-vswitchd exited: %s" % self.log_tail())
        return self

    def alive(self):
        return self.vswitchd is not None and self.vswitchd.poll() is None

    def log_tail(self, log="ovs-vswitchd.log", lines=20):
        try:
            with open(os.path.join(self.dir, log), errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """ovs-vswitchd and ovsdb-server: SIGTERM (their clean exit), by
        PID, then the DPDK runtime directory."""
        for p in (self.vswitchd, self.dbserver):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            if p is not None:
                self.ns.kill(p)
        for f in self._logs:
            f.close()
        self._logs = []
        vt.remove_dpdk_files(self.prefix)
