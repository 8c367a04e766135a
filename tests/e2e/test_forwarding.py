#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: two real QEMU guests forwarding through one vhost-shim.

One daemon serves two VM ports (vhost-user server sockets), each with a
net_tap uplink on the bridge br0 of a test namespace (the "top of rack").
Checks, for both VMs at the same time: ICMP and ARP, UDP host->guest and
guest->host with exact counts, TCP both ways, that each VM sees only its own
traffic, that the shim's counters match, and that nothing is left behind.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

UDP_N = 2000
UDP_PPS = 1000
G2H_N = 1000
TCP_BYTES = 1 << 20
PLAN = 9     # and tap_main's last: nothing left behind
VMS = [("vm1", "52:54:00:77:01:01", "10.77.0.11/24", 1),
       ("vm2", "52:54:00:77:01:02", "10.77.0.12/24", 2)]


clean = shimlib.loss_counts


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        for name, mac, _, _ in VMS:
            shim.add_port(name, mac)
        shim.start()
        state["pids"].append(shim.proc.pid)
        guests = []
        try:
            for name, mac, ip, _ in VMS:
                g = vt.Guest(shim.port(name).netdev(), ns=ns, name=name, ip=ip, mac=mac,
                             workdir=os.path.join(workdir, name))
                guests.append(g)
                g.start()
            state["pids"] += [g.pid for g in guests]
            boots = [g.wait_ready(timeout=90) for g in guests]
            ports = shim.execute("query-ports")
            running = [p for p in ports if p.get("state") == "running"]
            tap.ok(len(running) == 2, "both guests boot on vhost-shim ports (%.1f s, %.1f s)"
                   % tuple(boots), ports)

            # ICMP (and ARP, which ping needs first), exact counts
            pings = [ns.ping(g.addr, count=5, interval=0.2, timeout=2.0) for g in guests]
            tap.ok(all(p.received == 5 for p in pings), "ping: 5 of 5 replies from each VM",
                   pings)

            # host -> guest UDP to both VMs at once, one stream each
            for g in guests:
                g.reset()
            before = {n: shim.stats(n) for n, _, _, _ in VMS}
            senders = [vt.UdpSender(ns, g.addr, pps=UDP_PPS, count=UDP_N, stream=st,
                                    size=120).start()
                       for g, (_, _, _, st) in zip(guests, VMS)]
            sres = [s.wait(timeout=UDP_N / UDP_PPS + 30) for s in senders]
            for g, (_, _, _, st) in zip(guests, VMS):
                try:
                    vt.wait_for(lambda: vt.stream_stats(g.stats(), st)["received"] >= UDP_N,
                                10, 0.1, "%s to receive %d datagrams" % (g.name, UDP_N))
                except TimeoutError:
                    pass
            time.sleep(0.3)
            stats = [g.stats() for g in guests]
            want = {"received": UDP_N, "lost": 0, "reordered": 0, "duplicated": 0,
                    "corrupted": 0}
            ok = all(r["sent"] == UDP_N for r in sres)
            for st, (_, _, _, sid) in zip(stats, VMS):
                ok = ok and clean(vt.stream_stats(st, sid)) == want
            tap.ok(ok, "host->guest UDP: %d datagrams to each VM, none lost/reordered/"
                   "duplicated/corrupted" % UDP_N, {"senders": sres, "guests": stats})

            # isolation: each VM saw only its own stream
            foreign = []
            for st, (name, _, _, sid) in zip(stats, VMS):
                for k, v in st["streams"].items():
                    if int(k) != sid and v.get("received"):
                        foreign.append((name, k, v["received"]))
            tap.ok(not foreign, "each VM sees only its own traffic", foreign)

            # the shim's counters agree: every datagram went into a guest
            after = {n: shim.stats(n) for n, _, _, _ in VMS}
            deltas = {n: after[n]["rx-pkts"] - before[n]["rx-pkts"] for n in after}
            # drops during the UDP phase: a VM whose device is not up yet
            # when the other one's boot broadcasts reach it counts not-ready
            drops = {n: shimlib.drops(after[n]) - shimlib.drops(before[n]) for n in after}
            tel = {n: shim.telemetry("/vhost_shim/stats,%s" % n) for n in after}
            tel_ports = shim.telemetry("/vhost_shim/ports")
            tap.ok(all(UDP_N <= d <= UDP_N + 20 for d in deltas.values())
                   and not any(drops.values())
                   and all(tel[n]["rx_pkts"] >= after[n]["rx-pkts"] for n in after)
                   and sorted(tel_ports) == ["vm1", "vm2"],
                   "shim counters: rx delta %s (%d datagrams + ARP), drops delta %s; DPDK telemetry "
                   "agrees (%s)" % (deltas, UDP_N, drops,
                                    {n: tel[n]["rx_pkts"] for n in tel}), {"ctl": after,
                                                                          "telemetry": tel})
            if any(drops.values()):
                tap.diag("daemon log:\n" + shim.log_tail(60))

            # guest -> host UDP, both VMs at once
            rcvs = []
            for i, g in enumerate(guests):
                port = 7100 + i
                rcvs.append(vt.UdpReceiver(ns, port, expect=G2H_N, idle=5, timeout=40).start())
                g.send(ns.host_ip, port, G2H_N, 1000, stream=10 + i, size=200)
            rres = [r.wait(timeout=45) for r in rcvs]
            tap.ok(all(r["received"] == G2H_N and
                       clean(r["streams"].get(str(10 + i), {})) == dict(want, received=G2H_N)
                       for i, r in enumerate(rres)),
                   "guest->host UDP: host receives exactly %d datagrams from each VM" % G2H_N,
                   rres)

            # TCP both ways, VM1 and VM2 in turn
            ok, diag = True, []
            for i, g in enumerate(guests):
                tres = vt.TcpSender(ns, g.addr, TCP_BYTES, timeout=60).start().wait(timeout=70)
                try:
                    vt.wait_for(lambda: g.stats()["tcp"]["active"] == 0, 10, 0.1, "TCP close")
                except TimeoutError:
                    pass
                tcp = g.stats()["tcp"]
                ok = ok and tres["ok"] and tcp["last_conn_bytes"] == TCP_BYTES and \
                    tcp["corrupted"] == 0
                diag.append({"h2g": tres, "guest": tcp})
            tap.ok(ok, "host->guest TCP: 1 MiB verified by each guest", diag)
            ok, diag = True, []
            for i, g in enumerate(guests):
                trcv = vt.TcpReceiver(ns, 7200 + i, conns=1, timeout=60).start()
                g.tcpsend(ns.host_ip, 7200 + i, TCP_BYTES)
                r = trcv.wait(timeout=70)
                ok = ok and r["bytes"] == TCP_BYTES and r["corrupted"] == 0
                diag.append(r)
            tap.ok(ok, "guest->host TCP: 1 MiB from each guest verified by the host", diag)
        finally:
            for g in guests:
                g.stop()
            status = shim.stop()
            state["shim_status"] = status
            state["shim_log"] = shim.log_text()
        tap.ok(status == 0 and "counters:" in state["shim_log"],
               "SIGTERM: the daemon logs its counters and exits 0 (status %r)" % status,
               shim.log_tail(15))


def main():
    return vt.tap_main(PLAN, "fwd", run)


if __name__ == "__main__":
    sys.exit(main())
