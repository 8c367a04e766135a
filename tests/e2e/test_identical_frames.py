#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: byte-identical datagrams across a migration (issue 16, item 4).

A health check repeats one datagram, byte for byte: 20 IPv6 UDP datagrams
(fixed payload, source and destination ports; IPv6 has no IP ID, and the
namespace's automatic flow labels are off, so the frames are identical),
100 ms apart, sent from the test namespace to the guest while it migrates
between two shims (Pair of vshimtest.pair).  The migration waits in
pause-before-switchover (the source in its blackout) while the first
datagrams are sent, then continues: those reach the destination through
the tunnel, the later ones directly.  The destination's duplicate filter
must not take a later transmission for a copy of an earlier tunnelled one
(they reached the network 100 ms or more apart; dedup-window-ms 50): the
guest must count all 20 (Udp6NoPorts + Udp6InDatagrams of /proc/net/snmp6:
no socket reads them).  A control run with dedup-window-ms 0 (compare
regardless of time, as the filter did before frames carried times) must
lose some of them as "duplicate", so the test can fail.

The guest keeps IPv6 on with vshim.ip6=ADDR/NN (tests/guest/init).

TAP output; exit 77 without root/QEMU outside CI.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vshimtest as vt  # noqa: E402
from vshimtest.pair import MAC, Pair  # noqa: E402

NS_IP6 = "fd77::1"
GUEST_IP6 = "fd77::21"
COUNT = 20
GAP_S = 0.1

SENDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 40000))
payload = b"vshim health check: identical every time " * 2
n, gap = int(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()
for i in range(n):
    s.sendto(payload, (sys.argv[2], 40001))
    time.sleep(max(0.0, t0 + (i + 1) * gap - time.monotonic()))
print("sent", n, flush=True)
"""


def udp6(g):
    k = g.stats()["kernel"]
    return k["udp6_in_datagrams"] + k["udp6_no_ports"]


def send(ns, n, gap):
    return ns.popen([sys.executable, "-c", SENDER, NS_IP6, GUEST_IP6, str(n), str(gap)],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def sent(p, tap):
    out, _ = p.communicate(timeout=30)
    if p.returncode != 0:
        tap.diag("sender failed (%d): %s" % (p.returncode, out))
    return out.strip()


def migrate_sending(ns, pair, tap):
    """Migrate with the blackout held while the first datagrams are sent;
    returns (datagrams the guest counted, tunnelled frames, duplicate drops
    at the destination)."""
    g = pair.guest
    base = udp6(g)
    dst = pair.dst
    dst_before = dst.stats("vm1")
    dg = pair.start_incoming()
    pair.arm()
    g.qmp("migrate-set-capabilities", capabilities=[
        {"capability": "pause-before-switchover", "state": True}])
    g.qmp("migrate", uri=dg.incoming_uri)
    vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "pre-switchover", 120, 0.05,
                "pre-switchover")
    vt.wait_for(lambda: pair.src.migration("vm1")["state"] == "src-blackout", 10, 0.02,
                "source blackout")
    t0 = time.monotonic()
    p = send(ns, COUNT, GAP_S)
    time.sleep(0.65)		# datagrams 1..7 reach the source in its blackout
    g.qmp("migrate-continue", state="pre-switchover")
    vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "completed", 60, 0.02,
                "migration completed")
    resumed_after = time.monotonic() - t0
    out = sent(p, tap)
    pair.finish(dg)
    got = udp6(pair.guest) - base
    after = dst.stats("vm1")
    tun = after["tunnel-rx-frames"] - dst_before["tunnel-rx-frames"]
    dup = after["drops"].get("duplicate", 0) - dst_before["drops"].get("duplicate", 0)
    tap.diag("sender: %s; migration completed %.2f s after the first datagram; "
             "destination: %d tunnelled frames, %d dropped as duplicate; guest counted %d"
             % (out, resumed_after, tun, dup, got))
    return got, tun, dup


def boot(ns, workdir, tap, port_opts=None):
    pair = Pair(ns, workdir, tap, port_opts=port_opts, guest_append="vshim.ip6=%s/64" % GUEST_IP6)
    g = pair.boot()
    # no neighbour discovery needed: the VM keeps its MAC across hosts
    ns.run(["ip", "-6", "neigh", "replace", GUEST_IP6, "lladdr", MAC, "dev", ns.bridge,
            "nud", "permanent"])
    # the guest's address drops datagrams while it is tentative (DAD, a
    # second or more on a loaded TCG guest): probe until one is counted
    for _ in range(30):
        c0 = udp6(g)
        sent(send(ns, 1, 0.01), tap)
        try:
            vt.wait_for(lambda: udp6(g) > c0, 1.0, 0.05, "a probe datagram in the guest")
            break
        except TimeoutError:
            continue
    else:
        raise vt.HarnessError("the guest's IPv6 address never took a datagram in 30 s")
    return pair, g


def scenario(ns, workdir, tap):
    ns.run(["sysctl", "-qw", "net.ipv6.auto_flowlabels=0"])
    ns.run(["ip", "-6", "addr", "add", NS_IP6 + "/64", "dev", ns.bridge, "nodad"])
    pair, g = boot(ns, workdir, tap)
    try:
        # 1. the counting works without a migration
        before = udp6(g)
        rx0 = pair.src.stats("vm1")["rx-pkts"]
        p = send(ns, 3, 0.01)
        tap.diag("sender: %s" % sent(p, tap))
        try:
            vt.wait_for(lambda: udp6(g) - before >= 3, 10, 0.05, "3 datagrams in the guest")
        except TimeoutError:
            tap.diag("guest kernel counters %s; shim delivered %d frames; namespace: %s %s"
                     % (g.stats()["kernel"], pair.src.stats("vm1")["rx-pkts"] - rx0,
                        ns.run(["ip", "-6", "addr"]).stdout, ns.run(["ip", "-6", "neigh"]).stdout))
            raise
        time.sleep(0.3)
        tap.ok(udp6(g) - before == 3, "without a migration the guest counts 3 of 3 identical "
               "IPv6 datagrams (got %d)" % (udp6(g) - before))

        # 2. 20 across a migration whose blackout is inside the 2 s.  The
        # destination may drop real flood copies (multicast the namespace
        # sends, e.g. MLD reports, reaches both hosts): those are not ours,
        # so the check is on what the guest counts, exactly 20
        got, tun, dup = migrate_sending(ns, pair, tap)
        tap.ok(0 < tun < COUNT, "the blackout fell inside the %.1f s: %d of %d datagrams "
               "came through the tunnel, the others directly" % (COUNT * GAP_S, tun, COUNT))
        tap.ok(got == COUNT, "the guest counts all %d byte-identical datagrams (got %d; "
               "destination duplicate drops %d)" % (COUNT, got, dup))
    finally:
        pair.stop()

    # 3. control: dedup-window-ms 0 compares regardless of time (what the
    # filter did before the frames carried times): later transmissions are
    # taken for copies of the tunnelled ones, so the test can fail
    pair, g = boot(ns, os.path.join(workdir, "window0"), tap, port_opts={"dedup-window-ms": 0})
    try:
        got, tun, dup = migrate_sending(ns, pair, tap)
        tap.ok(0 < tun < COUNT and got < COUNT and dup >= COUNT - got,
               "control, dedup-window-ms 0: the guest counts only %d of %d (%d dropped as "
               "duplicate, %d tunnelled)" % (got, COUNT, dup, tun))
    finally:
        pair.stop()


def main():
    return vt.netns_main(4, "identical", scenario, ipv6=True)


if __name__ == "__main__":
    sys.exit(main())
