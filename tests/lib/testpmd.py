# SPDX-License-Identifier: BSD-3-Clause
"""dpdk-testpmd as a plain vhost-user backend: the baseline.

A ``TestpmdHost`` stands for one host the way a ``shimlib.Shim`` does, but
forwards with DPDK's reference application: port 0 is ``net_vhost`` (the
VM's vhost-user socket, server mode), port 1 a ``net_tap`` on the test
bridge, io forwarding between them.  It has no migration logic: whatever
reaches it while the VM is not running is dropped.
"""

import os
import signal
import subprocess

import vshimtest as vt


class TestpmdHost:
    """dpdk-testpmd forwarding between a vhost-user socket and a tap."""

    _count = 0

    def __init__(self, ns, name, workdir, lcores=None, forward_mode="io", eth_peers=None):
        """forward_mode: testpmd's --forward-mode; eth_peers: {port: MAC},
        the destination MAC the mac-rewriting engines (csum, mac) give
        the frames they send on that port (0: the vhost port, to the
        guest; 1: the tap)."""
        TestpmdHost._count += 1
        self.ns = ns
        self.name = name
        self.workdir = workdir
        self.socket = os.path.join(workdir, "%s-vm.sock" % name)
        self.tap = ("tp%d%s" % (os.getpid() % 10000, TestpmdHost._count))[:15]
        self.prefix = "vshimt-tp-%d-%s" % (os.getpid(), name)
        self.log_path = os.path.join(workdir, "%s-testpmd.log" % name)
        self.lcores = lcores or "0,1"
        self.forward_mode = forward_mode
        self.eth_peers = eth_peers or {}
        self.proc = None

    def netdev(self, **kw):
        return vt.VhostUserNetdev(self.socket, **kw)

    def start(self):
        exe = "dpdk-testpmd"
        cmd = [exe, "-l", self.lcores, "--no-huge", "-m", "512", "--no-pci",
               "--file-prefix", self.prefix,
               "--vdev", "net_vhost0,iface=%s,queues=1" % self.socket,
               "--vdev", "net_tap0,iface=%s" % self.tap,
               "--", "--forward-mode=%s" % self.forward_mode] + \
              ["--eth-peer=%d,%s" % (p, mac) for p, mac in sorted(self.eth_peers.items())] + \
              ["--auto-start", "--stats-period", "3600",
               "--nb-cores=1", "--rxq=1", "--txq=1", "--total-num-mbufs=16384"]
        self._log = open(self.log_path, "ab")
        self.proc = self.ns.popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        self.ns.attach(self.tap, timeout=30)
        vt.wait_for(lambda: os.path.exists(self.socket) or not self.alive(), 30, 0.05,
                    "testpmd vhost-user socket")
        if not self.alive():
            raise vt.HarnessError("dpdk-testpmd exited: %s" % self.log_tail())
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """SIGINT (testpmd's clean exit) and wait, then remove the runtime
        directory EAL leaves; returns the exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        self.ns.kill(self.proc)
        self._log.close()
        vt.remove_dpdk_files(self.prefix)
        return self.proc.returncode
