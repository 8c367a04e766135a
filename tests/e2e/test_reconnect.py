#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: the local shim restarts under running VMs.

Both supported vhost-user arrangements, one VM each:
* vm1: the shim is the client (`mode=client`), QEMU the server
  (`-chardev socket,server=on`): the restarted shim reconnects to QEMU;
* vm2: the shim is the server (default), QEMU the client with
  `-chardev socket,reconnect=1`: QEMU reconnects to the restarted shim.

The daemon is killed with SIGKILL (no clean shutdown), started again with
the same configuration, and each VM must answer pings and receive 1000 of
1000 datagrams again.  Frames sent while no daemon runs are lost (nothing
can hold them); that is not asserted.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 4
VMS = (("vm1", "52:54:00:77:06:01", "10.77.0.71/24", "client"),
       ("vm2", "52:54:00:77:06:02", "10.77.0.72/24", "server"))


def udp_ok(ns, g):
    g.reset()
    res = vt.UdpSender(ns, g.addr, pps=1000, count=1000, size=100).start().wait(timeout=30)
    s = shimlib.wait_stream(g, 1000)
    return res["sent"] == 1000 and shimlib.loss_counts(s) == shimlib.lossless(1000), s


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        for name, mac, _, mode in VMS:
            if mode == "client":
                shim.add_port(name, mac, mode="client")
            else:
                shim.add_port(name, mac)
        shim.start()
        guests = []
        try:
            for name, mac, ip, mode in VMS:
                p = shim.port(name)
                nd = p.netdev(server=True) if mode == "client" else p.netdev(reconnect=1)
                g = vt.Guest(nd, ns=ns, name=name, ip=ip, mac=mac,
                             workdir=os.path.join(workdir, name))
                guests.append(g)
                g.start()
            for g in guests:
                g.wait_ready(timeout=90)
            before = [udp_ok(ns, g) for g in guests]
            tap.ok(all(ok for ok, _ in before),
                   "before the restart: both VMs receive 1000 of 1000", before)

            shim.kill()                       # SIGKILL: no cleanup at all
            time.sleep(1.0)
            t0 = time.monotonic()
            shim.start()
            try:
                vt.wait_for(lambda: all(p["state"] == "running"
                                        for p in shim.execute("query-ports")), 30, 0.1,
                            "both VMs reconnected")
                why = None
            except TimeoutError as e:
                why = {"error": str(e), "ports": shim.execute("query-ports")}
            took = time.monotonic() - t0
            if not tap.ok(why is None, "after SIGKILL and restart both VMs are back on the "
                          "daemon (%.1f s)" % took, why):
                return      # traffic cannot resume: the rest is not run
            pings = [ns.ping(g.addr, count=3, interval=0.2, timeout=2.0) for g in guests]
            after = [udp_ok(ns, g) for g in guests]
            tap.ok(all(p.received == 3 for p in pings) and after[0][0],
                   "vm1 (shim in client mode, QEMU server): traffic resumes", after[0])
            tap.ok(after[1][0], "vm2 (shim in server mode, QEMU reconnect=1): traffic resumes",
                   after[1])
        finally:
            for g in guests:
                g.stop()
            shim.stop()


def main():
    return vt.tap_main(PLAN, "rec", run)


if __name__ == "__main__":
    sys.exit(main())
