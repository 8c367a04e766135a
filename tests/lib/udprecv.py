#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""UDP test-traffic receiver (run inside a test netns).

Binds BIND:PORT, prints "LISTENING" once bound, then checks every datagram
against the format of tests/guest/agent-proto.h and accounts per stream
exactly like the guest agent.  Stops when --expect datagrams (all streams,
duplicates included) arrived, --idle seconds passed after the last datagram
(once one arrived), --timeout seconds passed in total, or on SIGTERM/SIGINT.

Prints one JSON line at the end:
  {"received": N, "bad_magic": B, "short": S, "elapsed": seconds,
   "streams": {"0": {received, unique, lost, reordered, duplicated,
                     corrupted, first_seq, highest_seq, max_gap_us,
                     max_gap_seq}, ...},
   "timeline": {"0": [[arrival_us, seq], ...]}   (only with --timeline)}
arrival_us is relative to the first datagram received.
"""

import argparse
import json
import os
import select
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
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--expect", type=int, default=0, help="stop after this many datagrams")
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--timeline", action="store_true")
    ap.add_argument("--timeline-max", type=int, default=200000)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    except OSError:
        pass
    s.bind((a.bind, a.port))
    s.setblocking(False)
    print("LISTENING", flush=True)

    streams = {}
    timeline = {}
    received = bad_magic = short = 0
    t_start = time.monotonic()
    t_first = None
    t_last = None
    while not _stop:
        now = time.monotonic()
        if now - t_start >= a.timeout:
            break
        if t_last is not None and now - t_last >= a.idle:
            break
        if a.expect and received >= a.expect:
            break
        try:
            r, _, _ = select.select([s], [], [], 0.05)
        except InterruptedError:
            continue
        if not r:
            continue
        while True:
            try:
                buf = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            t_ns = time.monotonic_ns()
            t_last = time.monotonic()
            if t_first is None:
                t_first = t_ns
            status, stream, seq, _ = proto.parse(buf)
            if status == "short":
                short += 1
                continue
            if status == "bad_magic":
                bad_magic += 1
                continue
            st = streams.setdefault(stream, proto.SeqTracker())
            if status == "corrupted":
                st.corrupted += 1
                continue
            received += 1
            st.add(seq, t_ns)
            if a.timeline:
                tl = timeline.setdefault(stream, [])
                if len(tl) < a.timeline_max:
                    tl.append([(t_ns - t_first) // 1000, seq])
            if a.expect and received >= a.expect:
                break

    out = {
        "received": received, "bad_magic": bad_magic, "short": short,
        "elapsed": round(time.monotonic() - t_start, 6),
        "streams": {str(k): v.as_dict() for k, v in sorted(streams.items())},
    }
    if a.timeline:
        out["timeline"] = {str(k): v for k, v in sorted(timeline.items())}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
