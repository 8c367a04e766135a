# SPDX-License-Identifier: BSD-3-Clause
"""Two vhost-shims standing for two hosts, one VM port each, and the VM
migrating between them: the harness of the lossless-migration tests.

``Pair`` starts hosta and hostb in a test namespace (tunnel listeners on its
loopback, each the other's peer, a pre-shared key), adds port vm1 (MAC) to
both, boots the VM on hosta and migrates it back and forth (``migrate``,
``held_blackout`` for a blackout held open with pause-before-switchover);
``TlsPair`` is the same with tls=x509 certificates from one CA
(vshimtest.certs).  The helpers read what the tests check: a guest stream
received in full (``wait_received``), the seqs a source resent from
(``resend_points``), where a lost datagram went (``diagnose_loss``), and
the namespace's TCP retransmissions and D-SACKs around a migration
(``tcp_counters``, ``tcp_delta``).

Used by the migration tests (tests/e2e/test_migration.py, test_postcopy.py...):
``from vshimtest.pair import Pair`` (not star-exported by vshimtest: the
constants below are the migration tests' own).
"""

import bisect
import json
import os
import re
import socket
import struct
import threading
import time

from .certs import tls_make_host
from .env import wait_for
from .guest import Guest
from .shim import Shim, wait_stream, write_key
from .traffic import UdpSender

MAC = "52:54:00:77:02:01"
IP = "10.77.0.21/24"
PORT_A, PORT_B = 7401, 7402
# A pre-copy max-bandwidth (bytes/s) with which a migration cannot converge
# until it is raised: how the tests hold a pre-copy open
LONG_THROTTLE = 1 << 20

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


class Pair:
    """Two shims, one VM port each (same VM), and the VM on one of them."""

    # the path's MTU (None: every default); a class attribute too, for the
    # subclasses that build their own shims without Pair.__init__ (Trio,
    # ProxyPair, TlsPair)
    mtu = None

    def __init__(self, ns, workdir, tap, port_opts=None, key_b=None, guest_append=TUNED_GUEST,
                 shim_args=None, mtu=None):
        """mtu: the MTU of the whole path: the ports' key, QEMU's host_mtu=,
        the guest's eth0 (vshim.mtu) and the namespace's bridge, from which
        the host traffic leaves (None: everything at its default)."""
        self.ns = ns
        self.mtu = mtu
        self.guest_append = guest_append
        if mtu:
            self.guest_append = ("%s vshim.mtu=%d" % (guest_append, mtu)).strip()
        self.workdir = workdir
        self.tap = tap
        os.makedirs(workdir, exist_ok=True)
        self.key = os.path.join(workdir, "psk.key")
        write_key(self.key)
        key_b_path = self.key
        if key_b:
            key_b_path = os.path.join(workdir, "psk-b.key")
            write_key(key_b_path, key_b)
        opts = {"linger-ms": 1000}
        if mtu:
            opts["mtu"] = mtu
        opts.update(port_opts or {})
        self.shims = [
            Shim(ns, "hosta", workdir, tunnel_port=PORT_A, peers={"hostb": PORT_B},
                         key_file=self.key, extra_args=shim_args),
            Shim(ns, "hostb", workdir, tunnel_port=PORT_B, peers={"hosta": PORT_A},
                         key_file=key_b_path, extra_args=shim_args),
        ]
        for s in self.shims:
            s.add_port("vm1", MAC, **opts)
            s.start()
        if mtu:
            # the shims set their taps' MTU (net_tap, uplink.c); the
            # bridge, the namespace's own interface, is the test's
            ns.set_mtu(ns.bridge, mtu)
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
        return Guest(shim.port("vm1").netdev(mtu=self.mtu), ns=self.ns, name=name, ip=IP, mac=MAC,
                        workdir=os.path.join(self.workdir, name), incoming=incoming,
                        append=self.guest_append)

    @property
    def src(self):
        return self.shims[self.cur]

    @property
    def dst(self):
        return self.shims[1 - self.cur]

    def start_incoming(self):
        return self._guest(self.dst, incoming=True).start().wait_incoming_socket()

    def arm(self, explicit=False):
        """Arm the destination (auto mode: it announces itself to the
        source); explicit: also tell the source its peer."""
        self.dst.execute("migrate-expect", {"port": "vm1"})
        if explicit:
            self.src.execute("migrate-set-peer", {"port": "vm1", "peer": self.dst.name})
        wait_for(lambda: self.src.migration("vm1").get("peer") == self.dst.name, 10, 0.02,
                    "source to learn its destination")

    def finish(self, dg, settle=True):
        """After a completed migration: stop the old QEMU, flip roles, wait
        for both shims to settle (replay done, linger over)."""
        old = self.guest
        self.guest = dg
        old.stop()
        self.cur = 1 - self.cur
        if settle:
            self.settle()

    def settle(self, timeout=20):
        """Wait for both shims' vm1 to be in state none (replay done,
        linger over), the current one first."""
        self.shims[self.cur].wait_state("vm1", "none", timeout)
        self.shims[1 - self.cur].wait_state("vm1", "none", timeout)

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
        snd = UdpSender(self.ns, g.addr, pps=pps, duration=600, size=100).start()
        time.sleep(1.5)
        dg = self.start_incoming()
        self.arm()
        g.qmp("migrate-set-capabilities", capabilities=[
            {"capability": "pause-before-switchover", "state": True}])
        g.qmp("migrate", uri=dg.incoming_uri)
        wait_for(lambda: g.qmp("query-migrate").get("status") == "pre-switchover", 60, 0.05,
                    "pre-switchover")
        wait_for(lambda: self.src.migration("vm1")["state"] == "src-blackout", 10, 0.02,
                    "source blackout")
        return snd, dg

    def stop(self):
        if self.guest:
            self.guest.stop()
        return [s.stop() for s in self.shims]


def wait_received(g, n, stream=0, timeout=15):
    return wait_stream(g, n, stream, timeout)


TCP_COUNTERS = ("TcpRetransSegs", "TcpExtTCPDSACKRecv", "TcpExtTCPDSACKRecvSegs")


def tcp_counters(ns):
    """The namespace's stack's (the sender's) TCP segments retransmitted
    so far, and D-SACKs received: a receiver D-SACKs a segment it already
    had, so a retransmission answered by one was spurious (its original
    was not lost, only late: held by the shim while the sender's RTO
    fired)."""
    out = ns.run(["nstat", "-az"] + list(TCP_COUNTERS)).stdout
    got = {k: 0 for k in TCP_COUNTERS}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in got:
            got[f[0]] = int(f[1])
    return got


def tcp_sockets_retransmitting(ns):
    """The namespace's TCP sockets that retransmitted, from `ss -tin`:
    ["LOCAL > PEER retrans:CUR/TOTAL dsack_dups:N ..."], for telling which
    connection a namespace-wide TcpRetransSegs belongs to (the shims'
    tunnel runs on the namespace's loopback too).  Diagnostics only."""
    try:
        out = ns.run(["ss", "-tinH"]).stdout.splitlines()
    except Exception as e:  # noqa: BLE001 - diagnostics only
        return ["error: %s" % e]
    res = []
    for head, info in zip(out[0::2], out[1::2]):
        if "retrans:" in info:
            f = head.split()
            keep = [w for w in info.split() if w.split(":")[0] in
                    ("retrans", "dsack_dups", "lost", "reord_seen", "bytes_retrans")]
            res.append("%s > %s %s" % (f[-2] if len(f) >= 2 else "?", f[-1] if f else "?",
                                       " ".join(keep)))
    return res


def tcp_delta(a, b):
    """{"retransmitted": n, "dsack": n, "dsack_segs": n} between two
    tcp_counters(): dsack counts the ACKs that carried a D-SACK, dsack_segs
    the segments they covered (one D-SACK block can cover two retransmitted
    segments back to back)."""
    return {"retransmitted": b["TcpRetransSegs"] - a["TcpRetransSegs"],
            "dsack": b["TcpExtTCPDSACKRecv"] - a["TcpExtTCPDSACKRecv"],
            "dsack_segs": b["TcpExtTCPDSACKRecvSegs"] - a["TcpExtTCPDSACKRecvSegs"]}


def link_drops(ns):
    """The namespace's interfaces that dropped frames, {ifname: {"rx": n,
    "tx": n}}: a shim's net_tap uplink counts in "tx" the frames the
    kernel could not queue to it (its queue full while the shim's lcore
    was off the CPU), which no counter of the shim sees."""
    try:
        links = json.loads(ns.run(["ip", "-s", "-j", "link"]).stdout)
        return {l["ifname"]: {d: l["stats64"][d]["dropped"] for d in ("rx", "tx")}
                for l in links if l["stats64"]["rx"]["dropped"] or l["stats64"]["tx"]["dropped"]}
    except Exception as e:  # noqa: BLE001 - diagnostics only
        return {"error": str(e)}


def host_drop_counters(ns, guest_ip=None):
    """Everything in the test namespace that can drop a frame on its way
    from a host sender to a shim's uplink, for the books of a loss the
    shims did not count: each link's packets and drops ("ip -s link"; a
    net_tap uplink counts in tx_dropped what the kernel could not queue to
    the shim), the qdiscs' drops and overlimits ("tc -s qdisc"), the
    neighbour cache's unresolved_discards (frames queued for an ARP answer
    that did not come in time, /proc/net/stat/arp_cache, summed over CPUs),
    the namespace's Ip OutDiscards/OutNoRoutes and Udp SndbufErrors/
    OutDatagrams (/proc/net/snmp), and with guest_ip its neighbour entry."""
    out = {}
    try:
        links = json.loads(ns.run(["ip", "-s", "-j", "link"]).stdout)
        out["links"] = {l["ifname"]: {"%s_%s" % (d, k): l["stats64"][d][k]
                                      for d in ("rx", "tx") for k in ("packets", "dropped")}
                        for l in links if l["ifname"] != "lo"}
        qd = json.loads(ns.run(["tc", "-s", "-j", "qdisc", "show"]).stdout)
        out["qdiscs"] = {"%s %s" % (q.get("dev"), q.get("kind")): {
            k: q.get(k, 0) for k in ("packets", "drops", "overlimits", "requeues")}
            for q in qd if q.get("dev") != "lo"}
        with open("/proc/net/stat/arp_cache") as f:  # init_net only, all namespaces'
            lines = f.read().split("\n")
        col = lines[0].split().index("unresolved_discards")
        out["arp_unresolved_discards"] = sum(int(l.split()[col], 16) for l in lines[1:] if l)
        from .traffic import parse_snmp
        snmp = parse_snmp(ns.run(["cat", "/proc/net/snmp"]).stdout)
        out["ip"] = {k: snmp["Ip"][k] for k in ("OutRequests", "OutDiscards", "OutNoRoutes")}
        out["udp"] = {k: snmp["Udp"][k] for k in ("OutDatagrams", "SndbufErrors")}
        if guest_ip:
            out["neigh"] = ns.run(["ip", "neigh", "show", guest_ip.split("/")[0]]).stdout.strip()
    except Exception as e:  # noqa: BLE001 - diagnostics only
        out["error"] = str(e)
    return out


class FrameLog:
    """The frames the kernel hands to one interface of the namespace (an
    AF_PACKET socket on it, a thread reading), for telling what a shim's
    drop counter counted: start(), stop() -> [(host monotonic s, dst MAC,
    ethertype, summary)], summary "udp DPORT seq N" for a test datagram
    (tests/lib/proto.py's header), "arp OP SENDER-IP (SENDER-MAC) >
    TARGET-IP" for ARP, else "from SOURCE-MAC"."""

    def __init__(self, ns, ifname):
        self.sock = ns.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((ifname, 0))
        self.sock.settimeout(0.1)
        self.frames = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop:
            try:
                b = self.sock.recv(128)
            except socket.timeout:
                continue
            except OSError:
                return
            t = time.monotonic()
            et = struct.unpack("!H", b[12:14])[0]
            what = ""
            if et == 0x0800 and b[23] == 17 and len(b) >= 50:
                what = "udp %d seq %d" % (struct.unpack("!H", b[36:38])[0],
                                          struct.unpack("!Q", b[50:58])[0] if len(b) >= 58
                                          else -1)
            elif et == 0x0806 and len(b) >= 42:
                what = "arp %d %s (%s) > %s" % (struct.unpack("!H", b[20:22])[0],
                                                socket.inet_ntoa(b[28:32]), b[22:28].hex(":"),
                                                socket.inet_ntoa(b[38:42]))
            else:
                what = "from %s" % b[6:12].hex(":")
            self.frames.append((t, b[0:6].hex(":"), "%04x" % et, what))

    def stop(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()
        return self.frames


def counters_delta(after, before):
    """after - before for the numbers of two nested dicts of counters (as
    host_drop_counters() returns); other values as in after."""
    if isinstance(after, dict):
        return {k: counters_delta(v, before.get(k, {}) if isinstance(before, dict) else {})
                for k, v in after.items()}
    if isinstance(after, int) and isinstance(before, int):
        return after - before
    return after


def missing_ranges(guest, stream, sent, limit=10):
    """The seqs of @stream (0..sent-1) the guest never received, as up to
    @limit ranges [(first, last, arrival_us_before, arrival_us_after)]:
    the guest's arrival times of the datagrams received just before and
    after each hole place it against the migration (diagnostics)."""
    try:
        tl = guest.timeline(stream)
    except Exception as e:  # noqa: BLE001 - diagnostics only
        return "no timeline: %s" % e
    at = {}
    for t, seq in tl:
        at.setdefault(seq, t)
    out, q = [], 0
    while q < sent and len(out) < limit:
        if q in at:
            q += 1
            continue
        first = q
        while q < sent and q not in at:
            q += 1
        out.append((first, q - 1, at.get(first - 1), at.get(q)))
    return out


def overtaken(guest, stream):
    """The datagrams of @stream that reached the guest after a higher seq,
    as [(seq, how_many_higher_seqs_arrived_before_it)], from the guest's
    arrival timeline (first arrival of each seq)."""
    seen, out, higher = set(), [], []
    for _t, seq in guest.timeline(stream):
        if seq in seen:
            continue
        seen.add(seq)
        n = len(higher) - bisect.bisect_right(higher, seq)
        if n:
            out.append((seq, n))
        bisect.insort(higher, seq)
    return out


def diagnose_loss(tap, pair, per, sent):
    """A datagram is missing: say which, in which migration, and what the
    guest received around it (arrival times), for the failure's log."""
    try:
        tl = pair.guest.timeline(0)
    except Exception as e:  # noqa: BLE001 - diagnostics only
        tap.diag("no timeline: %s" % e)
        return
    tap.diag("namespace links with drops: %s" % link_drops(pair.ns))
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


def resend_points(shim):
    """The seqs the source's stream resent from, one per VM_ACCEPT, from
    its log ("stream N accepted by hostb, resend from X")."""
    return [int(m) for m in re.findall(r"accepted by \S+, resend from (\d+)", shim.log_text())]


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
        self.mtu = None
        self.guest_append = TUNED_GUEST
        self.workdir = workdir
        self.tap = tap
        opts = {"linger-ms": 1000}
        self.shims = []
        for name, port, peer, peer_port in (("hosta", PORT_A, "hostb", PORT_B),
                                            ("hostb", PORT_B, "hosta", PORT_A)):
            d = tls_make_host(ca, os.path.join(workdir, "pki-" + name), name)
            conf = tls_config(workdir, name, d)
            s = Shim(ns, name, workdir, tunnel_port=port, peers={peer: peer_port},
                             extra_args=["--config", conf])
            s.add_port("vm1", MAC, **opts)
            self.shims.append(s)
        for s in self.shims:
            s.start()
        self.cur = 0
        self.gen = 0
        self.guest = None
        self.downtimes = []
