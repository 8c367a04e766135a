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
  tcp         one TCP stream through a migration: longest gap <= 300 ms;
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
  tls         x509 mutual TLS (certificates made with certtool): the obsolete
              allow-cleartext refused, bad local credentials refused at
              startup, a lossless migration over TLS, a certificate from
              another CA and a client without one refused and counted

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
default 2).

The guest runs the kernel's default network settings (no rmem_max change, no
SO_RCVBUFFORCE) except where a test says why it needs more (TUNED_GUEST).
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest.certs import tls_make_ca, tls_make_host  # noqa: E402

MAC = "52:54:00:77:02:01"
IP = "10.77.0.21/24"
PORT_A, PORT_B = 7401, 7402


clean = shimlib.loss_counts


# A guest whose UDP sink has an 8 MB receive buffer (tests/guest/init).  The
# test guest otherwise runs the kernel's default network settings, and a TCG
# guest on this 2-core machine cannot absorb 5000 pps right after a resume:
# even the buffering-off control run, which replays nothing, loses datagrams
# in the guest's own socket then (RcvbufErrors; 1601 and 82 in its two
# migrations when measured), and at 2000 pps it lost 302 in stragglers and
# 52 in cancel with the shim's counters all clean.  The migration tests
# check the shim (every datagram delivered, in order), so they use this
# guest; udp's default-guest runs measure what the replay costs a guest
# that does not tune its buffers.
TUNED_GUEST = "vshim.rcvbuf=8388608"
# migration-long-precopy's guest.  With the kernel's defaults it lost 47 of
# 24630 datagrams, all in its own socket (47 RcvbufErrors), while both
# shims' counters were clean (destination migrations-in 1, 21 frames
# tunnelled, 288 replayed; source peer-lost 0): the TCG guest's post-resume
# capacity again, not the shim (see TUNED_GUEST)
LONG_GUEST = TUNED_GUEST


class Pair:
    """Two shims, one VM port each (same VM), and the VM on one of them."""

    def __init__(self, ns, workdir, tap, port_opts=None, key_b=None, guest_append=TUNED_GUEST,
                 shim_args=None):
        self.ns = ns
        self.guest_append = guest_append
        self.workdir = workdir
        self.tap = tap
        os.makedirs(workdir, exist_ok=True)
        self.key = os.path.join(workdir, "psk.key")
        shimlib.write_key(self.key)
        key_b_path = self.key
        if key_b:
            key_b_path = os.path.join(workdir, "psk-b.key")
            shimlib.write_key(key_b_path, key_b)
        opts = {"linger-ms": 1000}
        opts.update(port_opts or {})
        self.shims = [
            shimlib.Shim(ns, "hosta", workdir, tunnel_port=PORT_A, peers={"hostb": PORT_B},
                         key_file=self.key, extra_args=shim_args),
            shimlib.Shim(ns, "hostb", workdir, tunnel_port=PORT_B, peers={"hosta": PORT_A},
                         key_file=key_b_path, extra_args=shim_args),
        ]
        for s in self.shims:
            s.add_port("vm1", MAC, **opts)
            s.start()
        self.cur = 0
        self.gen = 0
        self.guest = None
        self.downtimes = []

    def boot(self):
        self.guest = self._guest(self.shims[0], incoming=False)
        self.guest.start()
        self.guest.wait_ready(timeout=90)
        return self.guest

    def _guest(self, shim, incoming):
        self.gen += 1
        name = "g%d" % self.gen
        return vt.Guest(shim.port("vm1").netdev(), ns=self.ns, name=name, ip=IP, mac=MAC,
                        workdir=os.path.join(self.workdir, name), incoming=incoming,
                        append=self.guest_append)

    @property
    def src(self):
        return self.shims[self.cur]

    @property
    def dst(self):
        return self.shims[1 - self.cur]

    def start_incoming(self):
        dg = self._guest(self.dst, incoming=True)
        dg.start()
        sock = dg.incoming_uri[len("unix:"):]
        vt.wait_for(lambda: os.path.exists(sock) or not dg.alive(), 60, 0.05,
                    "incoming migration socket")
        return dg

    def arm(self, explicit=False):
        """Arm the destination (auto mode: it announces itself to the
        source); explicit: also tell the source its peer."""
        self.dst.execute("migrate-expect", {"port": "vm1"})
        if explicit:
            self.src.execute("migrate-set-peer", {"port": "vm1", "peer": self.dst.name})
        vt.wait_for(lambda: self.src.migration("vm1").get("peer") == self.dst.name, 10, 0.02,
                    "source to learn its destination")

    def finish(self, dg, settle=True):
        """After a completed migration: stop the old QEMU, flip roles, wait
        for both shims to settle (replay done, linger over)."""
        old = self.guest
        self.guest = dg
        old.stop()
        self.cur = 1 - self.cur
        if settle:
            self.shims[self.cur].wait_state("vm1", "none", 20)
            self.shims[1 - self.cur].wait_state("vm1", "none", 20)

    def migrate(self, arm=True, explicit=False, settle=True):
        dg = self.start_incoming()
        if arm:
            self.arm(explicit)
        downtime = self.guest.migrate_to(dg)
        self.downtimes.append(downtime)
        self.finish(dg, settle)
        return downtime

    def held_blackout(self, pps=2000):
        """Boot the VM under UDP at pps and migrate it with
        pause-before-switchover: returns (sender, incoming guest) with the
        source QEMU in pre-switchover and the source shim in src-blackout,
        which lasts until migrate-continue or migrate_cancel."""
        g = self.boot()
        g.reset()
        snd = vt.UdpSender(self.ns, g.addr, pps=pps, duration=600, size=100).start()
        time.sleep(1.5)
        dg = self.start_incoming()
        self.arm()
        g.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": True}])
        g.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "pre-switchover", 60, 0.05,
                    "pre-switchover")
        vt.wait_for(lambda: self.src.migration("vm1")["state"] == "src-blackout", 10, 0.02,
                    "source blackout")
        return snd, dg

    def stop(self):
        if self.guest:
            self.guest.stop()
        return [s.stop() for s in self.shims]


def wait_received(g, n, stream=0, timeout=15):
    return shimlib.wait_stream(g, n, stream, timeout)


def diagnose_loss(tap, pair, per, sent):
    """A datagram is missing: say which, in which migration, and what the
    guest received around it (arrival times), for the failure's log."""
    try:
        tl = pair.guest.timeline(0)
    except Exception as e:  # noqa: BLE001 - diagnostics only
        tap.diag("no timeline: %s" % e)
        return
    try:
        links = json.loads(pair.ns.run(["ip", "-s", "-j", "link"]).stdout)
        tap.diag("namespace links with drops: %s" % {
            l["ifname"]: {d: l["stats64"][d]["dropped"] for d in ("rx", "tx")}
            for l in links if l["stats64"]["rx"]["dropped"] or l["stats64"]["tx"]["dropped"]})
    except Exception as e:  # noqa: BLE001 - diagnostics only
        tap.diag("no link stats: %s" % e)
    seen = {}
    for i, (_, seq) in enumerate(tl):
        seen.setdefault(seq, i)
    missing = [q for q in range(sent) if q not in seen][:20]
    for q in missing:
        mig = max([m["migration"] for m in per if m["highest_seq_before"] <= q] or [0])
        near = [(seq, t) for t, seq in tl if abs(seq - q) <= 3]
        nxt = seen.get(q + 1)
        ctx = [(seq, t) for t, seq in tl[max(0, nxt - 5):nxt + 5]] if nxt is not None else []
        tap.diag("missing seq %d (migration %d): neighbours (seq, arrival us) %s; arrival "
                 "order around seq %d: %s" % (q, mig, near, q + 1, ctx))




def udp_run(ns, workdir, tap, migrations, buffer_on, pps=5000, port_opts=None,
            guest_append=TUNED_GUEST):
    opts = dict(port_opts or {})
    if not buffer_on:
        opts["buffer"] = "off"
    pair = Pair(ns, workdir, tap, port_opts=opts, guest_append=guest_append)
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=pps, duration=600, size=100).start()
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


def tcp_retrans(ns):
    """TCP segments retransmitted so far by the namespace's stack (the sender)."""
    out = ns.run(["nstat", "-az", "TcpRetransSegs"]).stdout
    for line in out.splitlines():
        if line.startswith("TcpRetransSegs"):
            return int(line.split()[1])
    return 0


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
            r0 = tcp_retrans(ns)
            pair.migrate()
            time.sleep(2)
            r1 = tcp_retrans(ns)
            if label == "nobuf" and r1 == r0:
                # nothing was in flight during that blackout (the sender
                # waited for the slow guest's window): one more try
                tap.diag("nobuf: no retransmission after the first migration, migrating back")
                pair.migrate()
                time.sleep(2)
                r1 = tcp_retrans(ns)
            res = snd.wait(timeout=100)
            tcp = pair.guest.stats()["tcp"]
            results[label] = {"sender": res, "guest": tcp, "retransmitted": r1 - r0}
            tap.diag("%s: TCP max gap %d ms, %d segments retransmitted around the migration, "
                     "%d bytes verified" % (label, tcp["max_gap_us"] // 1000, r1 - r0,
                                            tcp["last_conn_bytes"] or tcp["bytes"]))
        finally:
            pair.stop()
    s = results["shim"]
    n = results["nobuf"]
    # Held segments can still be retransmitted once, spuriously, when the
    # sender's RTO fires during the blackout; they are not lost.
    tap.ok(s["sender"]["ok"] and s["guest"]["corrupted"] == 0 and
           s["guest"]["max_gap_us"] <= 300000 and
           (s["retransmitted"] == 0 or s["retransmitted"] < n["retransmitted"]),
           "TCP through a migration with vhost-shim: longest gap %d ms <= 300 ms, %d "
           "retransmissions (control: %d)" % (s["guest"]["max_gap_us"] // 1000,
                                              s["retransmitted"], n["retransmitted"]), results)
    # The guest's clock stops during the blackout, so what it sees is the
    # recovery after it: fast retransmit here, an RTO stall when the tail of
    # a burst is lost.  Losing segments at all is what buffering prevents.
    tap.ok(n["retransmitted"] > 0,
           "control run without buffering: %d segments lost and retransmitted, longest gap "
           "%d ms" % (n["retransmitted"], n["guest"]["max_gap_us"] // 1000), n)


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


def iptables(ns, *args):
    return ns.run(["iptables"] + list(args), check=False)


# an iptables OUTPUT rule that answers every packet towards B's tunnel port
# with a TCP reset: the source's connection dies, and stays down until the
# rule goes
CUT_TO_B = ["-p", "tcp", "--dport", str(PORT_B), "-j", "REJECT", "--reject-with", "tcp-reset"]


def scenario_tunnel_break(ns, workdir, tap):
    # the destination holds live frames behind the tunnel for up to 5 s, so a
    # 1 s cut costs neither frames nor order
    pair = Pair(ns, workdir, tap, port_opts={"replay-hold-ms": 5000, "linger-ms": 4000})
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=3000, duration=600, size=100).start()
        time.sleep(1.5)
        dg = pair.start_incoming()
        pair.arm()
        # cut the tunnel (RST to every packet towards B) as soon as the
        # migration starts: the stream is open but idle then, so the first
        # blackout frame hits the cut; heal it 1 s into the blackout
        rule = CUT_TO_B
        pair.guest.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: pair.src.migration("vm1")["state"] in ("src-active", "src-blackout"),
                    60, 0.005, "migration start")
        r = iptables(ns, "-I", "OUTPUT", *rule)
        if r.returncode != 0:
            vt.skip_or_fail("iptables unusable: %s" % r.stderr)
        vt.wait_for(lambda: pair.src.migration("vm1")["state"] != "src-active", 60, 0.005,
                    "blackout")
        time.sleep(1.0)
        iptables(ns, "-D", "OUTPUT", *rule)
        vt.wait_for(lambda: pair.guest.qmp("query-migrate").get("status") == "completed",
                    60, 0.05, "migration completed")
        src = pair.src
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        st = src.stats("vm1")
        want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
                "corrupted": 0}
        peers = src.execute("query-peers")
        tap.ok(clean(final) == want and peers["reconnects"] >= 1,
               "tunnel cut with the stream open, before its first frame, and healed: %d "
               "reconnect(s), 0 lost, 0 duplicated"
               % peers["reconnects"], {"guest": final, "source": st, "peers": peers})
    finally:
        iptables(ns, "-F", "OUTPUT")
        pair.stop()


def resend_points(shim):
    """The seqs the source's stream resent from, one per VM_ACCEPT, from
    its log ("stream N accepted by hostb, resend from X")."""
    import re
    return [int(m) for m in re.findall(r"accepted by \S+, resend from (\d+)", shim.log_text())]


def scenario_tunnel_cut_acked(ns, workdir, tap):
    """The tunnel is cut in the middle of a stream the destination has
    partly received and acknowledged, with frames still coming, twice:

    1. In the blackout, held open with pause-before-switchover so that the
       stream runs for seconds.  Once B holds a few hundred tunnelled
       frames, every packet towards B is answered with a TCP reset (the
       source's connection dies with frames in flight or queued); 1 s
       later the rule goes.  Nothing is freed before RESUMED, so this
       shows the resume point: B's VM_ACCEPT names its next expected seq
       (what it really has) and the source resends from there, not from 1.
    2. After the switchover, while a static FDB entry keeps the VM's
       frames going to the source (stragglers): after RESUMED the source
       frees what B acknowledged, and resends from B's next expected seq
       out of what it kept.

    After both, the guest has every datagram once, in order."""
    pair = Pair(ns, workdir, tap, port_opts={"hold-ms": 30000, "replay-hold-ms": 5000,
                                             "linger-ms": 10000})
    rule = CUT_TO_B
    try:
        snd, dg = pair.held_blackout()
        g = pair.guest
        a, b = pair.src, pair.dst
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= 400, 20, 0.02,
                    "400 frames tunnelled to B")
        time.sleep(0.1)     # B acks as it goes: let some acks reach A
        r = iptables(ns, "-I", "OUTPUT", *rule)
        if r.returncode != 0:
            vt.skip_or_fail("iptables unusable: %s" % r.stderr)
        cut_rx = b.stats("vm1")["tunnel-rx-frames"]
        reconnects0 = a.execute("query-peers")["reconnects"]
        time.sleep(1.0)     # the source buffers; its reconnects are refused
        during_rx = b.stats("vm1")["tunnel-rx-frames"]
        iptables(ns, "-D", "OUTPUT", *rule)
        vt.wait_for(lambda: len(resend_points(a)) >= 2, 20, 0.05, "the stream re-accepted")
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= during_rx + 400, 20, 0.05,
                    "the stream flowing again")
        points = resend_points(a)
        peers_a = a.execute("query-peers")
        info = {"resend_from": points, "b_rx_at_cut": cut_rx, "b_rx_after_1s_cut": during_rx,
                "peers": peers_a}
        # the first accept starts at 1; the one after the cut where B was
        tap.ok(len(points) == 2 and points[0] == 1 and points[1] > 400 and
               peers_a["reconnects"] > reconnects0 and during_rx - cut_rx <= 64,
               "blackout: tunnel cut after B took %d frames, nothing crossed during the cut "
               "(%d), the source reconnected and resent from seq %d (B's next expected), not "
               "from 1" % (cut_rx, during_rx - cut_rx, points[1]), info)

        # 2. the switch keeps sending the VM's frames to the source
        src_tap = a.port("vm1").tap
        ns.fdb_add(MAC, src_tap)
        g.qmp("migrate-continue", state="pre-switchover")
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "completed", 60, 0.05,
                    "migration completed")
        vt.wait_for(lambda: a.migration("vm1")["state"] == "src-forwarding", 20, 0.02,
                    "source forwarding stragglers")
        vt.wait_for(lambda: a.stats("vm1")["stragglers-forwarded"] >= 300, 20, 0.02,
                    "300 stragglers forwarded")
        time.sleep(0.1)
        iptables(ns, "-I", "OUTPUT", *rule)
        cut2_rx = b.stats("vm1")["tunnel-rx-frames"]
        cut2_stragglers = a.stats("vm1")["stragglers-forwarded"]
        time.sleep(0.7)
        during2_rx = b.stats("vm1")["tunnel-rx-frames"]
        iptables(ns, "-D", "OUTPUT", *rule)
        vt.wait_for(lambda: len(resend_points(a)) >= 3, 20, 0.05,
                    "the stream re-accepted after the second cut")
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= during2_rx + 300, 20, 0.05,
                    "stragglers flowing again")
        ns.fdb_del(MAC, src_tap, check=False)
        points = resend_points(a)
        sa = a.stats("vm1")
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        sb = b.stats("vm1")
        info.update({"resend_from": points, "b_rx_at_cut2": cut2_rx,
                     "stragglers_at_cut2": cut2_stragglers,
                     "b_rx_after_cut2": during2_rx, "guest": final, "source": sa,
                     "destination": sb})
        tap.ok(len(points) == 3 and points[2] > points[1] + 300 and
               during2_rx - cut2_rx <= 64 and sa["drops"]["peer-lost"] == 0,
               "forwarding (after RESUMED): tunnel cut after %d stragglers, nothing crossed "
               "during the cut (%d), the source resent from seq %d (B's next expected); no "
               "straggler lost to the peer (peer-lost 0)"
               % (cut2_stragglers, during2_rx - cut2_rx, points[2]), info)
        want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
                "corrupted": 0}
        # tunnel-duplicates: frames B got twice through the tunnel (a resend
        # from before its next expected seq).  drops.duplicate counts B's
        # own uplink copies of tunnelled frames (the bridge floods), which
        # the dedup filter drops by design.
        # once the switch floods the VM's frames to both hosts, B sees live
        # traffic and A answers LIVE_SEEN with a barrier, after emptying its
        # uplink's queues: no straggler A had not read yet may follow them
        barriers = [l for l in a.log_text().splitlines() if "barrier after seq" in l]
        info["barriers"] = barriers
        tap.ok(clean(final) == want and sb["tunnel-duplicates"] == 0 and len(barriers) >= 1,
               "after both cuts: %d sent, %d received, 0 lost/reordered/duplicated; nothing "
               "resent twice (destination tunnel-duplicates 0; %d uplink copies deduplicated); "
               "the source's barrier came after its uplink queues were emptied (%d)"
               % (sres["sent"], final["received"], sb["drops"]["duplicate"], len(barriers)), info)
    finally:
        iptables(ns, "-F", "OUTPUT")
        pair.stop()


def scenario_bad_peer(ns, workdir, tap):
    import secrets
    pair = Pair(ns, workdir, tap, key_b=secrets.token_hex(32))
    try:
        g = pair.boot()
        a, b = pair.shims
        # wrong key: B's EXPECT cannot reach A, A's stream cannot reach B
        b.execute("migrate-expect", {"port": "vm1"})
        a.execute("migrate-set-peer", {"port": "vm1", "peer": "hostb"})
        time.sleep(2.0)
        pa, pb = a.execute("query-peers"), b.execute("query-peers")
        tap.ok(pa["auth-failures"] + pb["auth-failures"] >= 1 and
               a.migration("vm1").get("peer") == "hostb",
               "wrong key: handshake refused and counted (auth failures %d/%d)"
               % (pa["auth-failures"], pb["auth-failures"]), {"a": pa, "b": pb})
        pr = ns.ping(g.addr, count=5, interval=0.2, timeout=2.0)
        tap.ok(pr.received == 5 and a.alive() and b.alive(),
               "the VM is unaffected and both daemons run", pr)
    finally:
        pair.stop()


def scenario_unknown_vm(ns, workdir, tap):
    """Same key, but the destination does not expect the VM: its stream is
    refused and counted, nothing is injected, the VM keeps running."""
    pair = Pair(ns, workdir, tap)
    try:
        g = pair.boot()
        a, b = pair.shims
        a.execute("migrate-set-peer", {"port": "vm1", "peer": "hostb"})
        # migration starts on A (dirty logging on): A opens a stream to B
        g.qmp("migrate-set-parameters", **{"max-bandwidth": 1 << 20})
        dg = pair.start_incoming()
        g.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: b.execute("query-peers")["streams-rejected"] >= 1, 20, 0.05,
                    "B to refuse the stream")
        g.qmp("migrate_cancel")
        vt.wait_for(lambda: g.status() == "running", 30, 0.05, "VM running on A")
        dg.stop()
        pb = b.execute("query-peers")
        sb = b.stats("vm1")
        pr = ns.ping(g.addr, count=5, interval=0.2, timeout=2.0)
        tap.ok(pb["streams-rejected"] >= 1 and sb["tunnel-rx-frames"] == 0,
               "frames for a VM the destination does not expect: stream refused (%d), "
               "nothing accepted" % pb["streams-rejected"], {"peers": pb, "stats": sb})
        tap.ok(pr.received == 5 and a.alive() and b.alive(),
               "the VM is unaffected and both daemons run", pr)
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
        dg.start()
        vt.wait_for(lambda: os.path.exists(dg.incoming_uri[len("unix:"):]) or not dg.alive(),
                    60, 0.05, "incoming migration socket")
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
LONG_THROTTLE = 1 << 20         # bytes/s of pre-copy: it cannot converge


def scenario_long_precopy(ns, workdir, tap):
    """Issue 15: the destination disarmed itself after 2 x hold-ms, so a
    pre-copy longer than that lost the whole blackout (121 and 178
    datagrams at ~30 s) and the source counted delivered frames as
    peer-lost.  Here the destination is armed before the migration starts
    (as the libvirt hook does at migrate begin), pre-copy is throttled with
    max-bandwidth for more than 3 x hold-ms and then let go, under UDP at
    2000 pps.  Then expect-timeout-ms, the one bound left on an
    expectation, disarms a port that no VM reaches."""
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
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
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
        pair.guest.check()
        gk = pair.guest.stats().get("kernel", {})
        ss, ds = src.stats("vm1"), dst.stats("vm1")
        want = shimlib.lossless(sres["sent"])
        res = {"guest": final,
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
               "UDP 2000 pps through a %.1f s pre-copy: %d sent, %d received, 0 lost/reordered/"
               "duplicated; %d frames tunnelled, source peer-lost 0, destination "
               "migrations-in 1" % (precopy_s, sres["sent"], final["received"],
                                    ds["tunnel-rx-frames"]), res)

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


# -- migration-tls: x509 mutual TLS between the shims ------------------------

def tls_config(workdir, node, tls_dir, extra=""):
    """A config file with [tunnel] tls=x509 and tls-dir (plus extra lines)."""
    path = os.path.join(workdir, "%s-tls.conf" % node)
    with open(path, "w") as f:
        f.write("[tunnel]\ntls=x509\ntls-dir=%s\n%s" % (tls_dir, extra))
    return path


class TlsPair(Pair):
    """Pair's two shims with tls=x509 and no pre-shared key: certificates
    from one CA, generated here."""

    def __init__(self, ns, workdir, tap, ca):
        self.ns = ns
        self.guest_append = TUNED_GUEST
        self.workdir = workdir
        self.tap = tap
        opts = {"linger-ms": 1000}
        self.shims = []
        for name, port, peer, peer_port in (("hosta", PORT_A, "hostb", PORT_B),
                                            ("hostb", PORT_B, "hosta", PORT_A)):
            d = tls_make_host(ca, os.path.join(workdir, "pki-" + name), name)
            conf = tls_config(workdir, name, d)
            s = shimlib.Shim(ns, name, workdir, tunnel_port=port, peers={peer: peer_port},
                             extra_args=["--config", conf])
            s.add_port("vm1", MAC, **opts)
            self.shims.append(s)
        for s in self.shims:
            s.start()
        self.cur = 0
        self.gen = 0
        self.guest = None
        self.downtimes = []


def tls_check_config(conf_text, workdir, name, extra_args=()):
    """vhost-shim --check-config with conf_text as its config file: (exit
    status, output)."""
    path = os.path.join(workdir, name + ".conf")
    with open(path, "w") as f:
        f.write(conf_text)
    r = subprocess.run([shimlib.shim_binary(), "--check-config", "--config", path] +
                       list(extra_args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    return r.returncode, r.stdout.strip()


def tls_log_lines(shim, needle):
    return [ln for ln in shim.log_text().splitlines() if needle in ln]


def tls_connect_without_cert(ns, port):
    """A TLS client without a certificate knocks on 127.0.0.1:port in ns."""
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.settimeout(5)
        raw.connect(("127.0.0.1", port))
        with ctx.wrap_socket(raw) as s:
            s.recv(1)      # TLS 1.3: the server's verdict comes after the handshake
    except (ssl.SSLError, OSError):
        pass
    finally:
        raw.close()


def scenario_tls(ns, workdir, tap):
    """x509 mutual TLS: cleartext refused, bad credentials refused at
    startup, a lossless migration over TLS, foreign certificates refused."""
    ca = tls_make_ca(os.path.join(workdir, "ca1"), "vhost-shim test CA")
    ca2 = tls_make_ca(os.path.join(workdir, "ca2"), "another CA")
    key = os.path.join(workdir, "psk.key")
    shimlib.write_key(key)

    # (c) nothing travels in clear any more (tunnel protocol v2: TLS 1.3 with
    # the key too): a pre-shared key to a non-loopback peer is accepted, and
    # the obsolete allow-cleartext is refused with a clear message
    remote = "[tunnel]\nnode-name=hosta\nlisten=127.0.0.1:%d\n%s\n[peer hostb]\naddress=10.77.0.99:%d\n"
    rc1, out1 = tls_check_config(remote % (PORT_A, "key-file=%s" % key, PORT_B), workdir, "psk")
    rc2, out2 = tls_check_config(remote % (PORT_A, "key-file=%s\nallow-cleartext=true" % key,
                                           PORT_B), workdir, "clear-allowed")
    rc3, out3 = tls_check_config(remote % (PORT_A, "tls=x509", PORT_B), workdir, "clear-tls")
    tap.ok(rc1 == 0 and rc2 != 0 and "allow-cleartext: no longer exists" in out2 and
           rc3 == 0, "non-loopback peer: accepted with a pre-shared key (TLS 1.3) or tls=x509; "
           "the obsolete allow-cleartext refused", {"psk": [rc1, out1],
                                                    "allow-cleartext": [rc2, out2],
                                                    "tls": [rc3, out3]})

    # a bad local certificate or key is a clear error at startup
    bad = {}
    good_c = tls_make_host(ca, os.path.join(workdir, "pki-hostc"), "hostc")
    expired = tls_make_host(ca, os.path.join(workdir, "pki-expired"), "hostc", expired=True)
    other = tls_make_host(ca, os.path.join(workdir, "pki-other"), "hostq")
    for what, extra, needle in (
            ("missing key", "tls-key=%s/nonexistent.pem\n" % workdir,
             "tls-key %s/nonexistent.pem: " % workdir),
            ("expired cert", "tls-cert=%s/server-cert.pem\ntls-key=%s/server-key.pem\n"
             % (expired, expired), "expired on"),
            ("cert for another node", "tls-cert=%s/server-cert.pem\ntls-key=%s/server-key.pem\n"
             % (other, other), "does not name this node")):
        s = shimlib.Shim(ns, "hostc", workdir, tunnel_port=PORT_B + 10,
                         extra_args=["--config", tls_config(workdir, "hostc", good_c, extra)])
        proc = ns.popen(s.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            ns.kill(proc)
            out = b"(still running)"
        shimlib.remove_dpdk_files(s.prefix)     # it started EAL before refusing
        text = out.decode(errors="replace")
        lines = [ln for ln in text.splitlines() if needle in ln]
        bad[what] = {"status": proc.returncode, "lines": lines}
        if not lines:
            bad[what]["output"] = text[-1500:]
    tap.ok(all(v["status"] not in (0, None) and len(v["lines"]) == 1 for v in bad.values()),
           "bad local certificate or key: the daemon refuses to start with one clear line",
           bad)

    # (a) a migration over TLS: handshake with good certificates, frames flow
    pair = TlsPair(ns, workdir, tap, ca)
    rogue = None
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        time.sleep(1.5)
        pair.migrate()
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        a, b = pair.shims
        st = pair.src.stats("vm1")
        peers = {s.name: s.execute("query-peers") for s in pair.shims}
        tls_up = {s.name: len(tls_log_lines(s, "TLS up")) for s in pair.shims}
        want = shimlib.lossless(sres["sent"])
        tap.ok(clean(final) == want and st["tunnel-rx-frames"] > 0 and
               all(v >= 1 for v in tls_up.values()) and
               all(p["auth-failures"] == 0 for p in peers.values()),
               "migration over x509 TLS: %d frames through the tunnel, 0 lost, in order"
               % st["tunnel-rx-frames"],
               {"guest": final, "dst": st, "peers": peers, "tls-up": tls_up})

        # (b) a peer whose certificate comes from another CA is refused by
        # B: it trusts both CAs, so it is B that says no, and a client
        # without a certificate is refused too
        b_before = b.execute("query-peers")
        rogue_dir = tls_make_host(ca2, os.path.join(workdir, "pki-rogue"), "hostc")
        with open(os.path.join(ca, "ca-cert.pem")) as f1, \
                open(os.path.join(rogue_dir, "ca-cert.pem"), "a") as f2:
            f2.write(f1.read())
        rogue = shimlib.Shim(ns, "hostc", workdir, peers={"hostb": PORT_B},
                             extra_args=["--config", tls_config(workdir, "rogue", rogue_dir)])
        rogue.add_port("vm9", "52:54:00:77:02:09")
        rogue.start()
        rogue.execute("migrate-expect", {"port": "vm9"})   # EXPECT: connects to B
        vt.wait_for(lambda: b.execute("query-peers")["tls-failures"] > b_before["tls-failures"],
                    20, 0.1, "B to refuse hostc's certificate")
        tls_connect_without_cert(ns, PORT_B)
        vt.wait_for(lambda: len(tls_log_lines(b, "peer sent no certificate")) >= 1, 20, 0.1,
                    "B to refuse a client without a certificate")
        time.sleep(0.5)
        pb = b.execute("query-peers")
        foreign = tls_log_lines(b, "not signed by our CA")
        nocert = tls_log_lines(b, "peer sent no certificate")
        pr = ns.ping(pair.guest.addr, count=5, interval=0.2, timeout=2.0)
        tap.ok(len(foreign) >= 1 and "CN=hostc" in foreign[0] and len(nocert) == 1 and
               pb["tls-failures"] >= b_before["tls-failures"] + 2 and
               pb["auth-failures"] >= b_before["auth-failures"] + 2 and
               pr.received == 5 and a.alive() and b.alive() and rogue.alive(),
               "certificate from another CA and a client without certificate: refused, "
               "logged, counted (tls-failures %d -> %d); the VM and the daemons unaffected"
               % (b_before["tls-failures"], pb["tls-failures"]),
               {"peers": pb, "foreign": foreign, "no-cert": nocert, "ping": pr.received})
    finally:
        if rogue:
            rogue.stop()
        pair.stop()


SCENARIOS = {
    "udp": (scenario_udp, 6),
    "tcp": (scenario_tcp, 2),
    "cancel": (scenario_cancel, 2),
    "dst-down": (scenario_dst_down, 3),
    "stragglers": (scenario_stragglers, 1),
    "tunnel-break": (scenario_tunnel_break, 1),
    "tunnel-cut-acked": (scenario_tunnel_cut_acked, 3),
    "bad-peer": (scenario_bad_peer, 2),
    "unknown-vm": (scenario_unknown_vm, 2),
    "dst-restart": (scenario_dst_restart, 3),
    "tls": (scenario_tls, 4),
    "long-precopy": (scenario_long_precopy, 3),
    "back-to-back": (scenario_back_to_back, 2),
}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "udp"
    if name not in SCENARIOS:
        print("usage: %s {%s}" % (sys.argv[0], "|".join(SCENARIOS)), file=sys.stderr)
        return 2
    fn, plan = SCENARIOS[name]

    def run(tap, state, workdir):
        vt.build_guest()
        with vt.NetNS() as ns:
            state["ns"] = ns.name
            fn(ns, workdir, tap)

    # VSHIM_KEEP=DIR keeps the logs in DIR (tap_main)
    return vt.tap_main(plan, "mig", run)


if __name__ == "__main__":
    sys.exit(main())
