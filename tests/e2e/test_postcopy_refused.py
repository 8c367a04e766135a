#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: a vhost-user frontend sends POSTCOPY_ADVISE (and, on a new
connection, POSTCOPY_LISTEN) to a port that did not offer post-copy
(`postcopy=off`; it is on by default).  DPDK would open a userfaultfd for it
whatever the port offered, so the daemon refuses the message: the
message is refused (DPDK answers its reply-ack with an error, or closes the
connection when no reply was asked for), the refusal logged, and the daemon goes on serving
its control socket and a new, well-behaved connection on the same port.

No guest: tests/lib/hostile_frontend.py's Frontend speaks vhost-user.

TAP output; exit 77 without root outside CI (CI=true: a failure).
"""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hostile_frontend as hf  # noqa: E402
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

MAC = "52:54:00:77:09:01"
POSTCOPY_ADVISE, POSTCOPY_LISTEN = 28, 29
PLAN = 3


def refused(sock_path, req):
    """Send @req, asking for a reply-ack, on a fresh connection after the
    feature handshake.  Returns how the backend refused it: "closed" (the
    connection), "nack" (a non-zero reply-ack: DPDK's answer when the
    handler refuses a message that asked for one), or None (accepted)."""
    fe = hf.Frontend(sock_path)
    try:
        fe.connect()
        fe._send(req, need_reply=True)
        try:
            body = fe._reply(req)
        except (hf.ProtocolError, OSError):
            return "closed"
        (status,) = struct.unpack("<Q", body[:8])
        return "nack" if status else None
    finally:
        fe.close()


def run(tap, state, workdir):
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        port = shim.add_port("vm1", MAC, postcopy="off")
        shim.start()
        try:
            got = {name: refused(port.socket, req)
                   for name, req in (("advise", POSTCOPY_ADVISE),
                                     ("listen", POSTCOPY_LISTEN))}
            time.sleep(0.3)
            lines = [ln for ln in shim.log_text().splitlines()
                     if "refused" in ln and "did not offer post-copy" in ln]
            tap.ok(all(got.values()) and len(lines) >= 2,
                   "POSTCOPY_ADVISE and POSTCOPY_LISTEN on a port without post-copy: refused "
                   "each time (%s) and logged (%d lines)" % (got, len(lines)),
                   {"closed": got, "log": lines})
            ports = shim.execute("query-ports")
            tap.ok(shim.alive() and [p["name"] for p in ports] == ["vm1"],
                   "the daemon is alive and answers query-ports", ports)
            fe = hf.Frontend(port.socket)
            try:
                fe.connect()
                ok = True
            except (hf.ProtocolError, OSError) as e:
                ok = False
                tap.diag("a well-behaved frontend could not connect: %s" % e)
            finally:
                fe.close()
            tap.ok(ok, "a well-behaved frontend connects to the same port afterwards")
        finally:
            state["shim_status"] = shim.stop()


def main():
    return vt.tap_main(PLAN, "postcopy-refused", run)


if __name__ == "__main__":
    sys.exit(main())
