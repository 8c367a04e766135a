#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: buffering during an ordinary pause, and isolation between VMs.

One vhost-shim, two real guests.  vm1 has small caps (2000 UDP frames).

1. Pause: vm1 is stopped (QMP stop) for 1.5 s while it receives 1000 pps;
   after `cont` it has every datagram, in order (the shim buffered them).
2. Flood: vm1 is stopped again and flooded with 10x its cap.  Its buffer
   keeps exactly the cap (drop-newest), every other frame is counted as
   buffer-full, the daemon's memory does not grow with the flood (measured
   RSS), and vm2, on the same daemon and the same poller, receives its own
   2000 pps stream: the shim writes every datagram into its ring and drops
   none (what vm2's own socket drops, with the kernel's default rmem, is
   counted by its kernel and must be all the agent misses).  After `cont`,
   vm1 receives exactly the frames the shim says it buffered.  The drops are reported
   on the control socket as BUFFER_OVERFLOW events, at most one a second,
   whose "dropped" fields add up to the buffer-full counter.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

CAP = 2000
PLAN = 7


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        # hold-ms well above how long step 2 keeps vm1 stopped: a slow run
        # (about 20 s with a loaded host) must not expire its buffer
        shim.add_port("vm1", "52:54:00:77:03:01", **{"udp-max-pkts": CAP, "hold-ms": 60000})
        shim.add_port("vm2", "52:54:00:77:03:02")
        shim.start()
        guests = []
        try:
            for name, mac, ip in (("vm1", "52:54:00:77:03:01", "10.77.0.41/24"),
                                  ("vm2", "52:54:00:77:03:02", "10.77.0.42/24")):
                g = vt.Guest(shim.port(name).netdev(), ns=ns, name=name, ip=ip, mac=mac,
                             workdir=os.path.join(workdir, name))
                guests.append(g)
                g.start()
            for g in guests:
                g.wait_ready(timeout=90)
            g1, g2 = guests
            # make sure the bridge knows both MACs (no flooding of unknown unicast)
            for g in guests:
                ns.ping(g.addr, count=2, interval=0.2, timeout=2.0)

            # 1. an ordinary pause is buffered and delivered on resume
            g1.reset()
            snd = vt.UdpSender(ns, g1.addr, pps=1000, count=3000, size=100).start()
            time.sleep(0.75)
            g1.pause()
            time.sleep(1.5)
            held = shim.migration("vm1")
            g1.resume()
            res = snd.wait(timeout=30)
            s1 = shimlib.wait_stream(g1, 3000)
            shim.wait_state("vm1", "none", 10)
            tap.ok(held["state"] == "paused" and held["buffered-now"] > 1000 and
                   shimlib.loss_counts(s1) == shimlib.lossless(3000) and res["sent"] == 3000,
                   "pause: %d frames held while vm1 was stopped, all 3000 delivered in order "
                   "after cont" % held["buffered-now"], {"held": held, "guest": s1})

            # 2. flood vm1 (stopped) with 10x its cap while vm2 keeps forwarding
            g1.reset()
            g2.reset()
            k1_before = g1.stats().get("kernel", {})
            g1.pause()
            shim.wait_state("vm1", "paused", 10)
            before = shim.stats("vm1")
            before2 = shim.stats("vm2")
            k2_before = g2.stats().get("kernel", {})
            ev_mark = len(shim.qmp.poll_events())
            rss0 = rss_kb(shim.proc.pid)
            steady = vt.UdpSender(ns, g2.addr, pps=2000, count=10000, stream=2,
                                  size=100).start()
            flood = vt.UdpSender(ns, g1.addr, pps=8000, count=10 * CAP, stream=1, size=100,
                                 burst=64).start()
            fres = flood.wait(timeout=60)
            rss1 = rss_kb(shim.proc.pid)
            sres = steady.wait(timeout=60)
            time.sleep(0.5)
            after = shim.stats("vm1")
            d_in = after["uplink-rx-pkts"] - before["uplink-rx-pkts"]
            d_buf = after["buffered-pkts"]["udp"] - before["buffered-pkts"]["udp"]
            d_full = after["drops"]["buffer-full"] - before["drops"]["buffer-full"]
            tap.ok(fres["sent"] == 10 * CAP and d_buf == CAP and d_full == fres["sent"] - CAP
                   and d_in == d_buf + d_full,
                   "flood of %d frames (10x the cap) at a stopped VM: %d buffered, %d counted "
                   "buffer-full, %d received by the shim = buffered + dropped"
                   % (fres["sent"], d_buf, d_full, d_in), {"before": before, "after": after})
            tap.ok(rss1 - rss0 < 8 * 1024,
                   "daemon memory does not grow with the flood: RSS %d kB -> %d kB" % (rss0, rss1))
            tap.diag("daemon RSS under the flood: %d kB (before %d kB)" % (rss1, rss0))
            s2 = shimlib.wait_stream(g2, 10000, stream=2)
            after2 = shim.stats("vm2")
            k2 = g2.stats().get("kernel", {})
            rcvbuf = k2.get("udp_rcvbuf_errors", 0) - k2_before.get("udp_rcvbuf_errors", 0)
            into_ring = after2["rx-pkts"] - before2["rx-pkts"]
            drops2 = {k: v - before2["drops"].get(k, 0) for k, v in after2["drops"].items()
                      if v != before2["drops"].get(k, 0)}
            # Isolation is the shim's part: every one of vm2's datagrams
            # written into its RX ring, no drop.  What the guest's own UDP
            # socket then drops (kernel default rmem, its TCG vCPU off the
            # host CPU under the flood) its kernel counts; the agent must
            # miss exactly those (seen: 103 of 10000, 113 ms without a read).
            c2 = shimlib.loss_counts(s2)
            tap.ok(sres["sent"] == 10000 and into_ring >= 10000 and not drops2 and
                   c2["received"] + rcvbuf == 10000 and c2["lost"] == rcvbuf and
                   c2["reordered"] == 0 and c2["duplicated"] == 0 and c2["corrupted"] == 0,
                   "vm2 on the same daemon and poller: 10000 of 10000 datagrams during the "
                   "flood written into its ring (%d frames), no shim drop; the guest missed "
                   "%d, all counted by its socket (udp_rcvbuf_errors %d)"
                   % (into_ring, c2["lost"], rcvbuf),
                   {"agent": s2, "shim_drops": drops2, "guest_kernel": k2})
            # BUFFER_OVERFLOW: every drop reported (a suppressed event is
            # offered again), at most one event a second for the port
            def overflow_events():
                return [e for e in shim.qmp.poll_events()[ev_mark:]
                        if e["event"] == "BUFFER_OVERFLOW" and e["data"]["port"] == "vm1"]
            vt.wait_for(lambda: sum(e["data"]["dropped"] for e in overflow_events()) >= d_full,
                        5, 0.1, "BUFFER_OVERFLOW events for every drop")
            ovf = overflow_events()
            stamps = [e["timestamp"]["seconds"] + e["timestamp"]["microseconds"] / 1e6
                      for e in ovf]
            gaps = [b - a for a, b in zip(stamps, stamps[1:])]
            tap.ok(2 <= len(ovf) < d_full and
                   sum(e["data"]["dropped"] for e in ovf) == d_full and
                   ovf[-1]["data"]["total"] == after["drops"]["buffer-full"] and
                   all(e["data"]["dropped"] > 0 for e in ovf) and
                   all(g >= 0.95 for g in gaps) and
                   sum(e["data"]["suppressed"] for e in ovf) > 0,
                   "BUFFER_OVERFLOW: %d events for %d drops, rate-limited (gaps %s s, %d "
                   "suppressed), their dropped fields add up to the counter"
                   % (len(ovf), d_full, ", ".join("%.2f" % g for g in gaps),
                      sum(e["data"]["suppressed"] for e in ovf)),
                   [e["data"] for e in ovf])
            # The flood arrived at 8000 pps while vm1 was stopped; vm1 (the
            # kernel's default socket buffers) was only ever handed 1000 pps
            # live, so the quiet backlog is replayed at that rate, not at 150%
            # of the flood's (CI run 11: 12000 pps, 5 of 2000 lost in its socket)
            g1.resume()
            shim.wait_state("vm1", "none", 20)
            replay = shim.migration("vm1").get("replay-rate-pps", 0)    # the last replay's
            s1 = shimlib.wait_stream(g1, CAP, stream=1)
            k1 = g1.stats().get("kernel", {})
            rcvbuf1 = k1.get("udp_rcvbuf_errors", 0) - k1_before.get("udp_rcvbuf_errors", 0)
            peak = shim.stats("vm1").get("live-peak-pps", 0)
            tap.ok(s1["received"] == d_buf and s1["highest_seq"] == CAP - 1 and
                   s1["reordered"] == 0 and s1["duplicated"] == 0 and
                   replay <= max(1000, peak),
                   "after cont vm1 receives exactly the %d buffered frames (seq 0..%d), in order, "
                   "replayed at %d pps, no faster than it was handed live (live-peak-pps %d), "
                   "not at 150%% of the flood (its socket dropped %d)"
                   % (d_buf, CAP - 1, replay, peak, rcvbuf1), {"agent": s1, "guest_kernel": k1})
        finally:
            for g in guests:
                g.stop()
            state["shim_status"] = shim.stop()


def main():
    return vt.tap_main(PLAN, "iso", run_checked)


def run_checked(tap, state, workdir):
    run(tap, state, workdir)
    tap.ok(state.get("shim_status") == 0, "the daemon exits 0 on SIGTERM")


if __name__ == "__main__":
    sys.exit(main())
