#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: per-source straggler switching (issue 20).

Two shims (hosta, hostb) and a real QEMU guest, as test_migration.py.  Two
sources on the host side send UDP to the guest (10.77.0.31 as stream 0,
10.77.0.32 as stream 1, 200 pps each).  A static FDB entry keeps every
frame to the VM going to hosta's uplink after the switchover, so both
sources' frames are stragglers that hosta tunnels to hostb.  The scenario
runs twice: at 200 pps per source, and at 1000 (1 ms apart: a source's
first direct frame then very likely overtakes stragglers still in the
tunnel unless the per-source barrier holds it).  Then:

  resume + 0.5 s  source 1 is switched: a tc filter on hosta's tap
                  (egress, u32 on the source address, mirred redirect)
                  sends its frames to hostb's tap instead
  resume + 3 s    source 2 is switched: the FDB entry moves to hostb's tap

hostb sees each source's frames arrive directly and reports it
(SOURCE_DIRECT); hosta stops tunnelling that source's stragglers 500 ms
later (the default rules' linger-ms after a direct-arrival switch), not
at linger-ms (5000 ms here).  hostb holds each source's direct frames
from its first one until hosta's SOURCE_BARRIER for it says its
stragglers are all in the tunnel (docs/migration.md, "Order per
source").  Checked, per rate: both streams 0 lost, 0 duplicated,
0 reordered; hosta received exactly one report for
source 1 by resume + 2 s (and none for source 2 yet), a second one
after source 2's switch, both before linger-ms; hostb sent 2; neither
source timed out (sources-timed-out 0 at resume + 4.5 s); nothing was
refused that the guest then lacked (straggler-stopped is allowed to be
non-zero only if the guest still got every datagram); hosta answered
every report with a SOURCE_BARRIER (none abandoned), hostb took each one,
and the books balance: the two sources were released, each by its
barrier or, when it came after source-barrier-ms (50), by the time-out
(the barrier then finds no held source: unmatched); at least one by its
barrier.

TAP output; exit 77 without root/QEMU outside CI.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest.pair import MAC, Pair, link_drops, missing_ranges, overtaken, wait_received  # noqa: E402

SRC1, SRC2 = "10.77.0.31", "10.77.0.32"
LINGER_MS = 5000
RATES = (200, 1000)              # pps per source, one scenario each


def in_order(f, sent, late):
    """@f (the agent's stream counters) shows every datagram received once,
    intact, in order, and overtaken() found none late (@late)."""
    c = shimlib.loss_counts(f)
    return (c["received"] == sent and c["lost"] == 0 and c["duplicated"] == 0 and
            c["corrupted"] == 0 and c["reordered"] == 0 and not late)


def tc(ns, *args, check=True):
    return ns.run(["tc"] + list(args), check=check)


def prepare_redirect(ns, tap):
    """The qdisc redirect_source() adds its filter to, set up before any
    traffic: grafting a root or clsact qdisc deactivates the device's
    queues for a moment, and the kernel drops what it sends then (2
    datagrams of two streams in one run, the tap's tx_dropped: the test's
    own loss, not the shim's).  DPDK's net_tap puts a multiq root qdisc
    (handle 1:) and an ingress qdisc on its tap, so the filter goes on that
    root; without it, on a clsact qdisc.  Returns how."""
    qd = tc(ns, "qdisc", "show", "dev", tap).stdout
    multiq = [ln.split() for ln in qd.splitlines() if ln.split()[:2] == ["qdisc", "multiq"]]
    if multiq:
        parent = ["parent", multiq[0][2]]       # "qdisc multiq 1: root ..."
    elif tc(ns, "qdisc", "add", "dev", tap, "clsact", check=False).returncode == 0:
        parent = ["egress"]
    else:
        tc(ns, "qdisc", "replace", "dev", tap, "root", "handle", "1:", "prio")
        parent = ["parent", "1:"]
    return {"qdiscs": qd.strip(), "parent": parent}


def redirect_source(ns, tap, how, src, to):
    """Frames from src leaving through tap go out through to instead (u32
    on the source address, mirred redirect) on the qdisc prepare_redirect()
    set up: adding a filter drops nothing."""
    tc(ns, "filter", "add", "dev", tap, *how["parent"], "protocol", "ip", "u32",
       "match", "ip", "src", src + "/32", "action", "mirred", "egress", "redirect", "dev", to)
    return {"qdiscs": how["qdiscs"], "parent": " ".join(how["parent"])}


def scenario(ns, workdir, tap, pps):
    workdir = os.path.join(workdir, "pps%d" % pps)
    os.makedirs(workdir, exist_ok=True)
    pair = Pair(ns, workdir, tap, port_opts={"linger-ms": LINGER_MS})
    a_tap = b_tap = None
    try:
        g = pair.boot()
        g.reset()
        how = prepare_redirect(ns, pair.src.port("vm1").tap)
        snd1 = vt.UdpSender(ns, g.addr, pps=pps, duration=600, size=100, stream=0,
                            src=SRC1).start()
        snd2 = vt.UdpSender(ns, g.addr, pps=pps, duration=600, size=100, stream=1,
                            src=SRC2).start()
        time.sleep(1.5)
        a, b = pair.src, pair.dst
        a_tap, b_tap = a.port("vm1").tap, b.port("vm1").tap
        dg = pair.start_incoming()
        pair.arm()
        ns.fdb_add(MAC, a_tap)          # every frame to the VM keeps going to hosta
        pair.guest.migrate_to(dg)
        t0 = time.monotonic()           # (about) the resume
        time.sleep(0.5)
        how = redirect_source(ns, a_tap, how, SRC1, b_tap)
        t1 = time.monotonic() - t0
        time.sleep(max(0.0, 2.0 - (time.monotonic() - t0)))
        st_a1 = a.stats("vm1")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))
        ns.fdb_add(MAC, b_tap)          # source 2 (and 1) now reach hostb directly
        ns.fdb_del(MAC, a_tap, check=False)
        t2 = time.monotonic() - t0
        time.sleep(max(0.0, 4.5 - (time.monotonic() - t0)))
        st_a2 = a.stats("vm1")
        mig_a2 = a.migration("vm1")
        t3 = time.monotonic() - t0
        pair.finish(dg)
        time.sleep(1.0)
        r1, r2 = snd1.stop(), snd2.stop()
        f1 = wait_received(pair.guest, r1["sent"], stream=0)
        f2 = wait_received(pair.guest, r2["sent"], stream=1)
        sa, sb = a.stats("vm1"), b.stats("vm1")
        keys = ("stragglers-forwarded", "sources-switched", "sources-timed-out",
                "direct-reports-sent", "direct-reports-received", "tunnel-tx-frames",
                "tunnel-rx-frames", "replayed-pkts", "source-barriers-sent",
                "source-barriers-abandoned", "source-barriers-received",
                "source-barriers-ignored", "source-held-pkts", "source-barrier-releases",
                "source-barrier-timeouts", "source-hold-overflow", "source-hold-full",
                "source-barriers-unmatched", "source-hold-ends")
        res = {"pps": pps, "redirect": how, "switch_1_s": round(t1, 3), "switch_2_s": round(t2, 3), "check_s": round(t3, 3),
               "source_at_2s": {k: st_a1[k] for k in keys},
               "source_at_4.5s": {k: st_a2[k] for k in keys},
               "source_state_at_4.5s": mig_a2.get("state"),
               "source": {k: sa[k] for k in keys}, "destination": {k: sb[k] for k in keys},
               "source_drops": {k: v for k, v in sa["drops"].items() if v},
               "destination_drops": {k: v for k, v in sb["drops"].items() if v},
               # where an unexplained loss was (1 of 1790 in one run of three)
               "guest_kernel_drops_since_boot": pair.guest.stats().get("kernel", {}),
               "namespace_link_drops": link_drops(ns),
               "uplink_gap_max_us": [sa["uplink-gap-max-us"], sb["uplink-gap-max-us"]],
               "stream0": shimlib.loss_counts(f1), "stream1": shimlib.loss_counts(f2),
               "sent": [r1["sent"], r2["sent"]]}
        tap.diag(json.dumps(res))
        for stream, f, r in ((0, f1, r1), (1, f2, r2)):
            if shimlib.loss_counts(f)["lost"]:
                tap.diag("stream %d's missing seqs (first, last, guest arrival us before, "
                         "after): %s" % (stream, missing_ranges(pair.guest, stream, r["sent"])))
        late = [overtaken(pair.guest, 0), overtaken(pair.guest, 1)]
        res["overtaken"] = late
        tap.ok(all(in_order(f, r["sent"], lt)
                   for f, r, lt in ((f1, r1, late[0]), (f2, r2, late[1]))),
               "%d pps per source, switched at 0.5 s and 3 s: %d + %d sent, 0 lost, "
               "0 duplicated, 0 reordered (%d + %d datagrams overtaken)"
               % (pps, r1["sent"], r2["sent"], len(late[0]), len(late[1])), res)
        tap.ok(st_a1["direct-reports-received"] == 1 and
               st_a2["direct-reports-received"] == 2 and
               st_a2["sources-timed-out"] == 0 and
               mig_a2.get("state") == "src-forwarding" and
               sb["direct-reports-sent"] >= 2 and sa["stragglers-forwarded"] > 0,
               "%d pps: each source's stragglers stopped at its own switch, before "
               "linger-ms (%d ms): 1 report by 2 s, 2 by 4.5 s, no time-out, source still "
               "forwarding" % (pps, LINGER_MS), res)
        # Whether a barrier beats the destination's source-barrier-ms (50)
        # is a matter of the machine's speed (once, under ASan in CI, one
        # source's came after it, and the order held all the same): the
        # check is that the books balance, not how fast
        tap.ok(sa["source-barriers-sent"] == sa["direct-reports-received"] and
               sa["source-barriers-abandoned"] == 0 and
               sb["source-barriers-received"] == sa["source-barriers-sent"] and
               sb["source-barriers-ignored"] == 0 and
               sb["source-barrier-releases"] >= 1 and
               sb["source-barrier-releases"] + sb["source-barrier-timeouts"] >= 2 and
               sb["source-barrier-releases"] + sb["source-barriers-unmatched"] ==
               sb["source-barriers-received"] and
               sb["source-barriers-unmatched"] <= sb["source-barrier-timeouts"] and
               sb["source-hold-overflow"] == 0,
               "%d pps: every report answered by a SOURCE_BARRIER (%d sent, 0 abandoned), "
               "each taken: %d sources released by their barrier, %d by the time-out before "
               "it came" % (pps, sa["source-barriers-sent"], sb["source-barrier-releases"],
                            sb["source-barrier-timeouts"]), res)
    finally:
        if a_tap:
            ns.fdb_del(MAC, a_tap, check=False)
        if b_tap:
            ns.fdb_del(MAC, b_tap, check=False)
        pair.stop()


def main():
    def run(tap, state, workdir):
        vt.build_guest()
        with vt.NetNS() as ns:
            state["ns"] = ns.name
            for ip in (SRC1, SRC2):
                ns.run(["ip", "addr", "add", ip + "/24", "dev", ns.bridge])
            for pps in RATES:
                scenario(ns, workdir, tap, pps)

    return vt.tap_main(3 * len(RATES), "mig-src", run)


if __name__ == "__main__":
    sys.exit(main())
