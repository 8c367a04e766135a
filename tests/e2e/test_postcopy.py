#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: post-copy live migrations between two vhost-shims (issue 19).

The same two "hosts" as tests/e2e/test_migration.py (vshimtest.pair's Pair: shims hosta
and hostb, tunnel on the namespace's loopback, pre-shared key), the VM's
ports with `postcopy=on` (the default).  Pre-copy is throttled (max-bandwidth
1 MiB/s: a 256 MiB guest cannot converge), so nearly every page is still
on the source when migrate-start-postcopy switches over; the destination
runs while its RAM arrives.  Scenarios (argument 1):

  udp        UDP at 3000 pps on the DEFAULT guest (kernel's socket buffers,
             no vshim.rcvbuf): 3 s of pre-copy, migrate-start-postcopy,
             post-copy to completion: 0 lost in the shims, 0 reordered,
             0 duplicated; every datagram lost is one the guest's own
             socket dropped (RcvbufErrors, counted from before the stream
             starts).  The books of the loss are printed: the stream's
             holes placed against the switchover, and every counter that
             could have taken a datagram (the namespace's links, qdiscs
             and ARP queue, both shims, the guest's IP/UDP MIBs, eth0,
             backlog and virtio-net driver), and what reached the source's
             tap after the switchover (its not-ready drops).  The vhost-user sequence
             both shims saw (DPDK's lib.vhost.config debug log, the shim's
             callbacks and transitions) is printed as TAP comments
             (docs/migration.md, "Post-copy").
  tcp        a TCP stream (4 MiB/s) from the namespace to the guest through
             the same post-copy migration: every byte in order on one
             connection, none dropped by the shims, every retransmission
             of the stream's connection (its TCP_INFO) answered by a
             D-SACK (spurious: the segment was late, not lost) or a drop
             the guest's stack counted; the longest gap is printed
  isolation  the same with a second VM on the destination shim, forwarding
             2000 pps all along: its longest gap during the post-copy phase
             is reported, and bounded
  fail-early the same 50 ms after migrate-start-postcopy, where the
             destination may not have the VM's rings and RX buffers yet:
             either the destination QEMU hangs before the device starts
             (the source counts its buffer), or its device starts and its
             replay waits for a page that never comes; in both, vm2 on the
             same worker keeps forwarding (the post-copy guard: the worker
             touches no missing page), and after the lost VM's QEMU is
             killed its port is paused or none; a destination QEMU that
             died before its device started leaves the port armed
             (dst-expecting), which migrate-cancel ends, as the libvirt
             hook's release would (docs/migration.md, "Post-copy fails")
  fail       the source QEMU is SIGKILLed 1 s after migrate-start-postcopy:
             QEMU cannot roll back, the destination VM is lost (paused in
             postcopy-paused); both shims end in a defined state, every
             frame counted (docs/migration.md, "Post-copy fails")
  fail-reset validated resets for a VM lost in post-copy (issue 20): the
             default guest, hold-ms 2000, two TCP connections into it from
             the namespace (two addresses), each peer writing every 50 ms;
             the port says tcp-on-loss=drop, a rule on both shims says
             reset for the first peer.  Post-copy throttled to 16 MiB/s;
             the source QEMU is SIGKILLed once the VM has sent from the
             destination (20 frames: both peers').  3 s later (the destination VM
             postcopy-paused, recoverable): no error on either socket, no
             RST from either shim.  Then the destination QEMU is killed
             (the operator gives the VM up): the first peer's socket gets
             ECONNRESET within hold-ms + 1 s (one RST, from the
             destination), the second is still established
  fail-reset-silent
             fail-reset, but the source QEMU is SIGKILLed 1.0 s after
             migrate-start-postcopy without waiting for anything: the
             destination must know the connections from the source's
             table (CONNS in the stream: tcp-ct-imported >= 2), not from
             the VM's segments, and then resets as in fail-reset

TAP output; exit 77 without root/QEMU outside CI.
"""

import errno
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402
import shimlib  # noqa: E402
import test_tcp_reset as tcp_reset  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest.pair import (FrameLog, Pair, counters_delta, host_drop_counters,  # noqa: E402
                            missing_ranges, tcp_counters, tcp_delta,
                            tcp_sockets_retransmitting, wait_received)

PPS = 3000
PC_OPTS = {"postcopy": "on"}     # the default, said (docs/migration.md, "Post-copy")
# fail: when the source QEMU is killed, after migrate-start-postcopy
KILL_AFTER_S = float(os.environ.get("VSHIM_PC_KILL_AFTER_S", "1.0"))
THROTTLE = 1 << 20          # bytes/s of pre-copy: 256 MiB cannot converge
PRECOPY_S = 3.0
# the shims log every vhost-user message DPDK reads, and their callbacks
DEBUG_ARGS = ["--log-level", "debug", "--eal-args", "--log-level=lib.vhost.config:debug"]

# what the sequence dump keeps of a shim's log
SEQ_RE = re.compile(r"read message VHOST_USER_\w+|device (up|down)|vring \d+ (en|dis)abled|"
                    r"dirty logging|-> [a-z-]+ \(|postcopy|userfault|post-copy|RESUMED|"
                    r"BARRIER|LIVE_SEEN")


def seq_lines(shim, start):
    """The lines of shim's log from byte offset start that say what the
    vhost-user side and the state machine did, duplicates collapsed."""
    text = shim.log_text()[start:]
    out = []
    for line in text.splitlines():
        m = SEQ_RE.search(line)
        if not m:
            continue
        key = m.group(0)
        if out and out[-1][0] == key:
            out[-1][1] += 1
        else:
            out.append([key, 1])
    return ["%s%s" % (k, " x%d" % n if n > 1 else "") for k, n in out]


# the drop counters that mean a frame for the VM was lost in a shim; the
# others count other traffic: own-mac (the guest's frames looped back),
# not-ready (a broadcast after the source's QEMU quit)
LOSSY_DROPS = ("buffer-full", "buffer-expired", "peer-lost", "vm-ring-full", "no-memory",
               "policy", "duplicate")


def shim_losses(*stats):
    """The frames for the VM that the shims (their port stats) dropped."""
    return sum(st["drops"][k] for st in stats for k in LOSSY_DROPS)


PHASES = ("post-copy advised", "post-copy listening", "post-copy ended")


# The guest stack's own drops of a TCP segment it was sent (TcpExt of its
# /proc/net/netstat, and IP's discards): a retransmission of such a segment
# is not the shims' loss
GUEST_TCP_DROPS = (("netstat", "TcpExt", "TCPRcvQDrop"), ("netstat", "TcpExt", "TCPBacklogDrop"),
                   ("netstat", "TcpExt", "TCPOFODrop"), ("netstat", "TcpExt", "TCPZeroWindowDrop"),
                   ("netstat", "TcpExt", "PFMemallocDrop"), ("netstat", "TcpExt", "TCPMinTTLDrop"),
                   ("snmp", "Ip", "InDiscards"), ("snmp", "Tcp", "InErrs"))


def guest_tcp_drops(k):
    """{counter: value} of GUEST_TCP_DROPS from a Guest.kernel_counters()."""
    return {name: k.get(f, {}).get(sect, {}).get(name, 0) for f, sect, name in GUEST_TCP_DROPS}


def phases_seen(shim, start):
    """The post-copy phases the shim logged from byte offset start, in order."""
    return [p for line in shim.log_text()[start:].splitlines() for p in PHASES if p in line]


def set_postcopy(guest):
    guest.qmp("migrate-set-capabilities", capabilities=[
        {"capability": "postcopy-ram", "state": True}])


def postcopy_migrate(pair, tap, before_switch=None, after_switch=None, on_poll=None,
                     postcopy_bw=None):
    """Start the incoming QEMU, arm, migrate throttled, switch to post-copy
    after PRECOPY_S and wait for completion (on_poll(), if given, at each
    poll of query-migrate from the switchover on).  postcopy_bw: the
    post-copy phase's max-postcopy-bandwidth (bytes/s; QEMU's default 0
    sends as fast as it can).  Returns a dict of
    timings and the shims' log offsets; the incoming Guest in ["dg"]."""
    g = pair.guest
    dg = pair.start_incoming()
    set_postcopy(dg)
    pair.arm()
    set_postcopy(g)
    g.qmp("migrate-set-parameters", **{"max-bandwidth": THROTTLE})
    if postcopy_bw:
        g.qmp("migrate-set-parameters", **{"max-postcopy-bandwidth": postcopy_bw})
    offs = [len(s.log_text()) for s in pair.shims]
    t0 = time.monotonic()
    g.qmp("migrate", uri=dg.incoming_uri)
    time.sleep(PRECOPY_S)
    mid = {"qemu": g.qmp("query-migrate").get("status"),
           "source": pair.src.migration("vm1")["state"],
           "destination": pair.dst.migration("vm1")["state"]}
    if before_switch:
        before_switch()
    t_switch = time.monotonic()
    g.qmp("migrate-start-postcopy")
    if after_switch:
        r = after_switch(dg)
        if r is not None:
            return {"dg": dg, "mid": mid, "offs": offs, "after": r, "t0": t0,
                    "t_switch": t_switch}
    pages_missing = None
    while True:
        info = g.qmp("query-migrate")
        st = info.get("status")
        if pages_missing is None and st == "postcopy-active":
            pages_missing = info.get("ram", {}).get("remaining")
        if on_poll:
            on_poll()
        if st in ("completed", "failed", "cancelled"):
            break
        if time.monotonic() - t_switch > 180:
            raise vt.HarnessError("post-copy not completed after 180 s (%s)" % st)
        time.sleep(0.05)
    t_done = time.monotonic()
    vt.wait_for(lambda: not dg.alive() or dg.status() == "running", 30, 0.05,
                "destination running")
    return {"dg": dg, "mid": mid, "offs": offs, "status": st, "info": info,
            "precopy_s": t_switch - t0, "postcopy_s": t_done - t_switch,
            "remaining_at_switch": pages_missing, "t0": t0, "t_switch": t_switch,
            "t_done": t_done}


def dump_sequence(tap, pair, offs, src_i):
    for i, s in enumerate(pair.shims):
        role = "source" if i == src_i else "destination"
        tap.diag("%s (%s) saw: %s" % (role, s.name, "; ".join(seq_lines(s, offs[i]))))


# what the udp scenario prints of each shim's query-stats besides "drops"
SHIM_KEYS = ("uplink-rx-pkts", "rx-pkts", "vm-tx-pkts", "tx-pkts", "replayed-pkts",
             "live-held-pkts", "tunnel-tx-frames", "tunnel-rx-frames", "tunnel-duplicates",
             "stragglers-forwarded", "tunnel-frames-discarded", "poll-max-us",
             "uplink-gap-max-us", "migrations-out", "migrations-in", "last-blackout-us",
             "last-resume-to-last-replay-us")
# the guest kernel's counters (agent "kfile snmp"/"kfile dev") that can
# count a datagram the sink never read
GUEST_SNMP = {"Ip": ("InReceives", "InHdrErrors", "InAddrErrors", "InUnknownProtos",
                     "InDiscards", "InDelivers", "ReasmFails"),
              "Udp": ("InDatagrams", "NoPorts", "InErrors", "RcvbufErrors", "InCsumErrors",
                      "IgnoredMulti", "MemErrors")}
GUEST_DEV = ("rx_packets", "rx_errs", "rx_drop", "rx_fifo", "rx_frame")


def guest_books(kc):
    """The counters of a Guest.kernel_counters() that place a datagram:
    GUEST_SNMP, eth0's GUEST_DEV, the softnet backlog drops (column 2 of
    /proc/net/softnet_stat, hex, summed over CPUs) and eth0's driver
    counters (ethtool -S) whose name says drop or error."""
    out = {p: {k: kc["snmp"].get(p, {}).get(k, 0) for k in ks} for p, ks in GUEST_SNMP.items()}
    out["eth0"] = {k: kc["dev"].get("eth0", {}).get(k, 0) for k in GUEST_DEV}
    out["softnet_dropped"] = sum(int(l.split()[1], 16) for l in kc["softnet"] if l.strip())
    nic = kc["nic"]
    out["nic"] = ({k: v for k, v in nic.items() if "drop" in k or "err" in k}
                  if isinstance(nic, dict) else nic)
    return out


def shim_books(st):
    """A shim's query-stats: SHIM_KEYS and the whole drops table."""
    out = {k: st.get(k) for k in SHIM_KEYS}
    out["drops"] = dict(st["drops"])
    return out


def scenario_udp(ns, workdir, tap):
    pair = Pair(ns, workdir, tap, guest_append="", shim_args=DEBUG_ARGS, port_opts=PC_OPTS)
    try:
        g = pair.boot()
        g.reset()
        src_i = pair.cur
        src, dst = pair.src, pair.dst
        # the books before the stream starts (the sink counts its losses
        # from seq 0): the guest's clock against ours (to place the holes),
        # its kernel counters, the namespace's, both shims'
        t_a = time.monotonic()
        gst = g.stats()
        t_b = time.monotonic()
        guest_off_us = gst["now_us"] - (t_a + t_b) / 2 * 1e6
        kernel_before = gst.get("kernel", {})
        gbooks_before = guest_books(g.kernel_counters())
        host_before = host_drop_counters(ns, g.addr)
        shims_before = [shim_books(s.stats("vm1")) for s in (src, dst)]
        snd = vt.UdpSender(ns, g.addr, pps=PPS, duration=600, size=100).start()
        time.sleep(2)
        # when each shim's not-ready count moved (host seconds from the
        # switchover), sampled at each poll of the post-copy
        nr_seen = [shims_before[0]["drops"]["not-ready"], shims_before[1]["drops"]["not-ready"]]
        nr_moves = []

        def sample_not_ready():
            for i, sh in enumerate((src, dst)):
                n = sh.stats("vm1")["drops"]["not-ready"]
                if n != nr_seen[i]:
                    nr_moves.append((sh.name, n - nr_seen[i], time.monotonic()))
                    nr_seen[i] = n
        flog = [None]

        def log_source_tap():
            flog[0] = FrameLog(ns, src.port("vm1").tap).start()
        r = postcopy_migrate(pair, tap, before_switch=log_source_tap,
                             on_poll=sample_not_ready)
        dump_sequence(tap, pair, r["offs"], src_i)
        ph_dst = phases_seen(dst, r["offs"][1 - src_i])
        ph_src = phases_seen(src, r["offs"][src_i])
        tap.ok(r["status"] == "completed" and ph_dst == list(PHASES) and not ph_src and
               r["mid"] == {
            "qemu": "active", "source": "src-active", "destination": "dst-expecting"} and
            (r["remaining_at_switch"] or 0) > (64 << 20),
            "post-copy through vhost-shim: pre-copy %.1f s throttled to %d B/s, %s MiB still "
            "missing at migrate-start-postcopy, post-copy phase %.1f s, %s; the destination "
            "logged %s, the source no post-copy phase"
            % (r["precopy_s"], THROTTLE, (r["remaining_at_switch"] or 0) >> 20,
               r["postcopy_s"], r["status"], ", ".join(ph_dst)),
            {"mid": r["mid"], "query-migrate": r["info"], "phases": [ph_src, ph_dst]})
        t_finish = time.monotonic()
        pair.finish(r["dg"])
        sample_not_ready()
        time.sleep(1.0)
        sample_not_ready()
        t_stop = time.monotonic()
        sres = snd.stop()
        t_snd = t_stop - sres["elapsed"]   # the sender's own start (seq 0)
        src_frames = flog[0].stop()
        final = wait_received(pair.guest, sres["sent"])
        pair.guest.check()
        gst = pair.guest.stats()
        t_c = time.monotonic()
        gk = gst.get("kernel", {})
        kdrops = {k: v - kernel_before.get(k, 0) for k, v in gk.items()}
        rcvbuf = kdrops.get("udp_rcvbuf_errors", 0)
        ss, ds = src.stats("vm1"), dst.stats("vm1")
        res = {"sender": sres, "guest": final, "guest_kernel_drops": kdrops,
               "source": {k: ss[k] for k in ("tunnel-tx-frames", "migrations-out",
                                              "last-blackout-us")},
               "source_drops": {k: v for k, v in ss["drops"].items() if v},
               "destination": {k: ds[k] for k in ("tunnel-rx-frames", "migrations-in",
                                                   "replayed-pkts",
                                                   "last-resume-to-last-replay-us")},
               "destination_drops": {k: v for k, v in ds["drops"].items() if v}}
        tap.diag(json.dumps(res))
        # where the datagrams the sink never read went missing: the holes
        # in the stream, each placed on the host clock from the switchover
        # (the guest's arrival times of its neighbours, through the offset
        # measured before; the sender's schedule, seq / PPS), and every
        # counter on the way that could have counted them (deltas over the
        # migration): the namespace's links, qdiscs and ARP queue, both
        # shims, the guest's IP/UDP MIBs, eth0, backlog and driver
        guest_drift_ms = (gst["now_us"] - t_c * 1e6 - guest_off_us) / 1000.0

        def since_switch(guest_us):
            return (None if guest_us is None else
                    round((guest_us - guest_off_us) / 1e6 - r["t_switch"], 3))
        # [first seq, last seq, sent at (s), neighbours arrived at (s)]
        holes = [[a, b, round(t_snd + a / PPS - r["t_switch"], 3), since_switch(ta),
                  since_switch(tb)]
                 for a, b, ta, tb in missing_ranges(pair.guest, 0, sres["sent"], limit=400)]
        books = {
            "times_s_from_switch": {"precopy_start": round(r["t0"] - r["t_switch"], 3),
                                    "postcopy_done": round(r["t_done"] - r["t_switch"], 3),
                                    "source_qemu_stopped": round(t_finish - r["t_switch"], 3),
                                    "guest_clock_drift_ms": round(guest_drift_ms, 1)},
            "holes": holes,
            "not_ready_moves_s_from_switch": [(n, d, round(t - r["t_switch"], 3))
                                              for n, d, t in nr_moves],
            # what reached the source's tap from 0.5 s after the switchover
            # (its last datagram is the last the bridge sent it)
            "source_tap_frames": len(src_frames),
            "source_tap_last_datagram": next(
                ([round(t - r["t_switch"], 3), w] for t, _, _, w in reversed(src_frames)
                 if w.startswith("udp 7000")), None),
            "source_tap_after_0.5s": [(round(t - r["t_switch"], 3), m, e, w)
                                      for t, m, e, w in src_frames
                                      if t - r["t_switch"] > 0.5][:40],
            "host": counters_delta(host_drop_counters(ns, pair.guest.addr), host_before),
            "guest": counters_delta(guest_books(pair.guest.kernel_counters()),
                                    gbooks_before),
            "source": counters_delta(shim_books(ss), shims_before[0]),
            "destination": counters_delta(shim_books(ds), shims_before[1])}
        # every datagram that did not reach the sink was dropped by the
        # guest's own kernel (RcvbufErrors count UDP datagrams, and the sink
        # is the guest's only UDP socket; both counted from seq 0): none in
        # the shims.  What the shims did drop is other traffic: the guest's
        # own broadcasts (its gratuitous ARPs after the migration), which
        # the bridge floods back to the source's tap: own-mac while the
        # source's port still forwards, not-ready once it is back to none
        # (the frame log and the not-ready moves show which)
        shim_drops = shim_losses(ss, ds)     # LOSSY_DROPS
        uncounted = final["lost"] - rcvbuf
        tap.diag("loss books (lost %d, RcvbufErrors %d, uncounted %d): %s"
                 % (final["lost"], rcvbuf, uncounted, json.dumps(books)))
        tap.ok(final["lost"] == rcvbuf and shim_drops == 0 and final["reordered"] == 0 and
               final["duplicated"] == 0 and final["corrupted"] == 0 and
               ds["migrations-in"] == 1 and ds["tunnel-rx-frames"] > 0,
               "UDP %d pps, default guest, one post-copy migration: %d sent, %d received, "
               "%d lost, all %d in the guest's own socket (RcvbufErrors), none dropped by "
               "the shims, 0 reordered/duplicated; %d frames tunnelled, %d replayed"
               % (PPS, sres["sent"], final["received"], final["lost"], rcvbuf,
                  ds["tunnel-rx-frames"], ds["replayed-pkts"]), res)
    finally:
        pair.stop()


TCP_RATE = 4 << 20          # bytes/s of the tcp scenario's stream
TCP_BYTES = 20 * TCP_RATE   # 20 s: from before the migration to after it


def scenario_tcp(ns, workdir, tap):
    pair = Pair(ns, workdir, tap, port_opts=PC_OPTS)
    try:
        g = pair.boot()
        g.reset()
        src, dst = pair.src, pair.dst
        # the guest's drops over the connection's whole life, as its
        # TCP_INFO counts its retransmissions
        gk0 = guest_tcp_drops(g.kernel_counters())
        snd = vt.TcpSender(ns, g.addr, TCP_BYTES, timeout=120, rate=TCP_RATE).start()
        time.sleep(3)
        r0 = tcp_counters(ns)
        r = postcopy_migrate(pair, tap)
        tap.ok(r["status"] == "completed" and (r["remaining_at_switch"] or 0) > (64 << 20),
               "post-copy under a TCP stream: pre-copy %.1f s throttled to %d B/s, %s MiB "
               "still missing at migrate-start-postcopy, post-copy phase %.1f s, %s"
               % (r["precopy_s"], THROTTLE, (r["remaining_at_switch"] or 0) >> 20,
                  r["postcopy_s"], r["status"]),
               {"mid": r["mid"], "query-migrate": r["info"]})
        pair.finish(r["dg"])
        time.sleep(2)
        d = {"namespace": tcp_delta(r0, tcp_counters(ns)),
             "namespace_sockets": tcp_sockets_retransmitting(ns)}
        tres = snd.wait(timeout=120)
        gk1 = guest_tcp_drops(pair.guest.kernel_counters())
        d["guest_drops"] = {k: v - gk0.get(k, 0) for k, v in gk1.items() if v - gk0.get(k, 0)}
        conn = tres.get("tcp_info") or {}
        d["retransmitted"] = conn.get("total_retrans", -1)
        d["dsack_segs"] = conn.get("dsack_dups", -1)
        pair.guest.check()
        gtcp = pair.guest.stats()["tcp"]
        ss, ds = src.stats("vm1"), dst.stats("vm1")
        got = gtcp["last_conn_bytes"] or gtcp["bytes"]
        res = dict(d, sender=tres,
                   guest={k: gtcp.get(k) for k in ("bytes", "last_conn_bytes", "max_gap_us",
                                                   "corrupted", "connections")},
                   source={k: ss[k] for k in ("tunnel-tx-frames", "migrations-out",
                                              "last-blackout-us")},
                   source_drops={k: v for k, v in ss["drops"].items() if v},
                   destination={k: ds[k] for k in ("tunnel-rx-frames", "migrations-in",
                                                   "replayed-pkts")},
                   destination_drops={k: v for k, v in ds["drops"].items() if v})
        tap.diag(json.dumps(res))
        # the longest gap is printed, not bounded (issue 19 asks <= 300 ms;
        # a TCG guest's own stalls exceed that in pre-copy too).  Every
        # retransmission is accounted for: spurious (its segment D-SACKed:
        # the guest had the original, held by a shim while the sender's RTO
        # fired) or one the default guest's own stack dropped and counted
        # (guest_tcp_drops()); an original lost anywhere uncounted, a shim
        # included, leaves one unexplained.  The stream's own counters
        # (TCP_INFO of the sender's socket, read when the guest closed):
        # the namespace's TcpRetransSegs also counts the shims' tunnel on
        # its loopback, which twice left one retransmission "unexplained"
        # in CI (2 retransmitted, 1 D-SACKed, no shim or guest drop);
        # "namespace" keeps those figures, and "namespace_sockets" names
        # the sockets that retransmitted
        unexplained = d["retransmitted"] - d["dsack_segs"] - sum(d["guest_drops"].values())
        tap.ok(tres["ok"] and conn and got == tres["sent"] and gtcp["corrupted"] == 0 and
               gtcp["connections"] == 1 and shim_losses(ss, ds) == 0 and
               unexplained <= 0 and ds["migrations-in"] == 1,
               "TCP at %d B/s through a post-copy migration: %d bytes sent, %d verified by "
               "the guest, in order, on one connection; none dropped by the shims "
               "(%d frames tunnelled, %d replayed); %d retransmissions: %d segments "
               "of the stream's D-SACKed back (spurious), guest's own drops %s; longest gap %d ms"
               % (TCP_RATE, tres["sent"], got, ds["tunnel-rx-frames"], ds["replayed-pkts"],
                  d["retransmitted"], d["dsack_segs"], d["guest_drops"] or "none",
                  gtcp["max_gap_us"] // 1000), res)
    finally:
        pair.stop()


MAC2 = "52:54:00:77:02:02"
IP2 = "10.77.0.22/24"
PPS2 = 2000


class PcPair(Pair):
    """Pair with a second VM's port, vm2, on hostb (the destination of
    the first migration); its guest runs there all along."""

    def __init__(self, ns, workdir, tap, shim_args=None):
        orig = shimlib.Shim.start

        def start(shim, *a, **kw):
            if shim.name == "hostb" and not any(p.name == "vm2" for p in shim.ports):
                shim.add_port("vm2", MAC2, **{"linger-ms": 1000})
            return orig(shim, *a, **kw)
        shimlib.Shim.start = start
        try:
            super().__init__(ns, workdir, tap, guest_append="", shim_args=shim_args,
                             port_opts=PC_OPTS)
        finally:
            shimlib.Shim.start = orig
        self.g2 = None

    def boot2(self):
        self.g2 = vt.Guest(self.shims[1].port("vm2").netdev(), ns=self.ns, name="vm2", ip=IP2,
                           mac=MAC2, workdir=os.path.join(self.workdir, "vm2"), append="")
        self.g2.start()
        self.g2.wait_ready(timeout=90)
        self.g2.reset()
        return self.g2

    def stop(self):
        if self.g2:
            self.g2.stop()
        return super().stop()


def window_gap(timeline, seq_lo, seq_hi):
    """Longest gap (us) between consecutive arrivals of the datagrams with
    seq in [seq_lo, seq_hi), and the seq that ended it."""
    arr = [(t, q) for t, q in timeline if seq_lo <= q < seq_hi]
    best = (0, None)
    for (t0, _), (t1, q1) in zip(arr, arr[1:]):
        if t1 - t0 > best[0]:
            best = (t1 - t0, q1)
    return best


def scenario_isolation(ns, workdir, tap):
    pair = PcPair(ns, workdir, tap, shim_args=DEBUG_ARGS)
    try:
        g = pair.boot()
        g2 = pair.boot2()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=PPS, duration=600, size=100).start()
        snd2 = vt.UdpSender(ns, g2.addr, pps=PPS2, duration=600, size=100).start()
        t_snd2 = time.monotonic()
        time.sleep(2)
        src, dst = pair.src, pair.dst
        r = postcopy_migrate(pair, tap)
        # vm2's datagrams sent from the switchover to 1 s after the
        # post-copy completed (the sender's clock: seq / pps)
        seq_lo = int((r["t_switch"] - t_snd2) * PPS2)
        seq_hi = int((r["t_done"] + 1.0 - t_snd2) * PPS2)
        pair.finish(r["dg"])
        pc_poll_max = dst.stats("vm1")["poll-max-us"]
        # the control: a pre-copy migration into the same destination
        # (back to hosta, then to hostb again): its longest pass over vm1.
        # postcopy-ram must be off on both QEMUs (the incoming one refuses
        # an ADVISE it did not enable)
        pair.guest.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "postcopy-ram", "state": False}])
        pair.migrate()
        pair.migrate()
        pre_poll_max = dst.stats("vm1")["poll-max-us"]
        time.sleep(1.0)
        sres, sres2 = snd.stop(), snd2.stop()
        final = wait_received(pair.guest, sres["sent"])
        final2 = wait_received(g2, sres2["sent"])
        gap_us, gap_seq = window_gap(g2.timeline(0), seq_lo, seq_hi)
        base_us, _ = window_gap(g2.timeline(0), 0, int((r["t0"] - t_snd2) * PPS2))
        ds, ds2 = dst.stats("vm1"), dst.stats("vm2")
        res = {"vm1": final, "vm2": final2, "vm2_gap_postcopy_us": gap_us,
               "vm2_gap_seq": gap_seq, "vm2_gap_before_migration_us": base_us,
               "postcopy_s": r["postcopy_s"], "remaining_at_switch": r["remaining_at_switch"],
               "window_s": [round(r["t_switch"] - t_snd2, 2), round(r["t_done"] + 1 - t_snd2, 2)],
               "dst_vm1_poll_max_us_postcopy": pc_poll_max,
               "dst_vm1_poll_max_us_precopy": pre_poll_max,
               "dst_vm2_poll_max_us": ds2["poll-max-us"],
               "dst_vm1_replayed": ds["replayed-pkts"],
               "dst_vm1_postcopy_waits": ds["postcopy-waits"],
               "dst_vm1_postcopy_page_requests": ds["postcopy-page-requests"],
               "vm2_kernel": g2.stats().get("kernel", {}),
               "dst_vm2_drops": {k: v for k, v in ds2["drops"].items() if v}}
        tap.diag(json.dumps(res))
        rcv2 = final2["lost"] - res["vm2_kernel"].get("udp_rcvbuf_errors", 0)
        tap.ok(r["status"] == "completed" and final["reordered"] == 0 and
               final["duplicated"] == 0,
               "post-copy of vm1 with vm2 on the destination shim, then two pre-copy "
               "migrations: %s, %.1f s of post-copy, vm1 %d of %d received, "
               "0 reordered/duplicated"
               % (r["status"], r["postcopy_s"], final["received"], sres["sent"]), res)
        tap.ok(rcv2 == 0 and gap_us < 500000,
               "vm2 (%d pps, same poller) during vm1's post-copy: longest gap %.1f ms (before "
               "the migration: %.1f ms), none lost outside its own socket; the destination "
               "poller's longest pass over vm1: %.1f ms in post-copy, %.1f ms in pre-copy "
               "(poll-max-us)"
               % (PPS2, gap_us / 1000.0, base_us / 1000.0, pc_poll_max / 1000.0,
                  pre_poll_max / 1000.0), res)
    finally:
        pair.stop()


def scenario_fail(ns, workdir, tap, kill_after=None):
    kill_after = KILL_AFTER_S if kill_after is None else kill_after
    pair = PcPair(ns, workdir, tap, shim_args=DEBUG_ARGS)
    try:
        g = pair.boot()
        g2 = pair.boot2()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=PPS, duration=600, size=100).start()
        snd2 = vt.UdpSender(ns, g2.addr, pps=PPS2, duration=600, size=100).start()
        time.sleep(2)
        src, dst = pair.src, pair.dst

        def kill_source(dg):
            time.sleep(kill_after)
            st = g.qmp("query-migrate").get("status")
            os.kill(g.proc.pid, signal.SIGKILL)
            g.proc.wait(timeout=10)
            return st
        r = postcopy_migrate(pair, tap, after_switch=kill_source)
        dg = r["dg"]
        time.sleep(3.0)
        def dg_query(cmd, key):
            # a destination that faults on a page the dead source never
            # sent hangs, QMP included
            if not dg.alive():
                return "dead"
            try:
                return dg.qmp_client().execute(cmd, timeout=5.0).get(key)
            except (vt.HarnessError, TimeoutError, OSError) as e:
                return "unresponsive (%s)" % type(e).__name__
        dst_status = dg_query("query-status", "status")
        mig_dst = dg_query("query-migrate", "status")
        states = {"source": src.migration("vm1")["state"],
                  "destination": dst.migration("vm1")["state"]}
        s2a = dst.stats("vm2")["rx-pkts"]
        time.sleep(1.0)
        s2b = dst.stats("vm2")["rx-pkts"]
        res = {"killed_in": r["after"], "dst_qemu": dst_status, "dst_migration": mig_dst,
               "states": states, "vm2_rx_pps_after_kill": s2b - s2a,
               "dst_vm1": {k: v for k, v in dst.stats("vm1").items() if k in (
                   "rx-pkts", "replayed-pkts", "tunnel-rx-frames", "poll-max-us",
                   "postcopy-waits", "postcopy-page-requests")},
               "src_vm1": {k: v for k, v in src.stats("vm1").items() if k in (
                   "tunnel-tx-frames", "buffered-pkts")},
               "src_drops": {k: v for k, v in src.stats("vm1")["drops"].items() if v},
               "dst_drops": {k: v for k, v in dst.stats("vm1")["drops"].items() if v}}
        tap.diag(json.dumps(res))
        tap.ok(r["after"] == "postcopy-active" and src.alive() and dst.alive(),
               "source QEMU killed %.1f s into post-copy (%s): both shims alive; destination "
               "QEMU %s (migration %s); states %s; vm2 forwarded %d frames in the next second"
               % (kill_after, r["after"], dst_status, mig_dst, states, s2b - s2a), res)
        tap.ok(s2b - s2a > PPS2 / 2,
               "vm2 on the destination keeps forwarding after vm1's post-copy failed "
               "(%d frames/s)" % (s2b - s2a), res)
        # the lost VM is destroyed (as an operator would: it cannot run)
        dg.stop()
        pair.guest = None
        time.sleep(2.0)
        disarmed = False
        if dst.migration("vm1")["state"] == "dst-expecting":
            # the destination QEMU died before its device started (a third
            # outcome, seen under ASan): the port stays armed, as for any
            # VM that has not arrived (docs/migration.md, "How long a
            # destination stays armed"); the operator's release disarms it
            dst.execute("migrate-cancel", {"port": "vm1"})
            dst.wait_state("vm1", "none", 10)
            disarmed = True
        s2c = dst.stats("vm2")["rx-pkts"]
        time.sleep(1.0)
        s2d = dst.stats("vm2")["rx-pkts"]
        snd.stop()
        snd2.stop()
        fin = {"disarmed": disarmed,
               "states": {"source": src.migration("vm1")["state"],
                          "destination": dst.migration("vm1")["state"]},
               "vm2_rx_pps_after_qemu_gone": s2d - s2c,
               "src": src.stats("vm1"), "dst": dst.stats("vm1")}
        tap.diag(json.dumps({"states": fin["states"], "vm2_rx_pps": s2d - s2c}))
        tap.ok(s2d - s2c > PPS2 / 2 and fin["states"]["destination"] in ("none", "paused"),
               "the lost VM's QEMU killed on the destination: its port %s%s, vm2 forwarding "
               "(%d frames/s)" % (fin["states"]["destination"],
                                  " (its device never came up: disarmed with migrate-cancel)"
                                  if disarmed else "", s2d - s2c), fin)
    finally:
        pair.stop()


# fail-reset: the second peer's address, on the namespace's bridge
PEER2_IP = "10.77.0.5"
RESET_HOLD_MS = 2000
PC_RESET_BW = 16 << 20      # bytes/s of post-copy: 256 MiB take > 10 s
SILENT_KILL_S = 1.0         # fail-reset-silent: the source dies this long after the switchover


def scenario_fail_reset(ns, workdir, tap, silent=False):
    """Post-copy fails after the switchover (the source QEMU killed), the
    lost VM is destroyed on the destination: its TCP peers are reset where
    a rule says tcp-on-loss=reset, and only once its QEMU is gone.
    silent: the source is killed at a fixed SILENT_KILL_S after the
    switchover, whatever the destination learned from the VM: the table it
    resets from is the one the source sent (CONNS)."""
    pair = Pair(ns, workdir, tap, guest_append="",
                port_opts=dict(PC_OPTS, **{"hold-ms": RESET_HOLD_MS}))
    poker = None
    socks = []
    try:
        g = pair.boot()
        ns.run(["ip", "addr", "add", PEER2_IP + "/24", "dev", ns.bridge])
        # the port says drop (the default); a rule says reset for one peer,
        # on both hosts (where the VM runs when it is lost decides)
        rule = "name=peer match=src=%s,proto=tcp tcp-on-loss=reset" % ns.host_ip
        for s in pair.shims:
            s.execute("policy-add", {"rule": rule})
        sa, na = tcp_reset.connect(ns, g.addr)
        sb, nb = tcp_reset.connect(ns, g.addr, src=PEER2_IP)
        socks = [sa, sb]
        poker = tcp_reset.Poker({"reset": (sa, na), "drop": (sb, nb)})
        poker.start()
        src, dst = pair.src, pair.dst

        def kill_source(dg):
            # fail-reset: once the VM has sent to both peers from the
            # destination; fail-reset-silent: at a fixed time, whatever the
            # destination learned from the VM (docs/migration.md,
            # "Validated TCP resets")
            t = time.monotonic()
            if silent:
                time.sleep(SILENT_KILL_S)
            else:
                # tcp-ct-entries counts the connections the source sent
                # (CONNS) from the blackout on: the VM's own frames at the
                # destination say it runs there (it ACKs each peer's
                # writes every PACE_S: 20 frames are both connections')
                vt.wait_for(lambda: dst.stats("vm1")["vm-tx-pkts"] >= 20, 60, 0.05,
                            "the VM's segments at the destination")
            st = g.qmp("query-migrate").get("status")
            os.kill(g.proc.pid, signal.SIGKILL)
            g.proc.wait(timeout=10)
            return st, time.monotonic() - t
        # a lone idle guest's post-copy would complete before the kill
        r = postcopy_migrate(pair, tap, after_switch=kill_source, postcopy_bw=PC_RESET_BW)
        dg = r["dg"]
        r["after"], killed_in = r["after"]
        # the destination VM is paused, not gone: a migrate-recover could
        # bring its pages; nobody may reset its peers yet
        time.sleep(3.0)
        dst_q = dg.qmp_client().execute("query-migrate", timeout=5.0).get("status") \
            if dg.alive() else "dead"
        early = dict(poker.errors)
        st_d0, st_s0 = dst.stats("vm1"), src.stats("vm1")
        tcp_keys = ("tcp-ct-entries", "resets-sent", "challenges-sent", "tcp-ct-exported",
                    "tcp-ct-imported", "tcp-ct-import-refused")
        known = st_d0["tcp-ct-imported"] if silent else st_d0["tcp-ct-entries"]
        tap.ok(r["after"] == "postcopy-active" and dst_q == "postcopy-paused" and not early and
               st_d0["resets-sent"] == 0 and st_s0["resets-sent"] == 0 and
               st_d0["challenges-sent"] == 0 and st_s0["challenges-sent"] == 0 and known >= 2,
               "source QEMU killed %.1f s into post-copy (%s; destination migration %s): 3 s later "
               "neither peer's socket has an error, no shim sent a RST or a challenge; the "
               "destination tracks %d connections, %d of them imported from the source's %d "
               "sent" % (killed_in, r["after"], dst_q, st_d0["tcp-ct-entries"],
                         st_d0["tcp-ct-imported"], st_s0["tcp-ct-exported"]),
               {"errors": early, "destination": {k: st_d0[k] for k in tcp_keys},
                "source": {k: st_s0[k] for k in tcp_keys},
                "states": {"source": src.migration("vm1")["state"],
                           "destination": dst.migration("vm1")["state"]}})
        # the operator gives the VM up: its QEMU is destroyed (virsh destroy)
        dg.proc.kill()
        t_kill = time.monotonic()
        dg.proc.wait(10)
        deadline = t_kill + RESET_HOLD_MS / 1000.0 + 1.0
        while time.monotonic() < deadline and "reset" not in poker.errors:
            time.sleep(0.05)
        time.sleep(max(0.0, deadline - time.monotonic()))
        errors = dict(poker.errors)
        poker.stop()
        st_d, st_s = dst.stats("vm1"), src.stats("vm1")
        info_b = tcp_reset.tcp_info(sb)
        err_a, t_a = errors.get("reset", (None, None))
        dt = (t_a - t_kill) if t_a else None
        res = {"errors": {n: (errno.errorcode.get(e, e), round(t - t_kill, 3))
                          for n, (e, t) in errors.items()},
               "destination": {k: st_d[k] for k in tcp_keys},
               "source": {k: st_s[k] for k in tcp_keys},
               "drop_peer": info_b, "state": dst.migration("vm1")["state"]}
        tap.diag(json.dumps(res))
        tap.ok(err_a == errno.ECONNRESET and 0 <= dt <= RESET_HOLD_MS / 1000.0 + 1.0 and
               st_d["resets-sent"] == 1 and st_s["resets-sent"] == 0,
               "the lost VM's QEMU destroyed: the peer its rule gives tcp-on-loss=reset got %s "
               "%s s later (hold-ms %d; destination resets-sent %d, challenges-sent %d; "
               "source resets-sent %d)" % (
                   errno.errorcode.get(err_a, err_a), "%.3f" % dt if dt is not None else "never",
                   RESET_HOLD_MS, st_d["resets-sent"], st_d["challenges-sent"],
                   st_s["resets-sent"]), res)
        tap.ok("drop" not in errors and info_b["state"] == tcp_reset.TCP_ESTABLISHED,
               "the peer under the port's tcp-on-loss=drop: no error at hold-ms + 1 s, its "
               "socket still established (%d segments unacknowledged, retransmits %d)" % (
                   info_b["unacked"], info_b["retransmits"]), res)
    finally:
        if poker:
            poker.stop()
        for s in socks:
            s.close()
        pair.stop()


SCENARIOS = {
    "udp": (scenario_udp, 2),
    "tcp": (scenario_tcp, 2),
    "isolation": (scenario_isolation, 2),
    "fail": (scenario_fail, 3),
    "fail-reset": (scenario_fail_reset, 3),
    "fail-reset-silent": (lambda ns, wd, tap: scenario_fail_reset(ns, wd, tap, silent=True), 3),
    # by hand: fails when the destination's worker blocks on a page for
    # good (issue 19), passes when the destination QEMU hung first
    "fail-early": (lambda ns, wd, tap: scenario_fail(ns, wd, tap, kill_after=0.05), 3),
}


def main():
    return vt.scenario_main(SCENARIOS, "udp", "pc")


if __name__ == "__main__":
    sys.exit(main())
