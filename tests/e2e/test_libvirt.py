#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: `virsh migrate --live` between two libvirtds, armed by the hook.

Two "hosts" on this machine, each a libvirtd and a vhost-shim:

* the shims (tests/lib/shimlib.py) run in the test's network namespace, one
  port vm1 each, uplinked to the bridge br0 there, peers of each other over
  the namespace's loopback (pre-shared key, automatic announce);
* each libvirtd runs in its own mount and UTS namespace (`unshare -m -u`):
  its own directories are bind-mounted over /etc/libvirt, /run/libvirt,
  /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt and
  /etc/vhost-shim, it has a dotted host name and a host_uuid of its own,
  and /dev is a minimal tmpfs without /dev/kvm (with /dev/kvm present but
  unusable, libvirt re-probes a TCG-only QEMU's capabilities on every
  lookup, 2 s each).  libvirtd and its QEMUs stay in the root network
  namespace: vhost-user sockets are file system paths;
* the hook libvirt-hooks/vhost-shim is installed in each qemu.d with a
  hook.conf that names the local shim's control socket and rewrites the
  vhost-user socket path of an incoming domain to the local shim's.

A TCG guest (tests/guest/, the patched QEMU) with <interface
type='vhostuser'> runs on host A; vt.UdpSender sends it 2000 datagrams/s
from the namespace while `virsh migrate --live` moves it A->B, then B->A
(migration over TCP on 127.0.0.1).  The guest's agent counts what arrives.
Then the same without the hook (the domain XML for B is given with --xml),
so nothing arms the shims: that run's losses are reported, not asserted.

With the argument `postcopy` (meson: libvirt-postcopy) it runs instead
the hook's run as post-copy migrations (issue 19): the ports with
postcopy=on, each migration `virsh migrate --live --postcopy --bandwidth 1`
(pre-copy throttled to 1 MiB/s: 256 MiB cannot converge) and, 3 s after
QEMU's migration started (domjobinfo shows memory figures),
`virsh migrate-postcopy` on the source host; the same UDP accounting, and
the destination shim must log the three post-copy phases (the source
none), with most of the guest's memory still on the source at the
switchover (domjobinfo's "Memory remaining").

TAP output; exit 77 (skip) when libvirt, QEMU or root are missing, unless
CI=true.  Everything started is stopped by PID: libvirtd, every process
left in its mount namespace (QEMU), the shims, the network namespace; the
mount points the test had to create are removed.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402
from test_postcopy import PC_OPTS, PHASES, PRECOPY_S, phases_seen  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HOOK = os.path.join(REPO, "libvirt-hooks", "vhost-shim")
DOMAIN = "vshimvm"
MAC = "52:54:00:77:03:01"
IP = "10.77.0.31/24"
TUN_A, TUN_B = 7411, 7412
PPS = 2000
# The guest's UDP sink gets an 8 MB receive buffer (vshim.rcvbuf=, as
# vshimtest.pair's TUNED_GUEST): this test checks the hook, libvirt and
# the shims; a default TCG guest on this 2-core machine drops datagrams in
# its own socket right after each resume, replay or none.  Measured here
# with the kernel's default buffer: 293, 169, 229 and 113 lost with the
# handover, each exactly the guest's RcvbufErrors (replays of 576, 7703,
# 607 and 451 frames: the loss does not grow with the replay), and 40 in a
# migration without any handover.
TUNED_GUEST = "vshim.rcvbuf=8388608"
# the postcopy run's pre-copy bandwidth (virsh migrate --bandwidth, MiB/s):
# 256 MiB cannot converge, pages are still missing at migrate-postcopy
POSTCOPY_BANDWIDTH_MIB = 1
# directories each libvirtd gets its own copy of (host path -> subdirectory)
BIND = [("/etc/libvirt", "etc"), ("/run/libvirt", "run"), ("/var/lib/libvirt", "lib"),
        ("/var/log/libvirt", "log"), ("/var/cache/libvirt", "cache"),
        ("/etc/vhost-shim", "vshim")]
DEV_NODES = ["null", "zero", "full", "random", "urandom", "tty", "ptmx"]
DEV_DIRS = ["pts", "shm", "mqueue", "hugepages"]


def require_libvirt():
    for tool in ("libvirtd", "virsh", "unshare", "mount", "useradd"):
        if not shutil.which(tool):
            vt.skip_or_fail("%s not found: apt-get install --no-install-recommends "
                            "libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients" % tool)
    drv = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"
    if not os.path.exists(drv) and not any(
            os.path.exists(os.path.join(d, "libvirt_driver_qemu.so"))
            for d in ("/usr/lib64/libvirt/connection-driver",
                      "/usr/lib/libvirt/connection-driver")):
        vt.skip_or_fail("libvirt's QEMU driver is missing: apt-get install "
                        "libvirt-daemon-driver-qemu")


class HostPrep:
    """What the test adds to the machine itself, undone by undo(): the
    mount points of BIND that do not exist (libvirt-daemon-system would
    create them) and the libvirt-qemu user that libvirtd's QEMU driver
    looks up at start even with user="root" (created by
    libvirt-daemon-system too)."""

    def __init__(self):
        self.dirs = []
        self.user = False

    def do(self):
        for path, _ in BIND:
            missing = []
            p = path
            while not os.path.exists(p):
                missing.append(p)
                p = os.path.dirname(p)
            for d in reversed(missing):
                os.mkdir(d, 0o755)
                self.dirs.append(d)
        if subprocess.run(["id", "libvirt-qemu"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                            "libvirt-qemu"], check=True)
            self.user = True
        return self

    def undo(self):
        for d in reversed(self.dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
        self.dirs = []
        if self.user:
            subprocess.run(["userdel", "libvirt-qemu"], stderr=subprocess.DEVNULL)
            self.user = False


def mnt_ns(pid):
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None


def pids_in_mnt_ns(ns):
    """PIDs whose mount namespace is ns (a readlink of /proc/PID/ns/mnt)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid() and mnt_ns(int(d)) == ns:
            out.append(int(d))
    return out


class Libvirtd:
    """One libvirtd "host" in its own mount and UTS namespace."""

    def __init__(self, name, base, migration_port, emulator):
        self.name = name
        self.base = base
        self.hostname = "%s.vshim.test" % name
        self.migration_port = migration_port
        self.emulator = emulator
        self.proc = None
        self.ns = None
        self.sock = os.path.join(base, "run", "libvirt-sock")
        self.uri = "qemu+unix:///system?socket=%s" % self.sock
        self.hook_log = os.path.join(base, "hook.log")
        for _, sub in BIND:
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        os.makedirs(os.path.join(base, "etc", "hooks", "qemu.d"), exist_ok=True)
        os.makedirs(os.path.join(base, "dev"), exist_ok=True)

    def write_config(self):
        with open(os.path.join(self.base, "etc", "libvirtd.conf"), "w") as f:
            f.write('host_uuid = "%s"\n' % uuid.uuid4())
            f.write('log_outputs = "1:file:/var/log/libvirt/libvirtd.log"\n')
            f.write('log_filters = "1:util.hook 1:qemu.qemu_migration 3:*"\n')
        with open(os.path.join(self.base, "etc", "qemu.conf"), "w") as f:
            f.write('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n'
                    'namespaces = []\ncgroup_controllers = []\nstdio_handler = "file"\n'
                    'migration_port_min = %d\nmigration_port_max = %d\n'
                    % (self.migration_port, self.migration_port + 9))

    def install_hook(self, control, rewrite_from, rewrite_to):
        """Copy the hook into qemu.d and write /etc/vhost-shim/hook.conf."""
        dst = os.path.join(self.base, "etc", "hooks", "qemu.d", "vhost-shim")
        shutil.copy(HOOK, dst)
        os.chmod(dst, 0o755)
        with open(os.path.join(self.base, "vshim", "hook.conf"), "w") as f:
            f.write("[hook]\ncontrol-socket=%s\nmode=auto\nstrict=true\nlog=%s\n\n"
                    "[rewrite peer]\nfrom=%s\nto=%s\n"
                    % (control, self.hook_log, rewrite_from, rewrite_to))

    def remove_hook(self):
        p = os.path.join(self.base, "etc", "hooks", "qemu.d", "vhost-shim")
        if os.path.exists(p):
            os.unlink(p)

    def script(self):
        b = self.base
        dev = os.path.join(b, "dev")
        lines = ["set -e",
                 "mount -t tmpfs -o mode=755,size=64k vshimdev %s" % dev]
        for n in DEV_NODES:
            lines.append("touch %s/%s && mount --bind /dev/%s %s/%s" % (dev, n, n, dev, n))
        for d in DEV_DIRS:
            lines.append("if [ -d /dev/%s ]; then mkdir %s/%s && mount --rbind /dev/%s %s/%s; fi"
                         % (d, dev, d, d, dev, d))
        for l, t in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                     ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            lines.append("ln -s %s %s/%s" % (t, dev, l))
        lines.append("mount --rbind %s /dev" % dev)
        for path, sub in BIND:
            lines.append("mount --bind %s %s" % (os.path.join(b, sub), path))
        lines.append("hostname %s" % self.hostname)
        lines.append("exec libvirtd -p %s/libvirtd.pid -f %s/etc/libvirtd.conf"
                     % (b, b))
        return "\n".join(lines)

    def start(self, timeout=30):
        self.write_config()
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        out = open(os.path.join(self.base, "libvirtd.out"), "ab")
        # unshare execs sh, sh execs libvirtd: the PID stays the Popen's
        self.proc = subprocess.Popen(
            vt.pdeathsig_prefix() + ["unshare", "-m", "-u", "--propagation", "private",
                                     "sh", "-c", self.script()],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        vt._live.add(self)
        self.ns = None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise vt.HarnessError("libvirtd %s exited (%s): %s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            if self.ns is None and mnt_ns(self.proc.pid) != mnt_ns(os.getpid()):
                self.ns = mnt_ns(self.proc.pid)
            if os.path.exists(self.sock) and self.virsh("hostname", check=False,
                                                        timeout=10).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise vt.HarnessError("libvirtd %s did not start: %s"
                                      % (self.name, self.log_tail()))
            time.sleep(0.1)
        # probe the emulator's capabilities now, not during the first migration
        self.virsh("domcapabilities", "--virttype", "qemu", "--emulatorbin", self.emulator,
                   "--arch", "x86_64", "--machine", "pc", timeout=60)
        return self

    def virsh(self, *args, check=True, timeout=120):
        return self.virsh_wait(self.virsh_start(*args), check=check, timeout=timeout)

    def virsh_start(self, *args):
        """virsh ARGS started, not waited for (virsh_wait())."""
        p = subprocess.Popen(["virsh", "-q", "-c", self.uri] + list(args),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.what = "virsh -c %s %s" % (self.name, " ".join(args))
        return p

    def virsh_wait(self, p, check=True, timeout=120):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        if check and r.returncode != 0:
            raise vt.HarnessError("%s: %s%s" % (p.what, r.stdout, r.stderr))
        return r

    def domains(self):
        r = self.virsh("list", "--name", check=False, timeout=20)
        return [l.strip() for l in r.stdout.splitlines() if l.strip()]

    def log_tail(self, n=20):
        texts = []
        for p in (os.path.join(self.base, "libvirtd.out"),
                  os.path.join(self.base, "log", "libvirtd.log")):
            try:
                with open(p, errors="replace") as f:
                    texts.append("\n".join(f.read().splitlines()[-n:]))
            except OSError:
                pass
        return "\n".join(texts)

    def hook_lines(self):
        try:
            with open(self.hook_log) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def cleanup(self):
        self.stop()

    def stop(self):
        """Destroy the domains (they outlive libvirtd), stop libvirtd, then
        kill by PID whatever is left in its mount namespace.  Returns the
        PIDs that had to be killed."""
        if self.proc is None:
            return []
        if self.proc.poll() is None:
            try:
                for d in self.domains():
                    self.virsh("destroy", d, check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass        # a hung libvirtd: its QEMUs are killed by PID below
        vt.kill_pid(self.proc.pid, grace=10, group=False, popen=self.proc)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        left = pids_in_mnt_ns(self.ns) if self.ns else []
        for pid in left:
            vt.kill_pid(pid, grace=3)
        self.proc = None
        vt._live.discard(self)
        return left


def domain_xml(emulator, kernel, initrd, socket_path, console):
    return """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <memoryBacking>
    <source type='memfd'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet vshim.ip={ip} vshim.mac_check={mac} {append}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{emulator}</emulator>
    <interface type='vhostuser'>
      <mac address='{mac}'/>
      <source type='unix' path='{sock}' mode='client'/>
      <model type='virtio'/>
      <driver queues='1'/>
      <rom enabled='no'/>
      <alias name='ua-net0'/>
    </interface>
    <serial type='file'>
      <source path='{console}' append='on'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  <qemu:override>
    <qemu:device alias='ua-net0'>
      <qemu:frontend>
        <qemu:property name='vectors' type='unsigned' value='0'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>
</domain>
""".format(name=DOMAIN, kernel=kernel, initrd=initrd, ip=IP, mac=MAC, append=TUNED_GUEST,
           emulator=emulator,
           sock=socket_path, console=console)


def agent_ready(ns):
    try:
        return vt.agent_cmd(ns, IP, "ping", 0.5, 1) == "pong"
    except TimeoutError:
        return False


def stream(ns):
    st = vt.agent_stats(ns, IP)
    out = dict(vt.stream_stats(st, 0))
    out["kernel"] = st.get("kernel", {})
    return out


VSHIMCTL = os.path.join(REPO, "tools", "vshimctl")


def memory_remaining_mib(jobinfo):
    """domjobinfo's "Memory remaining" in MiB, None when absent."""
    units = {"B": 1.0 / (1 << 20), "KiB": 1.0 / 1024, "MiB": 1.0, "GiB": 1024.0}
    for line in jobinfo.splitlines():
        f = line.split()
        if line.startswith("Memory remaining:") and len(f) == 4 and f[3] in units:
            return float(f[2]) * units[f[3]]
    return None


class Run:
    """One boot on A and the migrations A->B, B->A under UDP.  arming:
    "hook" (the hooks are installed), "vshimctl" (vshimctl migrate arms
    both shims and runs virsh) or "none".  postcopy: each migration is
    `virsh migrate --live --postcopy --bandwidth 1` (pre-copy throttled to
    1 MiB/s: it cannot converge) and, PRECOPY_S after QEMU's migration
    started, `virsh migrate-postcopy`."""

    def __init__(self, ns, tap, workdir, hosts, shims, arming, guest, postcopy=False):
        self.ns = ns
        self.tap = tap
        self.workdir = workdir
        self.hosts = hosts
        self.shims = shims
        self.arming = arming
        self.guest = guest
        self.postcopy = postcopy
        self.per = []

    def postcopy_migrate(self, hs, hd, opts):
        """virsh migrate --postcopy, switched over PRECOPY_S after QEMU's
        migration started; returns domjobinfo's memory remaining (MiB) on
        the source just before."""
        def remaining():
            return memory_remaining_mib(hs.virsh("domjobinfo", DOMAIN, check=False).stdout)
        mig = hs.virsh_start("migrate", "--live", "--postcopy", "--bandwidth",
                             str(POSTCOPY_BANDWIDTH_MIB), DOMAIN, hd.uri, *opts)
        try:
            # libvirt starts QEMU's migration (postcopy-ram set just before
            # it) once the destination is prepared: seconds with a TCG
            # QEMU on a loaded machine.  migrate-postcopy before that is
            # refused ("Enable postcopy with migrate_set_capability before
            # the start of migration"); domjobinfo has no memory figures
            vt.wait_for(remaining, 60, 0.2, "QEMU's migration to start")
            time.sleep(PRECOPY_S)
            left = remaining()
            hs.virsh("migrate-postcopy", DOMAIN)
        except BaseException:
            # still in pre-copy, which cannot converge: end it
            hs.virsh("domjobabort", DOMAIN, check=False)
            raise
        finally:
            self.tap.diag("%s: %s" % (mig.what, hs.virsh_wait(mig, timeout=180).stdout.strip()))
        return left

    def migrate(self, src, dst):
        hs, hd = self.hosts[src], self.hosts[dst]
        ss, sd = self.shims[src], self.shims[dst]
        opts = ["--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1"]
        if self.arming != "hook":
            # nothing rewrites the socket path: give the destination's XML
            xml = hs.virsh("dumpxml", "--migratable", DOMAIN).stdout
            xml = xml.replace(ss.port("vm1").socket, sd.port("vm1").socket)
            path = os.path.join(self.workdir, "dst-%s.xml" % dst)
            with open(path, "w") as f:
                f.write(xml)
            opts += ["--xml", path]
        hook_before = len(hd.hook_lines())
        hook_src_before = len(hs.hook_lines())
        log_before = [len(s.log_text()) for s in (ss, sd)]
        remaining_mib = None
        before = stream(self.ns)
        m0 = {s.name: s.migration("vm1") for s in self.shims}
        s0 = {s.name: s.stats("vm1") for s in self.shims}
        t0 = time.monotonic()
        if self.arming == "vshimctl":
            cmd = [VSHIMCTL, "-s", ss.control, "migrate", "--dest-control", sd.control,
                   "--peer", sd.name, "--from", ss.name, "--source-uri", hs.uri,
                   DOMAIN, hd.uri, "--"] + opts
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=180)
            if r.returncode != 0:
                raise vt.HarnessError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                            r.stdout))
            vshimctl_out = r.stdout.strip()
        elif self.postcopy:
            remaining_mib = self.postcopy_migrate(hs, hd, opts)
            vshimctl_out = None
        else:
            hs.virsh("migrate", "--live", DOMAIN, hd.uri, *opts, timeout=180)
            vshimctl_out = None
        took = time.monotonic() - t0
        job = hd.virsh("domjobinfo", "--completed", DOMAIN, check=False).stdout
        downtime = None
        for line in job.splitlines():
            if line.startswith("Total downtime:"):
                downtime = int(line.split()[2])
        # both shims settle: replay done at the destination, linger over at the source
        sd.wait_state("vm1", "none", 30)
        ss.wait_state("vm1", "none", 30)
        time.sleep(1.0)
        after = stream(self.ns)
        m1 = {s.name: s.migration("vm1") for s in self.shims}
        s1 = {s.name: s.stats("vm1") for s in self.shims}
        d0 = {n: st["drops"] for n, st in s0.items()}
        d1 = {n: st["drops"] for n, st in s1.items()}
        out = m1[ss.name]["migrations-out"] - m0[ss.name]["migrations-out"]
        inc = m1[sd.name]["migrations-in"] - m0[sd.name]["migrations-in"]
        res = {"direction": "%s->%s" % (hs.name, hd.name), "virsh_s": round(took, 2),
               "downtime_ms": downtime,
               "lost": after["lost"] - before["lost"],
               "reordered": after["reordered"] - before["reordered"],
               "duplicated": after["duplicated"] - before["duplicated"],
               "received": after["received"] - before["received"],
               # what the guest's own kernel dropped (its socket: RcvbufErrors)
               "guest_kernel_drops": {k: v - before["kernel"].get(k, 0)
                                      for k, v in after["kernel"].items()
                                      if v - before["kernel"].get(k, 0)},
               # a handover: the source streamed to the destination, which replayed
               "handover": out == 1 and inc == 1,
               "blackout_us": m1[ss.name]["last-blackout-us"] if out and inc else None,
               "replayed": s1[sd.name]["replayed-pkts"] - s0[sd.name]["replayed-pkts"],
               "drops": {n: {k: v - d0[n].get(k, 0) for k, v in d1[n].items()
                             if v - d0[n].get(k, 0)} for n in d1},
               "hook": hd.hook_lines()[hook_before:],
               "hook_src": hs.hook_lines()[hook_src_before:]}
        if vshimctl_out is not None:
            res["vshimctl"] = vshimctl_out
        if self.postcopy:
            res["memory_remaining_mib_at_switch"] = remaining_mib
            res["postcopy_phases"] = {"source": phases_seen(ss, log_before[0]),
                                      "destination": phases_seen(sd, log_before[1])}
        self.per.append(res)
        self.tap.diag(json.dumps(res))
        return res

    def run(self):
        a, b = self.hosts
        for s in self.shims:
            s.execute("stats-reset")
        a.virsh("create", self.guest)
        vt.wait_for(lambda: agent_ready(self.ns), 120, 0.2, "guest agent on host A")
        vt.agent_reset(self.ns, IP)
        snd = vt.UdpSender(self.ns, IP, pps=PPS, duration=600, size=100).start()
        try:
            time.sleep(2)
            self.migrate(0, 1)
            time.sleep(1)
            self.migrate(1, 0)
            time.sleep(1)
        finally:
            sres = snd.stop()
        try:
            vt.wait_for(lambda: stream(self.ns)["received"] >= sres["sent"], 10, 0.1,
                        "guest to receive what was sent")
        except TimeoutError:
            pass
        time.sleep(0.3)
        final = stream(self.ns)
        a.virsh("destroy", DOMAIN, check=False)
        return sres, final


def clean(s):
    return {k: s.get(k) for k in ("received", "lost", "reordered", "duplicated", "corrupted")}


def hook_armed(m):
    """In migration m (Run.migrate's result), the destination's hook
    rewrote the socket path and armed the port."""
    return (any("rewritten" in l for l in m["hook"]) and
            any("armed for the incoming migration" in l for l in m["hook"]))


def scenario(ns, tap, workdir, state, postcopy=False):
    paths = vt.build_guest()
    emulator = vt.qemu_command()[0]
    key = os.path.join(workdir, "psk.key")
    shimlib.write_key(key)
    shims = [shimlib.Shim(ns, "hosta", workdir, tunnel_port=TUN_A, peers={"hostb": TUN_B},
                          key_file=key),
             shimlib.Shim(ns, "hostb", workdir, tunnel_port=TUN_B, peers={"hosta": TUN_A},
                          key_file=key)]
    state["shims"] = shims
    for s in shims:
        s.add_port("vm1", MAC, **{"linger-ms": 1000}, **(PC_OPTS if postcopy else {}))
        s.start()
    base = os.path.join(workdir, "lv")
    hosts = [Libvirtd("hosta", os.path.join(base, "a"), 49152 + (os.getpid() % 100) * 20,
                      emulator),
             Libvirtd("hostb", os.path.join(base, "b"), 49162 + (os.getpid() % 100) * 20,
                      emulator)]
    state["hosts"] = hosts
    sa, sb = (s.port("vm1").socket for s in shims)
    prefix_a = os.path.join(workdir, "hosta-")
    prefix_b = os.path.join(workdir, "hostb-")
    hosts[0].install_hook(shims[0].control, prefix_b, prefix_a)
    hosts[1].install_hook(shims[1].control, prefix_a, prefix_b)
    t0 = time.monotonic()
    for h in hosts:
        h.start()
    tap.diag("two libvirtds up in %.1f s (capabilities probed)" % (time.monotonic() - t0))
    guest = os.path.join(workdir, "domain.xml")
    with open(guest, "w") as f:
        f.write(domain_xml(emulator, paths["kernel"], paths["initrd"], sa,
                           os.path.join(workdir, "console.log")))
    del sb
    if postcopy:
        return postcopy_checks(ns, tap, workdir, hosts, shims, guest)

    results = {}
    for arming in ("hook", "vshimctl", "none"):
        if arming != "hook":
            for h in hosts:
                h.remove_hook()
        tap.diag("run armed by: %s" % arming)
        r = Run(ns, tap, workdir, hosts, shims, arming, guest)
        sres, final = r.run()
        results[arming] = (sres, final, r.per)

    sres, final, per = results["hook"]
    for m in per:
        tap.ok(m["lost"] == 0 and m["reordered"] == 0 and m["duplicated"] == 0 and
               hook_armed(m) and m["handover"],
               "with the hook, virsh migrate --live %s at %d pps: %d lost, %d reordered, %d "
               "duplicated (the hook rewrote the socket path and armed the port; the source "
               "shim streamed to it, %d frames replayed)"
               % (m["direction"], PPS, m["lost"], m["reordered"], m["duplicated"],
                  m["replayed"]), m)
    want = {"received": sres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
            "corrupted": 0}
    tap.ok(clean(final) == want,
           "with the hook, both ways: %d sent, %d received, 0 lost/reordered/duplicated/"
           "corrupted" % (sres["sent"], final["received"]), {"sender": sres, "guest": final})
    vsres, vfinal, vper = results["vshimctl"]
    want = {"received": vsres["sent"], "lost": 0, "reordered": 0, "duplicated": 0,
            "corrupted": 0}
    tap.ok(clean(vfinal) == want and all(m["handover"] and not m["hook"] for m in vper),
           "without the hook, vshimctl migrate (explicit arming, then virsh migrate --live) "
           "A->B->A: %d sent, %d received, 0 lost/reordered/duplicated (%s)"
           % (vsres["sent"], vfinal["received"],
              ", ".join("%s: %d lost" % (m["direction"], m["lost"]) for m in vper)),
           {"sender": vsres, "guest": vfinal, "per_migration": vper})
    nsres, nfinal, nper = results["none"]
    tap.ok(len(nper) == 2,
           "control run without the hook (nothing armed): %d of %d datagrams lost (%s), "
           "%d reordered, %d duplicated"
           % (nfinal["lost"], nsres["sent"],
              ", ".join("%s: %d" % (m["direction"], m["lost"]) for m in nper),
              nfinal["reordered"], nfinal["duplicated"]), nper)
    return results


def postcopy_checks(ns, tap, workdir, hosts, shims, guest):
    """The postcopy run: the hooks installed, ports with postcopy=on, A->B
    and B->A each a post-copy migration under UDP (Run, postcopy)."""
    tap.diag("run armed by: hook, post-copy")
    r = Run(ns, tap, workdir, hosts, shims, "hook", guest, postcopy=True)
    sres, final = r.run()
    for m in r.per:
        ph = m["postcopy_phases"]
        tap.ok(m["lost"] == 0 and m["reordered"] == 0 and m["duplicated"] == 0 and
               hook_armed(m) and m["handover"] and ph["destination"] == list(PHASES) and
               not ph["source"] and (m["memory_remaining_mib_at_switch"] or 0) > 64,
               "with the hook, virsh migrate --live --postcopy %s, migrate-postcopy after "
               "%.0f s of pre-copy at %d MiB/s (%.0f MiB still to send) at %d pps: %d lost, %d "
               "reordered, %d duplicated (the hook rewrote the socket path and armed the "
               "port; the destination shim logged %s; the source streamed a %.0f ms "
               "blackout to it, %d frames replayed)"
               % (m["direction"], PRECOPY_S, POSTCOPY_BANDWIDTH_MIB,
                  m["memory_remaining_mib_at_switch"] or 0, PPS, m["lost"], m["reordered"],
                  m["duplicated"], ", ".join(ph["destination"]),
                  (m["blackout_us"] or 0) / 1000.0, m["replayed"]), m)
    tap.ok(clean(final) == shimlib.lossless(sres["sent"]),
           "with the hook, post-copy both ways: %d sent, %d received, 0 lost/reordered/"
           "duplicated/corrupted" % (sres["sent"], final["received"]),
           {"sender": sres, "guest": final})
    return {"hook-postcopy": (sres, final, r.per)}


PLAN = 5     # and tap_main's last: nothing left behind
PLAN_POSTCOPY = 3


def run(tap, state, workdir, postcopy=False):
    """The host preparation, a namespace, the scenario; libvirtds and shims
    are stopped (and the preparation undone) whatever happens."""
    prep = HostPrep()
    state["killed"] = []
    try:
        prep.do()
        with vt.NetNS() as ns:
            state["ns"] = ns.name
            try:
                scenario(ns, tap, workdir, state, postcopy)
            finally:
                for h in state.get("hosts", []):
                    state["killed"] += h.stop()
                for s in state.get("shims", []):
                    s.stop()
    finally:
        for h in state.get("hosts", []):
            state["killed"] += h.stop()
        prep.undo()
    tap.diag("%d process(es) killed by PID after the libvirtds stopped" % len(state["killed"]))


def diagnose(tap, state):
    for h in state.get("hosts", []):
        tap.diag("--- libvirtd %s ---\n%s" % (h.name, h.log_tail(30)))
        tap.diag("--- hook log %s ---\n%s" % (h.name, "\n".join(h.hook_lines())))
    for s in state.get("shims", []):
        tap.diag("--- shim %s ---\n%s" % (s.name, s.log_tail(20)))


def libvirt_left(state):
    """Processes still in the libvirtds' mount namespaces."""
    return {"processes in the libvirtds' mount namespaces":
            [h.name for h in state.get("hosts", []) if h.ns and pids_in_mnt_ns(h.ns)]}


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "precopy"
    if arg not in ("precopy", "postcopy"):
        print(__doc__)
        return 0 if arg in ("-h", "--help") else 2
    postcopy = arg == "postcopy"
    return vt.tap_main(PLAN_POSTCOPY if postcopy else PLAN, "lv",
                       lambda tap, state, workdir: run(tap, state, workdir, postcopy),
                       require=require_libvirt, diagnose=diagnose, leftovers=libvirt_left)


if __name__ == "__main__":
    sys.exit(main())
