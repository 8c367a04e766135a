#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: real QEMU live migrations between two vhost-shims.

Two "hosts" (shims hosta and hostb) in one test namespace, each with a
net_tap uplink on the bridge br0, a tunnel listener on the namespace's
loopback and the other as its peer (pre-shared key).  The guest's agent
checks sequence numbers and payloads.  Scenarios (argument 1):

  udp         5000 pps of UDP, 10 consecutive migrations A->B->A...: 0 lost,
              reordered, duplicated, corrupted; then the same with buffering
              off, which must lose datagrams (the test can fail)
  tcp         one TCP stream through a migration: every byte (gap printed);
              the no-buffering control run shows the retransmission stall
  cancel      pause-before-switchover + migrate_cancel: the VM resumes on the
              source with every buffered frame delivered in order
  dst-down    destination shim killed before the switchover: the VM still
              migrates, the source counts what it had to drop, no crash
  stragglers  a static FDB entry keeps the VM's frames going to the source
              for 1 s after the switchover: 0 lost, in order
  tunnel-break  the tunnel is cut (iptables reject) once the stream is
              open, before its first frame, healed 1 s into the blackout:
              0 lost, 0 duplicated
  tunnel-cut-acked  the tunnel cut (TCP reset) in a stream the destination
              has partly acknowledged, healed after 1 s: once in a blackout held
              open (pause-before-switchover), once while stragglers are
              forwarded; the source resends from the destination's next
              expected seq (not from 1); 0 lost, 0 duplicated
  bad-peer    a wrong key is refused and counted; the VM is unaffected
  unknown-vm  a stream for a VM the destination does not expect is refused
              and counted; nothing is injected
  dst-restart  the destination shim is SIGKILLed in the blackout and
              restarted: the source keeps its buffer until the re-armed
              destination takes its stream (or delivers it on rollback);
              every datagram received or counted, none twice or reordered
  long-precopy  the destination armed before a pre-copy throttled
              (max-bandwidth) to last more than 3 x hold-ms, UDP at 2000 pps:
              it stays armed, 0 lost/reordered, source peer-lost 0,
              destination migrations-in 1; then expect-timeout-ms disarms
              an armed port that no VM reaches (issue 15)
  back-to-back  A->B with the traffic kept on A (B replays A's stragglers,
              linger-ms 5000), then B->A started at once, while B still
              replays: log-on in replaying starts a migration; 0 lost,
              reordered, duplicated across both (issue 15)
  jumbo       MTU 9000 on the whole path (ports, QEMU host_mtu, guest,
              bridge): 8000-byte UDP datagrams at 2000 pps through 2
              migrations on the default guest: every one reaches the
              guest's kernel whole (its own socket's drops are printed),
              none oversize or fragmented (issue 18)
  tls         x509 mutual TLS (certificates made with certtool): the obsolete
              allow-cleartext refused, bad local credentials refused at
              startup, a lossless migration over TLS, a certificate from
              another CA and a client without one refused and counted

The scenarios about the tunnel (tunnel-break, tunnel-cut-acked, bad-peer,
unknown-vm, tls) are written in migration_tunnel.py; the harness (Pair,
TlsPair) is tests/lib/vshimtest/pair.py; this script runs them all.

TAP output; exit 77 without root/QEMU outside CI.  Migration tests want the
patched QEMU (qemu-patches/; tools/test.sh builds it before the tests): stock
QEMU 7.2 corrupts a TCG guest in about 1 migration in 7.  These tests do not
compare RAM themselves; bench/tcg-migration-bug.py does (the destination
paused with -S, pmemsave on both sides, tests/e2e/ramdiff.py classifying the
difference as the known TCG bug or a backend bug), see docs/qemu-tcg-bug.md.

Environment: VSHIM_LONG_HOLD_MS and VSHIM_LONG_PRECOPY_S (long-precopy:
the ports' hold-ms, default 2000, and how long pre-copy is held throttled,
default 3 x hold-ms + 0.5 s), VSHIM_MIGRATIONS (udp: migrations with the shim, default 10),
VSHIM_DEFAULT_GUEST_MIGRATIONS (udp: migrations of each of the two runs on
the default guest, paced and unpaced; unpaced must lose datagrams in the
guest's socket, default 3),
VSHIM_CONTROL_MIGRATIONS (udp: migrations of the buffering-off control run,
default 2), VSHIM_JUMBO_MIGRATIONS (jumbo: migrations, default 2).

The guest runs the kernel's default network settings (no rmem_max change, no
SO_RCVBUFFORCE) except where a test says why it needs more (TUNED_GUEST).
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest.pair import (IP, LONG_THROTTLE, MAC, PORT_A, PORT_B,  # noqa: E402
                            TUNED_GUEST, Pair, diagnose_loss, tcp_counters, tcp_delta,
                            tcp_sockets_retransmitting,
                            wait_received)
from migration_tunnel import (scenario_bad_peer, scenario_tls,  # noqa: E402
                              scenario_tunnel_break, scenario_tunnel_cut_acked,
                              scenario_unknown_vm)

clean = shimlib.loss_counts


# migration-long-precopy's guest.  With the kernel's defaults it lost 47 of
# 24630 datagrams, all in its own socket (47 RcvbufErrors), while both
# shims' counters were clean (destination migrations-in 1, 21 frames
# tunnelled, 288 replayed; source peer-lost 0): the TCG guest's post-resume
# capacity again, not the shim (see TUNED_GUEST)
LONG_GUEST = TUNED_GUEST


def udp_run(ns, workdir, tap, migrations, buffer_on, pps=5000, port_opts=None,
            guest_append=TUNED_GUEST, size=100, mtu=None, observe=None):
    """UDP at pps (datagrams of size bytes) to the guest through migrations
    A->B->A...; mtu: the path's (Pair); observe(pair, when): called with
    "booted" (before the traffic) and "done" (after the last datagram, the
    VM still running) for what a scenario checks besides the counts."""
    opts = dict(port_opts or {})
    if not buffer_on:
        opts["buffer"] = "off"
    pair = Pair(ns, workdir, tap, port_opts=opts, guest_append=guest_append, mtu=mtu)
    try:
        g = pair.boot()
        g.reset()
        if observe:
            observe(pair, "booted")
        snd = vt.UdpSender(ns, g.addr, pps=pps, duration=600, size=size).start()
        time.sleep(2)
        per = []
        events = None
        for i in range(migrations):
            gstats = pair.guest.stats()
            before = vt.stream_stats(gstats, 0)
            kernel_before = gstats.get("kernel", {})
            marks = [len(sh.qmp.poll_events()) for sh in pair.shims]
            src_i = pair.cur
            d = pair.migrate(explicit=(i % 2 == 1))
            if events is None:
                ev = [[e["event"] for e in sh.qmp.poll_events()[m:]
                       if e.get("data", {}).get("port") == "vm1"]
                      for sh, m in zip(pair.shims, marks)]
                events = {"source": ev[src_i], "destination": ev[1 - src_i]}
                # the first migration opens the tunnel: PEER_* events (no "port")
                pev = [[{"event": e["event"], **e["data"]} for e in sh.qmp.poll_events()[m:]
                        if e["event"].startswith("PEER_")]
                       for sh, m in zip(pair.shims, marks)]
                events["peer"] = {"source": pev[src_i], "destination": pev[1 - src_i]}
            time.sleep(1.0)
            gstats = pair.guest.stats()
            after = vt.stream_stats(gstats, 0)
            st = pair.src.stats("vm1")   # the shim now holding the VM
            per.append({"migration": i + 1, "direction": "%s->%s" % (pair.dst.name, pair.src.name),
                        "downtime_ms": d, "lost": after["lost"] - before["lost"],
                        "reordered": after["reordered"] - before["reordered"],
                        "duplicated": after["duplicated"] - before["duplicated"],
                        "max_gap_us": after["max_gap_us"],
                        "replayed": st["replayed-pkts"],
                        "resume_to_last_replay_us": st["last-resume-to-last-replay-us"],
                        "highest_seq_before": before.get("highest_seq", 0),
                        "guest_kernel_drops": {k: v - kernel_before.get(k, 0)
                                               for k, v in gstats.get("kernel", {}).items()},
                        "drops": {sh.name: {k: v for k, v in sh.stats("vm1")["drops"].items() if v}
                                  for sh in pair.shims}})
            tap.diag(json.dumps(per[-1]))
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        pair.guest.check()
        if observe:
            observe(pair, "done")
        delivered = sum(sh.stats("vm1")["rx-pkts"] for sh in pair.shims)
        if buffer_on and final["lost"]:
            diagnose_loss(tap, pair, per, sres["sent"])
        return sres, final, per, pair, events, delivered
    finally:
        pair.stop()


def scenario_udp(ns, workdir, tap):
    n = int(os.environ.get("VSHIM_MIGRATIONS", "10"))
    sres, final, per, pair, events, delivered = udp_run(ns, os.path.join(workdir, "buf"), tap,
                                                        n, True)
    want_src = ["MIGRATION_STARTED", "PORT_DOWN", "BLACKOUT_STARTED",
                "VM_RESUMED_AT_DESTINATION", "MIGRATION_COMPLETED"]
    want_dst = ["MIGRATION_EXPECTED", "PORT_UP", "VM_RESUMED", "REPLAY_DONE"]
    tap.ok(events["source"] == want_src and events["destination"] == want_dst,
           "control-socket events of a migration: source %s, destination %s"
           % (" ".join(events["source"]), " ".join(events["destination"])), events)

    # the destination's EXPECT opens hostb->hosta, the source's stream
    # hosta->hostb (its PEER_CONNECTED names vm1); nothing is lost
    def connected(pe, peer, direction, port):
        return [e for e in pe if e["event"] == "PEER_CONNECTED" and e["peer"] == port_peer[peer]
                and e["direction"] == direction
                and (direction == "incoming" or e["address"].endswith(":%d" % port))]
    port_peer = {"a": "hosta", "b": "hostb"}
    ps, pd = events["peer"]["source"], events["peer"]["destination"]
    src_out = connected(ps, "b", "outgoing", PORT_B)
    tap.ok(len(src_out) == 1 and "vm1" in src_out[0]["ports"] and
           len(connected(ps, "b", "incoming", 0)) == 1 and
           len(connected(pd, "a", "outgoing", PORT_A)) == 1 and
           len(connected(pd, "a", "incoming", 0)) == 1 and
           not [e for e in ps + pd if e["event"] == "PEER_LOST"],
           "PEER_CONNECTED in both directions on both shims in the first migration, the "
           "source's outgoing one naming vm1; no PEER_LOST", events["peer"])
    # every datagram the guest got went through a shim's rx counter; the
    # rest are ARP and the like
    # (ARP, the guest's own announcements looped back by the other shim's
    # flood... a few per migration)
    tap.ok(final["received"] <= delivered <= final["received"] + 50 * n,
           "shim counters match the guest: %d frames delivered by the two shims, %d datagrams "
           "received" % (delivered, final["received"]))
    want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
            "corrupted": 0}
    tap.ok(clean(final) == want,
           "UDP 5000 pps, %d consecutive migrations through vhost-shim: %d sent, %d received, "
           "0 lost/reordered/duplicated/corrupted" % (n, sres["sent"], final["received"]),
           {"sender": sres, "guest": final, "per_migration": per})
    tap.diag("downtimes (QEMU, ms): %s; guest max gap %d us"
             % (pair.downtimes, final["max_gap_us"]))
    # The default guest (a socket buffer of a few hundred small datagrams),
    # paced replay (replay-pace-pct's default) and unpaced (0): the shim
    # delivers every frame either way; what the guest's own socket drops is
    # in its RcvbufErrors.  Unpaced, the replay arrives as one burst and
    # the socket overflows: that check can fail.  Paced, the loss is
    # measured and reported, not asserted: this guest loses datagrams after
    # a resume even without a replay (see TUNED_GUEST).
    def rcvbuf_errors(per_):
        return sum(m["guest_kernel_drops"].get("udp_rcvbuf_errors", 0) for m in per_)
    nd = int(os.environ.get("VSHIM_DEFAULT_GUEST_MIGRATIONS", "3"))
    sres4, final4, per4, _, _, _ = udp_run(ns, os.path.join(workdir, "pace"), tap, nd, True,
                                           guest_append="")
    sres3, final3, per3, _, _, _ = udp_run(ns, os.path.join(workdir, "nopace"), tap, nd, True,
                                           port_opts={"replay-pace-pct": 0}, guest_append="")
    tap.ok(final3["lost"] > 0 and rcvbuf_errors(per3) > 0 and final3["reordered"] == 0 and
           final4["reordered"] == 0 and final4["duplicated"] == 0,
           "default guest, %d migrations each: pacing off (replay-pace-pct 0) %d of %d "
           "datagrams lost, %d RcvbufErrors inside the guest (the check can fail); paced "
           "%d of %d lost, %d RcvbufErrors; 0 reordered either way"
           % (nd, final3["lost"], sres3["sent"], rcvbuf_errors(per3), final4["lost"],
              sres4["sent"], rcvbuf_errors(per4)),
           {"paced": [(m["lost"], m["guest_kernel_drops"], m["resume_to_last_replay_us"])
                      for m in per4],
            "unpaced": [(m["lost"], m["guest_kernel_drops"], m["resume_to_last_replay_us"])
                        for m in per3]})
    nc = int(os.environ.get("VSHIM_CONTROL_MIGRATIONS", "2"))
    sres2, final2, per2, pair2, _, _ = udp_run(ns, os.path.join(workdir, "nobuf"), tap, nc,
                                               False)
    tap.ok(final2["lost"] > 0,
           "control run, buffering off: %d of %d datagrams lost in %d migrations (the test "
           "can fail)" % (final2["lost"], sres2["sent"], nc), {"guest": final2, "per": per2})


def scenario_jumbo(ns, workdir, tap):
    """MTU 9000 end to end (issue 18): the ports' mtu, QEMU's host_mtu, the
    guest's eth0 and the namespace's bridge; 8000-byte datagrams at 2000
    pps through live migrations A->B(->A), on the default guest (the
    kernel's socket buffers): every datagram reaches the guest's kernel
    (received by the agent or dropped by its own socket, RcvbufErrors),
    none reordered, duplicated or corrupted, none dropped by a shim
    (oversize, buffer, mbufs), none fragmented.  What the guest's socket
    drops is printed, not asserted: measured at 24 % of the datagrams on
    this 2-core TCG machine, most of it outside the migrations (seq 22 on,
    before the first): 212992 bytes of default rcvbuf hold a few 8000-byte
    datagrams, milliseconds at 2000 pps (see TUNED_GUEST for the same at
    small sizes).

    The guest's own packets to its subnet keep 1500 (vshim.tx_mtu, a
    route's mtu): DPDK 22.11's net_tap, the ports' uplink here, sends no
    frame over 1522 bytes whatever the MTU (configuration.md, mtu), so the
    agent's larger replies would be dropped (oversize) unfragmented."""
    n = int(os.environ.get("VSHIM_JUMBO_MIGRATIONS", "2"))
    size, mtu = 8000, 9000
    seen = {}

    def observe(pair, when):
        seen[when] = {
            "ports": {sh.name: sh.execute("query-ports")[0] for sh in pair.shims},
            "bridge_mtu": ns.link_mtu(ns.bridge),
            "taps_mtu": {sh.name: ns.link_mtu(sh.port("vm1").tap) for sh in pair.shims},
            "guest_ip": pair.guest.kernel_counters()["snmp"]["Ip"],
            "guest_udp": pair.guest.kernel_counters()["snmp"]["Udp"],
            "drops": {sh.name: sh.stats("vm1")["drops"] for sh in pair.shims},
        }

    sres, final, per, pair, _, delivered = udp_run(
        ns, os.path.join(workdir, "jumbo"), tap, n, True, pps=2000, size=size, mtu=mtu,
        guest_append="vshim.tx_mtu=1500", observe=observe)
    b = seen["booted"]
    src = b["ports"]["hosta"]
    tap.ok(all(p["mtu"] == mtu for p in b["ports"].values()) and
           src.get("guest-mtu") == mtu and b["bridge_mtu"] == mtu and
           all(v == mtu for v in b["taps_mtu"].values()),
           "MTU %d on the path: ports %s, guest-mtu (QEMU host_mtu, VIRTIO_NET_F_MTU) %s, "
           "taps %s (set by the shims), bridge %d"
           % (mtu, [p["mtu"] for p in b["ports"].values()], src.get("guest-mtu"),
              b["taps_mtu"], b["bridge_mtu"]), b)
    d = seen["done"]
    reasm = d["guest_ip"]["ReasmReqds"] - b["guest_ip"]["ReasmReqds"]
    rcvbuf = d["guest_udp"]["RcvbufErrors"] - b["guest_udp"]["RcvbufErrors"]
    want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
            "corrupted": 0}
    drops = {k: sum(v[k] for v in d["drops"].values())
             for k in ("oversize", "buffer-full", "no-memory", "uplink-no-mbuf")}
    got = dict(clean(final), received=final["received"] + rcvbuf, lost=final["lost"] - rcvbuf)
    tap.ok(got == want and final["bytes"] == size * final["received"],
           "UDP %d-byte datagrams at 2000 pps, %d migrations, MTU %d, default guest: %d sent, "
           "all reached the guest's kernel: %d received whole (%d bytes) + %d dropped by its "
           "socket (RcvbufErrors); 0 reordered/duplicated/corrupted"
           % (size, n, mtu, sres["sent"], final["received"], final["bytes"], rcvbuf),
           {"sender": sres, "guest": final, "per_migration": per})
    tap.ok(not any(drops.values()) and reasm == 0,
           "no frame dropped oversize, for want of a buffer or an mbuf (%s), none fragmented "
           "(guest ReasmReqds +%d)" % (drops, reasm), {"per": per})
    tap.diag("jumbo: downtimes (QEMU, ms) %s; per migration: replayed %s, "
             "resume-to-last-replay us %s, lost in the guest's socket %s; guest max gap %d us, "
             "RcvbufErrors +%d in all (%.1f %% of %d); frames delivered by the shims %d"
             % (pair.downtimes, [m["replayed"] for m in per],
                [m["resume_to_last_replay_us"] for m in per], [m["lost"] for m in per],
                final["max_gap_us"], rcvbuf, 100.0 * rcvbuf / max(1, sres["sent"]),
                sres["sent"], delivered))


TSO_BYTES = 384 << 20   # about 26 s at the 15 MB/s a TCG guest sends: the stream spans the migration
TSO_DROPS = ("guest-malformed", "oversize", "no-memory", "uplink-full")


def scenario_tcp_tso(ns, workdir, tap):
    """TCP from the guest, which hands the device 64 KiB TSO frames
    (offloads=on, the default), through a migration whose pre-copy is
    throttled: the source shim cuts them before the switchover, the
    destination's after it (issue 18).  The host's receiver verifies every
    byte; its longest gap between two reads is printed and bounded.  A
    default guest (the kernel's network settings)."""
    pair = Pair(ns, os.path.join(workdir, "tso"), tap, guest_append="")
    try:
        g = pair.boot()
        rcv = vt.TcpReceiver(ns, 7300, conns=1, timeout=240).start()
        a0 = pair.src.stats("vm1")
        g.tcpsend(ns.host_ip, 7300, TSO_BYTES)
        time.sleep(3)
        src, dst = pair.src, pair.dst
        dg = pair.start_incoming()
        pair.arm()
        t0 = time.monotonic()
        downtime = pair.guest.migrate_to(dg, max_bandwidth=LONG_THROTTLE * 16)
        precopy_s = time.monotonic() - t0
        pair.downtimes.append(downtime)
        pair.finish(dg)
        res = rcv.wait(timeout=250)
        a1, b1 = src.stats("vm1"), dst.stats("vm1")
        cut = {"source": a1["tso-frames"] - a0["tso-frames"], "destination": b1["tso-frames"]}
        segs = {"source": a1["tso-segments"] - a0["tso-segments"],
                "destination": b1["tso-segments"]}
        drops = {k: a1["drops"][k] + b1["drops"][k] for k in TSO_DROPS}
        info = {"receiver": res, "tso_frames": cut, "tso_segments": segs, "drops": drops,
                "downtime_ms": downtime, "migration_s": round(precopy_s, 1)}
        tap.diag(json.dumps(info))
        tap.ok(res["bytes"] == TSO_BYTES and res["corrupted"] == 0 and cut["source"] > 0 and
               cut["destination"] > 0 and not any(drops.values()),
               "guest->host TCP with TSO through a migration (%.1f s, throttled pre-copy, "
               "downtime %s ms): %d bytes verified of %d; TSO frames cut %d on the source, %d "
               "on the destination (%d and %d segments); drops %s"
               % (precopy_s, downtime, res["bytes"], TSO_BYTES, cut["source"],
                  cut["destination"], segs["source"], segs["destination"], drops), info)
        tap.ok(res["max_gap_us"] <= 300000,
               "the receiver's longest gap between two reads: %d ms (bound 300 ms)"
               % (res["max_gap_us"] // 1000), info)
    finally:
        pair.stop()


def scenario_tcp(ns, workdir, tap):
    results = {}
    for label, opts in (("shim", None), ("nobuf", {"buffer": "off"})):
        wd = os.path.join(workdir, label)
        pair = Pair(ns, wd, tap, port_opts=opts)
        try:
            g = pair.boot()
            # 6 MB/s for 12 s: the stream spans the whole migration with
            # segments in flight at the switchover
            snd = vt.TcpSender(ns, g.addr, 72 << 20, timeout=90, rate=6 << 20).start()
            time.sleep(3)
            r0 = tcp_counters(ns)
            pair.migrate()
            time.sleep(2)
            d = tcp_delta(r0, tcp_counters(ns))
            if label == "nobuf" and d["retransmitted"] <= d["dsack_segs"]:
                # nothing was in flight during that blackout (the sender
                # waited for the slow guest's window), or what was
                # retransmitted came back D-SACKed (its original was late,
                # not lost: the ASan pass on 2026-12-07, 5 retransmitted,
                # 5 D-SACKed, 0 lost): one more try.  The check below is
                # unchanged: the control run must lose a segment
                tap.diag("nobuf: no segment lost in the first migration (%d retransmitted, "
                         "%d D-SACKed), migrating back" % (d["retransmitted"], d["dsack_segs"]))
                pair.migrate()
                time.sleep(2)
                d = tcp_delta(r0, tcp_counters(ns))
            res = snd.wait(timeout=100)
            tcp = pair.guest.stats()["tcp"]
            # the stream's own counters (TCP_INFO of the sender's socket,
            # the whole connection); the namespace's nstat delta above
            # also counts the shims' tunnel on its loopback
            conn = res.get("tcp_info") or {}
            d = {"namespace": d, "retransmitted": conn.get("total_retrans", -1),
                 "dsack": conn.get("dsack_dups", -1),
                 "namespace_sockets": tcp_sockets_retransmitting(ns)}
            results[label] = dict(d, sender=res, guest=tcp)
            tap.diag("%s: TCP max gap %d ms, %d segments retransmitted by the stream "
                     "(%d D-SACKed back: spurious), %d bytes verified"
                     % (label, tcp["max_gap_us"] // 1000, d["retransmitted"], d["dsack"],
                        tcp["last_conn_bytes"] or tcp["bytes"]))
        finally:
            pair.stop()
    s = results["shim"]
    n = results["nobuf"]
    # Held segments can still be retransmitted once, spuriously, when the
    # sender's RTO fires during the blackout; they are not lost.
    # The longest gap is printed, not bounded (a TCG guest's stalls are
    # not the shim's).  What buffering must show: no segment lost.  A
    # held segment can be retransmitted once, spuriously, when the
    # sender's RTO fires during the blackout; the guest then gets both
    # copies and D-SACKs the second, so every retransmission of the shim
    # run must come back as a D-SACK.  (Before: "fewer retransmissions
    # than the control run", which failed in CI at 1 spurious against a
    # control that lost 1.)
    tap.ok(s["sender"]["ok"] and s["guest"]["corrupted"] == 0 and
           0 <= s["retransmitted"] <= s["dsack"],
           "TCP through a migration with vhost-shim: every byte verified, none lost: %d "
           "retransmissions, all spurious (%d D-SACKs back; control: %d retransmitted, %d "
           "D-SACKs), longest gap %d ms"
           % (s["retransmitted"], s["dsack"], n["retransmitted"], n["dsack"],
              s["guest"]["max_gap_us"] // 1000), results)
    # The guest's clock stops during the blackout, so what it sees is the
    # recovery after it: fast retransmit here, an RTO stall when the tail of
    # a burst is lost.  Losing segments at all is what buffering prevents.
    tap.ok(n["retransmitted"] > n["dsack"] >= 0,
           "control run without buffering: %d segments retransmitted, %d of them lost (not "
           "D-SACKed), longest gap %d ms"
           % (n["retransmitted"], n["retransmitted"] - n["dsack"],
              n["guest"]["max_gap_us"] // 1000), n)


def scenario_cancel(ns, workdir, tap):
    pair = Pair(ns, workdir, tap)
    try:
        snd, dg = pair.held_blackout()
        g = pair.guest
        time.sleep(1.0)     # frames pile up in the buffer
        held = pair.src.migration("vm1")["buffered-now"]
        g.qmp("migrate_cancel")
        vt.wait_for(lambda: g.status() == "running", 30, 0.05, "source VM running again")
        pair.src.wait_state("vm1", "none", 20)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(g, sres["sent"])
        st = pair.src.stats("vm1")
        dg.stop()
        want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
                "corrupted": 0}
        tap.ok(held > 0 and st["rollbacks"] == 1 and clean(final) == want,
               "migrate_cancel at the switchover: %d frames held, replayed on the source, "
               "%d sent = %d received, in order" % (held, sres["sent"], final["received"]),
               {"guest": final, "shim": st})
        ds = pair.dst.stats("vm1")
        # its own uplink frames (flooded broadcasts) may count as not-ready;
        # the tunnelled copy must not be counted as lost
        tap.ok(pair.dst.migration("vm1")["state"] == "none" and ds["tunnel-rx-frames"] > 0
               and shimlib.drops(ds) <= ds["uplink-rx-pkts"],
               "destination discarded its copy (%d tunnelled frames) without counting a loss"
               % ds["tunnel-rx-frames"], ds)
    finally:
        pair.stop()


def scenario_dst_down(ns, workdir, tap):
    pair = Pair(ns, workdir, tap, port_opts={"hold-ms": 3000})
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        time.sleep(1.5)
        dg = pair.start_incoming()
        pair.arm()
        # the destination shim dies before the switchover
        pair.dst.kill()
        pair.guest.migrate_to(dg, wait_dst_running=False)
        time.sleep(1.0)
        src = pair.src
        vt.wait_for(lambda: src.migration("vm1")["state"] == "none", 15, 0.1, "hold expiry")
        st = src.stats("vm1")
        sres = snd.stop()
        tap.ok(src.alive() and st["drops"]["peer-lost"] + st["drops"]["buffer-expired"] > 0,
               "destination shim down: source kept its buffer for hold-ms, then counted "
               "%d drops (peer-lost %d, buffer-expired %d)"
               % (shimlib.drops(st), st["drops"]["peer-lost"], st["drops"]["buffer-expired"]),
               st)
        # hostb's EXPECT came over an incoming connection, announced and then
        # lost when hostb died; our stream's connection (opened once the
        # migration started, after the kill) never got past TCP: no events
        pe = [{"event": e["event"], **e["data"]} for e in src.qmp.poll_events()
              if e["event"].startswith("PEER_")]
        up = [(e["peer"], e["address"], e["direction"]) for e in pe
              if e["event"] == "PEER_CONNECTED"]
        lost = [e for e in pe if e["event"] == "PEER_LOST"]
        tap.ok(len(lost) == 1 and bool(lost[0].get("reason")) and
               up == [(pair.dst.name, lost[0]["address"], "incoming")] and
               lost[0]["peer"] == pair.dst.name and lost[0]["direction"] == "incoming",
               "destination shim down: the source reports PEER_LOST (%s) for the incoming "
               "connection from %s that carried its EXPECT, nothing for connection attempts "
               "that never got through" % (lost[0].get("reason") if lost else "none",
                                           pair.dst.name), pe)
        acct = st["buffered-pkts"]
        total_buffered = sum(acct.values())
        tap.ok(total_buffered == st["drops"]["peer-lost"] + st["drops"]["buffer-expired"]
               + st["replayed-pkts"],
               "every buffered frame is accounted for: %d buffered = dropped + delivered"
               % total_buffered, st)
        pair.guest = dg
        del sres
    finally:
        pair.stop()


def scenario_stragglers(ns, workdir, tap):
    pair = Pair(ns, workdir, tap, port_opts={"linger-ms": 3000})
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        time.sleep(1.5)
        src_tap = pair.src.port("vm1").tap
        dg = pair.start_incoming()
        pair.arm()
        # the switch keeps sending the VM's frames to the source port
        ns.fdb_add(MAC, src_tap)
        pair.guest.migrate_to(dg)
        time.sleep(1.0)
        ns.fdb_del(MAC, src_tap, check=False)
        src = pair.src
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        st = src.stats("vm1")
        want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
                "corrupted": 0}
        tap.ok(st["stragglers-forwarded"] > 500 and clean(final) == want,
               "stragglers for 1 s: %d forwarded through the tunnel, 0 lost, in order"
               % st["stragglers-forwarded"],
               {"guest": final, "guest_kernel_drops": pair.guest.stats().get("kernel", {}),
                "source": st, "destination": pair.src.stats("vm1"),
                "destination_migration": pair.src.migration("vm1")})
    finally:
        pair.stop()


def scenario_dst_restart(ns, workdir, tap):
    """The destination shim is SIGKILLed during the blackout, with the
    source's stream open, and restarted (same config, tunnel port and
    vhost-user socket) 0.7 s later, then re-armed as the libvirt hook
    would.  As with libvirt, the destination QEMU is started paused (-S)
    and resumed after the migration completed, and its vhost-user chardev
    has reconnect=1 so it finds its backend again.  Either the VM resumes
    at the destination and the restarted shim delivers the source's
    buffer, or the migration fails and the source delivers it locally; in
    both cases every datagram is received or counted in a drop counter,
    none twice, none out of order.

    The kill comes once QEMU reported the migration completed, still in
    the blackout (the VM runs nowhere until cont): a backend killed while
    the destination QEMU 7.2 is still loading the device state makes it
    lose the guest's virtio features on reconnect (the device comes back
    without VERSION_1, the guest's network is dead; fixed in QEMU 8.0 by
    c9bdc449f9 "vhost-user: Fix the virtio features negotiation flaw")."""
    # A bridge takes the lowest MAC of its ports unless it has one of its
    # own: the killed shim's tap leaving br0 would change it, and the kernel
    # then flushes the namespace's ARP cache (the traffic source) and drops
    # datagrams before they reach any shim.  A real switch does not do that.
    ns.run(["ip", "link", "set", "br0", "address", "02:77:00:00:0e:01"])
    # hold-ms bounds how long the source keeps its buffer for the peer;
    # replay-hold-ms how long the destination holds live frames behind a
    # stream that is not up yet at the resume
    pair = Pair(ns, workdir, tap, port_opts={"hold-ms": 10000, "replay-hold-ms": 3000})
    try:
        g = pair.boot()
        g.reset()
        src, dst = pair.src, pair.dst
        snd = vt.UdpSender(ns, g.addr, pps=3000, duration=600, size=100).start()
        time.sleep(1.5)
        pair.gen += 1
        dg = vt.Guest(dst.port("vm1").netdev(reconnect=1), ns=ns, name="g%d" % pair.gen, ip=IP,
                      mac=MAC, workdir=os.path.join(workdir, "g%d" % pair.gen), incoming=True,
                      paused=True)
        dg.start().wait_incoming_socket()
        pair.arm()

        def mig_status():
            try:
                return g.qmp("query-migrate").get("status")
            except vt.HarnessError:
                return "qemu-gone"
        g.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: src.migration("vm1")["state"] == "src-blackout", 120, 0.003,
                    "source blackout")
        vt.wait_for(lambda: mig_status() in ("completed", "failed", "cancelled", "qemu-gone"),
                    120, 0.01, "migration to end")
        status = mig_status()
        held_at_kill = src.migration("vm1")["buffered-now"]
        dst.kill()                          # SIGKILL by PID, stream open
        killed_at = time.monotonic()
        time.sleep(0.7)
        dst._log.close()
        dst.start()                         # same config, socket, tunnel port
        restarted_after = time.monotonic() - killed_at
        dst.execute("migrate-expect", {"port": "vm1"})   # the hook re-arms
        if status == "completed":
            outcome = "resumed at the destination"
            dg.resume()                     # libvirt's Finish: cont
            vt.wait_for(lambda: not dg.alive() or dg.status() == "running", 30, 0.05,
                        "destination running")
            pair.finish(dg, settle=False)
        else:
            outcome = "rolled back to the source"
            vt.wait_for(lambda: g.status() == "running", 30, 0.05, "source VM running again")
            dg.stop()
            dst.execute("migrate-cancel", {"port": "vm1"})
        for sh in pair.shims:
            sh.wait_state("vm1", "none", 30)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"], timeout=20)
        pair.guest.check()
        st = {sh.name: sh.stats("vm1") for sh in pair.shims}
        drops = {n: {k: v for k, v in s["drops"].items() if v} for n, s in st.items()}
        dropped = sum(shimlib.drops(s) for s in st.values())
        lost = sres["sent"] - final["unique"]
        info = {"outcome": outcome, "migrate": status,
                "restarted_after_s": round(restarted_after, 3), "held_at_kill": held_at_kill,
                "sent": sres["sent"], "received": final["received"], "lost": lost,
                "dropped": dropped, "drops": drops,
                "source": {k: st[src.name][k] for k in ("tunnel-tx-frames", "tunnel-reconnects",
                                                         "replayed-pkts", "rollbacks")},
                "destination": {k: st[dst.name][k] for k in ("tunnel-rx-frames",
                                                              "tunnel-duplicates",
                                                              "replayed-pkts")}}
        tap.diag(json.dumps(info))
        tap.ok(src.alive() and dst.alive() and status in ("completed", "failed"),
               "destination shim killed in the blackout (%d frames held) and restarted after "
               "%.1f s: both daemons run, migration %s, VM %s"
               % (held_at_kill, restarted_after, status, outcome), info)
        tap.ok(lost <= dropped and final["duplicated"] == 0 and final["reordered"] == 0
               and final["corrupted"] == 0,
               "every datagram received or counted: %d sent, %d received, %d lost <= %d "
               "dropped by the shims, 0 duplicated, 0 reordered"
               % (sres["sent"], final["unique"], lost, dropped), {"guest": final, **info})
        if status == "completed":
            ok = st[dst.name]["tunnel-rx-frames"] > 0 and lost == 0
            what = ("the source kept its buffer until the restarted destination accepted its "
                    "stream: %d frames tunnelled, %d lost" % (st[dst.name]["tunnel-rx-frames"],
                                                             lost))
        else:
            ok = st[src.name]["rollbacks"] == 1 and lost == 0
            what = ("rollback: the source delivered its buffer locally (%d replayed), %d lost"
                    % (st[src.name]["replayed-pkts"], lost))
        tap.ok(ok, what, info)
    finally:
        pair.stop()


# -- migration-long-precopy: an armed destination waits for the whole pre-copy

# hold-ms lowered to keep the test short; VSHIM_LONG_HOLD_MS=10000 (the
# default) and VSHIM_LONG_PRECOPY_S=300 give the issue's 5-minute run
LONG_HOLD_MS = int(os.environ.get("VSHIM_LONG_HOLD_MS", "2000"))
# how long pre-copy is held throttled: by default 3 x hold-ms and a half
LONG_PRECOPY_S = float(os.environ.get("VSHIM_LONG_PRECOPY_S", 3 * LONG_HOLD_MS / 1000.0 + 0.5))
# more than the whole migration below
LONG_EXPECT_TIMEOUT_MS = max(25000, int(LONG_PRECOPY_S * 1000) + 20000)
LONG_PPS = 3000                 # UDP through the throttled pre-copy (LONG_THROTTLE)
LONG_TCP_RATE = 1 << 20         # and a TCP stream, bytes/s


def scenario_long_precopy(ns, workdir, tap):
    """Issue 15: the destination disarmed itself after 2 x hold-ms, so a
    pre-copy longer than that lost the whole blackout (121 and 178
    datagrams at ~30 s) and the source counted delivered frames as
    peer-lost.  Here the destination is armed before the migration starts
    (as the libvirt hook does at migrate begin), pre-copy is throttled with
    max-bandwidth for more than 3 x hold-ms and then let go, under UDP at
    3000 pps and a TCP stream at 1 MB/s (checked by the guest: every byte,
    in order, on one connection; the longest gap printed).  Then
    expect-timeout-ms, the one bound left on an expectation, disarms a port
    that no VM reaches."""
    conf = os.path.join(workdir, "migration.conf")
    os.makedirs(workdir, exist_ok=True)
    with open(conf, "w") as f:
        f.write("[migration]\nexpect-timeout-ms=%d\n" % LONG_EXPECT_TIMEOUT_MS)
    pair = Pair(ns, workdir, tap, port_opts={"hold-ms": LONG_HOLD_MS},
                shim_args=["--config", conf], guest_append=LONG_GUEST)
    try:
        g = pair.boot()
        g.reset()
        src, dst = pair.src, pair.dst
        snd = vt.UdpSender(ns, g.addr, pps=LONG_PPS, duration=LONG_PRECOPY_S + 600,
                           size=100).start()
        tcp = vt.TcpSender(ns, g.addr, int(LONG_TCP_RATE * (LONG_PRECOPY_S + 25)),
                           timeout=LONG_PRECOPY_S + 200, rate=LONG_TCP_RATE).start()
        time.sleep(1.5)
        dg = pair.start_incoming()
        pair.arm()                          # before the migration, as the hook
        kernel_before = g.stats().get("kernel", {})
        g.qmp("migrate-set-parameters", **{"max-bandwidth": LONG_THROTTLE})
        t0 = time.monotonic()
        g.qmp("migrate", uri=dg.incoming_uri)
        mid_s = LONG_PRECOPY_S
        time.sleep(mid_s)
        mid = {"qemu": g.qmp("query-migrate").get("status"),
               "source": src.migration("vm1")["state"],
               "destination": dst.migration("vm1")["state"]}
        g.qmp("migrate-set-parameters", **{"max-bandwidth": 1 << 30})
        t_free = time.monotonic()
        t_blackout = None
        while True:
            st = g.qmp("query-migrate").get("status")
            if t_blackout is None and src.migration("vm1")["state"] != "src-active":
                t_blackout = time.monotonic()
            if st in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() - t_free > 120:
                raise vt.HarnessError("migration not completed 120 s after the throttle went")
            time.sleep(0.02)
        info = g.qmp("query-migrate")
        precopy_s = (t_blackout or time.monotonic()) - t0
        tap.ok(mid == {"qemu": "active", "source": "src-active",
                       "destination": "dst-expecting"} and st == "completed" and
               precopy_s >= 3 * LONG_HOLD_MS / 1000.0,
               "pre-copy throttled to %d B/s lasted %.1f s (> 3 x hold-ms %d ms): at %.1f s "
               "the destination was still armed (%s), migration %s"
               % (LONG_THROTTLE, precopy_s, LONG_HOLD_MS, mid_s, mid["destination"], st),
               {"at_3x_hold": mid, "query-migrate": info})
        vt.wait_for(lambda: not dg.alive() or dg.status() == "running", 30, 0.05,
                    "destination running")
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        tres = tcp.wait(timeout=LONG_PRECOPY_S + 200)
        pair.guest.check()
        gtcp = pair.guest.stats()["tcp"]
        gk = pair.guest.stats().get("kernel", {})
        ss, ds = src.stats("vm1"), dst.stats("vm1")
        want = shimlib.lossless(sres["sent"])
        res = {"guest": final, "tcp_sender": tres,
               "guest_tcp": {k: gtcp.get(k) for k in ("bytes", "last_conn_bytes", "max_gap_us",
                                                      "corrupted", "connections")},
               "guest_kernel_drops": {k: v - kernel_before.get(k, 0) for k, v in gk.items()},
               "source": {k: ss[k] for k in ("tunnel-tx-frames", "migrations-out",
                                              "last-blackout-us")},
               "source_drops": {k: v for k, v in ss["drops"].items() if v},
               "destination": {k: ds[k] for k in ("tunnel-rx-frames", "migrations-in",
                                                   "replayed-pkts", "expect-timeouts",
                                                   "tunnel-frames-discarded",
                                                   "announces-sent")},
               "destination_drops": {k: v for k, v in ds["drops"].items() if v}}
        tap.diag(json.dumps(res))
        tap.ok(clean(final) == want and ss["drops"]["peer-lost"] == 0 and
               ds["migrations-in"] == 1 and ds["tunnel-rx-frames"] > 0 and
               ds["expect-timeouts"] == 0 and ds["tunnel-frames-discarded"] == 0,
               "UDP %d pps through a %.1f s pre-copy: %d sent, %d received, 0 lost/reordered/"
               "duplicated; %d frames tunnelled, source peer-lost 0, destination "
               "migrations-in 1" % (LONG_PPS, precopy_s, sres["sent"], final["received"],
                                    ds["tunnel-rx-frames"]), res)
        tcp_got = gtcp["last_conn_bytes"] or gtcp["bytes"]
        # The longest gap is printed, not bounded: it follows the TCG
        # guest's own stalls (in one CI run 341 ms, with UDP's 310 ms at
        # the same time and a 40 ms blackout), not the shims'.
        tap.ok(tres["ok"] and gtcp["corrupted"] == 0 and tcp_got == tres["sent"] and
               gtcp["connections"] == 1,
               "TCP at %d B/s through the same migration: %d bytes sent, %d verified by the "
               "guest, in order, on one connection (longest gap %d ms; UDP's %d ms)"
               % (LONG_TCP_RATE, tres["sent"], tcp_got, gtcp["max_gap_us"] // 1000,
                  final["max_gap_us"] // 1000),
               {"sender": tres, "guest": gtcp})

        # an expectation no VM fulfils ends after expect-timeout-ms, counted
        old = src                            # the VM left it: nothing arrives
        mark = len(old.qmp.poll_events())
        t1 = time.monotonic()
        old.execute("migrate-expect", {"port": "vm1"})
        vt.wait_for(lambda: old.migration("vm1")["state"] == "none",
                    LONG_EXPECT_TIMEOUT_MS / 1000.0 + 10, 0.1, "the expectation to expire")
        waited = time.monotonic() - t1
        time.sleep(0.2)
        ev = [e for e in old.qmp.poll_events()[mark:] if e["event"] == "MIGRATION_EXPECT_EXPIRED"]
        os_ = old.stats("vm1")
        tap.ok(len(ev) == 1 and ev[0]["data"].get("port") == "vm1" and
               ev[0]["data"].get("armed-ms", 0) >= LONG_EXPECT_TIMEOUT_MS and
               os_["expect-timeouts"] == 1 and waited >= LONG_EXPECT_TIMEOUT_MS / 1000.0 - 0.5,
               "an armed port no VM reaches is disarmed after expect-timeout-ms (%d ms): "
               "%.1f s, MIGRATION_EXPECT_EXPIRED, expect-timeouts %d"
               % (LONG_EXPECT_TIMEOUT_MS, waited, os_["expect-timeouts"]),
               {"events": ev, "stats": {k: os_[k] for k in ("expect-timeouts",
                                                            "tunnel-frames-discarded")}})
    finally:
        pair.stop()


# -- migration-back-to-back: migrated on while still replaying ---------------

def scenario_back_to_back(ns, workdir, tap):
    """A->B, with a static FDB entry keeping the traffic on A's port, so B
    replays A's stragglers until A's END (linger-ms 5000); then B->A is
    started at once, while B still replays.  B's pre-copy is throttled for
    2 s, during which the traffic moves to B and A is armed (the hook's
    migrate-expect, which ends A's straggler stream), then let go.  Until
    issue 15 log-on was refused in replaying and B's switchover was taken
    for a pause: the blackout was never streamed."""
    pair = Pair(ns, workdir, tap, port_opts={"linger-ms": 5000, "replay-hold-ms": 5000})
    try:
        g = pair.boot()
        g.reset()
        a, b = pair.src, pair.dst
        a_tap, b_tap = a.port("vm1").tap, b.port("vm1").tap
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        time.sleep(1.5)
        dg = pair.start_incoming()
        pair.arm()
        ns.fdb_add(MAC, a_tap)              # the switch keeps sending to A
        pair.guest.migrate_to(dg)           # A->B
        t_resumed = time.monotonic()
        pair.finish(dg, settle=False)       # now src = B, dst = A
        dg2 = pair.start_incoming()         # on A
        b_before = b.migration("vm1")["state"]
        pair.guest.qmp("migrate-set-parameters", **{"max-bandwidth": LONG_THROTTLE})
        pair.guest.qmp("migrate", uri=dg2.incoming_uri)
        vt.wait_for(lambda: b.migration("vm1")["state"] != b_before, 20, 0.01,
                    "B to take the migration's start")
        b_after = b.migration("vm1")["state"]
        since = time.monotonic() - t_resumed
        logon = [ln for ln in b.log_text().splitlines() if "replaying -> src-active (log-on)" in ln]
        # the traffic moves to B; A, armed, ends its straggler stream
        ns.fdb_add(MAC, b_tap)
        time.sleep(0.3)
        pair.arm()
        time.sleep(1.0)
        pair.guest.qmp("migrate-set-parameters", **{"max-bandwidth": 1 << 30})
        vt.wait_for(lambda: pair.guest.qmp("query-migrate").get("status") in
                    ("completed", "failed", "cancelled"), 120, 0.02, "B->A to end")
        st = pair.guest.qmp("query-migrate").get("status")
        vt.wait_for(lambda: not dg2.alive() or dg2.status() == "running", 30, 0.05,
                    "A running")
        ns.fdb_del(MAC, b_tap)              # the switch learns A again
        tap.ok(b_before == "replaying" and b_after == "src-active" and len(logon) == 1 and
               st == "completed",
               "B->A started %.1f s after A->B resumed, B still replaying: log-on took it to "
               "src-active, migration %s" % (since, st),
               {"b_before": b_before, "b_after": b_after, "log": logon})
        pair.finish(dg2)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        pair.guest.check()
        sa, sb = a.stats("vm1"), b.stats("vm1")
        keys = ("tunnel-tx-frames", "tunnel-rx-frames", "stragglers-forwarded", "replayed-pkts",
                "migrations-in", "migrations-out", "tunnel-frames-discarded")
        res = {"guest": final, "guest_kernel": pair.guest.stats().get("kernel", {}),
               "a": {k: sa[k] for k in keys}, "b": {k: sb[k] for k in keys},
               "a_drops": {k: v for k, v in sa["drops"].items() if v},
               "b_drops": {k: v for k, v in sb["drops"].items() if v}}
        tap.diag(json.dumps(res))
        tap.ok(clean(final) == shimlib.lossless(sres["sent"]) and
               sa["drops"]["peer-lost"] == 0 and sb["drops"]["peer-lost"] == 0 and
               sa["migrations-in"] == 1 and sb["migrations-in"] == 1 and
               sb["tunnel-tx-frames"] > 0,
               "A->B->A back to back: %d sent, %d received, 0 lost/reordered/duplicated; "
               "peer-lost 0 on both; B tunnelled %d frames to A"
               % (sres["sent"], final["received"], sb["tunnel-tx-frames"]), res)
    finally:
        ns.fdb_del(MAC, pair.shims[0].port("vm1").tap)
        ns.fdb_del(MAC, pair.shims[1].port("vm1").tap)
        pair.stop()


SCENARIOS = {
    "udp": (scenario_udp, 6),
    "tcp": (scenario_tcp, 2),
    "tcp-tso": (scenario_tcp_tso, 2),
    "cancel": (scenario_cancel, 2),
    "dst-down": (scenario_dst_down, 3),
    "stragglers": (scenario_stragglers, 1),
    "tunnel-break": (scenario_tunnel_break, 1),
    "tunnel-cut-acked": (scenario_tunnel_cut_acked, 3),
    "bad-peer": (scenario_bad_peer, 2),
    "unknown-vm": (scenario_unknown_vm, 2),
    "dst-restart": (scenario_dst_restart, 3),
    "tls": (scenario_tls, 4),
    "long-precopy": (scenario_long_precopy, 4),
    "back-to-back": (scenario_back_to_back, 2),
    "jumbo": (scenario_jumbo, 3),
}


def main():
    # VSHIM_KEEP=DIR keeps the logs in DIR (tap_main)
    return vt.scenario_main(SCENARIOS, "udp", "mig")


if __name__ == "__main__":
    sys.exit(main())
