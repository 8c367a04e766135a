#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Command line client for the guest agent's control port (debugging aid).

  ip netns exec NS tests/lib/nsclient.py GUEST_IP stats
  ip netns exec NS tests/lib/nsclient.py GUEST_IP send 10.77.0.1 7100 10 10 0 64

Prints the reply; exit status 1 if the agent did not answer.
"""

import argparse
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proto  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=proto.PORT_CTL)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--retries", type=int, default=5)
    ap.add_argument("ip")
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        print(proto.control(s, (a.ip, a.port), " ".join(a.command), a.timeout, a.retries))
    except TimeoutError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
