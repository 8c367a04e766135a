#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: the virtio features a guest gets, and a guest that asks for
packed rings.

Offloads (issue 18): with the default offloads=on a port offers checksum
offload, TCP segmentation offload (HOST_TSO4/6, HOST_ECN) and the guest's
receive offloads (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO);
offloads=dpdk also HOST_UFO (what DPDK's vhost PMD offers, host TSO with
its tso=1); never the legacy GSO bit.  The guest negotiates checksum
offload, so every UDP datagram it sends leaves its checksum to the
device: the shim finishes it (pkt_csum.h), and the host, whose kernel
verifies UDP checksums, receives all of them.  It negotiates TSO too: a
TCP stream it sends leaves the guest as 64 KiB frames, which the shim
cuts (pkt_tso.h, counters tso-frames and tso-segments); the host's
receiver verifies every byte.  Ports with offloads=off and offloads=dpdk
are read with GET_FEATURES (no guest).

vhost-shim does not offer VIRTIO_F_RING_PACKED (docs/hardening.md,
"Virtio features"): its TX stall check reads the split ring's avail index,
which on a packed ring is the driver's event-suppression area.  A guest
started with ``packed=on`` (libvirt ``<driver packed='on'/>``) therefore
runs on split rings.  This test boots such a guest, checks what
query-ports reports (the negotiated features, ring "split", no packed bit),
then has the guest send 70000 UDP datagrams, more than one wrap of the
16-bit ring indexes, and checks that the host receives every one and that
the shim counted no guest-malformed drop (on a packed ring the stall check
counted bogus ones, about 32k per wrap, issue 18).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hostile_frontend as hf  # noqa: E402
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 6     # and tap_main's last: nothing left behind
MAC = "52:54:00:77:0f:01"
IP = "10.77.0.71/24"
VIRTIO_F_RING_PACKED = 34
VIRTIO_F_VERSION_1 = 32
F = {"CSUM": 0, "GUEST_CSUM": 1, "GSO": 6, "GUEST_TSO4": 7, "GUEST_TSO6": 8, "GUEST_ECN": 9,
     "GUEST_UFO": 10, "HOST_TSO4": 11, "HOST_TSO6": 12, "HOST_ECN": 13, "HOST_UFO": 14}
OFFERED_ON = ["CSUM", "GUEST_CSUM", "GUEST_TSO4", "GUEST_TSO6", "GUEST_ECN", "GUEST_UFO",
              "HOST_TSO4", "HOST_TSO6", "HOST_ECN"]
OFFERED_DPDK = OFFERED_ON + ["HOST_UFO"]
NEVER = ("GSO",)
G2H_TCP_BYTES = 16 << 20


def names(feats, which):
    return [n for n in which if feats & (1 << F[n])]
G2H_N = 70000      # > 65536: the 16-bit avail/used indexes wrap
G2H_PPS = 7000


class PackedNetdev:
    """A netdev whose virtio-net-pci device asks for packed rings."""

    def __init__(self, netdev):
        self.netdev = netdev

    def qemu_args(self):
        return self.netdev.qemu_args()

    def device_opts(self):
        return self.netdev.device_opts() + ",packed=on"

    def in_netns(self):
        return self.netdev.in_netns()


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        shim.add_port("vm1", MAC)
        shim.add_port("vm2", "52:54:00:77:0f:02", offloads="off")
        shim.add_port("vm3", "52:54:00:77:0f:03", offloads="dpdk")
        shim.start()
        state["pids"].append(shim.proc.pid)
        g = None
        try:
            on = hf.Frontend(shim.port("vm1").socket).offered_features()
            off = hf.Frontend(shim.port("vm2").socket).offered_features()
            dpdk = hf.Frontend(shim.port("vm3").socket).offered_features()
            allf = tuple(F)
            tap.ok(names(on, allf) == OFFERED_ON and names(dpdk, allf) == OFFERED_DPDK and
                   not names(off, allf) and not on & (1 << VIRTIO_F_RING_PACKED),
                   "offered: offloads=on (the default) %s; dpdk also HOST_UFO; off none of "
                   "them; never %s" % (names(on, allf), "/".join(NEVER)),
                   {"on": hex(on), "dpdk": hex(dpdk), "off": hex(off)})
            g = vt.Guest(PackedNetdev(shim.port("vm1").netdev()), ns=ns, name="vm1", ip=IP,
                         mac=MAC, workdir=os.path.join(workdir, "vm1"))
            g.start()
            state["pids"].append(g.pid)
            g.wait_ready(timeout=90)
            port = shim.execute("query-ports")[0]
            feats = int(port.get("features", "0x0"), 16)
            tap.ok(port.get("state") == "running" and port.get("ring") == "split" and
                   feats & (1 << VIRTIO_F_VERSION_1) and
                   not feats & (1 << VIRTIO_F_RING_PACKED),
                   "a guest started with packed=on runs on split rings: query-ports reports "
                   "ring %s, features %s" % (port.get("ring"), port.get("features")), port)
            want = ["CSUM", "GUEST_CSUM", "GUEST_TSO4", "GUEST_TSO6", "HOST_TSO4", "HOST_TSO6"]
            tap.ok(names(feats, tuple(want)) == want and not names(feats, NEVER),
                   "the guest negotiated checksum offload, TSO and receive TSO: %s"
                   % names(feats, allf), port)

            s0 = shim.stats("vm1")
            rcv = vt.UdpReceiver(ns, 7150, expect=G2H_N, idle=10, timeout=120).start()
            g.send(ns.host_ip, 7150, G2H_N, G2H_PPS, stream=3, size=100)
            res = rcv.wait(timeout=130)
            s1 = shim.stats("vm1")
            st = res["streams"].get("3", {})
            drops = {k: v - s0["drops"].get(k, 0) for k, v in s1["drops"].items()
                     if v - s0["drops"].get(k, 0)}
            vm_tx = s1["vm-tx-pkts"] - s0["vm-tx-pkts"]
            tap.ok(res["received"] == G2H_N and shimlib.loss_counts(st) == shimlib.lossless(G2H_N),
                   "guest->host: the host receives all %d datagrams, in order (the ring "
                   "indexes wrapped; each checksum left to the device, finished by the shim)"
                   % G2H_N, {"receiver": res, "shim_drops": drops})
            tap.ok(vm_tx >= G2H_N and not drops.get("guest-malformed"),
                   "the shim counted %d frames from the guest and %d guest-malformed drops"
                   % (vm_tx, drops.get("guest-malformed", 0)),
                   {"drops": drops, "log": shim.log_tail(20) if drops else ""})

            # TCP from the guest: its stack hands the device 64 KiB frames
            s0 = shim.stats("vm1")
            trcv = vt.TcpReceiver(ns, 7151, conns=1, timeout=120).start()
            g.tcpsend(ns.host_ip, 7151, G2H_TCP_BYTES)
            tres = trcv.wait(timeout=130)
            s1 = shim.stats("vm1")
            drops = {k: v - s0["drops"].get(k, 0) for k, v in s1["drops"].items()
                     if v - s0["drops"].get(k, 0)}
            cut = s1["tso-frames"] - s0["tso-frames"]
            segs = s1["tso-segments"] - s0["tso-segments"]
            tap.ok(tres["bytes"] == G2H_TCP_BYTES and tres["corrupted"] == 0 and cut > 0 and
                   segs > cut and not drops,
                   "guest->host TCP with TSO: %d bytes verified by the host of %d; the shim cut "
                   "%d TSO frames into %d segments (%.1f each), dropped none"
                   % (tres["bytes"], G2H_TCP_BYTES, cut, segs, segs / max(1, cut)),
                   {"receiver": tres, "drops": drops, "tso_frames": cut, "tso_segments": segs})
        finally:
            if g:
                g.stop()
            shim.stop()


if __name__ == "__main__":
    sys.exit(vt.tap_main(PLAN, "vf", run))
