#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The live-migration demo: what a guest loses during one live migration,
through plain dpdk-testpmd and through vhost-shim, side by side.

Everything runs on this machine: a network namespace with a Linux bridge
(the top-of-rack switch) and a UDP source, two "hosts" each attached to the
bridge, and a tiny TCG guest that counts the datagrams it receives.  The
guest is live-migrated from host A to host B once per backend while the
source sends PPS datagrams per second.

The guest runs Linux's default network settings.  A TCG guest (no KVM
here) is slow for a moment after each resume and can then drop datagrams
inside its own UDP socket, whatever the backend; the table shows those
apart ("lost in the guest's socket", the guest kernel's RcvbufErrors) from
the datagrams that never reached the guest.  --guest-rcvbuf BYTES gives the
guest's UDP sink a larger receive buffer (SO_RCVBUFFORCE).

Usage: tools/demo.py [--pps 5000] [--seconds 8] [--only shim|testpmd]
                     [--guest-rcvbuf BYTES] [--json]
Needs root, QEMU, DPDK and a built daemon (tools/demo.sh does it all).
"""

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import shimlib  # noqa: E402
import testpmd  # noqa: E402
import vshimtest as vt  # noqa: E402

MAC = "52:54:00:77:0d:01"
IP = "10.77.0.31/24"


def run_one(ns, workdir, backend, pps, seconds, append=""):
    """One migration A -> B under UDP; returns the figures."""
    os.makedirs(workdir, exist_ok=True)
    hosts = []
    if backend == "shim":
        key = os.path.join(workdir, "psk.key")
        shimlib.write_key(key)
        a = shimlib.Shim(ns, "hosta", workdir, tunnel_port=7501, peers={"hostb": 7502},
                         key_file=key)
        b = shimlib.Shim(ns, "hostb", workdir, tunnel_port=7502, peers={"hosta": 7501},
                         key_file=key)
        for s in (a, b):
            s.add_port("vm1", MAC)
            s.start()
        hosts = [a, b]
        nd = [h.port("vm1").netdev() for h in hosts]
    else:
        hosts = [testpmd.TestpmdHost(ns, "hosta", workdir).start(),
                 testpmd.TestpmdHost(ns, "hostb", workdir).start()]
        nd = [h.netdev() for h in hosts]
    src = dst = None
    try:
        src = vt.Guest(nd[0], ns=ns, name="vm-a", ip=IP, mac=MAC,
                       workdir=os.path.join(workdir, "vm-a"), append=append)
        src.start()
        src.wait_ready(timeout=90)
        src.reset()
        kernel0 = src.stats().get("kernel", {})
        dst = vt.Guest(nd[1], ns=ns, name="vm-b", ip=IP, mac=MAC,
                       workdir=os.path.join(workdir, "vm-b"), incoming=True, append=append)
        dst.start()
        if backend == "shim":
            hosts[1].execute("migrate-expect", {"port": "vm1"})   # as the libvirt hook does
            vt.wait_for(lambda: hosts[0].migration("vm1").get("peer") == "hostb", 10, 0.02,
                        "host A to learn the destination")
        snd = vt.UdpSender(ns, src.addr, pps=pps, duration=seconds, size=100).start()
        time.sleep(seconds / 3)
        downtime = src.migrate_to(dst)
        sres = snd.wait(timeout=seconds + 30)
        time.sleep(1.0)
        gst = dst.stats()
        st = vt.stream_stats(gst, 0)
        in_socket = (gst.get("kernel", {}).get("udp_rcvbuf_errors", 0) -
                     kernel0.get("udp_rcvbuf_errors", 0))
        out = {"sent": sres["sent"], "received": st["received"], "lost": st["lost"],
               "lost_in_guest_socket": in_socket,
               "lost_before_guest": max(0, st["lost"] - in_socket),
               "reordered": st["reordered"], "duplicated": st["duplicated"],
               "corrupted": st["corrupted"], "downtime_ms": downtime,
               "max_gap_ms": st["max_gap_us"] / 1000.0}
        if backend == "shim":
            sa, sb = hosts[0].stats("vm1"), hosts[1].stats("vm1")
            out["buffered_at_a"] = sum(sa["buffered-pkts"].values())
            out["tunnelled"] = sa["tunnel-tx-frames"]
            out["replayed_at_b"] = sb["replayed-pkts"]
            out["blackout_ms"] = sa["last-blackout-us"] / 1000.0
        return out
    finally:
        for g in (src, dst):
            if g:
                g.stop()
        for h in hosts:
            h.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pps", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--only", choices=["shim", "testpmd"])
    ap.add_argument("--guest-rcvbuf", type=int, metavar="BYTES",
                    help="the guest's UDP receive buffer (default: the kernel's)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    vt.require_e2e_env(tap=True)
    vt.build_guest()
    results = {}
    with tempfile.TemporaryDirectory(prefix="vshim-demo-") as wd:
        with vt.NetNS() as ns:
            for backend in ("testpmd", "shim"):
                if a.only and a.only != backend:
                    continue
                print("demo: one live migration through %s at %d pps..." % (
                    "plain dpdk-testpmd" if backend == "testpmd" else "vhost-shim", a.pps),
                    flush=True)
                append = "vshim.rcvbuf=%d" % a.guest_rcvbuf if a.guest_rcvbuf else ""
                results[backend] = run_one(ns, os.path.join(wd, backend), backend, a.pps,
                                           a.seconds, append)
    if a.json:
        print(json.dumps(results, indent=2))
        return 0
    rows = [("datagrams sent", "sent"), ("received by the guest", "received"),
            ("lost", "lost"), ("  before the guest", "lost_before_guest"),
            ("  in the guest's socket", "lost_in_guest_socket"), ("reordered", "reordered"),
            ("duplicated", "duplicated"),
            ("corrupted", "corrupted"), ("QEMU downtime (ms)", "downtime_ms"),
            ("guest max gap (ms)", "max_gap_ms")]
    cols = [b for b in ("testpmd", "shim") if b in results]
    names = {"testpmd": "dpdk-testpmd", "shim": "vhost-shim"}
    print()
    print("%-24s" % "one live migration" + "".join("%16s" % names[c] for c in cols))
    for label, key in rows:
        vals = []
        for c in cols:
            v = results[c].get(key)
            vals.append("%16s" % (("%.1f" % v) if isinstance(v, float) else v))
        print("%-24s" % label + "".join(vals))
    if "shim" in results:
        s = results["shim"]
        print("\nvhost-shim: host A buffered %d frames during a %.1f ms blackout, tunnelled %d "
              "to host B, which replayed %d before live traffic." % (
                  s["buffered_at_a"], s["blackout_ms"], s["tunnelled"], s["replayed_at_b"]))
    if any(r.get("lost_in_guest_socket") for r in results.values()) and not a.guest_rcvbuf:
        print("Datagrams lost in the guest's socket reached the guest: its kernel dropped them "
              "(RcvbufErrors)\nwhile the TCG guest caught up after the resume; "
              "see docs/migration.md, \"Paced replay\".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
