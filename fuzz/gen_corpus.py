#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""gen_corpus.py - write the seed corpora of the fuzz targets (fuzz/corpus/)

Usage: fuzz/gen_corpus.py [OUTDIR]      (default: fuzz/corpus next to this file)

The seeds are small valid inputs, one file each, named after what they
hold, so a mutation starts from something each parser accepts:

  fuzz_tunnel   tunnel messages written from the wire format of
                include/vhost-shim/tunnel_wire.h and docs/tunnel-protocol.md, in
                this file's own code (not the C encoder's), behind the
                target's 5-byte prologue (flags, split seed): handshakes for
                either role (with FORGE_AUTH so the session authenticates),
                each message type, the HELLO extension area, what a version-1
                peer and a TLS client send first (the sniffing of a
                connection's first bytes), and encoder-mode records (struct
                vs_tun_msg in the host's layout)
  fuzz_control  the request lines of tests/control/*.in (comments dropped,
                %{...} expanded, huge repeats shortened), plus the
                migration and buffer-policy commands
  fuzz_config   the example of docs/configuration.md, variations, and port
                specs from tests/unit/test_config.c
  fuzz_pkt      Ethernet frames: IPv4/IPv6 UDP and TCP, VLAN and QinQ tags,
                IPv6 extension headers, ARP, RARP, a runt
  fuzz_flow     the frames of fuzz_pkt, plus TCP segments with options (the
                timestamp), SIP requests over UDP and TCP, first and later
                fragments, DSCP, frames from the VM's own MAC
  fuzz_flow_rules  one-line rules over every key and field, and config
                files with [policy NAME] groups

Re-running it rewrites the same files (the output is deterministic).
"""
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---- tunnel wire format (tunnel.h) ------------------------------------------

MAGIC = 0x56534854
(HELLO, AUTH, VM_OPEN, VM_ACCEPT, VM_REJECT, FRAME, ACK, RESUMED, LIVE_SEEN,
 BARRIER, ABORT, END, EXPECT, PING, PONG, ERROR, FRAME_TIMES, SOURCE_DIRECT,
 SOURCE_BARRIER, CONNS) = range(1, 21)
EXT_FRAME_TIMES = b"\x01\x00"     # HELLO extension: tag 1, length 0
EXT_SOURCE_DIRECT = b"\x02\x00"   # HELLO extension: tag 2, length 0
EXT_SOURCE_BARRIER = b"\x03\x00"  # HELLO extension: tag 3, length 0
EXT_TCP_CONNS = b"\x04\x00"       # HELLO extension: tag 4, length 0
INITIATOR, RESPONDER = 0, 1
FORGE_AUTH, ENCODER = 0x01, 0x02
VM_MAC = bytes.fromhex("525400123456")


def msg(mtype, body, flags=0, reserved=0):
    """header (len counts type, flags, reserved and body) + body"""
    return struct.pack(">IBBH", 4 + len(body), mtype, flags, reserved) + body


def hello(role, name, nonce=b"\x33" * 32, version=2, compat=2, ext=b""):
    return msg(HELLO, struct.pack(">IHHB", MAGIC, version, compat, role) + nonce +
               bytes([len(name)]) + name + ext)


def auth(mac=b"\x5a" * 32):
    return msg(AUTH, mac)


def vm_open(sid, name, first_seq, mac=VM_MAC):
    return msg(VM_OPEN, struct.pack(">I", sid) + mac + bytes([len(name)]) + name +
               struct.pack(">Q", first_seq))


def stream_seq(mtype, sid, seq):
    return msg(mtype, struct.pack(">IQ", sid, seq))


def stream(mtype, sid):
    return msg(mtype, struct.pack(">I", sid))


def vm_reject(sid, reason):
    return msg(VM_REJECT, struct.pack(">IH", sid, reason))


def eth_frame(n=60, ethertype=0x0800):
    f = bytes.fromhex("ffffffffffff") + bytes.fromhex("02aabbccddee") + struct.pack(">H", ethertype)
    return (f + bytes(range(256)) * 40)[:n]


def frame(sid, seq, origin, data):
    return msg(FRAME, struct.pack(">IQB", sid, seq, origin) + data)


def frame_times(sid, seq, origin, age_us, sent_us, data):
    return msg(FRAME_TIMES, struct.pack(">IQBIQ", sid, seq, origin, age_us, sent_us) + data)


def source_direct(sid, af, addr):
    return msg(SOURCE_DIRECT, struct.pack(">IB", sid, af) + addr.ljust(16, b"\0"))


def conn_record(af=4, n_tags=1, flags=0x030f, vm=bytes([10, 0, 0, 2]),
                peer=bytes([192, 0, 2, 5]), vm_mac=VM_MAC):
    """one CONNS record (struct vs_tun_wire_conn, 88 bytes)"""
    tags = struct.pack(">HH", 0x8100, 100) if n_tags else b""
    return struct.pack(">BBH", af, n_tags, flags) + vm.ljust(16, b"\0") + \
        peer.ljust(16, b"\0") + struct.pack(">HH", 5001, 40000) + vm_mac + \
        bytes.fromhex("020000000099") + tags.ljust(8, b"\0") + \
        struct.pack(">HHIIIIII", 502, 65535, 0xfffffff0, 0x10, 0x11, 0xffffffe0, 1, 2)


def conns(sid, records, count=None):
    return msg(CONNS, struct.pack(">IH", sid, len(records) if count is None else count) +
               b"".join(records))


def source_barrier(sid, seq, af, addr):
    return msg(SOURCE_BARRIER, struct.pack(">IQB", sid, seq, af) + addr.ljust(16, b"\0"))


def expect(name, mac=VM_MAC):
    return msg(EXPECT, mac + bytes([len(name)]) + name)


def token(mtype, t):
    return msg(mtype, struct.pack(">Q", t))


def error(code, text):
    return msg(ERROR, struct.pack(">HB", code, len(text)) + text)


def prologue(flags, seed):
    return bytes([flags]) + struct.pack("<I", seed)


def tunnel_seeds():
    s = {}
    after = (vm_open(1, b"vm1", 1) + vm_accept_bytes(1, 1) +
             frame(1, 1, 0, eth_frame(60)) + frame(1, 2, 1, eth_frame(14)) + stream_seq(ACK, 1, 2) +
             stream(RESUMED, 1) + stream(LIVE_SEEN, 1) + stream_seq(BARRIER, 1, 2) +
             stream_seq(END, 1, 2) + expect(b"vm1") + token(PING, 7) + token(PONG, 7) +
             error(18, b"shutting down"))
    # The peer of our initiator side is a responder and vice versa
    s["handshake-peer-responder"] = prologue(FORGE_AUTH, 1) + \
        hello(RESPONDER, b"hostB") + auth() + after
    s["handshake-peer-initiator"] = prologue(FORGE_AUTH, 2) + \
        hello(INITIATOR, b"hostB") + auth() + after
    s["handshake-no-forge"] = prologue(0, 3) + hello(RESPONDER, b"hostB") + auth() + token(PING, 1)
    s["handshake-newer-peer"] = prologue(FORGE_AUTH, 4) + \
        hello(RESPONDER, b"peer.example-1", version=3, compat=2, ext=b"\x01\x02\x03\x04") + \
        auth() + stream(ABORT, 9)
    # version 1: what an old shim sends first (in clear, sniffed), and its
    # HELLO inside TLS (x509), refused with BAD_VERSION
    s["v1-hello"] = prologue(0, 23) + hello(INITIATOR, b"hostB", version=1, compat=1) + auth()
    s["v1-hello-longest"] = prologue(FORGE_AUTH, 24) + \
        hello(RESPONDER, b"v" * 63, version=1, compat=1, ext=b"x" * 64)
    # a TLS 1.3 ClientHello's first record header and the start of its body
    s["tls-client-hello"] = prologue(0, 25) + bytes.fromhex("160301011d010001190303") + \
        b"\x42" * 32
    s["handshake-reflected"] = prologue(FORGE_AUTH, 5) + hello(RESPONDER, b"hostA", b"\x11" * 32)
    s["hello-max-name"] = prologue(0, 6) + hello(INITIATOR, b"n" * 63, ext=b"e" * 64)
    s["hello-bad-version"] = prologue(0, 7) + hello(INITIATOR, b"hostB", version=0, compat=0)
    s["vm-open"] = prologue(0, 8) + vm_open(0xffffffff, b"a_name_15_chars", 2**63 - 1)
    s["vm-accept"] = prologue(0, 9) + vm_accept_bytes(5, 100)
    s["vm-reject"] = prologue(0, 10) + vm_reject(5, 4) + vm_reject(6, 999)
    s["frame-jumbo"] = prologue(0, 11) + frame(1, 1, 0, eth_frame(9216))
    s["frame-runt"] = prologue(0, 12) + frame(1, 1, 0, eth_frame(13))
    s["ack-zero"] = prologue(0, 13) + stream_seq(ACK, 3, 0)
    s["stream-msgs"] = prologue(0, 14) + stream(RESUMED, 2) + stream(LIVE_SEEN, 2) + \
        stream(ABORT, 2) + stream_seq(BARRIER, 2, 0) + stream_seq(END, 2, 5)
    s["expect"] = prologue(0, 15) + expect(b"vm-2_x")
    s["ping-pong"] = prologue(0, 16) + token(PING, 2**64 - 1) + token(PONG, 0)
    s["error-max-text"] = prologue(0, 17) + error(1, b"x" * 128)
    # the frame-times extension (HELLO) and FRAME_TIMES
    s["frame-times"] = prologue(FORGE_AUTH, 30) + \
        hello(RESPONDER, b"hostB", ext=b"\x07\x01\xff" + EXT_FRAME_TIMES) + auth() + \
        vm_open(1, b"vm1", 1) + vm_accept_bytes(1, 1) + \
        frame_times(1, 1, 0, 5000, 2**40, eth_frame(60)) + \
        frame_times(1, 2, 1, 2**32 - 1, 2**64 - 1, eth_frame(14)) + frame(1, 3, 1, eth_frame(14))
    s["frame-times-jumbo"] = prologue(0, 31) + frame_times(1, 1, 0, 0, 0, eth_frame(9216))
    s["frame-times-short"] = prologue(0, 32) + msg(FRAME_TIMES, struct.pack(">IQB", 1, 1, 0) +
                                                   eth_frame(14))
    # the source-direct extension (HELLO) and SOURCE_DIRECT (IPv4, IPv6,
    # then a bad family and an IPv4 address with bytes past its 4)
    s["source-direct"] = prologue(FORGE_AUTH, 34) + \
        hello(INITIATOR, b"hostB", ext=EXT_FRAME_TIMES + EXT_SOURCE_DIRECT) + auth() + \
        source_direct(1, 4, bytes([10, 77, 0, 11])) + \
        source_direct(1, 6, bytes(range(16))) + source_direct(1, 5, b"")
    s["source-direct-bad-v4"] = prologue(0, 35) + source_direct(1, 4, b"\x0a\x00\x00\x01\x01")
    s["source-direct-short"] = prologue(0, 36) + msg(SOURCE_DIRECT, struct.pack(">IB", 1, 4))
    # the source-barrier extension (HELLO) and SOURCE_BARRIER (IPv4, IPv6
    # with the largest seq, then a bad family), a short one
    s["source-barrier"] = prologue(FORGE_AUTH, 37) + \
        hello(INITIATOR, b"hostB",
              ext=EXT_FRAME_TIMES + EXT_SOURCE_DIRECT + EXT_SOURCE_BARRIER) + auth() + \
        source_barrier(1, 42, 4, bytes([10, 77, 0, 11])) + \
        source_barrier(1, 2**63 - 1, 6, bytes(range(16))) + source_barrier(1, 0, 5, b"")
    s["source-barrier-short"] = prologue(0, 38) + \
        msg(SOURCE_BARRIER, struct.pack(">IQB", 1, 1, 4) + b"\x0a\x00\x00")
    # the tcp-conns extension (HELLO) and CONNS (IPv4 with a tag, IPv6
    # without), then one whose count says 3 for 2 records, one with af 5
    s["conns"] = prologue(FORGE_AUTH, 39) + \
        hello(INITIATOR, b"hostB", ext=EXT_FRAME_TIMES + EXT_TCP_CONNS) + auth() + \
        conns(1, [conn_record(), conn_record(af=6, n_tags=0, peer=bytes(range(16)))]) + \
        conns(1, [conn_record(), conn_record()], count=3)
    s["conns-bad-af"] = prologue(0, 40) + conns(1, [conn_record(af=5)])
    s["hello-ext-truncated"] = prologue(0, 33) + hello(INITIATOR, b"hostB", ext=b"\x01\x00\x05\x09")
    s["error-unprintable"] = prologue(0, 18) + error(999, b"bad\x00\x1b\xffbytes")
    s["truncated"] = prologue(0, 19) + token(PING, 1)[:-3]
    s["bad-reserved"] = prologue(0, 20) + msg(PING, struct.pack(">Q", 1), flags=1)
    s["bad-type"] = prologue(0, 21) + msg(21, b"\x00" * 8)
    s["too-large"] = prologue(0, 22) + struct.pack(">IBBH", 9234, FRAME, 0, 0)
    # Encoder mode: type, room (LE16), frame length (LE16), frame, union bytes
    # in the host's layout of struct vs_tun_msg (x86-64: natural alignment)
    room = struct.pack("<H", 0xffff)
    s["enc-hello"] = prologue(ENCODER, 0) + bytes([HELLO]) + room + b"\0\0" + \
        struct.pack("=HHB", 2, 2, INITIATOR) + b"\x44" * 32 + b"hostB".ljust(64, b"\0")
    s["enc-vm-open"] = prologue(ENCODER, 0) + bytes([VM_OPEN]) + room + b"\0\0" + \
        struct.pack("=I", 7) + VM_MAC + b"vm1".ljust(16, b"\0") + b"\0" * 6 + struct.pack("=Q", 1)
    s["enc-frame"] = prologue(ENCODER, 0) + bytes([FRAME]) + room + struct.pack("<H", 60) + \
        eth_frame(60) + struct.pack("=IIQB", 1, 0, 1, 0)
    s["enc-ack"] = prologue(ENCODER, 0) + bytes([ACK]) + room + b"\0\0" + struct.pack("=IIQ", 1, 0, 9)
    s["enc-expect"] = prologue(ENCODER, 0) + bytes([EXPECT]) + room + b"\0\0" + VM_MAC + \
        b"vm9".ljust(16, b"\0")
    s["enc-error"] = prologue(ENCODER, 0) + bytes([ERROR]) + room + b"\0\0" + \
        struct.pack("=H", 12) + b"some text\0"
    s["enc-small-room"] = prologue(ENCODER, 0) + bytes([PING]) + struct.pack("<H", 15) + b"\0\0" + \
        struct.pack("=Q", 5)
    return s


def vm_accept_bytes(sid, seq):
    return stream_seq(VM_ACCEPT, sid, seq)


# ---- control requests (tests/control/*.in) ------------------------------------

MAX_REPEAT = 300    # %{N*TEXT} beyond this is shortened: seeds stay small
# fuzz_control's socket-dir (FZ_SOCKET_DIR in fuzz/fuzz_control.c), for %{dir}
FUZZ_SOCKET_DIR = "/run/vhost-shim-fuzz"


def golden_expand(line):
    """the %{N*TEXT}, %{xHH}, %{dir}, %{uid} and %{nonl} syntax of
    tests/unit/test_control.c (%{dir}: fuzz_control's socket-dir)"""
    out = bytearray()
    nonl = False
    i = 0
    while i < len(line):
        if not line.startswith("%{", i):
            out += line[i].encode()
            i += 1
            continue
        end = line.index("}", i)
        if line[end - 1] == "*":
            end += 1
        body = line[i + 2:end]
        if body == "nonl":
            nonl = True
        elif body == "dir":
            out += FUZZ_SOCKET_DIR.encode()
        elif body == "uid":
            out += b"0"
        elif body.startswith("x"):
            out.append(int(body[1:], 16))
        else:
            n, text = body.split("*", 1)
            out += text.encode() * min(int(n), MAX_REPEAT)
        i = end + 1
    return bytes(out), nonl


def control_seeds():
    s = {}
    d = os.path.join(ROOT, "tests", "control")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".in"):
            continue
        data = bytearray()
        for line in open(os.path.join(d, f), encoding="utf-8").read().split("\n"):
            if not line or line.startswith("#"):
                continue
            b, nonl = golden_expand(line)
            data += b if nonl else b + b"\n"
        s["golden-" + f[:-3]] = bytes(data)
    neg = b'{"execute": "qmp_capabilities"}\n'
    port = (b'{"execute": "port-add", "arguments": {"name": "vm1", "socket": "'
            + FUZZ_SOCKET_DIR.encode() + b'/vm1.sock", '
            b'"mac": "52:54:00:00:00:01", "uplink": "net_null0"}, "id": 1}\n')
    s["migration"] = neg + port + (
        b'{"execute": "migrate-expect", "arguments": {"port": "vm1", "peer": "hostb"}, "id": 2}\n'
        b'{"execute": "migrate-set-peer", "arguments": {"port": "vm1", "peer": "hostc"}, "id": 3}\n'
        b'{"execute": "migrate-cancel", "arguments": {"port": "vm1"}, "id": 4}\n'
        b'{"execute": "query-migration", "id": 5}\n'
        b'{"execute": "query-migration", "arguments": {"port": "vm1"}, "id": 6}\n'
        b'{"execute": "query-peers", "id": 7}\n')
    s["buffer-policy"] = neg + port + (
        b'{"execute": "query-buffer-policy", "arguments": {"port": "vm1"}}\n'
        b'{"execute": "set-buffer-policy", "arguments": {"port": "vm1", "buffer": "off", '
        b'"udp-max-pkts": 10, "tcp-max-bytes": 4294967296, "other-policy": "drop", '
        b'"overflow": "drop-oldest", "hold-ms": 1, "linger-ms": 0, "replay-hold-ms": 600000}}\n'
        b'{"execute": "set-buffer-policy", "arguments": {"port": "vm1", "hold-ms": 0}}\n')
    s["queries"] = neg + (
        b'{"execute": "query-commands"}{"execute": "query-version", "id": [1, {"a": null}]}'
        b'{"execute": "query-control-stats"} {"execute": "stats-reset"}\n')
    s["json-values"] = (b'[1, -0, 0.5, 1e3, -1.5E-7, 9223372036854775807, 9223372036854775808, '
                        b'true, false, null, "\\u00e9\\ud83d\\ude00\\n", \'single\', {"": {}}]')
    return s


# ---- configuration ----------------------------------------------------------

def config_seeds():
    s = {}
    doc = open(os.path.join(ROOT, "docs", "configuration.md"), encoding="utf-8").read()
    m = re.search(r"```ini\n(.*?)```", doc, re.S)
    example = m.group(1) if m else ""
    # the example's trailing "# ..." are comments only at line start in GKeyFile
    s["doc-example"] = example.encode()
    s["doc-example-clean"] = re.sub(r"[ \t]+#.*", "", example).encode()
    s["minimal"] = b"[daemon]\nfile-prefix=hostA\n"
    s["ports"] = (b"[daemon]\nlog-level=debug\nhugepages=no\nmemory-mb=64\n"
                  b"eal-args=--log-level=8 -a 0000:03:00.0\n"
                  b"[port vm1]\nsocket=/run/vm1.sock\nmac=52:54:00:00:00:01\n"
                  b"uplink=0000:03:00.0,rxq=1\nqueues=8\nmode=client\nbuffer=off\n"
                  b"udp-max-pkts=1048576\ntcp-max-bytes=4294967296\nother-policy=drop\n"
                  b"overflow=drop-oldest\nhold-ms=600000\nlinger-ms=0\nreplay-hold-ms=1\n"
                  b"[port vm2]\nsocket=/run/vm2.sock\nmac=52:54:00:00:00:02\nuplink=net_null0\n")
    s["tunnel"] = (b"[tunnel]\nnode-name=host-a.example\nlisten=[::1]:7400\n"
                   b"key-file=/etc/vhost-shim/tunnel.key\nauto-announce=false\nallow-cleartext=true\n"
                   b"[peer hostB]\naddress=127.0.0.1:7401\n[peer hostC]\naddress=[fe80::1]:1\n")
    s["spec"] = (b"name=vm1,socket=/run/vm1.sock,mac=52:54:00:12:34:56,queues=2,mode=client,"
                 b"uplink=net_tap0,iface=t0,remote=br0")
    s["spec-lines"] = (b"name=a_name_15_chars,socket=/a,mac=52:54:00:00:00:01,queues=8,uplink=x\n"
                       b"name=vm1,socket=/a,mac=52:54:00:00:00:01,hold-ms=5,udp-policy=drop,uplink=03:00.0,a\n"
                       b"udp-max-bytes=100\n52:54:00:00:00:01\n127.0.0.1:80\nwarning\n")
    # [policy NAME] groups, then --policy lines (the fuzz target reads
    # each line as one too)
    s["policy"] = (
        b"[port vm1]\nsocket=/run/vm1.sock\nmac=52:54:00:00:00:01\nuplink=net_tap0,iface=t0\n"
        b"udp-max-pkts=3000\n"
        b"[policy voip]\nmatch=proto=udp,dport=5060-5080,dscp=ef\naction=buffer\npriority=7\n"
        b"max-pkts=1000\nport=vm1\n"
        b"[policy bulk]\nmatch=src=10.0.0.0/8,proto=udp\npriority=0\n"
        b"[policy v6]\nmatch=dst=2001:db8::/32,proto=tcp,sport=22\naction=hold\n"
        b"trigger=tcp-syn\ntimeout-ms=500\nlinger-ms=100\n"
        b"[policy junk]\nmatch=vlan=7\naction=drop\n"
        b"name=voip2 match=proto=udp,dport=5004 action=buffer priority=5 max-pkts=200\n"
        b"name=x action=drop match=src=::1/128\n")
    return s


# ---- Ethernet frames ----------------------------------------------------------

SRC = bytes.fromhex("02aabbccddee")
DST = bytes.fromhex("525400123456")


def ether(ethertype, payload, tags=()):
    f = DST + SRC
    for tpid, tci in tags:
        f += struct.pack(">HH", tpid, tci)
    return f + struct.pack(">H", ethertype) + payload


def ipv4(proto, payload=b"\0" * 8, frag=0):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + payload


def ipv6(nh, payload=b"\0" * 8):
    return struct.pack(">IHBB16s16s", 6 << 28, len(payload), nh, 64,
                       b"\xfe\x80" + b"\0" * 13 + b"\x01", b"\xfe\x80" + b"\0" * 13 + b"\x02") + payload


def pkt_seeds():
    s = {}
    s["ipv4-udp"] = ether(0x0800, ipv4(17, struct.pack(">HHHH", 5000, 5001, 8, 0)))
    s["ipv4-tcp"] = ether(0x0800, ipv4(6, b"\0" * 20))
    s["ipv4-frag"] = ether(0x0800, ipv4(17, b"\0" * 8, frag=0x00b9))
    s["ipv4-icmp"] = ether(0x0800, ipv4(1))
    s["vlan-ipv4-udp"] = ether(0x0800, ipv4(17), tags=[(0x8100, 10)])
    s["qinq-ipv6-tcp"] = ether(0x86dd, ipv6(6, b"\0" * 20), tags=[(0x88a8, 1), (0x8100, 2)])
    s["three-tags"] = ether(0x0800, ipv4(17), tags=[(0x8100, 1), (0x8100, 2), (0x8100, 3)])
    s["ipv6-udp"] = ether(0x86dd, ipv6(17))
    hbh = bytes([43, 0]) + b"\0" * 6              # hop-by-hop, next: routing
    rt = bytes([44, 1]) + b"\0" * 14              # routing (16 bytes), next: fragment
    frag = bytes([60, 0]) + b"\0" * 6             # fragment, next: destination options
    dst = bytes([17, 0]) + b"\0" * 6              # destination options, next: UDP
    s["ipv6-ext-chain"] = ether(0x86dd, ipv6(0, hbh + rt + frag + dst + b"\0" * 8))
    s["ipv6-ext-past-end"] = ether(0x86dd, ipv6(0, bytes([17, 255]) + b"\0" * 6))
    s["arp"] = ether(0x0806, bytes.fromhex("0001080006040001") + SRC + bytes(4) + bytes(6) + bytes(4))
    s["rarp"] = bytes.fromhex("ffffffffffff") + SRC + bytes.fromhex("8035") + \
        bytes.fromhex("0001080006040003") + SRC + bytes(4) + SRC + bytes(4) + bytes(18)
    s["runt"] = (DST + SRC + b"\x08")[:13]
    s["own-mac"] = DST + DST + struct.pack(">H", 0x0800) + ipv4(17)
    return s


# ---- flow policy (vhost-shim/policy/) ---------------------------------------------

def tcp(sport, dport, seq, ack, flags, opts=b"", payload=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 1000, 0, 0) + \
        opts + payload


def ipv4_tos(proto, payload, tos=0, frag=0, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02"):
    return struct.pack(">BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), 1, frag, 64, proto, 0,
                       src, dst) + payload


def flow_seeds():
    s = dict(pkt_seeds())
    ts = bytes([1, 1, 8, 10]) + struct.pack(">II", 0x01020304, 0x0a0b0c0d)
    reg = b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n"
    bye = b"BYE sip:alice@example.com SIP/2.0\r\n\r\n"
    s["tcp-ts-ack"] = ether(0x0800, ipv4_tos(6, tcp(40000, 22, 0xfffffff0, 0x100, 0x10, ts, b"x" * 32)))
    s["tcp-syn"] = ether(0x0800, ipv4_tos(6, tcp(40000, 80, 1, 0, 0x02)))
    s["tcp-rst"] = ether(0x0800, ipv4_tos(6, tcp(40000, 80, 1, 0, 0x04)))
    s["tcp-fin"] = ether(0x0800, ipv4_tos(6, tcp(40000, 80, 7, 9, 0x11)))
    s["udp-sip-register"] = ether(0x0800, ipv4_tos(17, struct.pack(">HHHH", 5060, 5060, 8 + len(reg), 0) + reg, tos=46 << 2))
    s["tcp-sip-bye"] = ether(0x0800, ipv4_tos(6, tcp(5060, 5060, 1, 1, 0x18, b"", bye)))
    s["udp-first-fragment"] = ether(0x0800, ipv4_tos(17, struct.pack(">HHHH", 1, 5060, 8, 0), frag=0x2000))
    s["udp-later-fragment"] = ether(0x0800, ipv4_tos(17, b"\0" * 8, frag=0x0001))
    s["ipv4-options"] = ether(0x0800, struct.pack(">BBHHHBBH4s4s", 0x46, 0, 32, 1, 0, 64, 17, 0,
                                                  bytes(4), bytes(4)) + b"\x01" * 4 + struct.pack(">HHHH", 1, 2, 8, 0))
    s["ipv4-padded"] = (ether(0x0800, ipv4_tos(17, struct.pack(">HHHH", 1, 2, 9, 0) + b"z")) + bytes(60))[:60]
    v6tcp = tcp(443, 50000, 5, 6, 0x10, ts)
    s["vlan-ipv6-tcp-ts"] = ether(0x86dd, ipv6(6, v6tcp), tags=[(0x8100, 0x2064)])
    s["own-mac-tcp"] = DST + DST + struct.pack(">H", 0x0800) + ipv4_tos(6, tcp(22, 40000, 1, 1, 0x10))
    return s


def flow_rules_seeds():
    lines = [
        "name=voip match=src=10.0.0.0/8,dport=5060-5061,proto=udp action=buffer priority=7 "
        "max-pkts=4096 linger-ms=3000 trigger=sip-register timeout-ms=5000",
        "name=web port=vm1,vm2 match=proto=tcp,dport=80 action=hold tcp-on-loss=reset",
        "name=v6 match=src=2001:db8::/32,dst=2001:db8:1::/48,sport=1-65535 max-bytes=1000000",
        "name=q match=vlan=100,dscp=af41 action=drop",
        "name=a match=any trigger=sip-bye-next",
        "name=n match=proto=132,sport=9 trigger=none linger-ms=0 timeout-ms=600000",
    ]
    s = {}
    for i, line in enumerate(lines):
        s["line-%d" % i] = line.encode()
    s["keyfile"] = (
        "[daemon]\nlog-level=info\n"
        "[policy voip]\nmatch=proto=udp,dport=10000-20000\npriority=7\nmax-pkts=4096\n"
        "trigger=sip-register\n"
        "[policy bulk]\nport=vm1\nmatch=src=192.0.2.0/24\naction=drop\n"
        "[policy web]\nport=vm1\nmatch=proto=tcp,dport=443\naction=hold\ntcp-on-loss=reset\n").encode()
    s["keyfile-reserve"] = (
        "[policy hi]\nmatch=dport=1\npriority=7\nmax-pkts=21503\n"
        "[policy lo]\nmatch=dport=2\npriority=1\n").encode()
    s["keys"] = b"priority=3\ntotal-max-pkts=100\ntcp-on-loss=reset\nmatch=dscp=ef\nport=vm1\n"
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for target, seeds in (("fuzz_tunnel", tunnel_seeds()), ("fuzz_control", control_seeds()),
                          ("fuzz_config", config_seeds()), ("fuzz_pkt", pkt_seeds()),
                          ("fuzz_flow", flow_seeds()), ("fuzz_flow_rules", flow_rules_seeds())):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds in %s" % (target, len(seeds), d))


if __name__ == "__main__":
    main()
