#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: flow-policy priorities during a real QEMU migration (issue 20).

Two shims (hosta, hostb) as in test_migration.py, both started with the
same three rules on the command line (--policy):

  hi    match=proto=udp,sport=5004  priority=7 max-pkts=HI_CAP
  bulk  match=proto=udp,sport=9000  (priority 0, no caps of its own)
  agent match=proto=udp,dport=7001  priority=7 max-pkts=AGENT_CAP
                                    (the test's requests to the guest agent)

The source's caps cannot hold both flows through the blackout: it is
given udp-max-pkts=UDP_CAP, tcp-max-pkts=100, other-max-pkts=100
(set-buffer-policy), so the VM's total is UDP_CAP + 200 frames, of which
hi holds HI_CAP in reserve.  Two UDP flows from the namespace to the
guest, each its own stream of the agent and its own socket: hi at 2000 pps
(stream 1, source port 5004, the agent's second sink port) and bulk at
BULK_PPS (stream 2, source port 9000, the first).  One
migration A -> B, its blackout held open for BLACKOUT_S (QEMU's
pause-before-switchover, then migrate-continue): a TCG migration's own
blackout is a few tens of milliseconds here (25 ms measured), too short
for any cap to matter, and its length varies; holding it makes the
frames of each flow in the blackout known (about rate x BLACKOUT_S).
Checks:

  - hi: received in order, none twice, and lost nothing when the shims'
    uplinks missed nothing; frames the kernel dropped on their way to a
    shim's net_tap (uplink-missed: a worker lcore off the CPU longer than
    the tap's queue lasts, which this 2-core host under this load did)
    fall on both flows by arrival, and hi may then lose at most twice its
    share of them plus 3;
  - the source counted hi's frames under its rule, buffered all, dropped 0;
  - bulk lost frames in the blackout, every one of them counted under its
    rule at the source (bulk.dropped == the source's buffer-full drops),
    and the guest's bulk loss is at least that;
  - query-policy shows the rules in match order;
  - DPDK telemetry (/vhost_shim/policy,vm1) has the same rule counters.

The figures (datagrams sent, received, lost; the rule counters; the
blackout) are printed as TAP diagnostics.

BULK_PPS is 20000 as in the issue (VSHIM_POLICY_BULK_PPS overrides it);
the Python sender reached 19995 pps on this 2-core machine and the tuned
guest took the rest without loss in the socket (one run: see
docs/migration.md).

TAP output; exit 77 without root/QEMU outside CI.
"""

import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
import proto  # noqa: E402
from e2e.test_migration import Pair  # noqa: E402
from vshimtest.pair import link_drops, missing_ranges  # noqa: E402

HI_PPS = 2000
BULK_PPS = int(os.environ.get("VSHIM_POLICY_BULK_PPS", "20000"))
HI_SPORT, BULK_SPORT = 5004, 9000
HI_STREAM, BULK_STREAM = 1, 2
BLACKOUT_S = 1.0
# hi's reservation: 2000 pps x (the held blackout + the time to enter and
# leave it) with a wide margin; the VM's total (UDP_CAP + 200) leaves bulk
# 800 frames less the agent rule's 64, a tenth of what it sends in the
# blackout
HI_CAP = 4000
UDP_CAP = 4600
# The test's own control datagrams to the guest agent (its requests for
# counters) get a rule of their own, as an operator protects management
# traffic: at 22000 pps a default guest reads about half (one ASan run:
# 17287 of bulk's first 40000 datagrams dropped before the migration), so
# the source's buffer sits at its cap in steady state and drops arriving
# frames; in one CI run (ASan) that dropped 5 requests for counters in a
# row and aborted the test.  64 frames at priority 7 (hi's): bulk keeps 736.
AGENT_CAP = 64
RULES = [
    "name=hi match=proto=udp,sport=%d priority=7 max-pkts=%d" % (HI_SPORT, HI_CAP),
    "name=bulk match=proto=udp,sport=%d" % BULK_SPORT,
    "name=agent match=proto=udp,dport=%d priority=7 max-pkts=%d" % (proto.PORT_CTL, AGENT_CAP),
]


def rule_ctr(stats, name, before=None):
    """A rule's counters in query-stats, less those of @before (they
    count since the port was added: frames held behind a full guest ring
    before the migration count too)"""
    r = dict(next(r for r in stats["policy-rules"] if r["name"] == name))
    if before:
        b = rule_ctr(before, name)
        r.update({k: r[k] - b[k] for k in ("matched", "buffered", "dropped", "stragglers")})
    return r


def scenario(ns, workdir, tap):
    args = []
    for r in RULES:
        args += ["--policy", r]
    pair = Pair(ns, workdir, tap, shim_args=args)
    try:
        q = pair.src.execute("query-policy", {"port": "vm1"})
        order = [r["name"] for r in q["match-order"]]
        tap.ok(order == ["hi", "bulk", "agent", "default-udp", "default-tcp", "default-other"],
               "query-policy: the --policy rules in match order, the defaults last: %s"
               % " ".join(order), q)
        pair.src.execute("set-buffer-policy", {"port": "vm1", "udp-max-pkts": UDP_CAP,
                                               "tcp-max-pkts": 100, "other-max-pkts": 100})
        g = pair.boot()
        g.reset()
        # hi to the agent's second sink socket: a service of its own, whose
        # socket buffer the 20000 pps bulk flow cannot fill (in one CI run
        # with both in one socket, hi lost 33 datagrams the shims had all
        # delivered)
        hi = vt.UdpSender(ns, g.addr, pps=HI_PPS, duration=600, size=100, stream=HI_STREAM,
                          sport=HI_SPORT, port=proto.PORT_UDP_SINK2).start()
        bulk = vt.UdpSender(ns, g.addr, pps=BULK_PPS, duration=600, size=100,
                            stream=BULK_STREAM, sport=BULK_SPORT).start()
        time.sleep(2)
        before = {s: vt.stream_stats(pair.guest.stats(), s) for s in (HI_STREAM, BULK_STREAM)}
        src = pair.src
        src_before = src.stats("vm1")
        dst_before = pair.dst.stats("vm1")
        dg = pair.start_incoming()
        pair.arm()
        g.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": True}])
        g.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "pre-switchover", 120,
                    0.05, "pre-switchover")
        vt.wait_for(lambda: src.migration("vm1")["state"] == "src-blackout", 10, 0.02,
                    "source blackout")
        time.sleep(BLACKOUT_S)
        g.qmp("migrate-continue", state="pre-switchover")
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "completed", 60, 0.05,
                    "migration completed")
        downtime = g.qmp("query-migrate").get("downtime")
        # The destination's migration ends while the senders still run.  A
        # default guest reads about 85-90% of these 22000 pps, so live
        # frames stay held behind the replay for as long as the flood
        # lasts; before a replay ended at its mark (its tail drains after
        # it) the port stayed in "replaying" (one CI run (ASan): a 20 s
        # wait for none timed out, 57240 frames over the caps counted
        # buffer-full; docs/migration.md, after the state table)
        pair.finish(dg, settle=False)
        dst_shim = pair.shims[pair.cur]
        t0 = time.monotonic()
        try:
            vt.wait_for(lambda: dst_shim.migration("vm1")["state"] == "none", 30, 0.1,
                        "the destination's replay to end while the senders run")
            ended = True
        except TimeoutError:
            ended = False   # reported by the check below
        t_end = time.monotonic() - t0
        mid = dst_shim.stats("vm1")
        mid_mig = dst_shim.migration("vm1")
        running = hi.running() and bulk.running()
        states_at_stop = [shim.migration("vm1")["state"] for shim in pair.shims]
        hres = hi.stop()
        bres = bulk.stop()
        tap.ok(ended and running,
               "destination: the migration ended (none, REPLAY_DONE) %.1f s after it, while "
               "both senders still ran; %d live frames were still held behind the replay "
               "then (last-replay-left-held), buffered-now %d, catch-up-us %d (the guest "
               "took %d pps of the replay, %d arrived)"
               % (t_end, mid.get("last-replay-left-held", -1), mid_mig.get("buffered-now", -1),
                  mid_mig.get("catch-up-us", -1), mid.get("replay-delivered-pps", -1),
                  mid.get("arrival-rate-pps", -1)),
               {"state": mid_mig.get("state"), "senders_running": running,
                "replays-left-held": mid.get("replays-left-held"),
                "last-replay-left-held": mid.get("last-replay-left-held")})
        pair.settle()
        tap.diag("states of hosta, hostb as the senders stopped: %s" % states_at_stop)
        fin_hi = shimlib.wait_stream(pair.guest, hres["sent"], HI_STREAM, timeout=20)
        fin_bulk = vt.stream_stats(pair.guest.stats(), BULK_STREAM)
        pair.guest.check()
        s_src = src.stats("vm1")
        s_dst = pair.src.stats("vm1")
        c_hi, c_bulk = rule_ctr(s_src, "hi", src_before), rule_ctr(s_src, "bulk", src_before)
        figures = {
            "downtime_ms": downtime,
            "last_blackout_us": s_src["last-blackout-us"],
            "hi": {"pps": HI_PPS, "sent": hres["sent"], "elapsed": hres.get("elapsed"),
                   "guest": shimlib.loss_counts(fin_hi),
                   "lost_before_migration": before[HI_STREAM]["lost"]},
            "bulk": {"pps": BULK_PPS, "sent": bres["sent"], "elapsed": bres.get("elapsed"),
                     "guest": shimlib.loss_counts(fin_bulk),
                     "lost_before_migration": before[BULK_STREAM]["lost"]},
            "source_rules": s_src["policy-rules"],
            "destination_rules": s_dst["policy-rules"],
            "source_drops": {k: v for k, v in s_src["drops"].items() if v},
            "destination_drops": {k: v for k, v in s_dst["drops"].items() if v},
            "source_buffer_peak_pkts": s_src["buffer-peak-pkts"],
            "uplink_gap_max_us": [s_src["uplink-gap-max-us"], s_dst["uplink-gap-max-us"]],
            "poll_max_us": [s_src["poll-max-us"], s_dst["poll-max-us"]],
            "guest_kernel_drops_since_boot": pair.guest.stats().get("kernel", {}),
            "namespace_link_drops": link_drops(ns),
        }
        figures["uplink_missed"] = [s["drops"].get("uplink-missed", 0) for s in (s_src, s_dst)]
        tap.diag("figures: " + json.dumps(figures))
        rate = bres["sent"] / bres["elapsed"] if bres.get("elapsed") else 0
        tap.diag("bulk sender achieved %.0f pps (asked %d)" % (rate, BULK_PPS))

        # Frames the kernel dropped on their way to a shim's net_tap (its
        # queue full while the worker lcore was off the CPU: 47 and 130 ms
        # measured on this 2-core host under this load, with the kernel's
        # 1000-frame queue) never reach the shim: no policy can keep them,
        # but uplink-missed counts them.  They fall on both flows by
        # arrival, so hi's part of them is about its share of the traffic
        # (one run: 22 of 248); hi may lose at most twice that share plus 3,
        # and nothing when nothing was missed
        missed = sum(after["drops"].get("uplink-missed", 0) - bef["drops"].get("uplink-missed", 0)
                     for after, bef in ((s_src, src_before), (s_dst, dst_before)))
        hi_share = HI_PPS / (HI_PPS + max(rate, 1.0))
        allowance = math.ceil(2 * missed * hi_share) + 3 if missed else 0
        hi_counts = shimlib.loss_counts(fin_hi)
        tap.ok(hi_counts["lost"] <= allowance and hi_counts == dict(
                   shimlib.lossless(hres["sent"]), received=hres["sent"] - hi_counts["lost"],
                   lost=hi_counts["lost"]),
               "hi (priority 7, %d pps): %d sent, received in order, none twice, %d lost "
               "(allowed %d: the uplinks' kernel queues dropped %d frames of both flows "
               "before the shims saw them, uplink-missed)"
               % (HI_PPS, hres["sent"], hi_counts["lost"], allowance, missed), hi_counts)
        if shimlib.loss_counts(fin_hi)["lost"]:
            tl = pair.guest.timeline(HI_STREAM)
            gaps = [t2 - t1 for (t1, _), (t2, _) in zip(tl, tl[1:])]
            tap.diag("hi's missing seqs (first, last, guest arrival us before, after): %s; "
                     "hi's longest arrival gap %d us" % (
                         missing_ranges(pair.guest, HI_STREAM, hres["sent"]), max(gaps or [0])))
        c_hi_dst = rule_ctr(s_dst, "hi", dst_before)
        tap.ok(c_hi["matched"] > 0 and c_hi["buffered"] == c_hi["matched"]
               and c_hi["dropped"] == 0 and c_hi_dst["dropped"] == 0,
               "source: hi's %d frames of the migration all buffered under its rule, 0 dropped "
               "(destination: 0 of %d dropped)" % (c_hi["matched"], c_hi_dst["matched"]),
               {"source": c_hi, "destination": c_hi_dst})
        buffer_full = s_src["drops"].get("buffer-full", 0) - \
            src_before["drops"].get("buffer-full", 0)
        # every buffer-full drop is counted under exactly one rule: bulk's,
        # or another priority-0 rule's frame that met the full buffer (an
        # ARP under default-other did, in one run).  The identities are
        # checked on the totals read once the senders stopped: src_before
        # is read while 22000 pps flow and the guest's full ring sends
        # frames through the rules, and query-stats reads a rule's matched
        # before its buffered while the lcore counts a frame's match before
        # its fate, so a delta can be off by a frame in flight (one CI run:
        # bulk's deltas buffered + dropped = matched + 1, its totals exact)
        totals = {r["name"]: r for r in s_src["policy-rules"]}
        all_dropped = {n: r["dropped"] for n, r in totals.items()}
        tap.ok(c_bulk["dropped"] > 0 and
               sum(all_dropped.values()) == s_src["drops"].get("buffer-full", 0) and
               all(r["buffered"] + r["dropped"] == r["matched"] for r in totals.values()),
               "source: bulk lost %d of its %d frames of the migration (buffer-full %d), "
               "every one counted under its rule (since the port started: buffer-full %d = "
               "the rules' drops %s, and each rule's buffered + dropped = matched)"
               % (c_bulk["dropped"], c_bulk["matched"], buffer_full,
                  s_src["drops"].get("buffer-full", 0), all_dropped), {"delta": c_bulk,
                                                                      "totals": totals})
        tel = src.telemetry("/vhost_shim/policy,vm1")
        again = {r["name"]: r for r in src.stats("vm1")["policy-rules"]}
        tap.ok(tel.get("hi") == {k: again["hi"][k] for k in tel.get("hi", {})}
               and tel.get("bulk") == {k: again["bulk"][k] for k in tel.get("bulk", {})}
               and sorted(tel) == ["agent", "bulk", "default_other", "default_tcp", "default_udp",
                                  "hi"],
               "telemetry /vhost_shim/policy,vm1 has the rules' counters of query-stats",
               {"telemetry": tel, "query-stats": again})
        tap.ok(fin_bulk["lost"] >= c_bulk["dropped"],
               "guest: bulk lost %d datagrams (>= the %d the source dropped by policy)"
               % (fin_bulk["lost"], c_bulk["dropped"]), shimlib.loss_counts(fin_bulk))
    finally:
        pair.stop()


def main():
    return vt.netns_main(7, "policy", scenario)


if __name__ == "__main__":
    sys.exit(main())
