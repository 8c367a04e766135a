#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: a VM moves from OVS-DPDK onto vhost-shim and back (issue 18).

OVS-DPDK 3.1 (Debian's openvswitch-switch-dpdk, tests/lib/ovsdpdk.py: a
private ovsdb-server and ovs-vswitchd-dpdk, a netdev bridge with a
dpdkvhostuser port and a DPDK net_tap port on the test bridge) is host A;
vhost-shim is host B, with one port per `offloads` setting.  QEMU refuses
a migration whose destination backend lacks a feature the guest
negotiated on the source, so what a VM can move onto depends on what OVS
offered it:

  1. OVS with its defaults (userspace-tso-enable=false: it withholds CSUM
     and host TSO, and with them checksum offload): the guest boots there
     and forwards; it migrates onto the shim's default port (offloads=on)
     and forwards there; it migrates back to OVS and forwards.
  2. OVS with userspace-tso-enable=true (checksum offload and host TSO,
     no HOST_UFO nor HOST_ECN): the same, and on the shim a TCP stream
     from the guest is handed over as TSO frames, which the shim cuts
     (tso-frames, tso-segments), every byte verified by the host.

Forwarding is checked each time with shimlib.check_vm_traffic() (pings,
UDP both ways).  The guest is the default one (no network tuning).
Nothing is buffered across these moves (OVS has no shim to hand a buffer
over).  TAP output; exit 77 without root or OVS-DPDK outside CI (CI=true:
a missing dependency fails).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ovsdpdk  # noqa: E402
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 11    # and tap_main's last: nothing left behind
MAC = "52:54:00:77:11:01"
IP = "10.77.0.82/24"
F = {"CSUM": 0, "GUEST_CSUM": 1, "GUEST_TSO4": 7, "GUEST_TSO6": 8, "GUEST_ECN": 9,
     "GUEST_UFO": 10, "HOST_TSO4": 11, "HOST_TSO6": 12, "HOST_ECN": 13, "HOST_UFO": 14}
TCP_BYTES = 16 << 20


def names(feats):
    return [n for n in F if feats & (1 << F[n])]


def incoming(ns, netdev, workdir, name):
    return vt.start_incoming_guest(netdev, ns, workdir, name, IP, MAC)


def move(g, dg):
    """Migrate g to dg; returns (new guest, downtime ms)."""
    down = g.migrate_to(dg, timeout=120)
    g.stop()
    return dg, down


def one_round(tap, ns, shim, workdir, tso, guests, state):
    label = "OVS-DPDK (userspace-tso-enable=%s)" % ("true" if tso else "false")
    ovs = ovsdpdk.OvsDpdkHost(ns, "tso" if tso else "def", workdir, tso=tso).start()
    state["pids"].extend([ovs.vswitchd.pid, ovs.dbserver.pid])
    try:
        g = vt.Guest(ovs.netdev(), ns=ns, name="g-%s-1" % ovs.name, ip=IP, mac=MAC,
                     workdir=os.path.join(workdir, "g-%s-1" % ovs.name))
        guests.append(g)
        g.start()
        state["pids"].append(g.pid)
        g.wait_ready(timeout=120)
        # OVS learns the guest's MAC from its first frames: the first pings
        # to a freshly booted guest were lost there (2 of 5, before any
        # migration); warm up before the check
        ns.ping(g.addr, count=3, interval=0.2, timeout=2.0)
        shimlib.check_vm_traffic(tap, ns, g, "on %s" % label)

        dg = incoming(ns, shim.port("vm1").netdev(), workdir, "g-%s-2" % ovs.name)
        guests.append(dg)
        g, down = move(g, dg)
        shim.wait_state("vm1", "none", 20)
        port = next(p for p in shim.execute("query-ports") if p["name"] == "vm1")
        neg = int(port.get("features", "0x0"), 16)
        want_tso = bool(neg & (1 << F["HOST_TSO4"]))
        tap.ok(port.get("state") == "running" and want_tso == tso and
               bool(neg & (1 << F["CSUM"])) == tso,
               "%s -> vhost-shim (offloads=on, the default): migrated (downtime %s ms); the "
               "device runs with the features the guest negotiated on OVS: %s"
               % (label, down, names(neg)), {"port": port})
        time.sleep(1.0)
        shimlib.check_vm_traffic(tap, ns, g, "on vhost-shim after the move from %s" % label)
        if tso:
            s0 = shim.stats("vm1")
            trcv = vt.TcpReceiver(ns, 7152, conns=1, timeout=120).start()
            g.tcpsend(ns.host_ip, 7152, TCP_BYTES)
            tres = trcv.wait(timeout=130)
            s1 = shim.stats("vm1")
            cut = s1["tso-frames"] - s0["tso-frames"]
            segs = s1["tso-segments"] - s0["tso-segments"]
            drops = {k: v - s0["drops"].get(k, 0) for k, v in s1["drops"].items()
                     if v - s0["drops"].get(k, 0)}
            tap.ok(tres["bytes"] == TCP_BYTES and tres["corrupted"] == 0 and cut > 0 and
                   not drops,
                   "the guest from OVS sends TCP with TSO on vhost-shim: %d bytes verified by "
                   "the host, %d TSO frames cut into %d segments, no drop"
                   % (tres["bytes"], cut, segs), {"receiver": tres, "drops": drops})

        dg = incoming(ns, ovs.netdev(), workdir, "g-%s-3" % ovs.name)
        guests.append(dg)
        g, down = move(g, dg)
        tap.ok(g.qmp("query-status").get("status") == "running" and ovs.alive(),
               "vhost-shim -> %s: migrated back (downtime %s ms)" % (label, down))
        time.sleep(1.0)
        shimlib.check_vm_traffic(tap, ns, g, "on %s after the move back" % label)
        g.stop()
    finally:
        ovs.stop()


def require():
    if not ovsdpdk.available():
        vt.skip_or_fail("OVS-DPDK (openvswitch-switch-dpdk) is not installed")


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hostb", workdir)
        shim.add_port("vm1", MAC)         # offloads=on, the default
        shim.start()
        state["pids"].append(shim.proc.pid)
        guests = []
        try:
            one_round(tap, ns, shim, workdir, False, guests, state)
            one_round(tap, ns, shim, workdir, True, guests, state)
        finally:
            for x in guests:
                x.stop()
            shim.stop()


if __name__ == "__main__":
    sys.exit(vt.tap_main(PLAN, "bmo", run, require=require))
