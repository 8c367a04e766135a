#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Paced UDP test-traffic sender (run inside a test netns).

Sends datagrams in the format of tests/guest/agent-proto.h to DST:PORT at
PPS datagrams per second, seq START_SEQ, START_SEQ+1, ... until COUNT were
sent, DURATION seconds passed, or SIGTERM/SIGINT arrives.  Pacing sleeps
until the next deadline (no busy waiting); when late it catches up in bursts
of at most --burst datagrams, and when more than --max-lag-ms behind it moves
the schedule forward instead of flooding.

Prints one JSON line at the end:
  {"sent": N, "errors": E, "error_seqs": [...first 100...], "first_seq": S,
   "next_seq": S+N+E, "elapsed": seconds, "late_resets": R}
A datagram whose sendto() failed (after 3 tries for ENOBUFS/EAGAIN) is
skipped and listed in error_seqs, so a receiver sees a gap there.
"""

import argparse
import errno
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402

_stop = False


def _on_signal(signum, frame):
    global _stop
    _stop = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, default=proto.PORT_UDP_SINK)
    ap.add_argument("--pps", type=float, required=True)
    ap.add_argument("--count", type=int, default=0, help="0: unlimited")
    ap.add_argument("--duration", type=float, default=0.0, help="seconds, 0: unlimited")
    ap.add_argument("--stream", type=int, default=0)
    ap.add_argument("--size", type=int, default=64, help="datagram size incl. 24-byte header")
    ap.add_argument("--start-seq", type=int, default=0)
    ap.add_argument("--burst", type=int, default=16, help="max datagrams sent back to back when late")
    ap.add_argument("--max-lag-ms", type=float, default=200.0)
    ap.add_argument("--src", default=None, help="source address to bind")
    ap.add_argument("--sport", type=int, default=0, help="source port to bind (0: any)")
    a = ap.parse_args()
    if a.size < proto.HDR_LEN:
        ap.error("--size must be >= %d" % proto.HDR_LEN)
    if a.pps <= 0:
        ap.error("--pps must be > 0")
    if a.count <= 0 and a.duration <= 0:
        ap.error("give --count or --duration (bounded traffic only)")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    except OSError:
        pass
    if a.src or a.sport:
        s.bind((a.src or "0.0.0.0", a.sport))
    dst = (a.dst, a.port)
    period_ns = 1e9 / a.pps
    max_lag_ns = a.max_lag_ms * 1e6
    sent = errors = late_resets = 0
    error_seqs = []
    seq = a.start_seq
    i = 0  # index into the schedule
    t_start = time.monotonic_ns()
    t0 = t_start
    end_ns = t_start + int(a.duration * 1e9) if a.duration > 0 else None
    total = a.count if a.count > 0 else None
    pl_len = a.size - proto.HDR_LEN
    pack = proto.HDR.pack
    payload = proto.payload
    magic = proto.MAGIC

    while not _stop:
        if total is not None and sent + errors >= total:
            break
        now = time.monotonic_ns()
        if end_ns is not None and now >= end_ns:
            break
        deadline = t0 + i * period_ns
        if now < deadline:
            time.sleep((deadline - now) / 1e9)
            continue
        if now - deadline > max_lag_ns:
            # Far behind (stalled): restart the schedule from now.
            t0 = now
            i = 0
            late_resets += 1
        burst = 0
        while burst < a.burst and not _stop:
            if total is not None and sent + errors >= total:
                break
            if t0 + i * period_ns > now:
                break
            buf = pack(magic, a.stream, seq, time.monotonic_ns()) + payload(seq, pl_len)
            for attempt in range(3):
                try:
                    s.sendto(buf, dst)
                    sent += 1
                    break
                except OSError as e:
                    if e.errno in (errno.ENOBUFS, errno.EAGAIN, errno.EINTR) and attempt < 2:
                        time.sleep(0.001)
                        continue
                    errors += 1
                    if len(error_seqs) < 100:
                        error_seqs.append(seq)
                    break
            seq += 1
            i += 1
            burst += 1

    elapsed = (time.monotonic_ns() - t_start) / 1e9
    print(json.dumps({
        "sent": sent, "errors": errors, "error_seqs": error_seqs,
        "first_seq": a.start_seq, "next_seq": seq, "elapsed": round(elapsed, 6),
        "late_resets": late_resets,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
