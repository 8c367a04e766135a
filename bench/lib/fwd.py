# SPDX-License-Identifier: BSD-3-Clause
"""Steady-state forwarding through a vhost-user backend (bench/forwarding,
bench/scale).

    frontend (the VM)                      backend under test             uplink
    dpdk-testpmd, forwarding lcore on 0    polling thread on core 1
    net_virtio_user<i>  <--vhost-user-->   vhost-shim --busy-poll     <-> net_null<i>
      txonly (VM -> uplink)                or dpdk-testpmd net_vhost<i>
      rxonly (uplink -> VM)                   --forward-mode=io

VM -> uplink: net_null has no-rx=1, so the backend only moves the guest's TX
ring to the null TX.  Uplink -> VM: net_null's RX makes `size`-byte frames as
fast as it is polled and the backend copies them into the guest's RX ring
(whatever does not fit is dropped by both backends, as a NIC would).

Packets are counted at the frontend (the same program for both backends):
TX-packets taken by the backend, RX-packets delivered to it.  Cycles per
packet: CPU time of the backend's polling thread (/proc/PID/task/TID/stat,
utime+stime) times the TSC frequency, divided by the packets.  perf's
hardware counters are not available in this VM.
"""

import os
import time

import benchlib as bl

vt = bl.vt
shimlib = bl.shimlib


def mac(i, base=0x10):
    return "52:54:00:b0:%02x:%02x" % (base, i)


class Backend:
    """vhost-shim or dpdk-testpmd serving nports vhost-user sockets, each
    with a net_null uplink."""

    def __init__(self, ns, wd, kind, nports, direction, size, busy_poll=True, extra=()):
        self.ns, self.wd, self.kind, self.nports = ns, wd, kind, nports
        self.sockets = [os.path.join(wd, "%s-vm%d.sock" % (kind, i)) for i in range(nports)]
        null = "no-rx=1" if direction == "tx" else "size=%d" % size
        self.null = null
        self.shim = self.pmd = None
        if kind == "shim":
            args = ["--lcores", bl.BACKEND_LCORES]
            if busy_poll:
                args.append("--busy-poll")
            s = shimlib.Shim(ns, "bsh%d" % os.getpid(), wd, memory_mb=256 + 160 * nports,
                             log_level="notice", extra_args=args + list(extra),
                             uplink_drivers="net_null")
            for i in range(nports):
                p = s.add_port("vm%d" % i, mac(i), uplink="net_null%d,%s" % (i, null))
                p.socket = self.sockets[i]
            self.shim = s
        else:
            vdevs = []
            for i in range(nports):
                vdevs += ["net_vhost%d,iface=%s,queues=1" % (i, self.sockets[i]),
                          "net_null%d,%s" % (i, null)]
            self.pmd = bl.Pmd(ns, wd, "testpmd-backend", vdevs,
                              ["--forward-mode=io", "--nb-cores=1",
                               "--total-num-mbufs=%d" % (16384 + 4096 * nports)],
                              lcores=bl.BACKEND_LCORES, mem_mb=256 + 64 * nports)

    def start(self):
        if self.shim:
            self.shim.start()
        else:
            self.pmd.start()
            self.pmd.cmd_wait("start", "io packet forwarding")
        return self

    @property
    def pid(self):
        return self.shim.proc.pid if self.shim else self.pmd.proc.pid

    def wait_connected(self, timeout=30.0):
        if self.shim:
            vt.wait_for(lambda: all(p["state"] == "running"
                                    for p in self.shim.execute("query-ports")),
                        timeout, 0.1, "all shim ports running")
        else:
            vt.wait_for(lambda: self.pmd.text().count("virtio is now ready for processing")
                        >= self.nports, timeout, 0.1, "testpmd vhost ports connected")
            time.sleep(0.5)

    def stop(self):
        if self.shim:
            self.shim.stop()
        if self.pmd:
            self.pmd.stop()


class Frontend:
    """One dpdk-testpmd with nports net_virtio_user ports (the VMs), its
    forwarding lcore on core 0."""

    def __init__(self, ns, wd, sockets, mode, size, mem="nohuge", name="frontend",
                 queue_size=256):
        vdevs = ["net_virtio_user%d,path=%s,queues=1,queue_size=%d,mac=%s"
                 % (i, s, queue_size, mac(i, 0x20)) for i, s in enumerate(sockets)]
        args = ["--forward-mode=%s" % mode, "--nb-cores=1",
                "--total-num-mbufs=%d" % (8192 + 2048 * len(sockets)),
                "--txpkts=%d" % size]
        self.mode = mode
        self.pmd = bl.Pmd(ns, wd, name, vdevs, args, lcores=bl.FRONTEND_LCORES,
                          main_lcore=bl.FRONTEND_MAIN_LCORE, mem=mem,
                          mem_mb=128 + 32 * len(sockets))

    def start(self):
        self.pmd.start()
        return self

    def go(self):
        self.pmd.cmd_wait("start", "packet forwarding")

    def counted(self):
        """Packets the frontend exchanged with the backend so far (sum over
        its ports): TX in txonly, RX in rxonly."""
        st = self.pmd.port_stats()
        key = "tx" if self.mode == "txonly" else "rx"
        return sum(p[key] for p in st)

    def stop(self):
        self.pmd.stop()


def shim_totals(shim, nports):
    """Counters of the shim summed over its ports (drops by reason)."""
    tot = {}
    for i in range(nports):
        st = shim.stats("vm%d" % i)
        for k in ("uplink-rx-pkts", "rx-pkts", "vm-tx-pkts", "tx-pkts", "live-held-pkts",
                  "replayed-pkts"):
            tot[k] = tot.get(k, 0) + st.get(k, 0)
        for k, v in st.get("drops", {}).items():
            tot["drop:" + k] = tot.get("drop:" + k, 0) + v
    return tot


def shim_delta(a, b):
    return {k: b[k] - a.get(k, 0) for k in b if b[k] - a.get(k, 0)}


def run_case(ns, wd, kind, direction, size, nports=1, seconds=5.0, warmup=1.0, mem="nohuge",
             profile=None):
    """One measurement; returns a dict (mpps, cycles_per_pkt, ...).
    direction: 'tx' (VM -> uplink) or 'rx' (uplink -> VM).  profile: a
    callable(pid, tid, seconds) run instead of the plain sleep (perf)."""
    os.makedirs(wd, exist_ok=True)
    be = Backend(ns, wd, kind, nports, direction, size)
    fe = None
    try:
        be.start()
        fe = Frontend(ns, wd, be.sockets, "txonly" if direction == "tx" else "rxonly", size,
                      mem=mem).start()
        be.wait_connected()
        tid = bl.wait_thread(be.pid, bl.POLLER_THREAD)
        fe.go()
        time.sleep(warmup)
        st0 = shim_totals(be.shim, nports) if be.shim else None
        c0 = fe.counted()
        w = bl.CpuWindow(be.pid, tid)
        t0 = time.monotonic()
        extra = {}
        if profile:
            extra = profile(be.pid, tid, seconds) or {}
        else:
            time.sleep(seconds)
        c1 = fe.counted()
        dt = time.monotonic() - t0
        cpu = w.stop()
        pkts = c1 - c0
        res = {"backend": kind, "direction": direction, "size": size, "ports": nports,
               "seconds": round(dt, 3), "packets": pkts,
               "mpps": pkts / dt / 1e6 if dt else 0.0,
               "poller_cpu_s": round(cpu["thread_cpu_s"], 3),
               "poller_cpu_pct": round(cpu["thread_pct"], 1),
               "process_cpu_pct": round(cpu["proc_pct"], 1),
               "cycles_per_pkt": (cpu["thread_cpu_s"] * bl.tsc_hz() / pkts) if pkts else None,
               "loadavg": bl.loadavg()}
        if be.shim:
            res["shim_window"] = shim_delta(st0, shim_totals(be.shim, nports))
        res.update(extra)
        return res
    finally:
        if fe:
            fe.stop()
        be.stop()


def measure_idle(ns, wd, kind, nports, seconds=10.0, with_vms=True, extra=()):
    """CPU of an idle backend (no traffic) with nports ports, from
    /proc/PID/stat over `seconds`.  vhost-shim runs with its defaults
    (adaptive sleep, no --busy-poll); with_vms: the ports have connected
    but idle VMs (one frontend process with nports virtio_user ports that
    never forwards).  Returns percent of one core, and the frontend's."""
    os.makedirs(wd, exist_ok=True)
    be = Backend(ns, wd, kind, nports, "tx", 64, busy_poll=False, extra=extra)
    fe = None
    try:
        be.start()
        if with_vms:
            fe = Frontend(ns, wd, be.sockets, "rxonly", 64, name="idle-vms").start()
            be.wait_connected()
        elif kind == "shim":
            vt.wait_for(lambda: len(be.shim.execute("query-ports")) == nports, 30, 0.1,
                        "shim ports")
        time.sleep(1.0)
        w = CpuWin(be.pid, fe.pmd.proc.pid if fe else None)
        time.sleep(seconds)
        r = w.stop()
        return {"backend": kind, "ports": nports, "vms": nports if with_vms else 0,
                "options": " ".join(extra),
                "seconds": round(r["wall_s"], 2), "cpu_pct": round(r["backend_pct"], 2),
                "frontend_cpu_pct": round(r["frontend_pct"], 2) if fe else None,
                "loadavg": bl.loadavg()}
    finally:
        if fe:
            fe.stop()
        be.stop()


class CpuWin:
    def __init__(self, pid, fe_pid=None):
        self.pid, self.fe_pid = pid, fe_pid
        self.t0 = time.monotonic()
        self.c0 = bl.proc_cpu(pid)
        self.f0 = bl.proc_cpu(fe_pid) if fe_pid else 0.0

    def stop(self):
        dt = time.monotonic() - self.t0
        c = bl.proc_cpu(self.pid) - self.c0
        f = (bl.proc_cpu(self.fe_pid) - self.f0) if self.fe_pid else 0.0
        return {"wall_s": dt, "backend_pct": 100.0 * c / dt, "frontend_pct": 100.0 * f / dt}
