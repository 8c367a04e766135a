# SPDX-License-Identifier: BSD-3-Clause
"""Wire format of the test traffic, mirroring tests/guest/agent-proto.h.

UDP datagram: 24-byte header (magic u32, stream u32, seq u64, send_ns u64,
all network byte order) followed by a payload whose byte i is
(seq * 31 + i) & 0xff.  TCP streams: byte k of a connection is k % 251.
Keep this file in sync with agent-proto.h.
"""

import struct

MAGIC = 0x5653484D
PORT_UDP_SINK = 7000
PORT_UDP_SINK2 = 7003   # a second sink socket, same accounting (agent-proto.h)
PORT_CTL = 7001
PORT_TCP_SINK = 7002
MAX_STREAMS = 16
TCP_MOD = 251
HDR = struct.Struct("!IIQQ")
HDR_LEN = HDR.size  # 24
DUP_WINDOW = 1 << 20

# 256 + 65536 bytes of 0,1,...,255,0,1,...: payload of seq s and length n
# is _RAMP[o:o+n] with o = (s * 31) & 0xff.
_RAMP = bytes(range(256)) * 257
# TCP pattern: byte k = k % 251; _TCP_PAT[o:o+n] for o = k % 251.
_TCP_PAT = bytes(i % TCP_MOD for i in range(TCP_MOD)) * (65536 // TCP_MOD + 2)


def payload(seq, n):
    """Return the n payload bytes (after the header) of datagram seq."""
    o = (seq * 31) & 0xFF
    if n <= 65536:
        return _RAMP[o:o + n]
    return bytes(((seq * 31 + i) & 0xFF) for i in range(n))


def datagram(stream, seq, size, send_ns):
    """Build a complete datagram of size bytes (size >= HDR_LEN)."""
    return HDR.pack(MAGIC, stream, seq, send_ns) + payload(seq, size - HDR_LEN)


def parse(buf):
    """Check a received datagram.

    Returns (status, stream, seq, send_ns) where status is 'ok', 'short',
    'bad_magic' or 'corrupted' (stream/seq are None unless the header
    parsed)."""
    if len(buf) < HDR_LEN:
        return ("short", None, None, None)
    magic, stream, seq, send_ns = HDR.unpack_from(buf)
    if magic != MAGIC:
        return ("bad_magic", None, None, None)
    if buf[HDR_LEN:] != payload(seq, len(buf) - HDR_LEN):
        return ("corrupted", stream, seq, send_ns)
    return ("ok", stream, seq, send_ns)


def tcp_pattern(offset, n):
    """Return n bytes of the TCP pattern starting at stream offset."""
    o = offset % TCP_MOD
    if n <= 65536:
        return _TCP_PAT[o:o + n]
    return bytes(((offset + i) % TCP_MOD) for i in range(n))


def tcp_count_corrupted(offset, data):
    """Number of bytes of data (received at stream offset) that differ from
    the TCP pattern."""
    exp = tcp_pattern(offset, len(data))
    if exp == data:
        return 0
    return sum(1 for a, b in zip(exp, data) if a != b)


class SeqTracker:
    """Per-stream receive accounting identical to the guest agent's:
    received (duplicates included), unique, lost (= highest+1 - unique,
    sequences start at 0), reordered, duplicated, max inter-arrival gap."""

    def __init__(self):
        self.received = 0
        self.unique = 0
        self.duplicated = 0
        self.reordered = 0
        self.corrupted = 0
        self.highest = None
        self.first_seq = None
        self.seen = set()
        self.last_t = None
        self.max_gap_us = 0
        self.max_gap_seq = None

    def add(self, seq, t_ns):
        """Account one valid datagram seq that arrived at t_ns (monotonic)."""
        self.received += 1
        if self.last_t is not None:
            gap = (t_ns - self.last_t) // 1000
            if gap > self.max_gap_us:
                self.max_gap_us = gap
                self.max_gap_seq = seq
        self.last_t = t_ns
        if self.highest is None:
            self.highest = seq
            self.first_seq = seq
            self.unique = 1
            self.seen.add(seq)
            return
        if seq in self.seen:
            self.duplicated += 1
            return
        self.seen.add(seq)
        self.unique += 1
        if seq > self.highest:
            self.highest = seq
        else:
            self.reordered += 1

    def lost(self):
        """Sequences up to the highest seen that never arrived."""
        if self.highest is None:
            return 0
        return max(0, self.highest + 1 - self.unique)

    def as_dict(self):
        """Counters as a JSON-friendly dict (same keys as the agent)."""
        return {
            "received": self.received, "unique": self.unique,
            "lost": self.lost(), "reordered": self.reordered,
            "duplicated": self.duplicated, "corrupted": self.corrupted,
            "first_seq": self.first_seq, "highest_seq": self.highest,
            "max_gap_us": self.max_gap_us, "max_gap_seq": self.max_gap_seq,
        }


_ctl_counter = [0]


def control(sock, addr, text, timeout=1.0, retries=5):
    """Send one control request to the guest agent and return its reply.

    sock: a UDP socket (blocking or not) able to reach addr = (ip, port).
    The request is tagged "#<pid>-<n> " so that late replies to earlier
    requests are ignored and a retried request is not executed twice (the
    agent answers a repeated tag from its replay cache).  Each try waits
    timeout seconds; after retries tries raises TimeoutError."""
    import os
    import select
    import time
    _ctl_counter[0] += 1
    tag = "#%d-%d" % (os.getpid(), _ctl_counter[0])
    req = ("%s %s" % (tag, text)).encode()
    prefix = (tag + " ").encode()
    for _ in range(max(1, retries)):
        sock.sendto(req, addr)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                break
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionRefusedError:
                # ICMP port unreachable for an earlier try: agent not up yet.
                continue
            if data.startswith(prefix):
                return data[len(prefix):].decode(errors="replace")
    raise TimeoutError("no reply from agent %s:%d to %r after %d tries"
                       % (addr[0], addr[1], text, retries))


def decode_timeline(reply):
    """Decode one 'timeline' reply into (offset, total, [(arrival_us, seq)])."""
    parts = reply.split()
    if len(parts) < 5 or parts[0] != "tl":
        raise ValueError("bad timeline reply: %r" % reply[:80])
    offset, n, total = int(parts[2]), int(parts[3]), int(parts[4])
    ents = []
    us = seq = 0
    for k, e in enumerate(parts[5:5 + n]):
        a, b = e.split(",")
        if k == 0:
            us, seq = int(a), int(b)
        else:
            us += int(a)
            seq += int(b)
        ents.append((us, seq))
    if len(ents) != n:
        raise ValueError("timeline reply announced %d entries, has %d" % (n, len(ents)))
    return offset, total, ents
