#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: what the tunnel (protocol v2, TLS 1.3) refuses, with real
daemons in a test namespace, as tests/e2e/test_migration.py runs them
(its Pair, guests and certificates are reused: vshimtest.pair,
vshimtest.certs).  Scenarios (argument 1):

  tamper      a man in the middle (a TCP relay in the namespace, between
              the source shim and the destination's tunnel port) flips one
              byte of one TLS record of FRAMEs during a PSK migration under
              2000 pps of UDP, the blackout held open: the destination
              refuses the record and counts it (tls-record-errors), the
              source reconnects and resends from the destination's next
              expected seq; the guest gets every datagram once, in order,
              intact (the agent checks every payload, the guest kernel
              counts no UDP error)
  idle-flood  64 idle TCP connections from one address (127.0.0.2) to each
              shim's tunnel port, re-opened as soon as a shim closes them,
              during a migration under UDP: 0 lost; the shims refused and
              timed them out (preauth-refused, handshake-timeouts)
  tls-reload  x509, three daemons and no guest: hostb and hostc connect to
              hosta; hosta's certificate and key are replaced and a CRL
              revoking hostc added, then SIGHUP: hostb's connection stays,
              hostc's is cut, a new TLS connection gets the new certificate,
              hostc is refused when it dials again (revoked)
  v1-peer     a version-1 shim, scripted in clear, dials a shim and is
              dialled by it: refused both ways with a clear line, an ERROR
              in its own protocol that says to upgrade, counted

TAP output; exit 77 without root/QEMU outside CI.
"""

import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
from vshimtest import certs  # noqa: E402
import vshimtest as vt  # noqa: E402
from vshimtest import pair as vp  # noqa: E402

PORT_A, PORT_B = vp.PORT_A, vp.PORT_B
PORT_PROXY = 7409
FLOOD_SRC = "127.0.0.2"


# -- a man in the middle -------------------------------------------------------

class TamperProxy:
    """A TCP relay in the namespace, 127.0.0.1:port -> 127.0.0.1:target.
    Once armed, it flips one byte in the middle of the first TLS
    application-data record of at least min_record bytes that goes from the
    client (the source shim) to the server, once; everything else passes
    unchanged.  A record that size carries at least one FRAME: every other
    message from a source (VM_OPEN, PING, EXPECT...) is far smaller."""

    def __init__(self, ns, port, target, min_record=120):
        self.ns = ns
        self.target = target
        self.min_record = min_record
        self.armed = threading.Event()
        self.stop_ev = threading.Event()
        self.tampered = []
        self.connections = 0
        self.lock = threading.Lock()
        self.ls = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", port))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self):
        while not self.stop_ev.is_set():
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            up = self.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                up.connect(("127.0.0.1", self.target))
            except OSError:
                c.close()
                up.close()
                continue
            self.connections += 1
            for src, dst, tamper in ((c, up, True), (up, c, False)):
                threading.Thread(target=self._pump, args=(src, dst, tamper),
                                 name="proxy-pump", daemon=True).start()

    def _tamper(self, buf, out):
        """Forward the whole records of buf into out; return the rest."""
        while len(buf) >= 5:
            rtype = buf[0]
            rlen = struct.unpack(">H", buf[3:5])[0]
            if len(buf) < 5 + rlen:
                break
            rec = bytearray(buf[:5 + rlen])
            buf = buf[5 + rlen:]
            with self.lock:
                if self.armed.is_set() and not self.tampered and rtype == 23 and \
                        rlen >= self.min_record:
                    i = 5 + rlen // 2
                    rec[i] ^= 0x01
                    self.tampered.append({"record_bytes": rlen, "offset": i,
                                          "connection": self.connections})
            out += rec
        return buf

    def _pump(self, src, dst, tamper):
        buf = b""
        src.settimeout(0.5)
        try:
            while not self.stop_ev.is_set():
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                if not tamper:
                    dst.sendall(data)
                    continue
                out = bytearray()
                buf = self._tamper(buf + data, out)
                if out:
                    dst.sendall(bytes(out))
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stop_ev.set()
        self.ls.close()


class ProxyPair(vp.Pair):
    """vp.Pair's two PSK shims, but hosta reaches hostb through a relay on
    proxy_port (hostb reaches hosta directly)."""

    def __init__(self, ns, workdir, tap, proxy_port, port_opts=None):
        self.ns = ns
        self.guest_append = vp.TUNED_GUEST
        self.workdir = workdir
        self.tap = tap
        os.makedirs(workdir, exist_ok=True)
        self.key = os.path.join(workdir, "psk.key")
        shimlib.write_key(self.key)
        opts = {"linger-ms": 1000}
        opts.update(port_opts or {})
        self.shims = [
            shimlib.Shim(ns, "hosta", workdir, tunnel_port=PORT_A, peers={"hostb": proxy_port},
                         key_file=self.key),
            shimlib.Shim(ns, "hostb", workdir, tunnel_port=PORT_B, peers={"hosta": PORT_A},
                         key_file=self.key),
        ]
        for s in self.shims:
            s.add_port("vm1", vp.MAC, **opts)
            s.start()
        self.cur = 0
        self.gen = 0
        self.guest = None
        self.downtimes = []


def log_lines(shim, needle):
    return [ln for ln in shim.log_text().splitlines() if needle in ln]


def kernel_udp_errors(g):
    return g.stats().get("kernel", {}).get("udp_in_errors", 0)


def scenario_tamper(ns, workdir, tap):
    proxy = TamperProxy(ns, PORT_PROXY, PORT_B)
    # hold live frames behind the tunnel long enough for the reconnect
    pair = ProxyPair(ns, workdir, tap, PORT_PROXY,
                     port_opts={"hold-ms": 30000, "replay-hold-ms": 5000, "linger-ms": 3000})
    try:
        snd, dg = pair.held_blackout(pps=2000)
        g = pair.guest       # paused by pause-before-switchover: its agent waits
        a, b = pair.src, pair.dst
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= 200, 20, 0.02,
                    "200 frames tunnelled to B")
        proxy.armed.set()
        vt.wait_for(lambda: proxy.tampered, 20, 0.02, "a FRAME record rewritten")
        vt.wait_for(lambda: b.execute("query-peers")["tls-record-errors"] >= 1, 20, 0.05,
                    "B to refuse the record")
        vt.wait_for(lambda: len(vp.resend_points(a)) >= 2, 20, 0.05, "the stream resumed")
        rx_after = b.stats("vm1")["tunnel-rx-frames"]
        vt.wait_for(lambda: b.stats("vm1")["tunnel-rx-frames"] >= rx_after + 200, 20, 0.05,
                    "the stream flowing again")
        g.qmp("migrate-continue", state="pre-switchover")
        vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "completed", 60, 0.05,
                    "migration completed")
        pair.finish(dg)
        time.sleep(1.0)
        sres = snd.stop()
        final = vp.wait_received(pair.guest, sres["sent"])
        udp_errors = kernel_udp_errors(pair.guest)     # since the guest booted
        pb, pa = b.execute("query-peers"), a.execute("query-peers")
        rejected = log_lines(b, "TLS record rejected")
        told = log_lines(a, "Bad record MAC")
        points = vp.resend_points(a)
        drops = {s.name: {k: v for k, v in s.stats("vm1")["drops"].items() if v}
                 for s in pair.shims}
        info = {"tampered": proxy.tampered, "proxy_connections": proxy.connections,
                "dst_peers": pb, "src_reconnects": pa["reconnects"], "resend_from": points,
                "dst_log": rejected, "src_log": told, "guest": final,
                "guest_udp_in_errors": udp_errors, "drops": drops}
        tap.diag("tamper: %s" % info)
        tap.ok(len(proxy.tampered) == 1 and pb["tls-record-errors"] == 1 and
               len(rejected) == 1 and "(changed, spliced in or replayed on the way?)" in
               rejected[0],
               "one byte of one FRAME record rewritten on the way: the destination refused the "
               "record, counted it (tls-record-errors %d) and logged one line"
               % pb["tls-record-errors"], info)
        tap.ok(pa["reconnects"] >= 1 and len(points) >= 2 and points[-1] > 1 and
               proxy.connections >= 2,
               "the source was told (%s), reconnected and resent from seq %d, the destination's "
               "next expected" % ("alert bad_record_mac" if told else "connection closed",
                                  points[-1] if points else 0), info)
        want = shimlib.lossless(sres["sent"])
        tap.ok(shimlib.loss_counts(final) == want and udp_errors == 0,
               "nothing wrong reached the guest: %d sent, %d received, 0 lost, reordered, "
               "duplicated or corrupted, no UDP error in the guest's kernel"
               % (sres["sent"], final["received"]), info)
    finally:
        proxy.stop()
        pair.stop()


# -- idle connections ----------------------------------------------------------

class IdleFlood:
    """n TCP connections from src to 127.0.0.1:port in the namespace, held
    open and never written to; one the shim closes is opened again within
    period seconds."""

    def __init__(self, ns, src, port, n=64, period=0.5):
        self.ns = ns
        self.src = src
        self.port = port
        self.socks = [None] * n
        self.period = period
        self.opened = 0
        self.closed_by_peer = 0
        self.max_open = 0
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, name="idle-flood", daemon=True)
        self.thread.start()

    def _open(self):
        s = self.ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((self.src, 0))
            s.settimeout(1.0)
            s.connect(("127.0.0.1", self.port))
            s.setblocking(False)
        except OSError:
            s.close()
            return None
        self.opened += 1
        return s

    def _gone(self, s):
        try:
            return s.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        while not self.stop_ev.is_set():
            for i, s in enumerate(self.socks):
                if s is not None and self._gone(s):
                    s.close()
                    self.socks[i] = s = None
                    self.closed_by_peer += 1
                if s is None:
                    self.socks[i] = self._open()
            self.max_open = max(self.max_open, sum(1 for s in self.socks if s))
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)
        for s in self.socks:
            if s:
                s.close()


def scenario_idle_flood(ns, workdir, tap):
    pair = vp.Pair(ns, workdir, tap)
    floods = []
    try:
        g = pair.boot()
        g.reset()
        snd = vt.UdpSender(ns, g.addr, pps=2000, duration=600, size=100).start()
        floods = [IdleFlood(ns, FLOOD_SRC, port) for port in (PORT_A, PORT_B)]
        time.sleep(3.0)     # the floods settle: slots taken, refusals, timeouts
        held = [f.max_open for f in floods]
        pair.migrate()
        time.sleep(1.0)
        sres = snd.stop()
        final = vp.wait_received(pair.guest, sres["sent"])
        for f in floods:
            f.stop()
        peers = {s.name: s.execute("query-peers") for s in pair.shims}
        st = pair.src.stats("vm1")
        info = {"flood": [{"port": f.port, "opened": f.opened, "closed_by_shim": f.closed_by_peer,
                           "held_open_max": f.max_open} for f in floods],
                "peers": peers, "guest": final, "dst_tunnel_rx": st["tunnel-rx-frames"],
                "drops": {s.name: {k: v for k, v in s.stats("vm1")["drops"].items() if v}
                          for s in pair.shims}}
        tap.diag("idle flood: %s" % info)
        tap.ok(all(h >= 64 for h in held) and
               all(p["preauth-refused"] > 0 and p["handshake-timeouts"] > 0
                   for p in peers.values()),
               "64 idle connections from %s held against each shim's tunnel port: refused "
               "beyond 4 (%s), timed out at 2 s (%s)"
               % (FLOOD_SRC, [p["preauth-refused"] for p in peers.values()],
                  [p["handshake-timeouts"] for p in peers.values()]), info)
        tap.ok(shimlib.loss_counts(final) == shimlib.lossless(sres["sent"]) and st["tunnel-rx-frames"] > 0,
               "a migration under the flood: %d sent, %d received, 0 lost, %d frames "
               "through the tunnel" % (sres["sent"], final["received"], st["tunnel-rx-frames"]),
               info)
    finally:
        for f in floods:
            f.stop()
        pair.stop()


# -- certificates: CRL and reload ----------------------------------------------

def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def make_crl(ca_dir, revoked_cert, out):
    tmpl = out + ".tmpl"
    with open(tmpl, "w") as f:
        f.write("crl_next_update = 2\ncrl_number = 1\n")
    certs.tls_certtool("--generate-crl", "--load-ca-privkey", os.path.join(ca_dir, "ca-key.pem"),
                    "--load-ca-certificate", os.path.join(ca_dir, "ca-cert.pem"),
                    "--load-certificate", revoked_cert, "--template", tmpl, "--outfile", out)


def peer_events(shim, kind):
    """Every event kind the shim sent so far (poll_events() keeps them all)."""
    return [e["data"] for e in shim.qmp.poll_events() if e["event"] == kind]


def make_ca(d, name):
    """A CA that may sign CRLs too (certs.tls_make_ca's may not)."""
    os.makedirs(d, exist_ok=True)
    tmpl = os.path.join(d, "ca.tmpl")
    with open(tmpl, "w") as f:
        f.write('cn = "%s"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 2\n' % name)
    certs.tls_certtool("--generate-privkey", "--key-type", "ecdsa",
                    "--outfile", os.path.join(d, "ca-key.pem"))
    certs.tls_certtool("--generate-self-signed", "--load-privkey", os.path.join(d, "ca-key.pem"),
                    "--template", tmpl, "--outfile", os.path.join(d, "ca-cert.pem"))
    return d


def tls_client_cert(ns, port, cert, key):
    """The DER certificate a TLS 1.3 client sees at 127.0.0.1:port."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    raw = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        raw.settimeout(5)
        raw.connect(("127.0.0.1", port))
        with ctx.wrap_socket(raw) as s:
            return s.getpeercert(binary_form=True), s.version()
    finally:
        raw.close()


def scenario_tls_reload(ns, workdir, tap):
    ca = make_ca(os.path.join(workdir, "ca"), "vhost-shim test CA")
    dirs = {n: certs.tls_make_host(ca, os.path.join(workdir, "pki-" + n), n)
            for n in ("hosta", "hostb", "hostc")}
    shims = {}
    try:
        for name, port, peers in (("hosta", PORT_A, {"hostb": PORT_B}),
                                  ("hostb", PORT_B, {"hosta": PORT_A}),
                                  ("hostc", None, {"hosta": PORT_A})):
            s = shimlib.Shim(ns, name, workdir, tunnel_port=port, peers=peers,
                             extra_args=["--config", vp.tls_config(workdir, name, dirs[name])])
            s.add_port("vm-" + name[-1], "52:54:00:77:03:0%d" % (len(shims) + 1))
            shims[name] = s.start()
        a, b, c = shims["hosta"], shims["hostb"], shims["hostc"]
        # hostb and hostc dial hosta (their EXPECT)
        b.execute("migrate-expect", {"port": "vm-b"})
        c.execute("migrate-expect", {"port": "vm-c"})
        vt.wait_for(lambda: {"hostb", "hostc"} <= {e["peer"] for e in
                                                   peer_events(a, "PEER_CONNECTED")},
                    20, 0.1, "hostb and hostc connected to hosta")
        old_der = der_of(os.path.join(dirs["hosta"], "server-cert.pem"))

        # new certificate and key for hosta, and a CRL that revokes hostc
        certs.tls_make_host(ca, dirs["hosta"], "hosta")
        new_der = der_of(os.path.join(dirs["hosta"], "server-cert.pem"))
        make_crl(ca, os.path.join(dirs["hostc"], "server-cert.pem"),
                 os.path.join(dirs["hosta"], "ca-crl.pem"))
        a.proc.send_signal(signal.SIGHUP)
        vt.wait_for(lambda: a.execute("query-peers")["credential-reloads"] == 1, 20, 0.1,
                    "hosta to reload")
        vt.wait_for(lambda: peer_events(a, "PEER_LOST"), 20, 0.1, "hostc cut off")
        time.sleep(3.0)     # keepalive PINGs cross hostb's connection meanwhile
        lost = peer_events(a, "PEER_LOST")
        seen, version = tls_client_cert(ns, PORT_A, os.path.join(dirs["hostb"], "server-cert.pem"),
                                        os.path.join(dirs["hostb"], "server-key.pem"))
        pb = b.execute("query-peers")
        info = {"lost": lost, "reloaded": log_lines(a, "credentials reloaded"),
                "cut": log_lines(a, "after the reload"), "hostb": pb,
                "new_cert_seen": seen == new_der, "old_cert_seen": seen == old_der,
                "tls_version": version}
        tap.diag("reload: %s" % info)
        tap.ok([e["peer"] for e in lost] == ["hostc"] and "revoked" in lost[0].get("reason", "")
               and pb["keepalive-timeouts"] == 0 and pb["reconnects"] == 0 and
               not peer_events(b, "PEER_LOST"),
               "SIGHUP with a new certificate and a CRL: hostb's established connection "
               "survives, hostc's (revoked) is cut at once", info)
        tap.ok(seen == new_der and seen != old_der and version == "TLSv1.3" and
               len(info["reloaded"]) == 1 and "generation 2" in info["reloaded"][0],
               "a new connection gets hosta's new certificate (TLS 1.3)", info)

        # hostc dials again (armed anew, it announces itself): refused, revoked
        f0 = a.execute("query-peers")["tls-failures"]
        c.execute("migrate-cancel", {"port": "vm-c"})
        c.execute("migrate-expect", {"port": "vm-c"})
        vt.wait_for(lambda: a.execute("query-peers")["tls-failures"] > f0, 20, 0.1,
                    "hostc refused")
        revoked = log_lines(a, "peer certificate (CN=hostc) refused: revoked (tls-crl)")
        vt.wait_for(lambda: log_lines(c, "the peer refused us"), 20, 0.1, "hostc told")
        told = log_lines(c, "the peer refused us")
        tap.ok(len(revoked) >= 1 and told and all(s.alive() for s in shims.values()),
               "hostc, revoked, is refused when it dials again; it logs why: %s"
               % (told[0].split("closed: ", 1)[-1] if told else "nothing"),
               {"hosta": revoked, "hostc": told})
        # the tls-crl key at startup: a daemon whose own certificate is revoked
        conf = vp.tls_config(workdir, "hostc2", dirs["hostc"],
                             "tls-crl=%s\n" % os.path.join(dirs["hosta"], "ca-crl.pem"))
        s = shimlib.Shim(ns, "hostc", workdir, tunnel_port=PORT_B + 10,
                         extra_args=["--config", conf])
        # the running hostc has the same EAL prefix and control socket
        s.prefix += "-2"
        s.control = os.path.join(workdir, "hostc-2.ctl")
        proc = ns.popen(s.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            text, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            ns.kill(proc)
            text = b"(still running)"
        finally:
            # EAL came up before the certificate check: its runtime directory
            shimlib.remove_dpdk_files(s.prefix)
        text = text.decode(errors="replace")
        tap.ok(proc.returncode not in (0, None) and "revoked (tls-crl)" in text,
               "a daemon whose own certificate tls-crl revokes refuses to start, saying so",
               {"status": proc.returncode, "output": text[-600:]})
    finally:
        for s in shims.values():
            s.stop()


# -- version 1 ---------------------------------------------------------------------

MAGIC = 0x56534854


def v1_hello(role, name):
    body = struct.pack(">IHHB", MAGIC, 1, 1, role) + os.urandom(32) + bytes([len(name)]) + name
    return struct.pack(">IBBH", 4 + len(body), 1, 0, 0) + body


def read_msg(s):
    """One message in clear: (type, body), or None at EOF."""
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                return None
            b += chunk
        return b
    hdr = exact(8)
    if not hdr:
        return None
    ln, mtype = struct.unpack(">IB", hdr[:5])
    return mtype, exact(ln - 4)


def scenario_v1_peer(ns, workdir, tap):
    key = os.path.join(workdir, "psk.key")
    shimlib.write_key(key)
    ls = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", PORT_A))      # "hosta", a version-1 shim
    ls.listen(4)
    b = shimlib.Shim(ns, "hostb", workdir, tunnel_port=PORT_B, peers={"hosta": PORT_A},
                     key_file=key)
    b.add_port("vm1", vp.MAC)
    b.start()
    try:
        # 1. the old shim dials: its HELLO in clear, our ERROR in its framing
        s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(("127.0.0.1", PORT_B))
        s.sendall(v1_hello(0, b"hosta"))
        m = read_msg(s)
        eof = read_msg(s) is None
        s.close()
        code, tlen = struct.unpack(">HB", m[1][:3]) if m and m[0] == 16 else (None, 0)
        text = m[1][3:3 + tlen].decode() if code else ""
        line = log_lines(b, "peer speaks tunnel protocol v1 (its HELLO came in clear")
        tap.ok(code == 7 and "upgrade vhost-shim" in text and eof and len(line) == 1 and
               "upgrade vhost-shim on both hosts" in line[0],
               "a version-1 shim dials: ERROR(BAD_VERSION) in clear, \"%s\"; the shim logs: %s"
               % (text, line[0].split("closed: ", 1)[-1] if line else "nothing"),
               {"message": m, "log": line})

        # 2. we dial the old shim (EXPECT): it sends its HELLO in clear at once
        b.execute("migrate-expect", {"port": "vm1"})
        ls.settimeout(10)
        c, _ = ls.accept()
        c.settimeout(10)
        c.sendall(v1_hello(1, b"hosta"))
        first = c.recv(5)
        vt.wait_for(lambda: log_lines(b, "it answered our TLS ClientHello with a HELLO in "
                                         "clear"), 20, 0.1, "hostb to see a version-1 peer")
        c.close()
        line = log_lines(b, "it answered our TLS ClientHello with a HELLO in clear")
        tap.ok(first[:2] == b"\x16\x03" and len(line) >= 1,
               "dialling a version-1 shim: it reads a TLS record (%s..., which version 1 "
               "reports as TOO_LARGE), the shim logs: %s"
               % (first[:3].hex(), line[0].split("closed: ", 1)[-1]), line)
        p = b.execute("query-peers")
        tap.ok(p["version-refusals"] >= 2 and p["tls-record-errors"] == 0 and b.alive(),
               "counted: version-refusals %d" % p["version-refusals"], p)
    finally:
        ls.close()
        b.stop()


SCENARIOS = {
    "tamper": (scenario_tamper, 3),
    "idle-flood": (scenario_idle_flood, 2),
    "tls-reload": (scenario_tls_reload, 4),
    "v1-peer": (scenario_v1_peer, 3),
}


def main():
    return vt.scenario_main(SCENARIOS, "tamper", "tunsec-{name}",
                            guest=("tamper", "idle-flood"))


if __name__ == "__main__":
    sys.exit(main())
