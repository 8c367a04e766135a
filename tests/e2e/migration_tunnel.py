# SPDX-License-Identifier: BSD-3-Clause
"""The migration scenarios about the tunnel between the two shims:
tunnel-break, tunnel-cut-acked, bad-peer, unknown-vm and tls (see
test_migration.py, which runs them: ``test_migration.py tunnel-break``, and
whose docstring says what each checks).

The tunnel cut (iptables rejects with TCP resets) before a stream's first
frame and in the middle of an acknowledged stream, a peer with the wrong
key, a stream for a VM nobody expects, and x509 mutual TLS; the VM
lifecycle scenarios (udp, tcp, cancel, dst-down, stragglers, dst-restart,
long-precopy, back-to-back) stay in test_migration.py.  Same harness:
vshimtest.pair's Pair.
"""

import os
import subprocess
import sys
import time

_LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest.certs import tls_make_ca, tls_make_host  # noqa: E402
from vshimtest.pair import (MAC, PORT_A, PORT_B, Pair, TlsPair,  # noqa: E402
                            resend_points, tls_config, wait_received)

clean = shimlib.loss_counts


def iptables(ns, *args):
    return ns.run(["iptables"] + list(args), check=False)


# an iptables OUTPUT rule that answers every packet towards B's tunnel port
# with a TCP reset: the source's connection dies, and stays down until the
# rule goes
CUT_TO_B = ["-p", "tcp", "--dport", str(PORT_B), "-j", "REJECT", "--reject-with", "tcp-reset"]


def scenario_tunnel_break(ns, workdir, tap):
    # the destination holds live frames behind the tunnel for up to 5 s, so a
    # 1 s cut costs neither frames nor order
    pair = Pair(ns, workdir, tap, port_opts={"replay-hold-ms": 5000, "linger-ms": 4000})
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=3000, duration=600, size=100).start()
        time.sleep(1.5)
        dg = pair.start_incoming()
        pair.arm()
        # cut the tunnel (RST to every packet towards B) as soon as the
        # migration starts: the stream is open but idle then, so the first
        # blackout frame hits the cut; heal it 1 s into the blackout
        rule = CUT_TO_B
        pair.guest.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: pair.src.migration("vm1")["state"] in ("src-active", "src-blackout"),
                    60, 0.005, "migration start")
        r = iptables(ns, "-I", "OUTPUT", *rule)
        if r.returncode != 0:
            vt.skip_or_fail("iptables unusable: %s" % r.stderr)
        vt.wait_for(lambda: pair.src.migration("vm1")["state"] != "src-active", 60, 0.005,
                    "blackout")
        time.sleep(1.0)
        iptables(ns, "-D", "OUTPUT", *rule)
        vt.wait_for(lambda: pair.guest.qmp("query-migrate").get("status") == "completed",
                    60, 0.05, "migration completed")
        src = pair.src
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        st = src.stats("vm1")
        want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
                "corrupted": 0}
        peers = src.execute("query-peers")
        tap.ok(clean(final) == want and peers["reconnects"] >= 1,
               "tunnel cut with the stream open, before its first frame, and healed: %d "
               "reconnect(s), 0 lost, 0 duplicated"
               % peers["reconnects"], {"guest": final, "source": st, "peers": peers})
    finally:
        iptables(ns, "-F", "OUTPUT")
        pair.stop()


def scenario_tunnel_cut_acked(ns, workdir, tap):
    """The tunnel is cut in the middle of a stream the destination has
    partly received and acknowledged, with frames still coming, twice:

    1. In the blackout, held open with pause-before-switchover so that the
       stream runs for seconds.  Once B holds a few hundred tunnelled
       frames, every packet towards B is answered with a TCP reset (the
       source's connection dies with frames in flight or queued); 1 s
       later the rule goes.  Nothing is freed before RESUMED, so this
       shows the resume point: B's VM_ACCEPT names its next expected seq
       (what it really has) and the source resends from there, not from 1.
    2. After the switchover, while a static FDB entry keeps the VM's
       frames going to the source (stragglers): after RESUMED the source
       frees what B acknowledged, and resends from B's next expected seq
       out of what it kept.

    After both, the guest has every datagram once, in order."""
    pair = Pair(ns, workdir, tap, port_opts={"hold-ms": 30000, "replay-hold-ms": 5000,
                                             "linger-ms": 10000})
    rule = CUT_TO_B
    try:
        snd, dg = pair.held_blackout()
        g = pair.guest
        a, b = pair.src, pair.dst
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= 400, 20, 0.02,
                    "400 frames tunnelled to B")
        time.sleep(0.1)     # B acks as it goes: let some acks reach A
        r = iptables(ns, "-I", "OUTPUT", *rule)
        if r.returncode != 0:
            vt.skip_or_fail("iptables unusable: %s" % r.stderr)
        cut_rx = b.stats("vm1")["tunnel-rx-frames"]
        reconnects0 = a.execute("query-peers")["reconnects"]
        time.sleep(1.0)     # the source buffers; its reconnects are refused
        during_rx = b.stats("vm1")["tunnel-rx-frames"]
        iptables(ns, "-D", "OUTPUT", *rule)
        vt.wait_for(lambda: len(resend_points(a)) >= 2, 20, 0.05, "the stream re-accepted")
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= during_rx + 400, 20, 0.05,
                    "the stream flowing again")
        points = resend_points(a)
        peers_a = a.execute("query-peers")
        info = {"resend_from": points, "b_rx_at_cut": cut_rx, "b_rx_after_1s_cut": during_rx,
                "peers": peers_a}
        # the first accept starts at 1; the one after the cut where B was
        tap.ok(len(points) == 2 and points[0] == 1 and points[1] > 400 and
               peers_a["reconnects"] > reconnects0 and during_rx - cut_rx <= 64,
               "blackout: tunnel cut after B took %d frames, nothing crossed during the cut "
               "(%d), the source reconnected and resent from seq %d (B's next expected), not "
               "from 1" % (cut_rx, during_rx - cut_rx, points[1]), info)

        # 2. the switch keeps sending the VM's frames to the source
        src_tap = a.port("vm1").tap
        ns.fdb_add(MAC, src_tap)
        g.qmp("migrate-continue", state="pre-switchover")
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "completed", 60, 0.05,
                    "migration completed")
        vt.wait_for(lambda: a.migration("vm1")["state"] == "src-forwarding", 20, 0.02,
                    "source forwarding stragglers")
        vt.wait_for(lambda: a.stats("vm1")["stragglers-forwarded"] >= 300, 20, 0.02,
                    "300 stragglers forwarded")
        time.sleep(0.1)
        iptables(ns, "-I", "OUTPUT", *rule)
        cut2_rx = b.stats("vm1")["tunnel-rx-frames"]
        cut2_stragglers = a.stats("vm1")["stragglers-forwarded"]
        time.sleep(0.7)
        during2_rx = b.stats("vm1")["tunnel-rx-frames"]
        iptables(ns, "-D", "OUTPUT", *rule)
        vt.wait_for(lambda: len(resend_points(a)) >= 3, 20, 0.05,
                    "the stream re-accepted after the second cut")
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= during2_rx + 300, 20, 0.05,
                    "stragglers flowing again")
        ns.fdb_del(MAC, src_tap, check=False)
        points = resend_points(a)
        sa = a.stats("vm1")
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        sb = b.stats("vm1")
        info.update({"resend_from": points, "b_rx_at_cut2": cut2_rx,
                     "stragglers_at_cut2": cut2_stragglers,
                     "b_rx_after_cut2": during2_rx, "guest": final, "source": sa,
                     "destination": sb})
        tap.ok(len(points) == 3 and points[2] > points[1] + 300 and
               during2_rx - cut2_rx <= 64 and sa["drops"]["peer-lost"] == 0,
               "forwarding (after RESUMED): tunnel cut after %d stragglers, nothing crossed "
               "during the cut (%d), the source resent from seq %d (B's next expected); no "
               "straggler lost to the peer (peer-lost 0)"
               % (cut2_stragglers, during2_rx - cut2_rx, points[2]), info)
        want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
                "corrupted": 0}
        # tunnel-duplicates: frames B got twice through the tunnel (a resend
        # from before its next expected seq).  drops.duplicate counts B's
        # own uplink copies of tunnelled frames (the bridge floods), which
        # the dedup filter drops by design.
        # once the switch floods the VM's frames to both hosts, B sees live
        # traffic and A answers LIVE_SEEN with a barrier, after emptying its
        # uplink's queues: no straggler A had not read yet may follow them
        barriers = [l for l in a.log_text().splitlines() if "barrier after seq" in l]
        info["barriers"] = barriers
        tap.ok(clean(final) == want and sb["tunnel-duplicates"] == 0 and len(barriers) >= 1,
               "after both cuts: %d sent, %d received, 0 lost/reordered/duplicated; nothing "
               "resent twice (destination tunnel-duplicates 0; %d uplink copies deduplicated); "
               "the source's barrier came after its uplink queues were emptied (%d)"
               % (sres["sent"], final["received"], sb["drops"]["duplicate"], len(barriers)), info)
    finally:
        iptables(ns, "-F", "OUTPUT")
        pair.stop()


def scenario_bad_peer(ns, workdir, tap):
    import secrets
    pair = Pair(ns, workdir, tap, key_b=secrets.token_hex(32))
    try:
        g = pair.boot()
        a, b = pair.shims
        # wrong key: B's EXPECT cannot reach A, A's stream cannot reach B
        b.execute("migrate-expect", {"port": "vm1"})
        a.execute("migrate-set-peer", {"port": "vm1", "peer": "hostb"})
        time.sleep(2.0)
        pa, pb = a.execute("query-peers"), b.execute("query-peers")
        tap.ok(pa["auth-failures"] + pb["auth-failures"] >= 1 and
               a.migration("vm1").get("peer") == "hostb",
               "wrong key: handshake refused and counted (auth failures %d/%d)"
               % (pa["auth-failures"], pb["auth-failures"]), {"a": pa, "b": pb})
        pr = ns.ping(g.addr, count=5, interval=0.2, timeout=2.0)
        tap.ok(pr.received == 5 and a.alive() and b.alive(),
               "the VM is unaffected and both daemons run", pr)
    finally:
        pair.stop()


def scenario_unknown_vm(ns, workdir, tap):
    """Same key, but the destination does not expect the VM: its stream is
    refused and counted, nothing is injected, the VM keeps running."""
    pair = Pair(ns, workdir, tap)
    try:
        g = pair.boot()
        a, b = pair.shims
        a.execute("migrate-set-peer", {"port": "vm1", "peer": "hostb"})
        # migration starts on A (dirty logging on): A opens a stream to B
        g.qmp("migrate-set-parameters", **{"max-bandwidth": 1 << 20})
        dg = pair.start_incoming()
        g.qmp("migrate", uri=dg.incoming_uri)
        vt.wait_for(lambda: b.execute("query-peers")["streams-rejected"] >= 1, 20, 0.05,
                    "B to refuse the stream")
        g.qmp("migrate_cancel")
        vt.wait_for(lambda: g.status() == "running", 30, 0.05, "VM running on A")
        dg.stop()
        pb = b.execute("query-peers")
        sb = b.stats("vm1")
        pr = ns.ping(g.addr, count=5, interval=0.2, timeout=2.0)
        tap.ok(pb["streams-rejected"] >= 1 and sb["tunnel-rx-frames"] == 0,
               "frames for a VM the destination does not expect: stream refused (%d), "
               "nothing accepted" % pb["streams-rejected"], {"peers": pb, "stats": sb})
        tap.ok(pr.received == 5 and a.alive() and b.alive(),
               "the VM is unaffected and both daemons run", pr)
    finally:
        pair.stop()


# -- migration-tls: x509 mutual TLS between the shims ------------------------

def tls_check_config(conf_text, workdir, name, extra_args=()):
    """vhost-shim --check-config with conf_text as its config file: (exit
    status, output)."""
    path = os.path.join(workdir, name + ".conf")
    with open(path, "w") as f:
        f.write(conf_text)
    r = subprocess.run([shimlib.shim_binary(), "--check-config", "--config", path] +
                       list(extra_args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    return r.returncode, r.stdout.strip()


def tls_log_lines(shim, needle):
    return [ln for ln in shim.log_text().splitlines() if needle in ln]


def tls_connect_without_cert(ns, port):
    """A TLS client without a certificate knocks on 127.0.0.1:port in ns."""
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.settimeout(5)
        raw.connect(("127.0.0.1", port))
        with ctx.wrap_socket(raw) as s:
            s.recv(1)      # TLS 1.3: the server's verdict comes after the handshake
    except (ssl.SSLError, OSError):
        pass
    finally:
        raw.close()


def scenario_tls(ns, workdir, tap):
    """x509 mutual TLS: cleartext refused, bad credentials refused at
    startup, a lossless migration over TLS, foreign certificates refused."""
    ca = tls_make_ca(os.path.join(workdir, "ca1"), "vhost-shim test CA")
    ca2 = tls_make_ca(os.path.join(workdir, "ca2"), "another CA")
    key = os.path.join(workdir, "psk.key")
    shimlib.write_key(key)

    # (c) nothing travels in clear any more (tunnel protocol v2: TLS 1.3 with
    # the key too): a pre-shared key to a non-loopback peer is accepted, and
    # the obsolete allow-cleartext is refused with a clear message
    remote = "[tunnel]\nnode-name=hosta\nlisten=127.0.0.1:%d\n%s\n[peer hostb]\naddress=10.77.0.99:%d\n"
    rc1, out1 = tls_check_config(remote % (PORT_A, "key-file=%s" % key, PORT_B), workdir, "psk")
    rc2, out2 = tls_check_config(remote % (PORT_A, "key-file=%s\nallow-cleartext=true" % key,
                                           PORT_B), workdir, "clear-allowed")
    rc3, out3 = tls_check_config(remote % (PORT_A, "tls=x509", PORT_B), workdir, "clear-tls")
    tap.ok(rc1 == 0 and rc2 != 0 and "allow-cleartext: no longer exists" in out2 and
           rc3 == 0, "non-loopback peer: accepted with a pre-shared key (TLS 1.3) or tls=x509; "
           "the obsolete allow-cleartext refused", {"psk": [rc1, out1],
                                                    "allow-cleartext": [rc2, out2],
                                                    "tls": [rc3, out3]})

    # a bad local certificate or key is a clear error at startup
    bad = {}
    good_c = tls_make_host(ca, os.path.join(workdir, "pki-hostc"), "hostc")
    expired = tls_make_host(ca, os.path.join(workdir, "pki-expired"), "hostc", expired=True)
    other = tls_make_host(ca, os.path.join(workdir, "pki-other"), "hostq")
    for what, extra, needle in (
            ("missing key", "tls-key=%s/nonexistent.pem\n" % workdir,
             "tls-key %s/nonexistent.pem: " % workdir),
            ("expired cert", "tls-cert=%s/server-cert.pem\ntls-key=%s/server-key.pem\n"
             % (expired, expired), "expired on"),
            ("cert for another node", "tls-cert=%s/server-cert.pem\ntls-key=%s/server-key.pem\n"
             % (other, other), "does not name this node")):
        s = shimlib.Shim(ns, "hostc", workdir, tunnel_port=PORT_B + 10,
                         extra_args=["--config", tls_config(workdir, "hostc", good_c, extra)])
        proc = ns.popen(s.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            ns.kill(proc)
            out = b"(still running)"
        shimlib.remove_dpdk_files(s.prefix)     # it started EAL before refusing
        text = out.decode(errors="replace")
        lines = [ln for ln in text.splitlines() if needle in ln]
        bad[what] = {"status": proc.returncode, "lines": lines}
        if not lines:
            bad[what]["output"] = text[-1500:]
    tap.ok(all(v["status"] not in (0, None) and len(v["lines"]) == 1 for v in bad.values()),
           "bad local certificate or key: the daemon refuses to start with one clear line",
           bad)

    # (a) a migration over TLS: handshake with good certificates, frames flow
    pair = TlsPair(ns, workdir, tap, ca)
    rogue = None
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        time.sleep(1.5)
        pair.migrate()
        time.sleep(1.0)
        sres = snd.stop()
        final = wait_received(pair.guest, sres["sent"])
        a, b = pair.shims
        st = pair.src.stats("vm1")
        peers = {s.name: s.execute("query-peers") for s in pair.shims}
        tls_up = {s.name: len(tls_log_lines(s, "TLS up")) for s in pair.shims}
        want = shimlib.lossless(sres["sent"])
        tap.ok(clean(final) == want and st["tunnel-rx-frames"] > 0 and
               all(v >= 1 for v in tls_up.values()) and
               all(p["auth-failures"] == 0 for p in peers.values()),
               "migration over x509 TLS: %d frames through the tunnel, 0 lost, in order"
               % st["tunnel-rx-frames"],
               {"guest": final, "dst": st, "peers": peers, "tls-up": tls_up})

        # (b) a peer whose certificate comes from another CA is refused by
        # B: it trusts both CAs, so it is B that says no, and a client
        # without a certificate is refused too
        b_before = b.execute("query-peers")
        rogue_dir = tls_make_host(ca2, os.path.join(workdir, "pki-rogue"), "hostc")
        with open(os.path.join(ca, "ca-cert.pem")) as f1, \
                open(os.path.join(rogue_dir, "ca-cert.pem"), "a") as f2:
            f2.write(f1.read())
        rogue = shimlib.Shim(ns, "hostc", workdir, peers={"hostb": PORT_B},
                             extra_args=["--config", tls_config(workdir, "rogue", rogue_dir)])
        rogue.add_port("vm9", "52:54:00:77:02:09")
        rogue.start()
        rogue.execute("migrate-expect", {"port": "vm9"})   # EXPECT: connects to B
        vt.wait_for(lambda: b.execute("query-peers")["tls-failures"] > b_before["tls-failures"],
                    20, 0.1, "B to refuse hostc's certificate")
        tls_connect_without_cert(ns, PORT_B)
        vt.wait_for(lambda: len(tls_log_lines(b, "peer sent no certificate")) >= 1, 20, 0.1,
                    "B to refuse a client without a certificate")
        time.sleep(0.5)
        pb = b.execute("query-peers")
        foreign = tls_log_lines(b, "not signed by our CA")
        nocert = tls_log_lines(b, "peer sent no certificate")
        pr = ns.ping(pair.guest.addr, count=5, interval=0.2, timeout=2.0)
        tap.ok(len(foreign) >= 1 and "CN=hostc" in foreign[0] and len(nocert) == 1 and
               pb["tls-failures"] >= b_before["tls-failures"] + 2 and
               pb["auth-failures"] >= b_before["auth-failures"] + 2 and
               pr.received == 5 and a.alive() and b.alive() and rogue.alive(),
               "certificate from another CA and a client without certificate: refused, "
               "logged, counted (tls-failures %d -> %d); the VM and the daemons unaffected"
               % (b_before["tls-failures"], pb["tls-failures"]),
               {"peers": pb, "foreign": foreign, "no-cert": nocert, "ping": pr.received})
    finally:
        if rogue:
            rogue.stop()
        pair.stop()
