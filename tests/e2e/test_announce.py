#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: announcements for every address the VM uses (announce=all).

Two "hosts" (shims hosta and hostb) in one test namespace, each with a
net_tap uplink on the bridge br0, as in test_migration.py.  The guest
(tests/guest/init: vshim.ip6=, vshim.vlan=) has IPv4 and IPv6 on eth0 and an
802.1Q device eth0.100 with a second MAC (MAC2) and IPv6 (link-local), so it
sends from two MACs, on two VLANs, with IPv4 and IPv6 sources.  QEMU runs
the NIC with guest_announce=off: the guest kernel does not announce itself
after a migration, so whatever moves the network to the new host is the
shim's (and QEMU's one untagged RARP for the NIC's MAC, through
VHOST_USER_SEND_RARP).

The VM boots on hosta, which learns its addresses from what shows it owns
them (its ARP, its neighbour discovery: docs/configuration.md, announce);
it migrates to hostb and back to hosta.  hosta forgets the table when the
VM has left (a VM that comes back must not be announced with addresses it
may since have given up), and the table is not carried by the migration
(docs/migration.md, "Announcements"), so on the return hosta announces
what the guest shows after the resume.  An idle guest without its own
announcements shows nothing, so right after hosta's VM_RESUMED the test,
as a host "FAKE" on br0, makes the guest show its addresses: an ICMP echo
request from an IPv4 address the guest has never seen (its ARP request for
it shows the guest's IPv4 address; an ARP reply would not: hosta learns
IPv4 from requests and gratuitous ARPs only), a Neighbour Solicitation for
fd00:77::2, and one tagged 100 for MAC2's link-local address (the NAs,
unicast to FAKE, show the IPv6 addresses and their flags).  What the guest
sends teaches hosta; the later rounds announce it.  Before the return the
test gives the namespace's neighbour entry of the guest's IPv6 address a
wrong link-layer address (stale).  Checks:

  1. hosta learned: 2 (MAC, VLAN) pairs (MAC untagged, MAC2 on VLAN 100),
     IPv4, and IPv6 (query-migration learned-*)
  2. hosta forgot them once the VM had left (learned-* all 0)
  3. the namespace's neighbour entry of fd00:77::2 has the guest's MAC again,
     from the unsolicited NA, without a probe (ip -6 neigh: STALE, no
     Neighbour Solicitation from the namespace seen on the wire)
  4. on the wire (AF_PACKET on hosta's tap, the 802.1Q tag from the
     kernel's PACKET_AUXDATA): RARPs from MAC2 tagged 100, NAs tagged 100
     for MAC2's link-local address and untagged for fd00:77::2 (hop limit
     255, Override set, Router and Solicited clear, target link-layer
     address option, ICMPv6 checksum verified), gratuitous ARPs for the
     IPv4 address, in the rounds after the guest answered (2 or 3 of the
     4), and nothing but the RARP for MAC before it (nothing stale)
  5. hosta's announce-frames counted them

Limits of this machine (said in the TAP output): its kernel has neither
802.1Q devices nor VLAN filtering in the bridge (CONFIG_VLAN_8021Q and
CONFIG_BRIDGE_VLAN_FILTERING are off), so br0 is a VLAN-unaware bridge: its
FDB has one entry per MAC (not per VLAN), and the namespace cannot have a
VLAN 100 interface, so the neighbour check uses the untagged IPv6 address
and VLAN 100 is checked on the wire.  The guest's Debian kernel has both
(8021q is loaded from the initramfs).

TAP output; exit 77 without root/QEMU outside CI.
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

MAC = "52:54:00:77:03:01"
MAC2 = "52:54:00:77:03:99"
VID = 100
IP = "10.77.0.31/24"
IP6 = "fd00:77::2"
NS_IP6 = "fd00:77::1"
BOGUS = "02:00:00:00:00:99"
FAKE = "02:00:00:00:00:77"          # a host on br0 that asks the guest
FAKE_IP = "10.77.0.99"
FAKE_IP6 = "fd00:77::99"
PORT_A, PORT_B = 7411, 7412
GUEST_APPEND = "vshim.ip6=%s/64 vshim.vlan=%d,%s" % (IP6, VID, MAC2)

ETH_P_ALL = 3
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
PACKET_OUTGOING = 4


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def link_local(mac):
    """fe80::/64 with the EUI-64 interface id of mac (the kernel's default)."""
    b = bytearray(mac_bytes(mac))
    eui = bytes([b[0] ^ 2, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]])
    return socket.inet_ntop(socket.AF_INET6, b"\xfe\x80" + b"\0" * 6 + eui)


class NoAnnounceNetdev(vt.VhostUserNetdev):
    """The vhost-user NIC without VIRTIO_NET_F_GUEST_ANNOUNCE: the guest does
    not announce itself after a migration."""

    def device_opts(self):
        return super().device_opts() + ",guest_announce=off"


class Capture:
    """Frames arriving from an interface (from a tap: what the shim's uplink
    sent), or with outgoing those it sends (from br0: what the namespace's
    own stack sends), with the 802.1Q tag the kernel moved into
    PACKET_AUXDATA."""

    def __init__(self, ns, ifname, outgoing=False):
        self.outgoing = outgoing
        self.sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        self.sock.bind((ifname, 0))
        self.sock.settimeout(0.05)
        self.frames = []    # (time.time(), vlan or None, bytes)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, anc, _flags, addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(20))
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            if (addr[2] == PACKET_OUTGOING) != self.outgoing:
                continue
            vlan = None
            for level, typ, cdata in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= 20:
                    status, _l, _s, _m, _n, tci, _tpid = struct.unpack("IIIHHHH", cdata[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        vlan = tci & 0xfff
            self.frames.append((time.time(), vlan, data))

    def stop(self):
        self._stop.set()
        self._t.join(2)
        return self.frames


def icmp6_ok(ip6hdr, icmp):
    """Verify the ICMPv6 checksum over the pseudo-header."""
    ph = ip6hdr[8:40] + struct.pack("!I", len(icmp)) + b"\0\0\0\x3a"
    data = ph + icmp
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def classify(frames, since):
    """The shim's announcements among frames after since: {kind: [(t, vlan, info)]}."""
    out = {"rarp": [], "garp": [], "na": [], "na_bad": []}
    for t, vlan, f in frames:
        if t < since or len(f) < 14 or f[0:6] == mac_bytes(FAKE):
            continue    # the guest's own answers to FAKE are not the shim's
        src = ":".join("%02x" % b for b in f[6:12])
        et = struct.unpack("!H", f[12:14])[0]
        if et == 0x8035 and len(f) >= 42:
            out["rarp"].append((t, vlan, src))
        elif et == 0x0806 and len(f) >= 42 and f[20:22] == b"\0\x01" and f[28:32] == f[38:42]:
            out["garp"].append((t, vlan, socket.inet_ntoa(f[28:32])))
        elif et == 0x86dd and len(f) >= 14 + 40 + 32 and f[20] == 58 and f[54] == 136:
            ip6, icmp = f[14:54], f[54:54 + struct.unpack("!H", f[18:20])[0]]
            target = socket.inet_ntop(socket.AF_INET6, icmp[8:24])
            good = (f[21] == 255 and icmp[4] & 0x20 and not icmp[4] & 0xc0 and
                    f[0:6] == b"\x33\x33\0\0\0\x01" and icmp[24:26] == b"\x02\x01" and
                    icmp[26:32] == f[6:12] and ip6[8:24] == icmp[8:24] and icmp6_ok(ip6, icmp))
            out["na" if good else "na_bad"].append((t, vlan, (target, src)))
    return out


def icmp6_sum(src, dst, icmp):
    ph = src + dst + struct.pack("!I", len(icmp)) + b"\0\0\0\x3a"
    data = ph + icmp
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ns_frame(target, vlan=None):
    """A Neighbour Solicitation from FAKE for target (to its solicited-node
    multicast group), tagged with vlan if given; from FAKE's link-local
    address for a link-local target."""
    source = link_local(FAKE) if target.startswith("fe80:") else FAKE_IP6
    src = socket.inet_pton(socket.AF_INET6, source)
    tgt = socket.inet_pton(socket.AF_INET6, target)
    dst = b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + tgt[13:16]
    icmp = bytearray(struct.pack("!BBHI", 135, 0, 0, 0) + tgt + b"\x01\x01" + mac_bytes(FAKE))
    struct.pack_into("!H", icmp, 2, icmp6_sum(src, dst, bytes(icmp)))
    ip6 = struct.pack("!IHBB", 0x60000000, len(icmp), 58, 255) + src + dst
    eth = b"\x33\x33" + dst[12:16] + mac_bytes(FAKE)
    eth += (struct.pack("!HH", 0x8100, vlan) if vlan else b"") + b"\x86\xdd"
    return eth + ip6 + bytes(icmp)


def inet_sum(data):
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def echo_request_frame(target):
    """An ICMP echo request from FAKE (FAKE_IP) to target, at the guest's
    MAC.  Its reply needs FAKE_IP's MAC, which the guest has never seen:
    it asks with an ARP request, from which hosta learns the guest's
    address (an ARP reply, the answer to FAKE asking, would not teach it:
    a proxy ARP answers for other hosts)."""
    icmp = bytearray(struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + b"announce")
    struct.pack_into("!H", icmp, 2, inet_sum(bytes(icmp)))
    ip = bytearray(struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(icmp), 0x77, 0x4000, 64, 1, 0)
                   + socket.inet_aton(FAKE_IP) + socket.inet_aton(target))
    struct.pack_into("!H", ip, 10, inet_sum(bytes(ip)))
    return mac_bytes(MAC) + mac_bytes(FAKE) + b"\x08\x00" + bytes(ip) + bytes(icmp)


def neigh_of(ns, addr):
    r = ns.run(["ip", "-6", "neigh", "show", addr, "dev", "br0"], check=False)
    return r.stdout.strip()


class Pair:
    def __init__(self, ns, workdir):
        self.ns = ns
        self.workdir = workdir
        key = os.path.join(workdir, "psk.key")
        shimlib.write_key(key)
        self.shims = [
            shimlib.Shim(ns, "hosta", workdir, tunnel_port=PORT_A, peers={"hostb": PORT_B},
                         key_file=key),
            shimlib.Shim(ns, "hostb", workdir, tunnel_port=PORT_B, peers={"hosta": PORT_A},
                         key_file=key),
        ]
        for s in self.shims:
            s.add_port("vm1", MAC, **{"linger-ms": 500, "announce": "all"})
            s.start()
        self.gen = 0

    def guest(self, shim, incoming):
        self.gen += 1
        name = "g%d" % self.gen
        g = vt.Guest(NoAnnounceNetdev(shim.port("vm1").socket), ns=self.ns, name=name, ip=IP,
                     mac=MAC, workdir=os.path.join(self.workdir, name), incoming=incoming,
                     append=GUEST_APPEND)
        g.start()
        if incoming:
            g.wait_incoming_socket()
        return g

    def migrate(self, g, src, dst):
        dg = self.guest(dst, True)
        dst.execute("migrate-expect", {"port": "vm1"})
        vt.wait_for(lambda: src.migration("vm1").get("peer") == dst.name, 10, 0.02,
                    "source to learn its destination")
        mark = len(dst.qmp.poll_events())
        g.migrate_to(dg)
        g.stop()
        ev = dst.qmp.wait_event("VM_RESUMED", timeout=30, since=mark)
        resumed = ev["timestamp"]["seconds"] + ev["timestamp"]["microseconds"] / 1e6
        return dg, resumed

    def stop(self):
        return [s.stop() for s in self.shims]


def scenario(ns, workdir, tap):
    ns.run(["ip", "-6", "addr", "add", NS_IP6 + "/64", "dev", "br0", "nodad"])
    pair = Pair(ns, workdir)
    a, b = pair.shims
    tap_a = a.port("vm1").tap
    g = None
    try:
        g = pair.guest(a, False)
        g.wait_ready(timeout=90)
        console = g.console_text()
        # the guest sends from its IPv6 address once it answers a neighbour
        # solicitation (a datagram to a closed port: NS, NA, ICMPv6 error)
        s6 = ns.socket(socket.AF_INET6, socket.SOCK_DGRAM)

        def learned():
            s6.sendto(b"x", (IP6, 9))
            g.wait_agent()      # IPv4: the agent answers from the guest's address
            m = a.migration("vm1")
            return m["learned-macs"] >= 2 and m["learned-ipv4"] >= 1 and m["learned-ipv6"] >= 2
        try:
            vt.wait_for(learned, 30, 0.5, "hosta to learn the guest's addresses")
        except TimeoutError:
            pass
        m = a.migration("vm1")
        st = a.stats("vm1")
        tap.ok(m["announce"] == "all" and m["learned-macs"] >= 2 and m["learned-ipv4"] >= 1
               and m["learned-ipv6"] >= 2,
               "hosta learned from the guest's ARP and neighbour discovery: %d (MAC, VLAN) "
               "pairs, %d IPv4, %d IPv6 (addrs-learned %d)"
               % (m["learned-macs"], m["learned-ipv4"], m["learned-ipv6"],
                  st["addrs-learned"]),
               {"query-migration": m, "guest-console": console[-2000:]})

        # A -> B, then back to A
        g, _ = pair.migrate(g, a, b)
        a.wait_state("vm1", "none", 20)
        b.wait_state("vm1", "none", 20)
        time.sleep(1.0)
        ma = a.migration("vm1")
        tap.ok(ma["learned-macs"] == 0 and ma["learned-ipv4"] == 0 and ma["learned-ipv6"] == 0,
               "hosta forgot the guest's addresses once it had left: %d (MAC, VLAN) pairs, "
               "%d IPv4, %d IPv6" % (ma["learned-macs"], ma["learned-ipv4"],
                                     ma["learned-ipv6"]), {"query-migration": ma})
        mb = b.migration("vm1")
        frames_b = b.stats("vm1")["announce-frames"]
        # the namespace's cache has a wrong link-layer address for the
        # guest's IPv6 address
        ns.run(["ip", "-6", "neigh", "replace", IP6, "lladdr", BOGUS, "dev", "br0", "nud",
                "stale"])
        before_neigh = neigh_of(ns, IP6)
        frames_a0 = a.stats("vm1")["announce-frames"]
        ask = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        ask.bind(("br0", 0))
        cap = Capture(ns, tap_a)
        # the namespace's NS probes (FAKE's questions go out of br0 too)
        cap_ns = Capture(ns, "br0", outgoing=True)
        t0 = time.time()
        g, resumed = pair.migrate(g, b, a)
        # FAKE asks the guest for its addresses: its answers teach hosta
        t_ask = time.time()
        ll2 = link_local(MAC2)
        for f in (echo_request_frame(vt.strip_prefix(IP)), ns_frame(IP6), ns_frame(ll2, VID)):
            ask.send(f)
        time.sleep(1.5)     # the 4 rounds: 0, 50, 200, 450 ms
        frames = cap.stop()
        ns_frames = cap_ns.stop()
        after_neigh = neigh_of(ns, IP6)
        frames_a = a.stats("vm1")["announce-frames"] - frames_a0

        # no neighbour solicitation from the namespace for the guest's address
        probes = [f for _t, _v, f in ns_frames
                  if len(f) >= 14 + 40 + 24 and f[12:14] == b"\x86\xdd" and f[20] == 58
                  and f[54] == 135 and f[6:12] not in (mac_bytes(MAC), mac_bytes(FAKE))
                  and socket.inet_ntop(socket.AF_INET6, f[62:78]) == IP6]
        tap.ok(MAC in after_neigh and BOGUS not in after_neigh and not probes
               and ("STALE" in after_neigh or "REACHABLE" in after_neigh),
               "the namespace's neighbour entry of %s has the guest's MAC again from the "
               "unsolicited NA, without a probe (%d NS sent): '%s' -> '%s'"
               % (IP6, len(probes), before_neigh, after_neigh))

        ann = classify(frames, t0)
        rarp2 = [x for x in ann["rarp"] if x[1] == VID and x[2] == MAC2]
        na_vlan = [x for x in ann["na"] if x[1] == VID and x[2] == (ll2, MAC2)]
        na_ip6 = [x for x in ann["na"] if x[1] is None and x[2] == (IP6, MAC)]
        garp = [x for x in ann["garp"] if x[1] is None and x[2] == vt.strip_prefix(IP)]
        stale = [x for k in ("garp", "na", "na_bad") for x in ann[k] if x[0] < t_ask] + \
            [x for x in ann["rarp"] if x[0] < t_ask and x[2] != MAC]
        rounds = [round((t - resumed) * 1000) for t, _v, _i in rarp2]
        tap.ok(all(2 <= len(x) <= 4 for x in (rarp2, na_vlan, na_ip6, garp))
               and not ann["na_bad"] and not stale,
               "on the wire from hosta: %d RARPs from MAC2 tagged %d (at %s ms after the "
               "resume; the guest was asked at %d ms), %d NAs tagged %d for %s, %d untagged "
               "NAs for %s, %d gratuitous ARPs for %s; %d malformed NAs; %d announcements "
               "before the guest was asked"
               % (len(rarp2), VID, rounds, round((t_ask - resumed) * 1000), len(na_vlan), VID,
                  ll2, len(na_ip6), IP6, len(garp), vt.strip_prefix(IP), len(ann["na_bad"]),
                  len(stale)),
               {k: [(round((t - resumed) * 1000), v, i) for t, v, i in x][:12]
                for k, x in ann.items()})
        tap.ok(frames_a >= 4 + 2 * 4,
               "hosta's announce-frames: %d in 4 rounds (hostb's, whose table had only what "
               "the guest sent after the resume: %d frames, learned %d MACs, %d IPv4, %d IPv6)"
               % (frames_a, frames_b, mb["learned-macs"], mb["learned-ipv4"],
                  mb["learned-ipv6"]))
        tap.diag("this machine's kernel has no 802.1Q devices and no bridge VLAN filtering: "
                 "br0 is VLAN-unaware, VLAN %d is checked on the wire" % VID)
    finally:
        if g:
            g.stop()
        pair.stop()


def main():
    return vt.netns_main(5, "ann", scenario, ipv6=True)


if __name__ == "__main__":
    sys.exit(main())
