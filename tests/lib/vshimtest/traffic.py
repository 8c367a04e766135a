# SPDX-License-Identifier: BSD-3-Clause
"""Traffic: the guest agent's client (``agent_cmd``, ``agent_stats``,
``agent_reset``, ``agent_send``, ``agent_tcpsend``, ``agent_timeline``,
``agent_wait_tx_idle``, ``agent_kernel_counters``; the workload of tests/guest/agent.c) and the host
side, ``UdpSender``, ``UdpReceiver``, ``TcpSender``, ``TcpReceiver``
(tests/lib/udpsend.py etc. run inside a NetNS)."""

import json
import os
import select
import signal
import socket
import subprocess
import threading
import time

from .env import LIB_DIR, PYTHON, HarnessError, strip_prefix

import proto  # noqa: E402,I100  (tests/lib/proto.py: .env puts LIB_DIR on sys.path)

_ctl_lock = threading.Lock()


def agent_cmd(ns, guest_ip, text, timeout=1.0, retries=5):
    """Send control request text to the guest agent at guest_ip:7001 from
    inside ns and return the reply (str).  Each of the retries tries waits
    timeout seconds; requests are tagged so late replies are ignored and a
    retried request runs only once.  Thread-safe.  Raises TimeoutError."""
    with _ctl_lock:
        if ns._ctl_sock is None:
            ns._ctl_sock = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        return proto.control(ns._ctl_sock, (strip_prefix(guest_ip), proto.PORT_CTL), text,
                             timeout, retries)


def _check_ok(reply, what):
    if reply != "ok":
        raise HarnessError("agent %s: %s" % (what, reply))
    return reply


def agent_stats(ns, guest_ip):
    """The agent's counters as a dict::

        {"now_us", "uptime_us", "bad_magic", "short", "bad_stream",
         "streams": {"0": {"received", "unique", "lost", "lost_since_first",
                           "reordered",
                           "duplicated", "corrupted", "too_old", "bytes",
                           "first_seq", "highest_seq", "first_us", "last_us",
                           "max_gap_us", "max_gap_seq", "max_gap_end_us",
                           "timeline", "timeline_dropped"}, ...},
         "tcp": {"connections", "active", "closed", "bytes", "corrupted",
                 "max_gap_us", "last_conn_bytes"},
         "tx": {"udp_runs", "udp_active", "udp_sent", "udp_errors",
                "udp_done", "tcp_runs", "tcp_active", "tcp_sent",
                "tcp_errors", "tcp_done", "tcp_last_bytes"}}

    Only streams that received something since the last reset are listed
    (use ``stream_stats`` for a zero default).  Times are the guest's
    CLOCK_MONOTONIC in microseconds; lost = highest_seq + 1 - unique
    (sequences start at 0), lost_since_first = highest_seq - first_seq + 1 -
    unique (first_seq: the first seq that arrived after the reset)."""
    reply = agent_cmd(ns, guest_ip, "stats")
    try:
        return json.loads(reply)
    except ValueError:
        raise HarnessError("agent stats: bad reply %r" % reply[:200])


def stream_stats(stats, stream=0):
    """stats['streams'][str(stream)] or all-zero counters if absent."""
    zero = {k: 0 for k in ("received", "unique", "lost", "reordered", "duplicated",
                           "corrupted", "too_old", "bytes", "max_gap_us", "timeline")}
    return stats.get("streams", {}).get(str(stream), zero)


def agent_reset(ns, guest_ip):
    """Zero all agent counters and timelines."""
    return _check_ok(agent_cmd(ns, guest_ip, "reset"), "reset")


def agent_send(ns, guest_ip, dst_ip, port, count, pps, stream=0, size=64, start_seq=0):
    """Make the guest send count datagrams (format of agent-proto.h, seq
    start_seq...) of size bytes to dst_ip:port at pps.  Returns at once;
    progress is in agent_stats()['tx'] (see agent_wait_tx_idle)."""
    return _check_ok(agent_cmd(ns, guest_ip, "send %s %d %d %d %d %d %d" % (
        strip_prefix(dst_ip), port, count, pps, stream, size, start_seq)), "send")


def agent_tcpsend(ns, guest_ip, dst_ip, port, nbytes):
    """Make the guest connect to dst_ip:port and send nbytes of the TCP
    pattern (byte k = k % 251).  Returns at once."""
    return _check_ok(agent_cmd(ns, guest_ip, "tcpsend %s %d %d" % (
        strip_prefix(dst_ip), port, nbytes)), "tcpsend")


def agent_wait_tx_idle(ns, guest_ip, timeout=60.0):
    """Wait until the guest has no UDP/TCP sender running; returns the final
    agent_stats().  Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        st = agent_stats(ns, guest_ip)
        if st["tx"]["udp_active"] == 0 and st["tx"]["tcp_active"] == 0:
            return st
        if time.monotonic() >= deadline:
            raise TimeoutError("guest senders still active after %.0f s: %r" % (timeout, st["tx"]))
        time.sleep(0.1)


def agent_timeline(ns, guest_ip, stream=0):
    """Page through the guest's arrival timeline of stream; returns the list
    of (arrival_us, seq) in arrival order (guest CLOCK_MONOTONIC, us).  The
    agent keeps the first 200000 arrivals after a reset."""
    out = []
    while True:
        reply = agent_cmd(ns, guest_ip, "timeline %d %d" % (stream, len(out)))
        off, total, ents = proto.decode_timeline(reply)
        if off != len(out):
            raise HarnessError("timeline: asked offset %d, got %d" % (len(out), off))
        out.extend(ents)
        if not ents or len(out) >= total:
            return out


def parse_snmp(text):
    """/proc/net/snmp (pairs of "Proto: names" / "Proto: values" lines) as
    {"Ip": {"InReceives": n, ...}, "Udp": {...}, ...}."""
    out, heads = {}, {}
    for line in text.splitlines():
        proto_, _, rest = line.partition(":")
        if proto_ in heads:
            out[proto_] = {k: int(v) for k, v in zip(heads.pop(proto_), rest.split())}
        elif rest:
            heads[proto_] = rest.split()
    return out


def parse_net_dev(text):
    """/proc/net/dev as {ifname: {"rx_packets", "rx_errs", "rx_drop",
    "rx_fifo", "rx_frame", "tx_packets", "tx_drop", ...}}."""
    rx = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
    tx = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
    out = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        vals = [int(v) for v in rest.split()]
        out[name.strip()] = dict(zip(["rx_" + k for k in rx] + ["tx_" + k for k in tx], vals))
    return out


def agent_kernel_counters(ns, guest_ip):
    """The guest kernel's network counters, for placing a datagram the
    agent never received: {"snmp": parse_snmp(/proc/net/snmp), "netstat":
    parse_snmp(/proc/net/netstat) (TcpExt, IpExt), "dev":
    parse_net_dev(/proc/net/dev), "softnet": the lines of
    /proc/net/softnet_stat (per CPU, hex: processed, dropped, squeezed...),
    "nic": eth0's `ethtool -S` counters {name: value} or the agent's
    error}.  Needs an agent with the kfile and nicstats commands."""
    res = {"snmp": parse_snmp(agent_cmd(ns, guest_ip, "kfile snmp")),
           "netstat": parse_snmp(agent_cmd(ns, guest_ip, "kfile netstat")),
           "dev": parse_net_dev(agent_cmd(ns, guest_ip, "kfile dev")),
           "softnet": agent_cmd(ns, guest_ip, "kfile softnet").split("\n")[:-1]}
    nic = agent_cmd(ns, guest_ip, "nicstats")
    if nic.startswith("err"):
        res["nic"] = nic
    else:
        res["nic"] = {k: int(v) for k, _, v in
                      (line.rpartition(" ") for line in nic.splitlines() if line)}
    return res


def agent_channels(ns, guest_ip, combined=None):
    """eth0's combined channel count (the queue pairs a virtio-net guest
    uses) as {"combined": n, "max": n}, set to combined first when given
    (`ethtool -L eth0 combined N`, by ioctl: the guest has no ethtool).
    Raises HarnessError when the guest kernel refuses."""
    reply = agent_cmd(ns, guest_ip, "channels" if combined is None else
                      "channels %d" % combined)
    f = reply.split()
    if len(f) != 4 or f[0] != "combined" or f[2] != "max":
        raise HarnessError("agent channels: %s" % reply)
    return {"combined": int(f[1]), "max": int(f[3])}


# ---------------------------------------------------------------------------
# Traffic helpers (subprocesses inside a NetNS)
# ---------------------------------------------------------------------------

class _NsScript:
    """Common part of the traffic helpers: runs a tests/lib script inside a
    NetNS, optionally waits for its LISTENING line, and parses the JSON line
    it prints last."""

    script = None
    listens = False

    def __init__(self, ns, args):
        self.ns = ns
        self.args = [str(a) for a in args]
        self.proc = None
        self.result = None
        self._out = b""

    def start(self, timeout=10.0):
        """Start the script; receivers wait (bounded) until they listen.
        Returns self."""
        self.proc = self.ns.popen([PYTHON, os.path.join(LIB_DIR, self.script)] + self.args,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if self.listens:
            fd = self.proc.stdout.fileno()
            deadline = time.monotonic() + timeout
            while b"LISTENING\n" not in self._out:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise HarnessError("%s did not start listening" % self.script)
                r, _, _ = select.select([fd], [], [], left)
                if r:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        err = self.proc.stderr.read().decode(errors="replace")
                        raise HarnessError("%s exited: %s" % (self.script, err))
                    self._out += chunk
            self._out = self._out.split(b"LISTENING\n", 1)[1]
        return self

    def running(self):
        """True while the script runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=120.0):
        """Wait for the script to finish (at most timeout seconds, then it is
        stopped) and return its result dict."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.stop()
        return self._finish(out, err)

    def stop(self):
        """Ask the script to stop now (SIGTERM; it still reports) and return
        its result dict."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.ns.kill(self.proc)
            out, err = self.proc.communicate()
        return self._finish(out, err)

    def _finish(self, out, err):
        if self.proc in self.ns.procs:
            self.ns.procs.remove(self.proc)
        text = (self._out + (out or b"")).decode(errors="replace")
        lines = [l for l in text.splitlines() if l.startswith("{")]
        if not lines:
            raise HarnessError("%s %s gave no result (status %s): %s%s" % (
                self.script, " ".join(self.args), self.proc.returncode, text,
                (err or b"").decode(errors="replace")))
        self.result = json.loads(lines[-1])
        return self.result


class UdpSender(_NsScript):
    """Paced UDP sender (udpsend.py) inside ns towards dst:port.

    Result dict (wait()/stop()): sent, errors, error_seqs, first_seq,
    next_seq, elapsed, late_resets."""

    script = "udpsend.py"

    def __init__(self, ns, dst, pps, count=None, duration=None, port=proto.PORT_UDP_SINK,
                 stream=0, size=64, start_seq=0, burst=16, max_lag_ms=200, src=None,
                 sport=0):
        """pps: datagrams per second; count and/or duration (seconds) bound
        the run; size: datagram size including the 24-byte header."""
        if not count and not duration:
            raise ValueError("UdpSender needs count or duration")
        args = ["--dst", strip_prefix(dst), "--port", port, "--pps", pps, "--stream", stream,
                "--size", size, "--start-seq", start_seq, "--burst", burst,
                "--max-lag-ms", max_lag_ms]
        if count:
            args += ["--count", count]
        if duration:
            args += ["--duration", duration]
        if src:
            args += ["--src", src]
        if sport:
            args += ["--sport", sport]
        super().__init__(ns, args)


class UdpReceiver(_NsScript):
    """UDP receiver (udprecv.py) inside ns on bind:port that checks the
    format and accounts per stream like the agent.

    Result dict: received, bad_magic, short, elapsed, streams {"0": {...}},
    and timeline {"0": [[us, seq], ...]} when timeline=True."""

    script = "udprecv.py"
    listens = True

    def __init__(self, ns, port, expect=None, idle=3.0, timeout=60.0, bind="0.0.0.0",
                 timeline=False):
        """expect: stop after that many datagrams; idle: stop that many
        seconds after the last datagram; timeout: overall bound."""
        args = ["--bind", bind, "--port", port, "--idle", idle, "--timeout", timeout]
        if expect:
            args += ["--expect", expect]
        if timeline:
            args += ["--timeline"]
        super().__init__(ns, args)


class TcpSender(_NsScript):
    """TCP pattern sender (tcpsend.py) inside ns to dst:port (default the
    guest's TCP sink 7002).  Result dict: ok, sent, elapsed, error."""

    script = "tcpsend.py"

    def __init__(self, ns, dst, nbytes, port=proto.PORT_TCP_SINK, timeout=30.0, rate=0):
        """rate: pace to this many bytes/s (0: as fast as TCP allows)."""
        super().__init__(ns, ["--dst", strip_prefix(dst), "--port", port, "--bytes", nbytes,
                              "--timeout", timeout, "--rate", rate])


class TcpReceiver(_NsScript):
    """TCP pattern receiver (tcprecv.py) inside ns on bind:port.  Result
    dict: connections, bytes, corrupted, max_gap_us, per_conn, elapsed."""

    script = "tcprecv.py"
    listens = True

    def __init__(self, ns, port, conns=1, timeout=60.0, bind="0.0.0.0"):
        super().__init__(ns, ["--bind", bind, "--port", port, "--conns", conns,
                              "--timeout", timeout])
