#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: a guest that enables fewer queue pairs than its port has.

The port has 4 queue pairs (a 4-queue net_tap uplink, a 4-queue vhost-user
netdev with mq=on); the guest has one vCPU, so Linux enables one queue pair
(VHOST_USER_SET_VRING_ENABLE for pair 0 only).  The kernel's multiqueue tap
spreads flows over the uplink's 4 queues, so 8 UDP flows arrive on several
of them.  Before issue 18's fix the lcore delivered uplink queue q to the
guest's RX queue q: with buffering on, every burst of a queue the guest had
not enabled was taken for a full ring and replayed (LIVE/REPLAY flips,
replayed-pkts growing without a migration); with buffering off it was
dropped.  Now frames of a disabled queue go to an enabled one, a flow to
one queue: every datagram arrives, in order per flow, nothing replayed or
dropped.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 2     # and tap_main's last: nothing left behind
MAC = "52:54:00:77:10:01"
IP = "10.77.0.81/24"
FLOWS = 8
PER_FLOW = 1500
PPS = 250


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        shim.add_port("vm1", MAC, queues=4)
        shim.start()
        state["pids"].append(shim.proc.pid)
        g = None
        try:
            g = vt.Guest(shim.port("vm1").netdev(queues=4), ns=ns, name="vm1", ip=IP, mac=MAC,
                         workdir=os.path.join(workdir, "vm1"), smp=1)
            g.start()
            state["pids"].append(g.pid)
            g.wait_ready(timeout=90)
            g.reset()
            s0 = shim.stats("vm1")
            senders = [vt.UdpSender(ns, g.addr, pps=PPS, count=PER_FLOW, size=100,
                                    stream=i).start() for i in range(FLOWS)]
            sres = [s.wait(timeout=PER_FLOW / PPS + 30) for s in senders]
            streams = [shimlib.wait_stream(g, PER_FLOW, stream=i) for i in range(FLOWS)]
            s1 = shim.stats("vm1")
            port = shim.execute("query-ports")[0]
            drops = {k: v - s0["drops"].get(k, 0) for k, v in s1["drops"].items()
                     if v - s0["drops"].get(k, 0)}
            replayed = s1["replayed-pkts"] - s0["replayed-pkts"]
            diag = {"senders": sres, "streams": [shimlib.loss_counts(s) for s in streams],
                    "drops": drops, "replayed": replayed, "port": port}
            tap.ok(all(s["sent"] == PER_FLOW for s in sres) and
                   all(shimlib.loss_counts(s) == shimlib.lossless(PER_FLOW) for s in streams),
                   "%d flows to a 1-vCPU guest on a 4-queue port: each %d datagrams received, "
                   "in order" % (FLOWS, PER_FLOW), diag)
            tap.ok(replayed == 0 and not drops,
                   "nothing replayed (%d) or dropped (%s) without a migration" % (replayed, drops),
                   diag)
        finally:
            if g:
                g.stop()
            shim.stop()


if __name__ == "__main__":
    sys.exit(vt.tap_main(PLAN, "mq", run))
