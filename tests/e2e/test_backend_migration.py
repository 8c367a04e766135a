#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end (issue 18): a VM migrates onto vhost-shim from another
vhost-user backend, dpdk-testpmd's vhost PMD with its defaults, and back.

QEMU checks, when it loads a migrated virtio-net device, that the
destination backend offers every feature the guest negotiated on the
source, and refuses the migration otherwise (the VM stays on the source).
testpmd's vhost PMD offers checksum offload, the guest's receive
offloads and HOST_UFO by default; before the port option `offloads` the
shim offered none, and the destination QEMU refused with "Features
0x130afe7a7 unsupported".  offloads=dpdk offers testpmd's set but for
the legacy GSO bit (a modern Linux guest does not ack it); the default (on) leaves HOST_UFO out (a pre-4.14 Linux guest
would send UFO datagrams the shim cannot cut).

One namespace, one bridge: host A is dpdk-testpmd (net_vhost <-> net_tap,
io forwarding, its defaults), host B a vhost-shim with two ports, vm1
(offloads=dpdk) and vm2 (the default, on).  The guest boots on A (the
default guest: no tuning) and negotiates what testpmd offers.
  1. A -> B's vm2 (offloads=on): QEMU refuses, naming the missing
     feature (HOST_UFO); the VM stays on A, paused, and is resumed there
     as libvirt would (so this test can fail: the features really are
     checked).
  2. A -> B's vm1: the migration completes; the guest's features there
     include checksum offload; 1000 datagrams to it and 500 from it after
     the move (checksums the guest left to the device, finished by the
     shim, verified by the host's kernel), 5/5 pings.
  3. B -> A: back to testpmd; the same traffic.
No tunnel and no peer shim: the destination shim sees a VM arrive as a
new device; nothing is buffered across the move (testpmd has nothing to
hand over), so the datagrams of each migration's blackout are not counted
here; the traffic after each move must all arrive.

TAP output; exit 77 without root or dpdk-testpmd outside CI (CI=true: a
failure).
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import testpmd  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 5     # and tap_main's last: nothing left behind
MAC = "52:54:00:77:10:01"
IP = "10.77.0.81/24"
CSUM, GUEST_CSUM, GUEST_TSO4 = 0, 1, 7


def incoming(ns, netdev, workdir, name):
    return vt.start_incoming_guest(netdev, ns, workdir, name, IP, MAC)


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        tp = testpmd.TestpmdHost(ns, "hosta", workdir, lcores="0,1").start()
        state["pids"].append(tp.proc.pid)
        shim = shimlib.Shim(ns, "hostb", workdir)
        shim.add_port("vm1", MAC, offloads="dpdk")
        shim.add_port("vm2", MAC)         # offloads=on, the default
        shim.start()
        state["pids"].append(shim.proc.pid)
        guests = []
        try:
            g = vt.Guest(tp.netdev(), ns=ns, name="g1", ip=IP, mac=MAC,
                         workdir=os.path.join(workdir, "g1"))
            guests.append(g)
            g.start()
            state["pids"].append(g.pid)
            g.wait_ready(timeout=90)

            # 1. onto a port with the default offloads (no HOST_UFO, which
            # testpmd offers and the guest acked): refused, the VM stays
            dg = incoming(ns, shim.port("vm2").netdev(), workdir, "g2")
            guests.append(dg)
            err = None
            try:
                g.migrate_to(dg, timeout=60)
            except (vt.MigrationError, OSError) as e:  # the dying QEMU may reset its QMP
                err = str(e).splitlines()[0]
            vt.wait_for(lambda: not dg.alive(), 30, 0.1, "refusing QEMU to exit")
            with open(dg.stderr_log, errors="replace") as f:
                m = re.search(r"Features 0x[0-9a-f]+ unsupported[^\n]*", f.read())
            # a refused migration leaves the source paused (QEMU 7.2 cannot
            # know); the operator (libvirt) resumes it there
            before = g.qmp("query-status").get("status")
            if before != "running":
                g.qmp("cont")
            status = g.qmp("query-status").get("status")
            tap.ok(err is not None and m is not None and status == "running",
                   "testpmd -> vhost-shim with offloads=on (the default): the destination "
                   "QEMU refused (%s); the VM %s on testpmd, running after cont"
                   % (m.group(0) if m else err, before), {"error": err})
            dg.stop()

            # 2. onto the default port
            dg = incoming(ns, shim.port("vm1").netdev(), workdir, "g3")
            guests.append(dg)
            down = g.migrate_to(dg, timeout=120)
            g.stop()
            g = dg
            shim.wait_state("vm1", "none", 20)
            port = next(p for p in shim.execute("query-ports") if p["name"] == "vm1")
            neg = int(port.get("features", "0x0"), 16)
            tap.ok(port.get("state") == "running" and neg & (1 << CSUM) and
                   neg & (1 << GUEST_CSUM) and neg & (1 << GUEST_TSO4),
                   "testpmd -> vhost-shim (offloads=dpdk): migrated (downtime %s ms), the "
                   "device runs on the shim with the features the guest negotiated on "
                   "testpmd (%s)" % (down, port.get("features")),
                   {"port": port})
            time.sleep(1.0)
            shimlib.check_vm_traffic(tap, ns, g, "on vhost-shim after the move")

            # 3. back to testpmd
            dg = incoming(ns, tp.netdev(), workdir, "g4")
            guests.append(dg)
            down = g.migrate_to(dg, timeout=120)
            g.stop()
            g = dg
            tap.ok(g.qmp("query-status").get("status") == "running",
                   "vhost-shim -> testpmd: migrated back (downtime %s ms)" % down)
            time.sleep(1.0)
            shimlib.check_vm_traffic(tap, ns, g, "on testpmd after the move back")
        finally:
            for x in guests:
                x.stop()
            shim.stop()
            tp.stop()


if __name__ == "__main__":
    sys.exit(vt.tap_main(PLAN, "bm", run))
