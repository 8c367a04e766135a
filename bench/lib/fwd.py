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

Frames over 1518 bytes (jumbo, up to 9018): every side gets an MTU of
JUMBO_MTU and mbufs that hold a whole frame (single segment):
vhost-shim the port option mtu=9000 (its pool's mbufs are sized to the
port's largest frame); dpdk-testpmd, backend and frontend,
--max-pkt-len=9018 --mbuf-size=10240 (net_null's RX sets data_len to
size= without looking at the mbuf's room, so smaller mbufs would hand the
vhost enqueue a frame that overruns its buffer); the frontend's virtio_user
vdev mrg_rxbuf=1 (a 9000-byte frame spans several RX descriptors) and
--txpkts=S with S-byte single-segment mbufs.  Fewer mbufs then, for the
memory: JUMBO_*_MBUFS.

Every run checks that the frames were carried (carried_check()): the
frontend's bytes per packet are the frame size, and the backend's own
counters agree with the frontend's (VM -> uplink: what its uplink sent,
since the frontend's TX counts what the backend took from the ring even if
it dropped it then; uplink -> VM: what it put into the VM's ring).  Those
are compared as totals since the start, after the window, once the
frontend has stopped forwarding and the backend has drained the ring:
reading two programs' counters at the same instant is not possible here
(testpmd answers 'show port stats' on its main lcore, which shares core 1
with the busy poller, tens of ms late), so within the window they only
roughly agree (backend_agree, recorded).
A run that fails this has a 'not_carried' reason and, with
run_case(strict=True) (bench/forwarding), mpps None.
"""

import os
import time

import benchlib as bl

vt = bl.vt
shimlib = bl.shimlib


def mac(i, base=0x10):
    return "52:54:00:b0:%02x:%02x" % (base, i)


JUMBO_MTU = 9000              # the ports' MTU for frames over 1518 bytes
JUMBO_MAX_PKT_LEN = JUMBO_MTU + 18      # testpmd --max-pkt-len: MTU + Ethernet + VLAN
JUMBO_MBUF_SIZE = 10240       # testpmd --mbuf-size (headroom included): one 9018-byte frame
JUMBO_BACKEND_MBUFS = 8192    # testpmd backend (plus 2048 per port): ~10 KiB each
JUMBO_FRONTEND_MBUFS = 4096   # frontend (plus 1024 per port)
# backend total vs frontend total after the drain: at most two rings
# (2 x queue_size) and a burst apart, plus this fraction
CARRIED_TOLERANCE = 0.001


def is_jumbo(size):
    if size > JUMBO_MAX_PKT_LEN:
        raise ValueError("frame size %d over %d (MTU %d)" % (size, JUMBO_MAX_PKT_LEN,
                                                             JUMBO_MTU))
    return size > 1518


def gbps(mpps, size):
    """Gbit/s of size-byte frames at mpps (frame bytes x pps x 8; no
    preamble, inter-frame gap or FCS)."""
    return mpps * size * 8 / 1e3 if mpps is not None else None


class Backend:
    """vhost-shim or dpdk-testpmd serving nports vhost-user sockets, each
    with a net_null uplink."""

    def __init__(self, ns, wd, kind, nports, direction, size, busy_poll=True, extra=()):
        self.ns, self.wd, self.kind, self.nports = ns, wd, kind, nports
        self.sockets = [os.path.join(wd, "%s-vm%d.sock" % (kind, i)) for i in range(nports)]
        null = "no-rx=1" if direction == "tx" else "size=%d" % size
        self.null = null
        self.jumbo = is_jumbo(size)
        self.shim = self.pmd = None
        if kind == "shim":
            args = ["--lcores", bl.BACKEND_LCORES]
            if busy_poll:
                args.append("--busy-poll")
            # jumbo: mtu=9000, so the port's pool holds 9146-byte mbufs
            # (headroom + 9018, port_pool.h) instead of 2176-byte ones
            s = shimlib.Shim(ns, "bsh%d" % os.getpid(), wd,
                             memory_mb=(256 + 320 * nports) if self.jumbo else (256 + 160 * nports),
                             log_level="notice", extra_args=args + list(extra),
                             uplink_drivers="net_null")
            opts = {"mtu": JUMBO_MTU} if self.jumbo else {}
            for i in range(nports):
                p = s.add_port("vm%d" % i, mac(i), uplink="net_null%d,%s" % (i, null), **opts)
                p.socket = self.sockets[i]
            self.shim = s
        else:
            vdevs = []
            for i in range(nports):
                vdevs += ["net_vhost%d,iface=%s,queues=1" % (i, self.sockets[i]),
                          "net_null%d,%s" % (i, null)]
            if self.jumbo:
                mbufs = JUMBO_BACKEND_MBUFS + 2048 * nports
                jargs = ["--max-pkt-len=%d" % JUMBO_MAX_PKT_LEN,
                         "--mbuf-size=%d" % JUMBO_MBUF_SIZE]
                mem_mb = 128 + mbufs * (JUMBO_MBUF_SIZE + 512) // (1 << 20)
            else:
                mbufs, jargs, mem_mb = 16384 + 4096 * nports, [], 256 + 64 * nports
            self.pmd = bl.Pmd(ns, wd, "testpmd-backend", vdevs,
                              ["--forward-mode=io", "--nb-cores=1",
                               "--total-num-mbufs=%d" % mbufs] + jargs,
                              lcores=bl.BACKEND_LCORES, mem_mb=mem_mb)

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

    def counters(self):
        """The backend's own view, summed over its VM ports: {'from_vm',
        'to_uplink', 'from_uplink', 'to_vm'} packets (and bytes where the
        driver counts them), plus the shim's drops by reason."""
        if self.shim:
            t = shim_totals(self.shim, self.nports)
            c = {"from_vm": t.get("vm-tx-pkts", 0), "to_uplink": t.get("tx-pkts", 0),
                 "from_uplink": t.get("uplink-rx-pkts", 0), "to_vm": t.get("rx-pkts", 0)}
            c.update({k: v for k, v in t.items() if k.startswith("drop:")})
            return c
        # testpmd: ports alternate net_vhost<i>, net_null<i> (vdev order)
        st = self.pmd.port_stats()
        vh, nl = st[0::2], st[1::2]
        return {"from_vm": sum(p["rx"] for p in vh), "to_uplink": sum(p["tx"] for p in nl),
                "from_uplink": sum(p["rx"] for p in nl), "to_vm": sum(p["tx"] for p in vh),
                "to_vm_bytes": sum(p["tx_bytes"] for p in vh),
                "from_vm_bytes": sum(p["rx_bytes"] for p in vh),
                "tx_errors": sum(p["tx_errors"] for p in st),
                "rx_nombuf": sum(p["rx_nombuf"] for p in st)}

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
        jumbo = is_jumbo(size)
        # jumbo: mergeable RX buffers (virtio_user's default, said out loud)
        vdevs = ["net_virtio_user%d,path=%s,queues=1,queue_size=%d,mac=%s%s"
                 % (i, s, queue_size, mac(i, 0x20), ",mrg_rxbuf=1" if jumbo else "")
                 for i, s in enumerate(sockets)]
        if jumbo:
            mbufs = JUMBO_FRONTEND_MBUFS + 1024 * len(sockets)
            jargs = ["--max-pkt-len=%d" % JUMBO_MAX_PKT_LEN, "--mbuf-size=%d" % JUMBO_MBUF_SIZE]
            mem_mb = 96 + mbufs * (JUMBO_MBUF_SIZE + 512) // (1 << 20)
        else:
            mbufs, jargs, mem_mb = 8192 + 2048 * len(sockets), [], 128 + 32 * len(sockets)
        # --mbuf-size before --txpkts: testpmd checks the segment lengths
        # against the mbuf size as it parses --txpkts ("length[0]=9000 >
        # mbuf_data_size=2176 - give up", and it sends 64-byte frames)
        args = ["--forward-mode=%s" % mode, "--nb-cores=1",
                "--total-num-mbufs=%d" % mbufs] + jargs + ["--txpkts=%d" % size]
        self.mode = mode
        self.queue_size = queue_size
        self.pmd = bl.Pmd(ns, wd, name, vdevs, args, lcores=bl.FRONTEND_LCORES,
                          main_lcore=bl.FRONTEND_MAIN_LCORE, mem=mem, mem_mb=mem_mb)

    def start(self):
        self.pmd.start()
        return self

    def go(self):
        self.pmd.cmd_wait("start", "packet forwarding")

    def halt(self):
        """Stop forwarding (the ports stay up, the counters stay)."""
        self.pmd.cmd_wait("stop", "Done.")

    def counted(self):
        """Packets the frontend exchanged with the backend so far (sum over
        its ports): TX in txonly, RX in rxonly."""
        return self.counted_bytes()[0]

    def counted_bytes(self):
        """(packets, bytes) the frontend exchanged with the backend so far."""
        st = self.pmd.port_stats()
        key = "tx" if self.mode == "txonly" else "rx"
        return sum(p[key] for p in st), sum(p[key + "_bytes"] for p in st)

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
             profile=None, strict=False):
    """One measurement; returns a dict (mpps, gbps, cycles_per_pkt, ...).
    direction: 'tx' (VM -> uplink) or 'rx' (uplink -> VM).  profile: a
    callable(pid, tid, seconds) run instead of the plain sleep (perf).
    strict: a run whose frames were not carried (carried_check()) has mpps
    and cycles_per_pkt None instead of the frontend's count."""
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
        # the backend's counters are read right after the frontend's, at
        # both ends, so the two windows have the same length
        c0, b0 = fe.counted_bytes()
        k0 = be.counters()
        w = bl.CpuWindow(be.pid, tid)
        t0 = time.monotonic()
        extra = {}
        if profile:
            extra = profile(be.pid, tid, seconds) or {}
        else:
            time.sleep(seconds)
        c1, b1 = fe.counted_bytes()
        dt = time.monotonic() - t0
        cpu = w.stop()
        k1 = be.counters()
        pkts = c1 - c0
        res = {"backend": kind, "direction": direction, "size": size, "ports": nports,
               "seconds": round(dt, 3), "packets": pkts, "frontend_bytes": b1 - b0,
               "mpps": pkts / dt / 1e6 if dt else 0.0,
               "poller_cpu_s": round(cpu["thread_cpu_s"], 3),
               "poller_cpu_pct": round(cpu["thread_pct"], 1),
               "process_cpu_pct": round(cpu["proc_pct"], 1),
               "cycles_per_pkt": (cpu["thread_cpu_s"] * bl.tsc_hz() / pkts) if pkts else None,
               "loadavg": bl.loadavg()}
        res["backend_window"] = {k: k1[k] - k0.get(k, 0) for k in k1}
        if be.shim:
            res["shim_window"] = shim_delta(st0, shim_totals(be.shim, nports))
        # totals since the start, the frontend stopped and the ring drained
        fe.halt()
        time.sleep(0.5)
        tp, tb = fe.counted_bytes()
        res["totals"] = {"frontend": tp, "frontend_bytes": tb, "backend": be.counters(),
                         # left in the VM's RX ring when the frontend stops:
                         # 256 or 512 frames with a 256-entry ring, either backend
                         "slack": (2 * fe.queue_size + 64) * nports}
        carried_check(res, strict)
        res["gbps"] = gbps(res["mpps"], size)
        res.update(extra)
        return res
    finally:
        if fe:
            fe.stop()
        be.stop()


def carried_check(res, strict=True):
    """Were the frames really carried, at their size?  Sets
    res['bytes_per_pkt'], res['backend_agree'] (the backend's count over
    the frontend's in the window: rough), res['totals']['backend_minus_frontend']
    and, if not, res['not_carried'] (why) and, if strict, res['mpps'] =
    res['cycles_per_pkt'] = None: a frame counted by the frontend and
    dropped by the backend is no throughput."""
    pkts, size, why = res["packets"], res["size"], []
    bw = res["backend_window"]
    if pkts <= 0:
        why.append("no frame counted at the frontend")
    else:
        bpp = res["frontend_bytes"] / pkts
        res["bytes_per_pkt"] = round(bpp, 1)
        if abs(bpp - size) > 0.5:
            why.append("frontend saw %.1f bytes per frame, not %d" % (bpp, size))
        # VM -> uplink: the uplink must have sent what the frontend put in
        # the ring; uplink -> VM: the backend must have put in the ring
        # what the frontend received (what is left in the VM's ring when
        # the frontend stops is counted by the backend only)
        key = "to_uplink" if res["direction"] == "tx" else "to_vm"
        res["backend_agree"] = round(bw.get(key, 0) / pkts, 4)     # the window: rough
        tot = res.get("totals")
        if tot:
            fe_n, be_n = tot["frontend"], tot["backend"].get(key, 0)
            tol = CARRIED_TOLERANCE * fe_n
            # VM -> uplink: the backend can have sent less (frames still
            # in flight), never more; uplink -> VM the reverse
            if res["direction"] == "tx":
                lo, hi = fe_n - tot["slack"] - tol, fe_n + tol
            else:
                lo, hi = fe_n - tol, fe_n + tot["slack"] + tol
            res["totals"]["backend_minus_frontend"] = be_n - fe_n
            if not lo <= be_n <= hi:
                why.append("backend %s %d in all against frontend %d" % (key, be_n, fe_n))
        # VM -> uplink: a null uplink takes everything, so any drop of the
        # shim's (oversize, ...) is a frame the frontend counted for nothing
        drops = sum(v for k, v in bw.items() if k.startswith("drop:"))
        if res["direction"] == "tx" and drops > 0.001 * pkts:
            why.append("backend dropped %d (%s)" % (drops, ", ".join(
                "%s %d" % (k[5:], v) for k, v in sorted(bw.items())
                if k.startswith("drop:") and v)))
        if res["direction"] == "rx" and bw.get("to_vm_bytes"):
            tb = bw["to_vm_bytes"] / max(bw["to_vm"], 1)
            if abs(tb - size) > 0.5:
                why.append("backend sent %.1f bytes per frame to the VM, not %d" % (tb, size))
    if why:
        res["not_carried"] = "; ".join(why)
        if strict:
            res["mpps_counted"] = res["mpps"]
            res["mpps"] = res["cycles_per_pkt"] = None


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
