#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: validated TCP resets when a VM is gone for good (issue 20).

Two shims (hosta, hostb) as in test_migration.py, the guest on hosta with
the kernel's default network settings.  A TCP connection from the test
namespace (the peer) to the guest's TCP sink, the peer sending a small
chunk every 50 ms:

  reset  tcp-on-loss=reset, hold-ms 2000.  First reset-flows on the live
         port: the peer's socket gets ECONNRESET within 1 s.  Then a second
         connection, a migration held in its blackout
         (pause-before-switchover), and the source QEMU killed there (the
         migration fails, the VM is gone): the peer's socket gets
         ECONNRESET within hold-ms + 1 s of the kill, the RST coming from
         the source shim (resets-sent) with the sequence number the peer
         acknowledged last (a RST with any other one is ignored or draws
         a challenge ACK: RFC 5961).
  challenge  tcp-on-loss=reset, the guest sending to a peer in the
         namespace whose INPUT then drops the guest's data segments
         (iptables, IP length >= 100): the VM has sent more than the peer
         acknowledged, so the shim does not know the peer's RCV.NXT.  After
         the kill in a blackout it first sends an out-of-window ACK
         (challenges-sent), the peer answers with its ACK, and the RST with
         that number resets the peer's socket (ECONNRESET within hold-ms +
         1 s).
  unreachable  tcp-on-loss=reset, but the tunnel to the destination cut
         (iptables REJECT) in the blackout before the kill: the source
         cannot know whether the VM resumed there, so it resets nothing (at
         hold-ms + 1 s the peer's socket has no error, resets-sent 0).
  drop   the port's default tcp-on-loss=drop.  First a rule's own
         tcp-on-loss on the live port: reset-flows resets nothing; then
         policy-add of a rule for the peer's address with tcp-on-loss=reset,
         a few more segments, and reset-flows gives the peer's socket
         ECONNRESET within 1 s; the rule is deleted.  Then the same
         blackout and kill as above: at hold-ms + 1 s the peer's socket has
         no error and is still ESTABLISHED, retransmitting; the source sent
         no RST (resets-sent unchanged) while it tracked the connection
         (tcp-ct-entries >= 1).
  migrated  tcp-on-loss=reset on a VM that lives: A -> B -> A back to
         back, each old QEMU stopped once its migration completed (as
         libvirt does), the peer writing all along.  hold-ms + 1.5 s after
         the last stop the peer's socket has no error and the guest
         acknowledges its data; neither shim sent a RST or a challenge
         (a QEMU gone after a completed migration is not a VM lost).

TAP output; exit 77 without root/QEMU outside CI.
"""

import errno
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402
import vshimtest as vt  # noqa: E402
from test_migration import PORT_B, Pair  # noqa: E402

HOLD_MS = 2000
# The peer writes this much every PACE_S: a connection with data in flight,
# as a client waiting on a server is (its retransmissions carry its ACK)
CHUNK = 512
PACE_S = 0.05
TCP_ESTABLISHED = 1


def connect(ns, addr, src=None):
    """A TCP connection from the namespace (from address src, if given) to
    the guest's sink; some data is sent and acknowledged first.  Returns
    (socket, bytes sent)."""
    deadline = time.monotonic() + 30
    while True:
        # right after its boot the guest may not answer ARP yet (the
        # namespace's entry for its address may be FAILED from the guest
        # of the scenario before, which died with the same address)
        s = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        if src:
            s.bind((src, 0))
        try:
            s.connect((addr, proto.PORT_TCP_SINK))
            break
        except OSError as e:
            s.close()
            if e.errno not in (errno.EHOSTUNREACH, errno.ECONNREFUSED) or \
                    time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    s.sendall(proto.tcp_pattern(0, 4096))
    vt.wait_for(lambda: tcp_info(s)["unacked"] == 0, 10, 0.02, "the guest's ACK")
    return s, 4096


def tcp_info(s):
    """state, retransmits and unacked segments of a socket (struct tcp_info)."""
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    state, _ca, retrans = raw[0], raw[1], raw[2]
    unacked = struct.unpack_from("I", raw, 24)[0]
    return {"state": state, "retransmits": retrans, "unacked": unacked}


def poke_until(s, sent, deadline):
    """Send CHUNK every PACE_S until the socket reports an error or the
    deadline passes.  Returns (errno or None, monotonic time of the error,
    bytes sent)."""
    s.settimeout(PACE_S)
    while time.monotonic() < deadline:
        try:
            sent += s.send(proto.tcp_pattern(sent, CHUNK))
        except socket.timeout:
            pass            # the send buffer is full: the peer waits
        except OSError as e:
            return e.errno, time.monotonic(), sent
        time.sleep(PACE_S)
    return None, None, sent


class Poker(threading.Thread):
    """Writes test_CHUNK to each socket every PACE_S (a client
    waiting on a server: its retransmissions carry its ACK) until stopped,
    and notes each socket's first error and when it came."""

    def __init__(self, socks):
        super().__init__(daemon=True)
        self.socks = socks          # {name: (socket, bytes sent)}
        self.errors = {}            # {name: (errno, monotonic time)}
        self.halt = threading.Event()

    def run(self):
        sent = {n: b for n, (_s, b) in self.socks.items()}
        for s, _b in self.socks.values():
            s.setblocking(False)
        while not self.halt.is_set():
            for n, (s, _b) in self.socks.items():
                if n in self.errors:
                    continue
                try:
                    sent[n] += s.send(proto.tcp_pattern(sent[n], CHUNK))
                except BlockingIOError:
                    pass            # the send buffer is full: the peer waits
                except OSError as e:
                    self.errors[n] = (e.errno, time.monotonic())
            time.sleep(PACE_S)

    def stop(self):
        self.halt.set()
        self.join(5)


def blackout_and_kill(pair, tap, before_kill=None):
    """Migrate with pause-before-switchover, wait for the source's blackout,
    run before_kill() if given, then SIGKILL the source QEMU (the migration
    fails; the VM is gone).  Returns (incoming guest, monotonic time of the
    kill)."""
    g = pair.guest
    dg = pair.start_incoming()
    pair.arm()
    g.qmp("migrate-set-capabilities", capabilities=[
        {"capability": "pause-before-switchover", "state": True}])
    g.qmp("migrate", uri=dg.incoming_uri)
    vt.wait_for(lambda: g.qmp("query-migrate").get("status") == "pre-switchover", 90, 0.05,
                "pre-switchover")
    vt.wait_for(lambda: pair.src.migration("vm1")["state"] == "src-blackout", 10, 0.02,
                "source blackout")
    if before_kill:
        before_kill()
    g.proc.kill()
    t_kill = time.monotonic()
    g.proc.wait(10)
    tap.diag("source QEMU killed in the blackout")
    return dg, t_kill


def scenario_reset(ns, workdir, tap, state):
    pair = Pair(ns, os.path.join(workdir, "reset"), tap, guest_append="",
                port_opts={"tcp-on-loss": "reset", "hold-ms": HOLD_MS})
    dg = None
    try:
        g = pair.boot()
        state["pids"] += [s.proc.pid for s in pair.shims] + [g.pid]
        # 1. reset-flows on a live port
        s1, sent = connect(ns, g.addr)
        st0 = pair.src.stats("vm1")
        ret = pair.src.execute("reset-flows", {"port": "vm1"})
        t0 = time.monotonic()
        err, t_err, sent = poke_until(s1, sent, t0 + 5)
        st1 = pair.src.stats("vm1")
        dt = (t_err - t0) if t_err else None
        tap.ok(ret == {"tcp-on-loss": "reset"} and err == errno.ECONNRESET and dt <= 1.0 and
               st1["resets-sent"] - st0["resets-sent"] == 1,
               "reset-flows on a live port: the peer's socket got %s %s s after it "
               "(resets-sent %d, challenges-sent %d, tcp-ct-entries %d)" % (
                   errno.errorcode.get(err, err), "%.3f" % dt if dt is not None else "never",
                   st1["resets-sent"], st1["challenges-sent"], st1["tcp-ct-entries"]),
               {"reply": ret, "stats": {k: st1[k] for k in st1 if k.startswith(("tcp-", "res",
                                                                                 "chal"))}})
        s1.close()

        # 2. the VM killed in a blackout
        s2, sent = connect(ns, g.addr)
        sent_before = sent
        dg, t_kill = blackout_and_kill(pair, tap)
        err, t_err, sent = poke_until(s2, sent, t_kill + HOLD_MS / 1000.0 + 5)
        dt = (t_err - t_kill) if t_err else None
        st2 = pair.src.stats("vm1")
        tap.ok(err == errno.ECONNRESET and dt <= HOLD_MS / 1000.0 + 1.0 and
               st2["resets-sent"] - st1["resets-sent"] == 1,
               "VM killed in the blackout, tcp-on-loss=reset: the peer's socket got %s %s s "
               "after the kill (hold-ms %d; %d bytes written in the blackout; "
               "resets-sent %d, challenges-sent %d)" % (
                   errno.errorcode.get(err, err), "%.3f" % dt if dt is not None else "never",
                   HOLD_MS, sent - sent_before, st2["resets-sent"], st2["challenges-sent"]),
               {"source": {k: st2[k] for k in st2 if k.startswith(("tcp-", "res", "chal"))},
                "drops": st2["drops"], "migration": pair.src.migration("vm1")})
        s2.close()
    finally:
        if dg:
            dg.stop()
        pair.stop()


PEER_IP = "10.77.0.1"      # the namespace's bridge address
PEER_PORT = 7100
DROP_DATA = ["INPUT", "-p", "tcp", "--dport", str(PEER_PORT), "-m", "length",
             "--length", "100:65535", "-j", "DROP"]


def recv_until(s, deadline):
    """Read (and discard) until the socket reports an error or the deadline.
    Returns (errno or None, monotonic time of the error, bytes read)."""
    s.settimeout(PACE_S)
    got = 0
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
            if not data:
                return "eof", time.monotonic(), got
            got += len(data)
        except socket.timeout:
            pass
        except OSError as e:
            return e.errno, time.monotonic(), got
    return None, None, got


def scenario_challenge(ns, workdir, tap, state):
    pair = Pair(ns, os.path.join(workdir, "challenge"), tap, guest_append="",
                port_opts={"tcp-on-loss": "reset", "hold-ms": HOLD_MS})
    dg = None
    rule = False
    try:
        g = pair.boot()
        state["pids"] += [s.proc.pid for s in pair.shims] + [g.pid]
        lsock = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((PEER_IP, PEER_PORT))
        lsock.listen(1)
        lsock.settimeout(30)
        vt.agent_tcpsend(ns, g.addr, PEER_IP, PEER_PORT, 1 << 30)
        conn, _ = lsock.accept()
        err, _t, got = recv_until(conn, time.monotonic() + 1.0)
        # from now on the guest's data never reaches the peer's TCP
        r = ns.run(["iptables", "-I"] + DROP_DATA, check=False)
        rule = r.returncode == 0
        err2, _t, got2 = recv_until(conn, time.monotonic() + 1.0)
        st0 = pair.src.stats("vm1")
        dg, t_kill = blackout_and_kill(pair, tap)
        err3, t_err, got3 = recv_until(conn, t_kill + HOLD_MS / 1000.0 + 5)
        dt = (t_err - t_kill) if t_err else None
        st = pair.src.stats("vm1")
        tap.ok(rule and err is None and got > 0 and err3 == errno.ECONNRESET and
               dt <= HOLD_MS / 1000.0 + 1.0 and
               st["challenges-sent"] - st0["challenges-sent"] >= 1 and
               st["resets-sent"] - st0["resets-sent"] == 1,
               "the VM's data unacknowledged by the peer: %d challenge ACK(s), then the RST; "
               "the peer's socket got %s %s s after the kill (%d bytes read before the drop "
               "rule, %d after)" % (
                   st["challenges-sent"] - st0["challenges-sent"],
                   errno.errorcode.get(err3, err3), "%.3f" % dt if dt is not None else "never",
                   got, got2),
               {"source": {k: st[k] for k in st if k.startswith(("tcp-", "res", "chal"))},
                "errors": [err, err2, err3], "iptables": r.returncode})
        conn.close()
        lsock.close()
    finally:
        if rule:
            ns.run(["iptables", "-D"] + DROP_DATA, check=False)
        if dg:
            dg.stop()
        pair.stop()


CUT_TO_B = ["OUTPUT", "-p", "tcp", "--dport", str(PORT_B), "-j", "REJECT", "--reject-with",
            "tcp-reset"]


def scenario_unreachable(ns, workdir, tap, state):
    pair = Pair(ns, os.path.join(workdir, "unreachable"), tap, guest_append="",
                port_opts={"tcp-on-loss": "reset", "hold-ms": HOLD_MS})
    dg = None
    rule = False
    try:
        g = pair.boot()
        state["pids"] += [s.proc.pid for s in pair.shims] + [g.pid]
        s, sent = connect(ns, g.addr)
        sent_before = sent

        def cut():
            nonlocal rule
            rule = ns.run(["iptables", "-I"] + CUT_TO_B, check=False).returncode == 0

        dg, t_kill = blackout_and_kill(pair, tap, cut)
        err, t_err, sent = poke_until(s, sent, t_kill + HOLD_MS / 1000.0 + 1.0)
        info = tcp_info(s)
        st = pair.src.stats("vm1")
        logged = "TCP peers not reset: the destination is unreachable" in pair.src.log_text()
        tap.ok(rule and err is None and info["state"] == TCP_ESTABLISHED and
               st["resets-sent"] == 0 and st["challenges-sent"] == 0 and
               pair.src.migration("vm1")["state"] == "none" and logged,
               "tunnel to the destination cut in the blackout, then the VM killed: the "
               "source cannot know whether it resumed there and resets nothing (peer "
               "socket established, no error at hold-ms + 1 s; %d bytes written; "
               "resets-sent %d; logged: %s)" % (sent - sent_before, st["resets-sent"], logged),
               {"error": errno.errorcode.get(err, err), "tcp_info": info,
                "source": {k: st[k] for k in st if k.startswith(("tcp-", "res", "chal"))},
                "drops": st["drops"]})
        s.close()
    finally:
        if rule:
            ns.run(["iptables", "-D"] + CUT_TO_B, check=False)
        if dg:
            dg.stop()
        pair.stop()


def scenario_drop(ns, workdir, tap, state):
    pair = Pair(ns, os.path.join(workdir, "drop"), tap, guest_append="",
                port_opts={"hold-ms": HOLD_MS})
    dg = None
    try:
        g = pair.boot()
        state["pids"] += [s.proc.pid for s in pair.shims] + [g.pid]
        # 1. a rule's own tcp-on-loss decides for the connections it matches
        s0, sent = connect(ns, g.addr)
        st0 = pair.src.stats("vm1")
        pair.src.execute("reset-flows", {"port": "vm1"})
        err0, _t, sent = poke_until(s0, sent, time.monotonic() + 1.0)
        st1 = pair.src.stats("vm1")
        rule = "name=peer match=src=%s,proto=tcp tcp-on-loss=reset" % PEER_IP
        pair.src.execute("policy-add", {"rule": rule})
        # the connection's next segments take the rule's tcp-on-loss
        err1, _t, sent = poke_until(s0, sent, time.monotonic() + 0.5)
        pair.src.execute("reset-flows", {"port": "vm1"})
        t0 = time.monotonic()
        err, t_err, sent = poke_until(s0, sent, t0 + 5)
        dt = (t_err - t0) if t_err else None
        st2 = pair.src.stats("vm1")
        pair.src.execute("policy-del", {"name": "peer"})
        tap.ok(err0 is None and err1 is None and st1["resets-sent"] == st0["resets-sent"] and
               err == errno.ECONNRESET and dt <= 1.0 and
               st2["resets-sent"] - st1["resets-sent"] == 1,
               "tcp-on-loss=drop on the port: reset-flows resets nothing; with a rule %r "
               "it gives the peer's socket %s %s s after it (resets-sent %d)" % (
                   rule, errno.errorcode.get(err, err), "%.3f" % dt if dt is not None else "never",
                   st2["resets-sent"] - st1["resets-sent"]),
               {"before_rule": errno.errorcode.get(err0, err0),
                "stats": {k: st2[k] for k in st2 if k.startswith(("tcp-", "res", "chal"))}})
        s0.close()

        # 2. the VM killed in a blackout
        resets_before, challenges_before = st2["resets-sent"], st2["challenges-sent"]
        s, sent = connect(ns, g.addr)
        sent_before = sent
        dg, t_kill = blackout_and_kill(pair, tap)
        err, t_err, sent = poke_until(s, sent, t_kill + HOLD_MS / 1000.0 + 1.0)
        info = tcp_info(s)
        st = pair.src.stats("vm1")
        tap.ok(err is None and info["state"] == TCP_ESTABLISHED and
               (info["retransmits"] > 0 or info["unacked"] > 0) and
               st["resets-sent"] == resets_before and
               st["challenges-sent"] == challenges_before and st["tcp-ct-entries"] >= 1,
               "VM killed in the blackout, tcp-on-loss=drop: at hold-ms + 1 s the peer's "
               "socket has no error, still established with %d segments unacknowledged "
               "(%d bytes written, retransmits %d); no new RST or challenge, "
               "tcp-ct-entries %d" % (
                   info["unacked"], sent - sent_before, info["retransmits"],
                   st["tcp-ct-entries"]),
               {"error": errno.errorcode.get(err, err), "tcp_info": info,
                "source": {k: st[k] for k in st if k.startswith(("tcp-", "res", "chal"))}})
        s.close()
    finally:
        if dg:
            dg.stop()
        pair.stop()


def scenario_migrated(ns, workdir, tap, state):
    """tcp-on-loss=reset on a VM that migrates and lives: A -> B -> A back
    to back, each old QEMU stopped after its migration completed (as
    libvirt does).  Nothing may be reset: the source's QEMU going away
    after a completed migration is not a VM lost."""
    pair = Pair(ns, os.path.join(workdir, "migrated"), tap, guest_append="",
                port_opts={"tcp-on-loss": "reset", "hold-ms": HOLD_MS})
    poker = None
    s = None
    try:
        g = pair.boot()
        state["pids"] += [sh.proc.pid for sh in pair.shims] + [g.pid]
        s, sent = connect(ns, g.addr)
        poker = Poker({"peer": (s, sent)})
        poker.start()
        pair.migrate()
        pair.migrate()
        t_last = time.monotonic()       # the last old QEMU was stopped
        time.sleep(HOLD_MS / 1000.0 + 1.5)
        poker.stop()
        s.setblocking(True)
        # the guest (on A again) still acknowledges what the peer sends
        try:
            acked = vt.wait_for(lambda: tcp_info(s)["unacked"] == 0, 10, 0.05, "the guest's ACK")
        except TimeoutError:
            acked = False
        info = tcp_info(s)
        st = [sh.stats("vm1") for sh in pair.shims]
        tap.ok(not poker.errors and info["state"] == TCP_ESTABLISHED and acked and
               all(x["resets-sent"] == 0 and x["challenges-sent"] == 0 for x in st),
               "tcp-on-loss=reset, A -> B -> A (downtimes %s), each old QEMU stopped: "
               "%.1f s after the last stop the peer's socket has no error and is "
               "acknowledged; resets-sent %d + %d, challenges-sent %d + %d" % (
                   pair.downtimes, time.monotonic() - t_last,
                   st[0]["resets-sent"], st[1]["resets-sent"], st[0]["challenges-sent"],
                   st[1]["challenges-sent"]),
               {"errors": poker.errors, "tcp_info": info,
                "shims": [{k: x[k] for k in x if k.startswith(("tcp-", "res", "chal"))}
                          for x in st]})
    finally:
        if poker:
            poker.stop()
        if s:
            s.close()
        pair.stop()


def scenarios(ns, workdir, tap, state):
    scenario_reset(ns, workdir, tap, state)
    scenario_challenge(ns, workdir, tap, state)
    scenario_unreachable(ns, workdir, tap, state)
    scenario_drop(ns, workdir, tap, state)
    scenario_migrated(ns, workdir, tap, state)


def main():
    return vt.netns_main(7, "tcpreset", scenarios, with_state=True)


if __name__ == "__main__":
    sys.exit(main())
