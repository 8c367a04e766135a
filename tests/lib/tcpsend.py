#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP pattern sender (run inside a test netns).

Connects to DST:PORT, sends BYTES bytes of the pattern byte k = k % 251,
optionally paced to --rate bytes/s,
half-closes and waits for the peer to close (so everything was delivered),
all within --timeout seconds.  Prints one JSON line:
  {"ok": bool, "sent": N, "elapsed": seconds, "error": str|null}
Exit status 0 iff ok.
"""

import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402


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
        s.close()
    except OSError as e:
        err = "%s: %s" % (type(e).__name__, e)
    print(json.dumps({"ok": err is None, "sent": sent,
                      "elapsed": round(time.monotonic() - t0, 6), "error": err}), flush=True)
    return 0 if err is None else 1


if __name__ == "__main__":
    sys.exit(main())
