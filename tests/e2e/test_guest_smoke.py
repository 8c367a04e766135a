#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of the end-to-end harness itself (no vhost-shim involved).

A NetNS with bridge br0 (10.77.0.1/24); QEMU runs inside it with a tap NIC
(vst0, attached to br0) and boots the test guest (10.77.0.10).  Checks
ping, UDP and TCP in both directions against the guest agent, the agent's
timeline, and that the namespace and QEMU are gone afterwards.  TAP output;
exit 77 without root or QEMU (failure when CI=true).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import vshimtest as vt  # noqa: E402

UDP_N = 2000
UDP_PPS = 1000
G2H_N = 1000
TCP_BYTES = 1 << 20
H2G_PORT_UDP = 7100   # host ports for guest->host traffic
H2G_PORT_TCP = 7102
PLAN = 8     # and tap_main's last: nothing left behind


def clean_counts(s):
    """The loss/order/integrity counters of one stream."""
    return {k: s.get(k) for k in ("received", "lost", "reordered", "duplicated", "corrupted")}


def run(tap, state, workdir):
    t = time.monotonic()
    vt.build_guest()
    tap.diag("guest build/cache check: %.2f s" % (time.monotonic() - t))

    with vt.NetNS() as ns:
        state["ns"] = ns.name
        with vt.Guest(vt.TapNetdev("vst0"), ns=ns, name="smoke") as g:
            state["pids"].append(g.pid)
            try:
                boot, why = g.wait_ready(timeout=60), None
            except vt.GuestError as e:
                boot, why = None, str(e)
            if not tap.ok(boot is not None, "guest boots and its agent listens (%s)"
                          % ("%.2f s" % boot if boot is not None else "not ready"), why):
                return      # the rest needs the guest: not run

            # 2. ping, exact count
            pr = ns.ping(g.addr, count=5, interval=0.2, timeout=2.0)
            tap.ok(pr.received == 5, "ping: 5 of 5 echo replies", pr)

            # 3. host -> guest UDP
            vt.agent_reset(ns, g.addr)
            snd = vt.UdpSender(ns, g.addr, pps=UDP_PPS, count=UDP_N, size=100).start()
            sres = snd.wait(timeout=UDP_N / UDP_PPS + 20)
            try:
                vt.wait_for(lambda: vt.stream_stats(g.stats(), 0)["received"] >= UDP_N, 5, 0.1,
                            "guest to receive %d datagrams" % UDP_N)
            except TimeoutError:
                pass
            time.sleep(0.3)  # let stragglers (duplicates) show
            st = g.stats()
            s0 = vt.stream_stats(st, 0)
            want = {"received": UDP_N, "lost": 0, "reordered": 0, "duplicated": 0,
                    "corrupted": 0}
            tap.ok(sres["sent"] == UDP_N and sres["errors"] == 0 and clean_counts(s0) == want
                   and s0["highest_seq"] == UDP_N - 1 and st["bad_magic"] == 0,
                   "host->guest UDP: %d datagrams at %d pps, none lost/reordered/duplicated/"
                   "corrupted" % (UDP_N, UDP_PPS), {"sender": sres, "guest": s0})
            tap.diag("host->guest UDP: sent in %.2f s, guest max inter-arrival gap %d us"
                     % (sres["elapsed"], s0.get("max_gap_us", -1)))

            # 4. timeline paging
            tl = g.timeline(0)
            seqs = [q for _, q in tl]
            mono = all(tl[i][0] <= tl[i + 1][0] for i in range(len(tl) - 1))
            tap.ok(seqs == list(range(UDP_N)) and mono,
                   "agent timeline: %d arrivals in order" % UDP_N,
                   "got %d entries, first %r" % (len(tl), tl[:5]))

            # 5. guest -> host UDP
            rcv = vt.UdpReceiver(ns, H2G_PORT_UDP, expect=G2H_N, idle=5, timeout=40).start()
            g.send(ns.host_ip, H2G_PORT_UDP, G2H_N, 1000, stream=1, size=200)
            rres = rcv.wait(timeout=45)
            st = vt.agent_wait_tx_idle(ns, g.addr, timeout=20)
            r1 = rres["streams"].get("1", {})
            want = {"received": G2H_N, "lost": 0, "reordered": 0, "duplicated": 0,
                    "corrupted": 0}
            tap.ok(rres["received"] == G2H_N and clean_counts(r1) == want
                   and st["tx"]["udp_sent"] == G2H_N and st["tx"]["udp_errors"] == 0,
                   "guest->host UDP: host receives exactly %d datagrams, intact" % G2H_N,
                   {"receiver": rres, "guest_tx": st["tx"]})

            # 6. host -> guest TCP
            tres = vt.TcpSender(ns, g.addr, TCP_BYTES, timeout=60).start().wait(timeout=70)
            try:
                vt.wait_for(lambda: g.stats()["tcp"]["active"] == 0, 10, 0.1, "TCP close")
            except TimeoutError:
                pass
            tcp = g.stats()["tcp"]
            tap.ok(tres["ok"] and tres["sent"] == TCP_BYTES and tcp["bytes"] == TCP_BYTES
                   and tcp["corrupted"] == 0 and tcp["last_conn_bytes"] == TCP_BYTES,
                   "host->guest TCP: 1 MiB verified by the guest (%.2f s)" % tres["elapsed"],
                   {"sender": tres, "guest": tcp})

            # 7. guest -> host TCP
            trcv = vt.TcpReceiver(ns, H2G_PORT_TCP, conns=1, timeout=60).start()
            g.tcpsend(ns.host_ip, H2G_PORT_TCP, TCP_BYTES)
            trres = trcv.wait(timeout=70)
            st = vt.agent_wait_tx_idle(ns, g.addr, timeout=20)
            tap.ok(trres["connections"] == 1 and trres["bytes"] == TCP_BYTES
                   and trres["corrupted"] == 0 and st["tx"]["tcp_done"] == 1,
                   "guest->host TCP: 1 MiB verified by the host (%.2f s)" % trres["elapsed"],
                   {"receiver": trres, "guest_tx": st["tx"]})

            # 8. QMP works and the guest did not crash
            status = g.status()
            tap.ok(status == "running" and not g.crash_lines(),
                   "QMP query-status is running, no guest crash",
                   {"status": status, "crash": g.crash_lines()})


def main():
    return vt.tap_main(PLAN, "smoke", run)


if __name__ == "__main__":
    sys.exit(main())
