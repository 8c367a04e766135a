#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: the uplink kinds other than net_tap, with real guests.

* net_af_packet on one end of a veth pair whose other end is on the bridge
  (an existing kernel interface);
* net_virtio_user towards a vhost-user port of a software switch.  No
  OVS-DPDK here, so the switch port is played by dpdk-testpmd: net_vhost (the
  server socket OVS would offer) forwarding to a net_tap on the bridge.
  virtio_user shares the daemon's memory with the switch, so this daemon
  runs on hugepages (--single-file-segments), which the test reserves.

Checksum offload is turned off on the veth (ethtool), as it must be for any
af_packet consumer that forwards frames to another host or VM.

Each VM answers 5 pings and receives 1000 of 1000 UDP datagrams, and sends
500 of 500 to the host.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 3
HUGEPAGES = 300


def ensure_hugepages():
    """Make 300 2 MiB hugepages free (on top of what others use) and mount
    hugetlbfs; returns the page count to restore."""
    def meminfo(key):
        with open("/proc/meminfo") as f:
            return [int(line.split()[1]) for line in f if line.startswith(key)][0]
    shimlib.remove_stale_hugepage_files()
    with open("/proc/sys/vm/nr_hugepages") as f:
        old = int(f.read())
    free = meminfo("HugePages_Free")
    if free < HUGEPAGES:
        with open("/proc/sys/vm/nr_hugepages", "w") as f:
            f.write(str(old + HUGEPAGES - free))
    with open("/proc/mounts") as f:
        if not any(line.split()[2] == "hugetlbfs" for line in f if len(line.split()) > 2):
            os.makedirs("/dev/hugepages", exist_ok=True)
            subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)
    if meminfo("HugePages_Free") < HUGEPAGES:
        vt.skip_or_fail("cannot reserve %d free hugepages (%d free)"
                        % (HUGEPAGES, meminfo("HugePages_Free")))
    return old


def run(tap, state, workdir):
    vt.build_guest()
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        # af_packet: an existing interface (veth end) next to the bridge
        ns.run(["ip", "link", "add", "vafb", "type", "veth", "peer", "name", "vafu"])
        ns.attach("vafb")
        ns.run(["ip", "link", "set", "vafu", "up"])
        # af_packet sees frames as the kernel hands them over: with checksum
        # offload on the veth they would reach the VM with partial checksums
        # (operators do the same on real hosts)
        ns.run(["ethtool", "-K", "vafb", "tx", "off"])
        ns.run(["ethtool", "-K", "vafu", "tx", "off"])
        # the "switch port" for virtio_user: testpmd net_vhost <-> net_tap on br0
        sw_sock = os.path.join(workdir, "switch-port.sock")
        sw_tap = ("sw%d" % (os.getpid() % 100000))[:15]
        sw_log = open(os.path.join(workdir, "switch.log"), "wb")
        sw = ns.popen(["dpdk-testpmd", "-l", "0,1", "--no-huge", "-m", "256", "--no-pci",
                       "--file-prefix", "vshimt-%d-sw" % os.getpid(),
                       "--vdev", "net_vhost0,iface=%s,queues=1" % sw_sock,
                       "--vdev", "net_tap0,iface=%s" % sw_tap,
                       "--", "--forward-mode=io", "--auto-start", "--stats-period", "3600",
                       "--total-num-mbufs=8192"], stdout=sw_log, stderr=subprocess.STDOUT)
        ns.attach(sw_tap, timeout=30)
        vt.wait_for(lambda: os.path.exists(sw_sock), 30, 0.05, "switch vhost-user socket")

        shim = shimlib.Shim(ns, "hosta", workdir, hugepages="yes", memory_mb=256,
                            extra_args=["--eal-args", "--single-file-segments"])
        shim.add_port("vm1", "52:54:00:77:04:01", uplink="net_af_packet0,iface=vafu")
        shim.add_port("vm2", "52:54:00:77:04:02",
                      uplink="net_virtio_user0,path=%s,queues=1" % sw_sock)
        shim.start()
        guests = []
        try:
            for name, mac, ip in (("vm1", "52:54:00:77:04:01", "10.77.0.51/24"),
                                  ("vm2", "52:54:00:77:04:02", "10.77.0.52/24")):
                g = vt.Guest(shim.port(name).netdev(), ns=ns, name=name, ip=ip, mac=mac,
                             workdir=os.path.join(workdir, name))
                guests.append(g)
                g.start()
            for g in guests:
                g.wait_ready(timeout=90)
            ports = {p["name"]: p for p in shim.execute("query-ports")}
            tap.ok(all(p["state"] == "running" for p in ports.values()),
                   "both ports up: %s" % ", ".join("%s via %s" % (n, p["uplink"].split(",")[0])
                                                   for n, p in ports.items()))
            shimlib.check_vm_traffic(tap, ns, guests[0], "net_af_packet (veth) uplink")
            shimlib.check_vm_traffic(tap, ns, guests[1],
                                     "net_virtio_user (vhost-user switch port) uplink")
        finally:
            for g in guests:
                g.stop()
            shim.stop()
            ns.kill(sw)
            sw_log.close()
            shimlib.remove_dpdk_files("vshimt-%d-sw" % os.getpid())


def main():
    vt.require_e2e_env(tap=True)
    old = ensure_hugepages()
    try:
        return vt.tap_main(PLAN, "upl", run)
    finally:
        with open("/proc/sys/vm/nr_hugepages", "w") as f:
            f.write(str(old))


if __name__ == "__main__":
    sys.exit(main())
