# SPDX-License-Identifier: BSD-3-Clause
"""Real QEMU live migrations for bench/migrations and bench/scale.

A ``HostPair`` is two "hosts" on the test bridge, either two vhost-shims
(tunnel between them, pre-shared key, auto-announce as the libvirt hook
does) or two plain dpdk-testpmd backends (tests/lib/testpmd.py), with one or
more VMs (the TCG test guest) that migrate back and forth A -> B -> A...
Per migration the guest agent is reset first, so its counters (lost since
the first datagram after the reset, reordered, duplicated, longest gap, the
arrival timeline) describe that migration alone.
"""

import os
import threading
import time

import benchlib as bl

vt = bl.vt
shimlib = bl.shimlib
import testpmd  # noqa: E402  (tests/lib)

_port_base = [7600]


class HostPair:
    def __init__(self, ns, wd, kind, nvms=1):
        self.ns, self.wd, self.kind = ns, wd, kind
        os.makedirs(wd, exist_ok=True)
        self.vms = ["vm%d" % (i + 1) for i in range(nvms)]
        self.macs = {vm: "52:54:00:b2:%02x:%02x" % (nvms, i + 1) for i, vm in enumerate(self.vms)}
        self.ips = {vm: "10.77.0.%d/24" % (60 + i) for i, vm in enumerate(self.vms)}
        self.guests = {}
        self.cur = 0
        self.gen = 0
        if kind == "shim":
            _port_base[0] += 2
            pa, pb = _port_base[0], _port_base[0] + 1
            key = os.path.join(wd, "psk.key")
            shimlib.write_key(key)
            self.hosts = [
                shimlib.Shim(ns, "hosta", wd, tunnel_port=pa, peers={"hostb": pb}, key_file=key,
                             memory_mb=256 + 128 * nvms),
                shimlib.Shim(ns, "hostb", wd, tunnel_port=pb, peers={"hosta": pa}, key_file=key,
                             memory_mb=256 + 128 * nvms)]
            for h in self.hosts:
                for vm in self.vms:
                    h.add_port(vm, self.macs[vm], **{"linger-ms": 1000})
                h.start()
        else:
            if nvms != 1:
                raise ValueError("the testpmd pair serves one VM")
            self.hosts = [testpmd.TestpmdHost(ns, "hosta", wd).start(),
                          testpmd.TestpmdHost(ns, "hostb", wd).start()]

    def netdev(self, host, vm):
        if self.kind == "shim":
            return host.port(vm).netdev()
        return host.netdev()

    def _guest(self, host, vm, incoming):
        self.gen += 1
        name = "%s-g%d" % (vm, self.gen)
        return vt.Guest(self.netdev(host, vm), ns=self.ns, name=name, ip=self.ips[vm],
                        mac=self.macs[vm], workdir=os.path.join(self.wd, name),
                        incoming=incoming)

    def boot(self):
        for vm in self.vms:
            g = self._guest(self.hosts[0], vm, False)
            g.start()
            self.guests[vm] = g
        for g in self.guests.values():
            g.wait_ready(timeout=180)
        return self

    @property
    def src(self):
        return self.hosts[self.cur]

    @property
    def dst(self):
        return self.hosts[1 - self.cur]

    def prepare(self, vm):
        """Start the incoming QEMU on the destination and arm it."""
        dg = self._guest(self.dst, vm, True)
        dg.start()
        sock = dg.incoming_uri[len("unix:"):]
        vt.wait_for(lambda: os.path.exists(sock) or not dg.alive(), 60, 0.05,
                    "incoming migration socket")
        # read the destination's QMP greeting now, while it waits: connected
        # only after the switchover, it can meet an event first (harness race)
        dg.qmp_client()
        if self.kind == "shim":
            self.dst.execute("migrate-expect", {"port": vm})
            src = self.src
            vt.wait_for(lambda: src.migration(vm).get("peer") == self.dst.name, 10, 0.02,
                        "source to learn its destination")
        return dg

    def migrate(self, vm, dg):
        """Migrate vm to the prepared dg; returns QEMU's downtime (ms)."""
        d = self.guests[vm].migrate_to(dg, timeout=300)
        old = self.guests[vm]
        self.guests[vm] = dg
        old.stop()
        return d

    def flip(self):
        self.cur = 1 - self.cur
        if self.kind == "shim":
            for h in self.hosts:
                for vm in self.vms:
                    try:
                        h.wait_state(vm, "none", 30)
                    except TimeoutError:
                        pass

    def shim_summary(self, vm):
        if self.kind != "shim":
            return {}
        old, new = self.dst, self.src      # after flip(): src holds the VM now
        so, sn = old.stats(vm), new.stats(vm)
        return {"buffered_at_source": sum(so["buffered-pkts"].values()),
                "tunnelled": so["tunnel-tx-frames"], "blackout_ms": so["last-blackout-us"] / 1e3,
                "replayed_at_destination": sn["replayed-pkts"],
                "drops": {h.name: {k: v for k, v in h.stats(vm)["drops"].items() if v}
                          for h in self.hosts}}

    def stop(self):
        for g in self.guests.values():
            g.stop()
        for h in self.hosts:
            h.stop()


def per_migration(st, downtime):
    return {"lost": st.get("lost_since_first", st.get("lost", 0)),
            "received": st.get("received", 0),
            "reordered": st.get("reordered", 0), "duplicated": st.get("duplicated", 0),
            "corrupted": st.get("corrupted", 0),
            "max_gap_ms": st.get("max_gap_us", 0) / 1000.0, "downtime_ms": downtime}


def udp_migrations(pair, pps, count, timeline_file=None, settle=1.5):
    """count migrations of the pair's VMs (all at once) under pps of UDP to
    each; returns a list (per migration) of {vm: figures}."""
    out = []
    senders = {vm: vt.UdpSender(pair.ns, pair.guests[vm].addr, pps=pps, duration=3600,
                                size=100, stream=0).start() for vm in pair.vms}
    try:
        time.sleep(2.0)
        for i in range(count):
            for vm in pair.vms:
                pair.guests[vm].reset()
            time.sleep(0.5)
            dgs = {vm: pair.prepare(vm) for vm in pair.vms}
            downs, errs = {}, []

            def mig(vm):
                try:
                    downs[vm] = pair.migrate(vm, dgs[vm])
                except Exception as e:      # reported below
                    errs.append(e)
            ths = [threading.Thread(target=mig, args=(vm,)) for vm in pair.vms]
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            if errs:
                raise errs[0]
            pair.flip()
            time.sleep(settle)
            row = {}
            for vm in pair.vms:
                st = vt.stream_stats(pair.guests[vm].stats(), 0)
                row[vm] = per_migration(st, downs[vm])
                row[vm].update(pair.shim_summary(vm))
            if timeline_file and i == 0:
                tl = pair.guests[pair.vms[0]].timeline(0)
                with open(timeline_file, "w") as f:
                    for us, seq in tl:
                        f.write("%d %d\n" % (us, seq))
            bl.log("%s %d pps migration %d: %s" % (pair.kind, pps, i + 1, row))
            out.append(row)
    finally:
        for s in senders.values():
            s.stop()
    return out


def tcp_retrans(ns):
    out = ns.run(["nstat", "-az", "TcpRetransSegs"]).stdout
    for line in out.splitlines():
        if line.startswith("TcpRetransSegs"):
            return int(line.split()[1])
    return 0


def tcp_migration(pair, nbytes=72 << 20, rate=6 << 20):
    """One migration under a TCP stream host -> guest (as
    tests/e2e/test_migration.py scenario_tcp): longest gap the guest saw,
    segments the host retransmitted around the migration."""
    vm = pair.vms[0]
    g = pair.guests[vm]
    g.reset()
    snd = vt.TcpSender(pair.ns, g.addr, nbytes, timeout=120, rate=rate).start()
    try:
        time.sleep(min(3.0, nbytes / rate / 4))
        r0 = tcp_retrans(pair.ns)
        dg = pair.prepare(vm)
        down = pair.migrate(vm, dg)
        pair.flip()
        time.sleep(2.0)
        r1 = tcp_retrans(pair.ns)
        res = snd.wait(timeout=150)
    except BaseException:
        snd.stop()
        raise
    tcp = pair.guests[vm].stats()["tcp"]
    return {"ok": bool(res.get("ok")), "bytes": res.get("sent"),
            "guest_bytes": tcp.get("last_conn_bytes") or tcp.get("bytes"),
            "corrupted": tcp.get("corrupted", 0),
            "max_gap_ms": tcp.get("max_gap_us", 0) / 1000.0, "retransmitted": r1 - r0,
            "downtime_ms": down}
