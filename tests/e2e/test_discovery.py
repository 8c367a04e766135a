#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: live migrations armed through the etcd registry ([discovery]).

A real etcd (Debian's etcd-server) runs inside the test namespace on its
loopback, with a data directory of its own, and is killed by PID.  Two
"hosts" (shims hosta and hostb, net_tap uplinks on the namespace's bridge,
a tunnel listener each, one pre-shared key) register in it.

  1. No [peer] section anywhere.  The VM's port on hosta has vm-uuid=U in
     its configuration; hostb's has none.  Each migration is armed as the
     libvirt hook arms it: migrate-expect with vm-uuid on the destination
     only.  The destination writes vm/U; the source, which watches vm/U,
     learns where the VM goes from the registry (the time from
     migrate-expect to the source knowing is measured), adds that node as a
     tunnel peer, and the migration under 5000 pps of UDP loses nothing.
     A->B (hosta watches U from its configuration), then B->A (hostb
     learned U from the migration that brought the VM).  The expectation's
     key is revoked once the VM has been replayed; the source forgets.
  2. A second pair with [peer] sections and the same registry: etcd is
     killed (SIGKILL) before arming; explicit arming on both sides (as
     `vshimctl migrate` does) still migrates with 0 lost, and the failed
     registry requests are counted (query-discovery).
  3. etcd over https with client certificates required (--client-cert-auth,
     certificates made with certtool): a shim with etcd-ca, etcd-cert and
     etcd-key from etcd's CA registers; a client certificate from another
     CA, and an etcd-ca that does not sign etcd's server certificate, are
     refused: failures counted, the daemons run on.

TAP output; exit 77 without root/QEMU/etcd/certtool outside CI (a failure with CI=true).
"""

import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest.certs import tls_make_ca, tls_make_host  # noqa: E402

MAC = "52:54:00:77:03:01"
IP = "10.77.0.31/24"
UUID = "3f2c6a1e-7b4d-4e8a-9c21-5d0e7f9a1b33"
ETCD_CLIENT, ETCD_PEER = 23791, 23801
ETCD_TLS_CLIENT, ETCD_TLS_PEER = 23792, 23802
PORT_A, PORT_B = 7411, 7412
PORT_C, PORT_D, PORT_E = 7413, 7414, 7415
PPS = 5000
# The guest of the lossless migration tests (TUNED_GUEST in
# tests/lib/vshimtest/pair.py): an 8 MB receive buffer for its UDP sink, since a TCG guest on
# this 2-core machine loses datagrams in its own socket right after a resume
# even when nothing is replayed; these checks are about the shims
TUNED_GUEST = "vshim.rcvbuf=8388608"


def require():
    if not shutil.which("etcd"):
        vt.skip_or_fail("etcd not found (Debian package etcd-server; tools/install-deps.sh)")


class Etcd:
    """One etcd member on the namespace's loopback, its own data directory;
    with tls (a tls_make_host() directory), https with client certificates
    required (--client-cert-auth), as etcd's security guide describes."""

    def __init__(self, ns, workdir, client_port=ETCD_CLIENT, peer_port=ETCD_PEER, tls=None):
        self.ns = ns
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", client_port)
        name = "vst-tls" if tls else "vst"
        self.dir = os.path.join(workdir, name + "-data")
        self.log = open(os.path.join(workdir, name + ".log"), "ab")
        peer = "http://127.0.0.1:%d" % peer_port
        argv = ["etcd", "--name", name, "--data-dir", self.dir,
                "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", name + "=" + peer]
        if tls:
            argv += ["--cert-file", os.path.join(tls, "server-cert.pem"),
                     "--key-file", os.path.join(tls, "server-key.pem"),
                     "--client-cert-auth",
                     "--trusted-ca-file", os.path.join(tls, "ca-cert.pem")]
        self.proc = ns.popen(argv, stdout=self.log, stderr=self.log)

    def kill(self):
        """SIGKILL by PID: etcd dies as a crashed host would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.ns.kill(self.proc)

    def stop(self):
        self.kill()
        self.log.close()


def discovery(shim):
    return shim.execute("query-discovery")


def registered(shim):
    return discovery(shim).get("registration") == "registered"


class Pair:
    """Two shims on one etcd, one VM port each, the VM on one of them."""

    def __init__(self, ns, workdir, etcd, static_peers):
        self.ns = ns
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        key = os.path.join(workdir, "psk.key")
        shimlib.write_key(key)
        disc = ["--etcd", etcd.url]
        self.shims = [
            shimlib.Shim(ns, "hosta", workdir, tunnel_port=PORT_A, key_file=key,
                         peers={"hostb": PORT_B} if static_peers else None, extra_args=disc),
            shimlib.Shim(ns, "hostb", workdir, tunnel_port=PORT_B, key_file=key,
                         peers={"hosta": PORT_A} if static_peers else None, extra_args=disc),
        ]
        # only the VM's first host knows its UUID from its configuration
        self.shims[0].add_port("vm1", MAC, **{"linger-ms": 1000, "vm-uuid": UUID})
        self.shims[1].add_port("vm1", MAC, **{"linger-ms": 1000})
        for s in self.shims:
            s.start()
        self.cur = 0
        self.gen = 0
        self.guest = None

    @property
    def src(self):
        return self.shims[self.cur]

    @property
    def dst(self):
        return self.shims[1 - self.cur]

    def _guest(self, shim, incoming):
        self.gen += 1
        name = "g%d" % self.gen
        return vt.Guest(shim.port("vm1").netdev(), ns=self.ns, name=name, ip=IP, mac=MAC,
                        workdir=os.path.join(self.workdir, name), incoming=incoming,
                        append=TUNED_GUEST)

    def boot(self):
        self.guest = self._guest(self.shims[0], incoming=False)
        self.guest.start()
        self.guest.wait_ready(timeout=90)
        return self.guest

    def start_incoming(self):
        return self._guest(self.dst, incoming=True).start().wait_incoming_socket()

    def migrate(self, arm):
        """Start the incoming QEMU, arm(), migrate, flip roles, settle."""
        dg = self.start_incoming()
        learned_ms = arm()
        downtime = self.guest.migrate_to(dg)
        old = self.guest
        self.guest = dg
        old.stop()
        self.cur = 1 - self.cur
        for s in self.shims:
            s.wait_state("vm1", "none", 20)
        return downtime, learned_ms

    def arm_hook(self):
        """What the libvirt hook does: migrate-expect with the VM's uuid on
        the destination, nothing on the source.  Returns the ms until the
        source knows its destination."""
        t0 = time.monotonic()
        self.dst.execute("migrate-expect", {"port": "vm1", "vm-uuid": UUID, "vm-name": "vm1"})
        vt.wait_for(lambda: self.src.migration("vm1").get("peer") == self.dst.name, 10, 0.005,
                    "source to learn its destination from the registry")
        return (time.monotonic() - t0) * 1000

    def arm_explicit(self):
        """What `vshimctl migrate` does: both sides, no registry needed."""
        t0 = time.monotonic()
        self.dst.execute("migrate-expect", {"port": "vm1", "vm-uuid": UUID})
        self.src.execute("migrate-set-peer", {"port": "vm1", "peer": self.dst.name})
        return (time.monotonic() - t0) * 1000

    def stop(self):
        if self.guest:
            self.guest.stop()
        return [s.stop() for s in self.shims]


def migrations_under_udp(pair, arm, n, tap):
    g = pair.boot()
    g.reset()
    snd = vt.UdpSender(pair.ns, g.addr, pps=PPS, duration=600, size=100).start()
    time.sleep(2)
    per = []
    for i in range(n):
        src, dst = pair.src, pair.dst
        d_before = discovery(dst)["counters"]
        s_before = discovery(src)["counters"]
        downtime, learned_ms = pair.migrate(arm)
        time.sleep(1.0)
        d_after, s_after = discovery(dst), discovery(src)
        per.append({"migration": "%s->%s" % (src.name, dst.name), "downtime_ms": downtime,
                    "learned_ms": round(learned_ms, 1),
                    "dst": {k: d_after["counters"][k] - d_before[k] for k in d_before},
                    "src": {k: s_after["counters"][k] - s_before[k] for k in s_before},
                    "dst_expectations": d_after["expectations"],
                    "src_watches": s_after["watches"]})
        tap.diag(str(per[-1]))
    time.sleep(1.0)
    sres = snd.stop()
    final = shimlib.wait_stream(pair.guest, sres["sent"])
    return sres, final, per


def phase_registry(ns, workdir, etcd, tap):
    pair = Pair(ns, os.path.join(workdir, "registry"), etcd, static_peers=False)
    try:
        vt.wait_for(lambda: all(registered(s) for s in pair.shims), 30, 0.1,
                    "both shims registered in etcd")
        da, db = discovery(pair.shims[0]), discovery(pair.shims[1])
        tap.ok(da["registration"] == "registered" and db["registration"] == "registered" and
               [p.get("watching") for p in da["ports"]] == [UUID] and
               not [p for p in db["ports"] if p.get("watching")] and
               da["reachable"] and db["reachable"],
               "both shims registered their node key; hosta watches its VM's UUID from its "
               "configuration, hostb watches nothing yet", {"hosta": da, "hostb": db})
        sres, final, per = migrations_under_udp(pair, pair.arm_hook, 2, tap)
        learned = [m["learned_ms"] for m in per]
        # the EXPECT broadcast had nobody to go to: the registry did it
        announced = [l.split("announced as expected to ")[1] for s in pair.shims
                     for l in s.log_text().splitlines() if "announced as expected to " in l]
        tap.ok(all(m["src"]["destinations-resolved"] >= 1 and
                   m["dst"]["expect-registrations"] == 1 and m["dst"]["request-failures"] == 0
                   and m["src"]["request-failures"] == 0 for m in per) and
               len(announced) == 2 and all(a == "0 peer(s)" for a in announced),
               "no [peer] anywhere, migrate-expect with vm-uuid on the destination only: the "
               "source learned its destination from the registry in %s ms (A->B by its "
               "configured vm-uuid, B->A by the one it migrated in with); EXPECT went to %s"
               % (learned, announced), per)
        tap.ok(shimlib.loss_counts(final) == shimlib.lossless(sres["sent"]),
               "%d pps of UDP through 2 migrations armed through the registry: %d sent, %d "
               "received, 0 lost/reordered/duplicated/corrupted" % (PPS, sres["sent"],
                                                                    final["received"]),
               {"sender": sres, "guest": final})
        tap.ok(all(m["dst"]["expect-revocations"] == 1 and not m["dst_expectations"] and
                   all("destination" not in w for w in m["src_watches"]) for m in per),
               "after each migration the destination revoked its VM key (VM arrived and "
               "replayed) and the source forgot that destination", per)
    finally:
        pair.stop()


def phase_etcd_killed(ns, workdir, etcd, tap):
    pair = Pair(ns, os.path.join(workdir, "killed"), etcd, static_peers=True)
    try:
        vt.wait_for(lambda: all(registered(s) for s in pair.shims), 30, 0.1,
                    "both shims registered in etcd")
        etcd.kill()
        before = discovery(pair.dst)["counters"]
        sres, final, per = migrations_under_udp(pair, pair.arm_explicit, 1, tap)
        tap.ok(shimlib.loss_counts(final) == shimlib.lossless(sres["sent"]),
               "etcd killed before arming: explicit arming on both sides, %d pps of UDP, "
               "%d sent, 0 lost/reordered/duplicated/corrupted" % (PPS, sres["sent"]),
               {"sender": sres, "guest": final, "per": per})
        # the migration done, the old destination is the source now
        d = discovery(pair.src)
        c = d["counters"]
        tap.ok(c["expect-failures"] > before["expect-failures"] and
               c["request-failures"] > before["request-failures"] and
               not d["reachable"] and c["expect-registrations"] == 0 and
               all(s.alive() for s in pair.shims),
               "the destination counted the registry's failure (expect-failures %d -> %d, "
               "request-failures %d -> %d), says etcd is unreachable, and runs on"
               % (before["expect-failures"], c["expect-failures"], before["request-failures"],
                  c["request-failures"]), d)
    finally:
        pair.stop()


def disc_config(workdir, node, etcd, ca, cert_dir):
    """A config file whose [discovery] reaches etcd over https: etcd-ca, and
    the client certificate of cert_dir (a tls_make_host() directory)."""
    path = os.path.join(workdir, "%s-disc.conf" % node)
    with open(path, "w") as f:
        f.write("[discovery]\netcd=%s\netcd-ca=%s\netcd-cert=%s\netcd-key=%s\n"
                % (etcd.url, ca, os.path.join(cert_dir, "server-cert.pem"),
                   os.path.join(cert_dir, "server-key.pem")))
    return path


def phase_etcd_tls(ns, workdir, state, tap):
    """etcd over https with --client-cert-auth: a shim with a client
    certificate from etcd's CA registers; one whose certificate comes from
    another CA, and one that does not trust etcd's server certificate, are
    refused, count the failures and run on."""
    workdir = os.path.join(workdir, "tls")
    os.makedirs(workdir, exist_ok=True)
    ca = tls_make_ca(os.path.join(workdir, "ca"), "etcd test CA")
    other = tls_make_ca(os.path.join(workdir, "other-ca"), "another CA")
    server = tls_make_host(ca, os.path.join(workdir, "etcd"), "etcd", ip="127.0.0.1")
    etcd = Etcd(ns, workdir, ETCD_TLS_CLIENT, ETCD_TLS_PEER, tls=server)
    state["pids"].append(etcd.proc.pid)
    key = os.path.join(workdir, "psk.key")
    shimlib.write_key(key)
    ca_pem = os.path.join(ca, "ca-cert.pem")
    cases = [  # node, tunnel port, etcd-ca, client certificate directory
        ("hostc", PORT_C, ca_pem, tls_make_host(ca, os.path.join(workdir, "c"), "hostc")),
        ("hostd", PORT_D, ca_pem, tls_make_host(other, os.path.join(workdir, "d"), "hostd")),
        ("hoste", PORT_E, os.path.join(other, "ca-cert.pem"),
         tls_make_host(ca, os.path.join(workdir, "e"), "hoste")),
    ]
    shims = []
    try:
        for node, port, etcd_ca, cert_dir in cases:
            conf = disc_config(workdir, node, etcd, etcd_ca, cert_dir)
            s = shimlib.Shim(ns, node, workdir, tunnel_port=port, key_file=key,
                             extra_args=["--config", conf])
            s.start()
            shims.append(s)
        good, bad_cert, bad_ca = shims
        vt.wait_for(lambda: registered(good), 30, 0.1, "hostc registered in etcd over TLS")
        dg = discovery(good)
        tap.ok(dg["registration"] == "registered" and dg["reachable"] and
               dg["counters"]["request-failures"] == 0,
               "etcd over https with --client-cert-auth: hostc, with a client certificate "
               "from etcd's CA, registered (%d requests, 0 failed)" % dg["counters"]["requests"],
               dg)
        vt.wait_for(lambda: all(discovery(s)["counters"]["request-failures"] >= 2
                                for s in (bad_cert, bad_ca)), 30, 0.1,
                    "failed etcd requests counted by hostd and hoste")
        db, de = discovery(bad_cert), discovery(bad_ca)
        tap.ok(all(d["registration"] != "registered" and not d["reachable"] and
                   d["counters"]["node-registrations"] == 0 for d in (db, de)) and
               all(s.alive() for s in shims),
               "refused and counted, the daemons run on: hostd's client certificate from "
               "another CA (request-failures %d), hoste not trusting etcd's server "
               "certificate (request-failures %d)"
               % (db["counters"]["request-failures"], de["counters"]["request-failures"]),
               {"hostd": db, "hoste": de})
    finally:
        for s in shims:
            s.stop()
        etcd.stop()


def main():
    def run(tap, state, workdir):
        vt.build_guest()
        with vt.NetNS() as ns:
            state["ns"] = ns.name
            etcd = Etcd(ns, workdir)
            state["pids"].append(etcd.proc.pid)
            try:
                phase_registry(ns, workdir, etcd, tap)
                phase_etcd_killed(ns, workdir, etcd, tap)
            finally:
                etcd.stop()
            tap.ok(etcd.proc.poll() is not None, "etcd (pid %d) is gone" % etcd.proc.pid)
            phase_etcd_tls(ns, workdir, state, tap)

    return vt.tap_main(9, "disc", run, require=require)


if __name__ == "__main__":
    sys.exit(main())
