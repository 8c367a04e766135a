#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP pattern sender (run inside a test netns).

Connects to DST:PORT, sends BYTES bytes of the pattern byte k = k % 251,
optionally paced to --rate bytes/s,
half-closes and waits for the peer to close (so everything was delivered),
all within --timeout seconds.  Prints one JSON line:
  {"ok": bool, "sent": N, "elapsed": seconds, "error": str|null, "tcp_info": {...}}
tcp_info: this connection's own counters (Linux struct tcp_info, read
once the peer closed): total_retrans (segments retransmitted),
bytes_retrans, dsack_dups (segments the peer reported back as duplicates
in D-SACKs: retransmissions that were spurious), segs_out, lost, reord_seen.
Unlike the namespace's nstat, they count no other socket of the namespace
(the shims' tunnel runs on its loopback).
Exit status 0 iff ok.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402


# offsets in Linux's struct tcp_info (include/uapi/linux/tcp.h; the
# fields used here have not moved since they were added: dsack_dups and
# reord_seen in 5.0)
TCP_INFO_FIELDS = (("lost", "I", 32), ("total_retrans", "I", 100), ("segs_out", "I", 136),
                   ("bytes_retrans", "Q", 208), ("dsack_dups", "I", 216), ("reord_seen", "I", 220))


def tcp_info(s):
    """The TCP_INFO_FIELDS of socket s, or {} if the kernel's struct is
    too short to hold them."""
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    if len(b) < 224:
        return {}
    return {name: struct.unpack_from(fmt, b, off)[0] for name, fmt, off in TCP_INFO_FIELDS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=proto.PORT_TCP_SINK)
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=0,
                    help="pace to this many bytes/s (0: as fast as TCP allows)")
    a = ap.parse_args()

    t0 = time.monotonic()
    sent = 0
    err = None
    info = {}
    try:
        s = socket.create_connection((a.dst, a.port), timeout=a.timeout)
        while sent < a.bytes:
            left = a.timeout - (time.monotonic() - t0)
            if left <= 0:
                raise TimeoutError("timeout after %d bytes" % sent)
            if a.rate > 0:
                due = t0 + sent / a.rate
                if due > time.monotonic():
                    time.sleep(min(due - time.monotonic(), left))
                    continue
            s.settimeout(left)
            chunk = 65536 if a.rate <= 0 else max(1024, min(65536, int(a.rate / 100)))
            n = s.send(proto.tcp_pattern(sent, min(chunk, a.bytes - sent)))
            sent += n
        s.shutdown(socket.SHUT_WR)
        while True:
            left = a.timeout - (time.monotonic() - t0)
            if left <= 0:
                raise TimeoutError("peer did not close")
            s.settimeout(left)
            if not s.recv(4096):
                break
        info = tcp_info(s)
        s.close()
    except OSError as e:
        err = "%s: %s" % (type(e).__name__, e)
    print(json.dumps({"ok": err is None, "sent": sent,
                      "elapsed": round(time.monotonic() - t0, 6), "error": err,
                      "tcp_info": info}), flush=True)
    return 0 if err is None else 1


if __name__ == "__main__":
    sys.exit(main())
