#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP pattern receiver (run inside a test netns).

Listens on BIND:PORT, prints "LISTENING", accepts connections one after the
other and checks that byte k of each is k % 251.  Stops after --conns
connections were closed by the peer, after --timeout seconds, or on
SIGTERM/SIGINT.  Prints one JSON line:
  {"connections": N, "bytes": B, "corrupted": C, "max_gap_us": G,
   "per_conn": [{"bytes": b, "corrupted": c, "max_gap_us": g}, ...],
   "elapsed": seconds}
max_gap_us is the longest time between two successive reads of one
connection after its first byte.
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
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(8)
    print("LISTENING", flush=True)

    t0 = time.monotonic()
    per_conn = []
    cur = None  # [sock, stats]
    while not _stop and len(per_conn) < a.conns:
        left = a.timeout - (time.monotonic() - t0)
        if left <= 0:
            break
        rd = [cur[0]] if cur else [ls]
        try:
            r, _, _ = select.select(rd, [], [], min(left, 0.2))
        except InterruptedError:
            continue
        if not r:
            continue
        if cur is None:
            c, _ = ls.accept()
            c.setblocking(False)
            cur = [c, {"bytes": 0, "corrupted": 0, "max_gap_us": 0, "_last": None}]
            continue
        c, st = cur
        try:
            data = c.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        now = time.monotonic_ns()
        if not data:
            c.close()
            del st["_last"]
            per_conn.append(st)
            cur = None
            continue
        if st["_last"] is not None:
            st["max_gap_us"] = max(st["max_gap_us"], (now - st["_last"]) // 1000)
        st["_last"] = now
        st["corrupted"] += proto.tcp_count_corrupted(st["bytes"], data)
        st["bytes"] += len(data)
    if cur is not None:
        cur[0].close()
        del cur[1]["_last"]
        cur[1]["incomplete"] = True
        per_conn.append(cur[1])
    out = {
        "connections": len(per_conn),
        "bytes": sum(p["bytes"] for p in per_conn),
        "corrupted": sum(p["corrupted"] for p in per_conn),
        "max_gap_us": max([p["max_gap_us"] for p in per_conn] or [0]),
        "per_conn": per_conn,
        "elapsed": round(time.monotonic() - t0, 6),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
