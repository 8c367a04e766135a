#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: the destination's replay under pool pressure (issue 16).

A blackout is held open on the source (pause-before-switchover) while
2000 pps of UDP are buffered and streamed to the destination.  Then the
migration completes, that stream stops, and while the destination
replays, the namespace
floods the guest with live UDP well beyond what the TCG guest can take,
and the guest itself is slowed: its QEMU process is stopped and continued
with SIGSTOP/SIGCONT (50 ms each), which stops it from consuming its RX
ring without any vhost-user message (QMP `stop` would stop the device and
look like a pause to the shim).  Live frames queue behind the replay until
the caps, then are counted drops; the pool must not deadlock.  The guest
sends UDP to the namespace throughout.

Checks:
  1. the replay completes and the destination's port returns to `none`;
  2. the destination's books balance: every frame that reached its uplink
     or its tunnel was delivered to the guest or counted under exactly one
     reason (uplink-rx-pkts + tunnel-rx-frames = rx-pkts + drops +
     tunnel-frames-discarded + tunnel-duplicates), nothing left buffered;
  3. the first stream (the one buffered in the blackout) arrives whole and
     in order: the caps cut live frames, not the replay;
  4. the guest transmitted throughout (200 pps from before the migration
     until after the flood): every datagram it sent reached the namespace,
     in order.

TAP output; exit 77 without root/QEMU outside CI (CI=true: a failure).
"""

import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shimlib  # noqa: E402
from vshimtest import pair as vp  # noqa: E402
import vshimtest as vt  # noqa: E402

HELD_S = 3.0            # the blackout held open at 2000 pps: ~6000 frames
FLOOD_PPS = 30000       # live flood at the destination during the replay
FLOOD_S = 5.0
SLOW_PERIOD_S = 0.05    # SIGSTOP for this long, then SIGCONT for as long
GUEST_TX_PPS = 200
GUEST_TX_N = 200 * 25      # 25 s of it: the whole scenario
NS_RX_PORT = 7301
# the drop reasons that are not in uplink-rx-pkts (the ethdev's own)
NOT_RECEIVED = ("uplink-no-mbuf", "uplink-missed")


class Slower(threading.Thread):
    """Stops and continues a process (SIGSTOP/SIGCONT) until told to end;
    always leaves it continued."""

    def __init__(self, pid, period):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.done = threading.Event()
        self.cycles = 0

    def run(self):
        try:
            while not self.done.is_set():
                os.kill(self.pid, signal.SIGSTOP)
                self.done.wait(self.period)
                os.kill(self.pid, signal.SIGCONT)
                self.cycles += 1
                self.done.wait(self.period)
        except ProcessLookupError:
            pass
        finally:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def stop(self):
        self.done.set()
        self.join(5)


def books(st):
    """(in, out) of a port's counters: frames that reached it, and frames
    it delivered or counted."""
    drops = sum(v for k, v in st["drops"].items() if k not in NOT_RECEIVED)
    got = st["uplink-rx-pkts"] + st["tunnel-rx-frames"]
    gone = st["rx-pkts"] + drops + st["tunnel-frames-discarded"] + st["tunnel-duplicates"]
    return got, gone


def scenario_pool_pressure(ns, workdir, tap):
    pair = vp.Pair(ns, workdir, tap, port_opts={"hold-ms": 30000})
    slower = None
    try:
        g = pair.boot()
        g.reset()
        a, b = pair.src, pair.dst
        # the guest transmits throughout: GUEST_TX_N datagrams at
        # GUEST_TX_PPS to the namespace, from before the migration until
        # after the flood (the agent paces them; it is migrated with them)
        rx = vt.UdpReceiver(ns, NS_RX_PORT, expect=GUEST_TX_N, idle=10.0,
                            timeout=GUEST_TX_N / GUEST_TX_PPS + 120).start()
        g.send(ns.host_ip, NS_RX_PORT, GUEST_TX_N, GUEST_TX_PPS, stream=3, size=100)
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        time.sleep(1.5)
        dg = pair.start_incoming()
        pair.arm()
        g.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": True}])
        g.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "pre-switchover", 60, 0.05,
                    "pre-switchover")
        vt.wait_for(lambda: a.migration("vm1")["state"] == "src-blackout", 10, 0.02,
                    "source blackout")
        time.sleep(HELD_S)
        g.qmp("migrate-continue", state="pre-switchover")
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "completed", 60, 0.05,
                    "migration completed")
        vt.wait_for(lambda: not dg.alive() or dg.status() == "running", 30, 0.05,
                    "destination running")
        # stream 0 ends here: its frames are the blackout's (tunnelled) and
        # the few live ones queued behind the replay before the flood
        sres = snd.stop()
        flood = vt.UdpSender(ns, dg.addr, pps=FLOOD_PPS, duration=FLOOD_S, stream=1,
                             size=100, max_lag_ms=1000).start()
        slower = Slower(dg.pid, SLOW_PERIOD_S)
        slower.start()
        state_during = b.migration("vm1")["state"]
        pair.finish(dg, settle=False)
        fres = flood.wait(timeout=FLOOD_S + 30)
        slower.stop()
        cycles = slower.cycles
        slower = None
        # none comes at the replay's mark; live frames held behind it (the
        # tail, under the flood) may still drain then: wait for both
        vt.wait_for(lambda: (lambda m: m["state"] == "none" and
                             m.get("buffered-now", 0) == 0)(b.migration("vm1")), 60, 0.1,
                    "the destination's replay and its tail to complete")
        vt.wait_for(lambda: a.migration("vm1")["state"] == "none", 30, 0.1,
                    "the source to end its episode")
        final = vp.wait_received(pair.guest, sres["sent"], timeout=30)
        mig = b.migration("vm1")
        st = b.stats("vm1")
        tap.ok(mig["state"] == "none" and mig.get("buffered-now", 0) == 0,
               "the replay completed under a %d pps flood and a guest stopped half the time "
               "(%d SIGSTOP/SIGCONT cycles): destination back to none, nothing buffered "
               "(state during the flood: %s)" % (FLOOD_PPS, cycles, state_during),
               {"migration": mig})

        got, gone = books(st)
        drops = {k: v for k, v in st["drops"].items() if v}
        keys = ("uplink-rx-pkts", "tunnel-rx-frames", "rx-pkts", "replayed-pkts",
                "live-held-pkts", "tunnel-frames-discarded", "tunnel-duplicates")
        res = {"destination": {k: st.get(k) for k in keys}, "drops": drops,
               "flood": fres, "stream0": final,
               "guest_kernel": pair.guest.stats().get("kernel", {})}
        tap.diag(json.dumps(res))
        tap.ok(got == gone and fres["sent"] > 0 and
               st["uplink-rx-pkts"] >= fres["sent"] // 2 and st["drops"]["buffer-full"] > 0,
               "the destination's books balance: %d frames in (uplink %d + tunnel %d) = %d "
               "delivered + %d counted (%s)"
               % (got, st["uplink-rx-pkts"], st["tunnel-rx-frames"], st["rx-pkts"],
                  gone - st["rx-pkts"], drops), res)
        tap.ok(shimlib.loss_counts(final) == shimlib.lossless(sres["sent"]),
               "the blackout's stream arrived whole and in order: %d sent, %d received, "
               "0 lost/reordered/duplicated (the caps cut the flood, not the replay)"
               % (sres["sent"], final["received"]), final)
        rres = rx.wait(timeout=GUEST_TX_N / GUEST_TX_PPS + 120)
        s3 = rres["streams"].get("3", {})
        tap.ok(s3.get("received") == GUEST_TX_N and s3.get("lost", 0) == 0 and
               s3.get("reordered", 0) == 0,
               "the guest transmitted throughout (before, across the migration, under the "
               "flood and the slowing): %d of %d datagrams reached the namespace, in order"
               % (s3.get("received", 0), GUEST_TX_N), {"receiver": s3})
    finally:
        if slower:
            slower.stop()
        pair.stop()


SCENARIOS = {
    "pool-pressure": (scenario_pool_pressure, 4),
}


def main():
    return vt.scenario_main(SCENARIOS, "pool-pressure", "replay-{name}")


if __name__ == "__main__":
    sys.exit(main())
