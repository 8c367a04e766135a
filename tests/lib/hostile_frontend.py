#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A hostile vhost-user frontend: the QEMU side of a virtio-net device,
written from the vhost-user specification (QEMU docs/interop/vhost-user.rst)
and the virtio 1.x split virtqueue layout, driven by a test instead of a
guest.

It connects to a backend's vhost-user socket, negotiates like QEMU does
(GET_FEATURES, GET/SET_PROTOCOL_FEATURES with REPLY_ACK, SET_OWNER,
SET_FEATURES with VIRTIO_F_VERSION_1 and INDIRECT_DESC, SET_MEM_TABLE with
one memfd region, SET_VRING_NUM/BASE/ADDR/KICK/CALL and SET_VRING_ENABLE
for vrings 0 (RX) and 1 (TX)), lays the rings out in the shared memory, and
then posts descriptor chains on the TX ring as a guest driver would, valid
or not.  The device side's progress is read back from the used rings.

Each attack case runs on a fresh connection, like a guest that resets its
device: valid frames first, then the malformed chain(s), then valid frames
again.  The case result says which of them the backend consumed (used ring)
within a bounded wait; the test that drives this decides what reached the
uplink by sniffing it.

Valid frames are IPv4/UDP datagrams in the format of tests/lib/proto.py
(stream VALID_STREAM, consecutive sequence numbers over all cases), so a
udprecv.py on the uplink side counts them exactly.  Malformed frames that
still carry bytes use EtherType 0x88b5 (IEEE local experimental) with a
marker, so a sniffer can tell them apart.

Command line (prints one JSON object per case, then a summary line):

    hostile_frontend.py --socket PATH --src-mac MAC --dst-mac MAC \\
        --src-ip 10.77.0.66 --dst-ip 10.77.0.1 [--cases a,b,...] [--list]
"""

import argparse
import json
import mmap
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402

# vhost-user requests (vhost-user.rst, "Front-end message types")
GET_FEATURES = 1
SET_FEATURES = 2
SET_OWNER = 3
SET_MEM_TABLE = 5
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
SET_VRING_BASE = 10
GET_VRING_BASE = 11
SET_VRING_KICK = 12
SET_VRING_CALL = 13
GET_PROTOCOL_FEATURES = 15
SET_PROTOCOL_FEATURES = 16
SET_VRING_ENABLE = 18

FLAG_VERSION = 0x1
FLAG_REPLY = 0x4
FLAG_NEED_REPLY = 0x8
HDR = struct.Struct("<III")
MAX_REGIONS = 8
NO_FD = 0x100                   # bit 8 of a KICK/CALL payload: no fd

PROTOCOL_F_REPLY_ACK = 3
F_PROTOCOL_FEATURES = 30
F_VERSION_1 = 32
F_INDIRECT_DESC = 28
F_MRG_RXBUF = 15

# split virtqueue (virtio 1.x, 2.7)
DESC = struct.Struct("<QIHH")
DESC_F_NEXT = 1
DESC_F_WRITE = 2
DESC_F_INDIRECT = 4
NET_HDR_LEN = 12                # struct virtio_net_hdr_mrg_rxbuf (VERSION_1)

QSIZE = 256
MEM_SIZE = 32 << 20
GPA_BASE = 0x40000000           # guest-physical address of our one region
VRING_OFF = (0x0000, 0x4000)    # per vring: desc +0, avail +0x1000, used +0x2000
INDIRECT_OFF = 0x10000          # indirect tables, 64 KiB
RX_BUF_OFF = 0x20000            # RX buffers, 2 KiB each
RX_BUF_LEN = 2048
RX_BUFS = 64
TX_BUF_OFF = 0x100000           # TX frames, 2 KiB slots
TX_SLOT = 2048
BIG_OFF = 0x400000              # giant frames, up to the end of the region

VALID_STREAM = 9
VALID_PORT = proto.PORT_UDP_SINK + 50   # UDP port of the valid frames
ETH_P_EXPERIMENTAL = 0x88B5
MARK = b"VSHIM-HOSTILE"


class ProtocolError(Exception):
    """The backend closed the connection or answered an error."""


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_checksum(hdr):
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Frames:
    """Ethernet frames from the hostile VM: valid UDP datagrams and marked
    junk."""

    def __init__(self, src_mac, dst_mac, src_ip, dst_ip, port=VALID_PORT):
        self.src = mac_bytes(src_mac)
        self.dst = mac_bytes(dst_mac)
        self.src_ip = socket.inet_aton(src_ip)
        self.dst_ip = socket.inet_aton(dst_ip)
        self.port = port
        self.seq = 0

    def valid(self, size=100):
        """The next valid datagram (stream VALID_STREAM); returns (frame, seq)."""
        seq = self.seq
        self.seq += 1
        data = proto.datagram(VALID_STREAM, seq, size, time.monotonic_ns())
        udp = struct.pack("!HHHH", 40000 + VALID_STREAM, self.port, 8 + len(data), 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                         self.src_ip, self.dst_ip)
        ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
        return self.dst + self.src + b"\x08\x00" + ip + udp, seq

    def junk(self, length, tag):
        """A frame of exactly length bytes (EtherType 0x88b5, marker, tag);
        shorter than 14 bytes it is just the start of the header."""
        body = MARK + tag.encode()[:32].ljust(32, b".")
        f = self.dst + self.src + struct.pack("!H", ETH_P_EXPERIMENTAL) + body
        if length <= len(f):
            return f[:length]
        return f + bytes((i * 7) & 0xFF for i in range(length - len(f)))


class Vring:
    """Driver side of one split virtqueue in the shared memory."""

    def __init__(self, fe, index):
        self.fe = fe
        self.index = index
        self.off = VRING_OFF[index]
        self.desc_off = self.off
        self.avail_off = self.off + 0x1000
        self.used_off = self.off + 0x2000
        self.avail_idx = 0          # driver's next avail index (free running)
        self.next_desc = 0          # descriptor allocator: a simple cursor
        self.kick_fd = os.eventfd(0, os.EFD_NONBLOCK)
        self.call_fd = os.eventfd(0, os.EFD_NONBLOCK)

    def close(self):
        for fd in (self.kick_fd, self.call_fd):
            os.close(fd)

    def gpa(self, off):
        return GPA_BASE + off

    def uva(self, off):
        return self.fe.uva_base + off

    def set_desc(self, i, addr, length, flags=0, nxt=0):
        DESC.pack_into(self.fe.mem, self.desc_off + (i % QSIZE) * 16, addr, length, flags, nxt)

    def alloc(self, n=1):
        """n free descriptor indices (cursor; each case has a fresh ring)."""
        if self.next_desc + n > QSIZE:
            raise ProtocolError("out of descriptors")
        first = self.next_desc
        self.next_desc += n
        return list(range(first, first + n))

    def post(self, head, publish=True):
        """Put head in the avail ring and (if publish) bump avail->idx."""
        struct.pack_into("<H", self.fe.mem, self.avail_off + 4 + 2 * (self.avail_idx % QSIZE),
                         head & 0xFFFF)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        if publish:
            self.publish()

    def publish(self, idx=None):
        """Store avail->idx (after the ring entries: Python's stores to the
        mmap are in program order, and x86 does not reorder stores)."""
        if idx is not None:
            self.avail_idx = idx & 0xFFFF
        struct.pack_into("<H", self.fe.mem, self.avail_off + 2, self.avail_idx)

    def kick(self):
        os.eventfd_write(self.kick_fd, 1)

    def used_idx(self):
        return struct.unpack_from("<H", self.fe.mem, self.used_off + 2)[0]

    def used_ids(self, start, end):
        """Descriptor heads the device returned in used slots [start, end)."""
        out = []
        i = start
        while i != end:
            out.append(struct.unpack_from("<I", self.fe.mem,
                                          self.used_off + 4 + 8 * (i % QSIZE))[0])
            i = (i + 1) & 0xFFFF
        return out


class Frontend:
    """One vhost-user connection with a memfd-backed "guest memory"."""

    def __init__(self, path, timeout=5.0):
        self.path = path
        self.timeout = timeout
        self.sock = None
        self.memfd = os.memfd_create("hostile-guest", os.MFD_CLOEXEC)
        os.ftruncate(self.memfd, MEM_SIZE)
        self.mem = mmap.mmap(self.memfd, MEM_SIZE, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        # our own virtual address of the region, sent as userspace_addr like
        # QEMU does (the backend only uses it to translate ring addresses)
        import ctypes
        self.uva_base = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))
        self.vrings = []
        self.features = 0

    # -- messages ----------------------------------------------------------

    def _send(self, req, payload=b"", fds=(), need_reply=False):
        flags = FLAG_VERSION | (FLAG_NEED_REPLY if need_reply else 0)
        msg = HDR.pack(req, flags, len(payload)) + payload
        if fds:
            socket.send_fds(self.sock, [msg], list(fds))
        else:
            self.sock.sendall(msg)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ProtocolError("backend closed the connection")
            buf += chunk
        return buf

    def _reply(self, req):
        r, flags, size = HDR.unpack(self._recv_exact(HDR.size))
        body = self._recv_exact(size)
        if r != req or not flags & FLAG_REPLY:
            raise ProtocolError("unexpected reply %d (flags %#x) to %d" % (r, flags, req))
        return body

    def call(self, req, payload=b"", fds=(), reply=False):
        """Send one request.  reply: the request has a reply of its own
        (GET_*); otherwise REPLY_ACK is asked for when negotiated and a
        non-zero ack raises."""
        ack = not reply and self.acks
        self._send(req, payload, fds, need_reply=ack)
        if reply:
            return self._reply(req)
        if ack:
            (status,) = struct.unpack("<Q", self._reply(req)[:8])
            if status:
                raise ProtocolError("request %d failed (ack %d)" % (req, status))
        return None

    # -- setup -------------------------------------------------------------

    def offered_features(self):
        """Connect, ask GET_FEATURES, disconnect: what the backend offers."""
        self.acks = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)
        try:
            (offered,) = struct.unpack("<Q", self.call(GET_FEATURES, reply=True)[:8])
        finally:
            self.sock.close()
            self.sock = None
        return offered

    def connect(self, want=(F_VERSION_1, F_INDIRECT_DESC, F_MRG_RXBUF)):
        """Connect and negotiate; set up vrings 0 and 1 and enable them."""
        self.acks = False
        self.mem[:0x200000] = bytes(0x200000)   # fresh rings, tables, buffers
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)
        (offered,) = struct.unpack("<Q", self.call(GET_FEATURES, reply=True)[:8])
        feats = 0
        for bit in want:
            if offered & (1 << bit):
                feats |= 1 << bit
        if not feats & (1 << F_VERSION_1):
            raise ProtocolError("backend does not offer VIRTIO_F_VERSION_1")
        if offered & (1 << F_PROTOCOL_FEATURES):
            feats |= 1 << F_PROTOCOL_FEATURES
            (pf,) = struct.unpack("<Q", self.call(GET_PROTOCOL_FEATURES, reply=True)[:8])
            mine = pf & (1 << PROTOCOL_F_REPLY_ACK)
            self.call(SET_PROTOCOL_FEATURES, struct.pack("<Q", mine))
            self.acks = bool(mine)
        self.call(SET_OWNER)
        self.call(SET_FEATURES, struct.pack("<Q", feats))
        self.features = feats
        regions = struct.pack("<QQQQ", GPA_BASE, MEM_SIZE, self.uva_base, 0)
        regions += bytes(32 * (MAX_REGIONS - 1))
        self.call(SET_MEM_TABLE, struct.pack("<II", 1, 0) + regions, fds=[self.memfd])
        self.vrings = [Vring(self, i) for i in (0, 1)]
        for v in self.vrings:
            self.call(SET_VRING_NUM, struct.pack("<II", v.index, QSIZE))
            self.call(SET_VRING_BASE, struct.pack("<II", v.index, 0))
            self.call(SET_VRING_ADDR, struct.pack("<IIQQQQ", v.index, 0, v.uva(v.desc_off),
                                                  v.uva(v.used_off), v.uva(v.avail_off), 0))
            self.call(SET_VRING_KICK, struct.pack("<Q", v.index), fds=[v.kick_fd])
            self.call(SET_VRING_CALL, struct.pack("<Q", v.index), fds=[v.call_fd])
        for v in self.vrings:
            if feats & (1 << F_PROTOCOL_FEATURES):
                self.call(SET_VRING_ENABLE, struct.pack("<II", v.index, 1))
        self.post_rx_buffers()
        return self

    def post_rx_buffers(self):
        rx = self.vrings[0]
        for i in range(RX_BUFS):
            d = rx.alloc()[0]
            rx.set_desc(d, GPA_BASE + RX_BUF_OFF + i * RX_BUF_LEN, RX_BUF_LEN, DESC_F_WRITE)
            rx.post(d, publish=False)
        rx.publish()
        rx.kick()

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        for v in self.vrings:
            v.close()
        self.vrings = []

    def destroy(self):
        self.close()
        self.mem.close()
        os.close(self.memfd)

    @property
    def tx(self):
        return self.vrings[1]

    # -- TX helpers --------------------------------------------------------

    def write(self, off, data):
        self.mem[off:off + len(data)] = data

    def tx_frame(self, frame, slot=None, off=None):
        """Copy header + frame into TX memory and make a one-descriptor
        chain; returns its head (not yet posted)."""
        tx = self.tx
        d = tx.alloc()[0]
        off = off if off is not None else TX_BUF_OFF + d * TX_SLOT
        self.write(off, bytes(NET_HDR_LEN) + frame)
        tx.set_desc(d, GPA_BASE + off, NET_HDR_LEN + len(frame))
        return d

    def wait_used(self, vring, target, timeout):
        """Wait until used->idx reaches target; returns it.  A case starts
        at index 0 and posts fewer than 65536 chains, so the indexes do
        not wrap within one connection."""
        deadline = time.monotonic() + timeout
        while True:
            u = vring.used_idx()
            if u >= target or time.monotonic() > deadline:
                return u
            time.sleep(0.002)


# -- the cases ----------------------------------------------------------------
#
# Each case function gets (fe, frames) on a fresh connection and posts its
# malformed chain(s); it returns a dict with what it did (and may post
# valid frames itself).  run_case() wraps it in valid frames before and after.

def case_zero_length(fe, fr):
    d = fe.tx.alloc()[0]
    fe.tx.set_desc(d, GPA_BASE + TX_BUF_OFF, 0)
    fe.tx.post(d)
    return {"desc": "one descriptor of length 0"}


def case_header_only(fe, fr):
    d = fe.tx.alloc()[0]
    fe.tx.set_desc(d, GPA_BASE + TX_BUF_OFF, NET_HDR_LEN)
    fe.tx.post(d)
    return {"desc": "virtio-net header only (12 bytes), no frame"}


def case_runt(fe, fr):
    fe.tx.post(fe.tx_frame(fr.junk(6, "runt")))
    return {"desc": "a 6-byte frame (shorter than an Ethernet header)"}


def case_self_loop(fe, fr):
    d = fe.tx_frame(fr.junk(60, "self-loop"))
    fe.tx.set_desc(d, GPA_BASE + TX_BUF_OFF + d * TX_SLOT, NET_HDR_LEN + 60, DESC_F_NEXT, d)
    fe.tx.post(d)
    return {"desc": "descriptor whose next is itself"}


def case_loop(fe, fr):
    a, b = fe.tx.alloc(2)
    fe.write(TX_BUF_OFF + a * TX_SLOT, bytes(NET_HDR_LEN) + fr.junk(60, "loop"))
    fe.tx.set_desc(a, GPA_BASE + TX_BUF_OFF + a * TX_SLOT, NET_HDR_LEN + 60, DESC_F_NEXT, b)
    fe.tx.set_desc(b, GPA_BASE + TX_BUF_OFF + b * TX_SLOT, 60, DESC_F_NEXT, a)
    fe.tx.post(a)
    return {"desc": "two descriptors pointing at each other"}


def case_chain_longer_than_ring(fe, fr):
    # a direct chain can only be longer than the ring by visiting a
    # descriptor twice: chain every free descriptor but the 2 kept for the
    # valid frames after, and point the last one back at the first
    ds = fe.tx.alloc(QSIZE - fe.tx.next_desc - 2)
    for i, d in enumerate(ds):
        nxt = ds[i + 1] if i + 1 < len(ds) else ds[0]
        fe.tx.set_desc(d, GPA_BASE + TX_BUF_OFF + d * TX_SLOT, 64, DESC_F_NEXT, nxt)
    fe.write(TX_BUF_OFF + ds[0] * TX_SLOT, bytes(NET_HDR_LEN) + fr.junk(52, "long"))
    fe.tx.post(ds[0])
    return {"desc": "a chain through %d descriptors whose last one points back at the "
                    "first, so walking it exceeds the ring size %d" % (len(ds), QSIZE)}


def case_next_out_of_range(fe, fr):
    d = fe.tx_frame(fr.junk(60, "next-oob"))
    fe.tx.set_desc(d, GPA_BASE + TX_BUF_OFF + d * TX_SLOT, NET_HDR_LEN + 60, DESC_F_NEXT,
                   QSIZE + 44)
    fe.tx.post(d)
    return {"desc": "next = %d (ring size %d)" % (QSIZE + 44, QSIZE)}


def case_head_out_of_range(fe, fr):
    fe.tx.post(0xFFFF)
    return {"desc": "avail ring entry 65535 (ring size %d)" % QSIZE}


def _oob(fe, addr, length, what):
    d = fe.tx.alloc()[0]
    fe.tx.set_desc(d, addr, length)
    fe.tx.post(d)
    return {"desc": what}


def case_addr_past_end(fe, fr):
    return _oob(fe, GPA_BASE + MEM_SIZE, 100, "addr just past the end of the memory table")


def case_addr_below(fe, fr):
    return _oob(fe, 0x1000, 100, "addr below the only region (gpa 0x1000)")


def case_addr_straddles_end(fe, fr):
    return _oob(fe, GPA_BASE + MEM_SIZE - 40, 200,
                "addr 40 bytes before the end, length 200 (runs past it)")


def case_addr_wraps(fe, fr):
    return _oob(fe, 0xFFFFFFFFFFFFFF00, 0x1000, "addr + len wraps around 2^64")


def case_len_4g(fe, fr):
    return _oob(fe, GPA_BASE + TX_BUF_OFF, 0xFFFFFFFF, "length 4 GiB - 1 inside the region")


def case_chain_second_oob(fe, fr):
    a, b = fe.tx.alloc(2)
    fe.write(TX_BUF_OFF + a * TX_SLOT, bytes(NET_HDR_LEN) + fr.junk(60, "2nd-oob"))
    fe.tx.set_desc(a, GPA_BASE + TX_BUF_OFF + a * TX_SLOT, NET_HDR_LEN + 60, DESC_F_NEXT, b)
    fe.tx.set_desc(b, GPA_BASE + MEM_SIZE + 0x10000, 100)
    fe.tx.post(a)
    return {"desc": "valid first descriptor, second one outside the memory table"}


def _giant(fe, fr, length, pieces, tag):
    frame = fr.junk(length, tag)
    data = bytes(NET_HDR_LEN) + frame
    fe.write(BIG_OFF, data)
    ds = fe.tx.alloc(pieces)
    step = -(-len(data) // pieces)
    for i, d in enumerate(ds):
        lo = i * step
        n = min(step, len(data) - lo)
        last = i + 1 == len(ds)
        fe.tx.set_desc(d, GPA_BASE + BIG_OFF + lo, n, 0 if last else DESC_F_NEXT,
                       0 if last else ds[i + 1])
    fe.tx.post(ds[0])
    return {"desc": "a %d-byte frame in %d descriptor(s)" % (length, pieces), "len": length}


def case_giant_64k(fe, fr):
    return _giant(fe, fr, 65536 + 14, 1, "giant-64k")


def case_giant_chain(fe, fr):
    return _giant(fe, fr, 65536 + 14, 64, "giant-chain")


def case_jumbo_9000(fe, fr):
    return _giant(fe, fr, 9000, 1, "jumbo")


def case_giant_16m(fe, fr):
    return _giant(fe, fr, 16 << 20, 1, "giant-16m")


def _indirect(fe, fr, table, length=None, addr=None, what=""):
    off = INDIRECT_OFF
    fe.write(off, table)
    d = fe.tx.alloc()[0]
    fe.tx.set_desc(d, GPA_BASE + off if addr is None else addr,
                   len(table) if length is None else length, DESC_F_INDIRECT)
    fe.tx.post(d)
    return {"desc": what}


def case_indirect_garbage(fe, fr):
    rnd = random.Random(0x5653)
    table = bytes(rnd.getrandbits(8) for _ in range(16 * 16))
    return _indirect(fe, fr, table, what="indirect table of 16 random descriptors")


def case_indirect_outside(fe, fr):
    return _indirect(fe, fr, b"", length=16 * 4, addr=GPA_BASE + MEM_SIZE + 0x100000,
                     what="indirect table outside the memory table")


def case_indirect_len_zero(fe, fr):
    return _indirect(fe, fr, DESC.pack(GPA_BASE + TX_BUF_OFF, 100, 0, 0), length=0,
                     what="indirect descriptor of length 0")


def case_indirect_too_long(fe, fr):
    return _indirect(fe, fr, bytes(16 * (QSIZE + 1)),
                     what="indirect table of %d entries (ring size %d)" % (QSIZE + 1, QSIZE))


def case_indirect_loop(fe, fr):
    fe.write(TX_BUF_OFF, bytes(NET_HDR_LEN) + fr.junk(60, "ind-loop"))
    table = (DESC.pack(GPA_BASE + TX_BUF_OFF, NET_HDR_LEN + 60, DESC_F_NEXT, 1) +
             DESC.pack(GPA_BASE + TX_BUF_OFF, 10, DESC_F_NEXT, 0))
    return _indirect(fe, fr, table, what="indirect table whose two entries point at each other")


def case_indirect_nested(fe, fr):
    inner = DESC.pack(GPA_BASE + INDIRECT_OFF, 16, DESC_F_INDIRECT, 0)
    return _indirect(fe, fr, inner, what="indirect table entry flagged INDIRECT again "
                                        "(pointing at its own table)")


def case_indirect_odd_len(fe, fr):
    fe.write(TX_BUF_OFF + 200 * TX_SLOT, bytes(NET_HDR_LEN) + fr.junk(60, "ind-odd"))
    table = DESC.pack(GPA_BASE + TX_BUF_OFF + 200 * TX_SLOT, NET_HDR_LEN + 60, 0, 0)
    return _indirect(fe, fr, table + b"\xff" * 7, length=23,
                     what="indirect length 23 (not a multiple of 16), one real entry")


def case_avail_jump(fe, fr):
    """avail->idx far ahead of what the device used: every ring slot holds
    a header-only chain, so whatever the device does with the phantom
    entries, it cannot send a frame."""
    d = fe.tx.alloc()[0]
    fe.tx.set_desc(d, GPA_BASE + TX_BUF_OFF + d * TX_SLOT, NET_HDR_LEN)
    for i in range(QSIZE):
        struct.pack_into("<H", fe.mem, fe.tx.avail_off + 4 + 2 * i, d)
    jump = 40000
    fe.tx.publish(fe.tx.avail_idx + jump)
    return {"desc": "avail->idx moved %d entries ahead (ring size %d), all slots naming one "
                    "header-only chain" % (jump, QSIZE), "jump": jump}


CASES = [
    ("zero-length", case_zero_length),
    ("header-only", case_header_only),
    ("runt", case_runt),
    ("jumbo-9000", case_jumbo_9000),
    ("giant-64k", case_giant_64k),
    ("giant-64k-chain", case_giant_chain),
    ("giant-16m", case_giant_16m),
    ("self-loop", case_self_loop),
    ("loop", case_loop),
    ("chain-longer-than-ring", case_chain_longer_than_ring),
    ("next-out-of-range", case_next_out_of_range),
    ("head-out-of-range", case_head_out_of_range),
    ("addr-past-end", case_addr_past_end),
    ("addr-below", case_addr_below),
    ("addr-straddles-end", case_addr_straddles_end),
    ("addr-wraps", case_addr_wraps),
    ("len-4g", case_len_4g),
    ("chain-second-oob", case_chain_second_oob),
    ("indirect-garbage", case_indirect_garbage),
    ("indirect-outside", case_indirect_outside),
    ("indirect-len-zero", case_indirect_len_zero),
    ("indirect-too-long", case_indirect_too_long),
    ("indirect-loop", case_indirect_loop),
    ("indirect-nested", case_indirect_nested),
    ("indirect-odd-len", case_indirect_odd_len),
    ("avail-jump", case_avail_jump),
]


def post_valid(fe, fr, n):
    """Post n valid datagrams on TX; returns their seqs."""
    seqs = []
    for _ in range(n):
        frame, seq = fr.valid()
        fe.tx.post(fe.tx_frame(frame), publish=False)
        seqs.append(seq)
    fe.tx.publish()
    fe.tx.kick()
    return seqs


def run_case(path, fr, name, fn, settle=0.5, before=2, after=2):
    """One case on a fresh connection: `before` valid frames, the attack,
    `after` valid frames.  Returns a JSON-able dict."""
    fe = Frontend(path)
    res = {"case": name}
    try:
        fe.connect()
        res["features"] = "%#x" % fe.features
        tx = fe.tx
        res["before_seqs"] = post_valid(fe, fr, before)
        res["before_consumed"] = fe.wait_used(tx, tx.avail_idx, 3.0)
        start = tx.avail_idx
        res.update(fn(fe, fr))
        tx.kick()
        posted = (tx.avail_idx - start) & 0xFFFF
        fe.wait_used(tx, tx.avail_idx, 10.0 if name == "avail-jump" else settle)
        res["after_seqs"] = post_valid(fe, fr, after)
        u = fe.wait_used(tx, tx.avail_idx, settle + 0.5)
        res["attack_posted"] = posted
        res["attack_consumed"] = min(max(u - before, 0), posted)
        res["after_consumed"] = max(u - before - posted, 0)
        res["used_idx"] = u
        res["avail_idx"] = tx.avail_idx
        res["stalled"] = u != tx.avail_idx
        res["connected"] = True
    except (ProtocolError, OSError) as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
        res["connected"] = False
    finally:
        fe.destroy()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket")
    ap.add_argument("--src-mac", default="52:54:00:77:0b:01")
    ap.add_argument("--dst-mac", default="ff:ff:ff:ff:ff:ff")
    ap.add_argument("--src-ip", default="10.77.0.66")
    ap.add_argument("--dst-ip", default="10.77.0.1")
    ap.add_argument("--cases", default="all")
    ap.add_argument("--valid-only", type=int, default=0,
                    help="just post this many valid frames on one connection")
    ap.add_argument("--start-seq", type=int, default=0)
    ap.add_argument("--pause", type=float, default=0.3, help="seconds between cases")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for name, _ in CASES:
            print(name)
        return 0
    fr = Frames(a.src_mac, a.dst_mac, a.src_ip, a.dst_ip)
    fr.seq = a.start_seq
    if a.valid_only:
        fe = Frontend(a.socket)
        try:
            fe.connect()
            seqs = post_valid(fe, fr, a.valid_only)
            u = fe.wait_used(fe.tx, fe.tx.avail_idx, 5.0)
            print(json.dumps({"case": "valid-only", "seqs": seqs, "consumed": u,
                              "next_seq": fr.seq}), flush=True)
        finally:
            fe.destroy()
        return 0
    names = [n for n, _ in CASES] if a.cases == "all" else a.cases.split(",")
    table = dict(CASES)
    for n in names:
        if n not in table:
            print("unknown case %s" % n, file=sys.stderr)
            return 2
    for n in names:
        r = run_case(a.socket, fr, n, table[n])
        print(json.dumps(r), flush=True)
        time.sleep(a.pause)
    print(json.dumps({"summary": True, "next_seq": fr.seq}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
