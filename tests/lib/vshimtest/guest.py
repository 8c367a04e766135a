# SPDX-License-Identifier: BSD-3-Clause
"""``Guest``: a TCG QEMU guest (tests/guest/) with a vhost-user
(``VhostUserNetdev``) or tap (``TapNetdev``) NIC, a QMP client and
migration helpers; ``compare_ram`` tells the QEMU 7.2 TCG migration bug
(docs/qemu-tcg-bug.md) apart from backend bugs."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from .env import (CRASH_PATTERNS, DEFAULT_GUEST_IP, DEFAULT_GUEST_MAC, ERROR_MARKER,
                  READY_MARKER, GuestError, HarnessError, MigrationError, _live,
                  _terminate_popen, build_guest, install_signal_handlers, pdeathsig_prefix,
                  qemu_command, strip_prefix, wait_for)
from .qmp import QMP
from .traffic import (agent_channels, agent_cmd, agent_kernel_counters, agent_reset, agent_send, agent_stats,
                      agent_tcpsend, agent_timeline, agent_wait_tx_idle)

class VhostUserNetdev:
    """vhost-user NIC: ``-chardev socket,id=chr0,path=PATH[,server=on]
    [,reconnect=N] -netdev vhost-user,id=net0,chardev=chr0,queues=N``.

    path: the backend's socket; server: QEMU listens (the backend connects)
    instead of connecting; reconnect: seconds between reconnection attempts
    when QEMU is the client; mtu: the device's ``host_mtu=`` (QEMU offers
    the guest that MTU, VIRTIO_NET_F_MTU, and tells the backend).  Note
    QEMU 7.2 blocks its startup until the vhost-user connection is up."""

    def __init__(self, path, queues=1, server=False, reconnect=None, mtu=None):
        self.path = path
        self.queues = queues
        self.server = server
        self.reconnect = reconnect
        self.mtu = mtu

    def qemu_args(self):
        """QEMU arguments for the backend (id net0)."""
        chr_ = "socket,id=chr0,path=%s" % self.path
        if self.server:
            chr_ += ",server=on"
        elif self.reconnect:
            chr_ += ",reconnect=%d" % self.reconnect
        return ["-chardev", chr_, "-netdev",
                "vhost-user,id=net0,chardev=chr0,queues=%d" % self.queues]

    def device_opts(self):
        """Extra virtio-net-pci options."""
        return (",mq=on" if self.queues > 1 else "") + \
            (",host_mtu=%d" % self.mtu if self.mtu else "")

    def in_netns(self):
        """vhost-user QEMU can run in any namespace."""
        return False


class TapNetdev:
    """tap NIC created by QEMU: ``-netdev tap,id=net0,ifname=IF,script=no,
    downscript=no``.  QEMU is started inside the Guest's NetNS and, if
    attach, the tap is added to the bridge once it appears."""

    def __init__(self, ifname="vst0", attach=True):
        self.ifname = ifname
        self.attach = attach

    def qemu_args(self):
        """QEMU arguments for the backend (id net0)."""
        return ["-netdev", "tap,id=net0,ifname=%s,script=no,downscript=no" % self.ifname]

    def device_opts(self):
        """Extra virtio-net-pci options."""
        return ""

    def in_netns(self):
        """The tap must be created inside the namespace."""
        return True


class Guest:
    """A tiny TCG test guest (tests/guest/) in QEMU.

    Command line: ``-machine pc -accel tcg -m 256`` with memfd-backed shared
    memory (``-numa node,memdev=mem``), ``-nographic -nodefaults``, the
    serial console in ``workdir/console.log``, QMP on
    ``workdir/qmp.sock``, the NIC from netdev as
    ``virtio-net-pci,netdev=net0,mac=MAC,vectors=0,romfile=`` (vectors=0:
    QEMU 7.2 TCG + vhost-user + MSI-X segfaults), optional ``-incoming
    unix:workdir/migrate.sock`` and ``-S``.

    Typical use::

        with Guest(TapNetdev("vst0"), ns=ns) as g:
            g.wait_ready()
            print(g.stats())

    Attributes: name, ns, ip (with prefix), addr (without), mac, workdir,
    console_log, qmp_path, incoming_uri, proc, pid, started_at,
    ready_seconds (boot time measured by wait_ready), last_migration.
    """

    def __init__(self, netdev, ns=None, name="guest", ip=DEFAULT_GUEST_IP, mac=DEFAULT_GUEST_MAC,
                 workdir=None, incoming=False, paused=False, mem_mb=256, smp=1, append="",
                 mac_check=True, qemu_in_ns=None, extra_args=(), guest_dir=None, kernel=None):
        """netdev: VhostUserNetdev, TapNetdev, or any object with
        qemu_args()/device_opts()/in_netns(); ns: the NetNS used for agent
        commands (and for QEMU itself when the netdev needs it or qemu_in_ns);
        ip: guest address with prefix (kernel parameter vshim.ip); mac: NIC
        MAC (checked by the guest when mac_check); workdir: directory for
        logs and sockets (default: a new temporary directory, removed by
        stop() unless keep_workdir is set or a failure was seen);
        incoming: True to start with -incoming unix:workdir/migrate.sock (or
        a URI string); paused: -S; mem_mb: RAM size; append: extra kernel
        parameters; extra_args: extra QEMU arguments; guest_dir: guest build
        directory (default cache_dir()/guest); kernel: None for the fastest
        kernel of the build (uncompressed PVH vmlinux if present), 'vmlinuz'
        for the bzImage, or a path (env VSHIM_GUEST_KERNEL sets the default
        the same way)."""
        self.netdev = netdev
        self.ns = ns
        self.name = name
        self.ip = ip
        self.addr = strip_prefix(ip)
        self.mac = mac
        self.paused = paused
        self.mem_mb = mem_mb
        self.smp = smp
        self.append = append
        self.mac_check = mac_check
        self.extra_args = list(extra_args)
        self.guest_dir = guest_dir
        self.kernel = kernel or os.environ.get("VSHIM_GUEST_KERNEL") or None
        if qemu_in_ns is None:
            qemu_in_ns = netdev.in_netns()
        if qemu_in_ns and ns is None:
            raise ValueError("this netdev needs QEMU inside a NetNS: pass ns=")
        self.qemu_in_ns = qemu_in_ns
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="vshimt-%s-" % name)
        os.makedirs(self.workdir, exist_ok=True)
        self.keep_workdir = False
        self.console_log = os.path.join(self.workdir, "console.log")
        self.stderr_log = os.path.join(self.workdir, "qemu.log")
        self.qmp_path = os.path.join(self.workdir, "qmp.sock")
        if incoming is True:
            self.incoming_uri = "unix:" + os.path.join(self.workdir, "migrate.sock")
        else:
            self.incoming_uri = incoming or None
        self.proc = None
        self.pid = None
        self._qmp = None
        self.started_at = None
        self.ready_seconds = None
        self.last_migration = None
        self.cmdline = None

    # stopped before the namespaces it may live in (env._cleanup_all)
    cleanup_first = True

    def __repr__(self):
        return "Guest(%s, pid=%s)" % (self.name, self.pid)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, etype, exc, tb):
        if etype is not None:
            self.keep_workdir = True
            print("# guest %s: logs kept in %s" % (self.name, self.workdir), file=sys.stderr)
        self.stop()
        return False

    # -- lifecycle ---------------------------------------------------------

    def build_cmdline(self):
        """Return the full QEMU command (list) this guest runs."""
        paths = build_guest(self.guest_dir)
        if self.kernel is None:
            kernel = paths["kernel"]
        elif self.kernel == "vmlinuz":
            kernel = paths["vmlinuz"]
        else:
            kernel = self.kernel
        kparams = ["console=ttyS0", "quiet", "vshim.ip=%s" % self.ip]
        if self.mac_check:
            kparams.append("vshim.mac_check=%s" % self.mac)
        if self.append:
            kparams.append(self.append)
        mem = "%dM" % self.mem_mb
        cmd = qemu_command() + [
            "-name", self.name,
            "-machine", "pc", "-accel", "tcg",
            "-m", mem, "-smp", str(self.smp),
            "-object", "memory-backend-memfd,id=mem,size=%s,share=on" % mem,
            "-numa", "node,memdev=mem",
            "-nographic", "-nodefaults", "-no-user-config", "-no-reboot",
            "-chardev", "file,id=con0,path=%s" % self.console_log,
            "-serial", "chardev:con0",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-kernel", kernel, "-initrd", paths["initrd"],
            "-append", " ".join(kparams),
        ]
        cmd += self.netdev.qemu_args()
        cmd += ["-device", "virtio-net-pci,netdev=net0,mac=%s,vectors=0,romfile=%s"
                % (self.mac, self.netdev.device_opts())]
        if self.incoming_uri:
            cmd += ["-incoming", self.incoming_uri]
        if self.paused:
            cmd += ["-S"]
        cmd += self.extra_args
        return cmd

    def start(self):
        """Build the guest if needed and start QEMU (does not wait for the
        boot; see wait_ready).  Returns self."""
        install_signal_handlers()
        cmd = self.build_cmdline()
        self.cmdline = cmd
        for p in (self.qmp_path, self.console_log):
            if os.path.exists(p):
                os.unlink(p)
        if self.incoming_uri and self.incoming_uri.startswith("unix:"):
            p = self.incoming_uri[5:]
            if os.path.exists(p):
                os.unlink(p)
        with open(os.path.join(self.workdir, "cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        if self.qemu_in_ns:
            cmd = self.ns.exec_prefix() + cmd
        cmd = pdeathsig_prefix() + cmd
        err = open(self.stderr_log, "wb")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)
        finally:
            err.close()
        self.pid = self.proc.pid
        self.started_at = time.monotonic()
        _live.add(self)
        try:
            if isinstance(self.netdev, TapNetdev) and self.netdev.attach and self.ns is not None:
                ifname = self.netdev.ifname
                try:
                    wait_for(lambda: not self.alive() or self.ns.link_exists(ifname), 15, 0.05,
                             "tap %s" % ifname)
                except TimeoutError:
                    pass
                if not self.ns.link_exists(ifname):
                    raise GuestError("tap %s did not appear; %s" % (ifname, self.diagnostics()))
                self.ns.attach(ifname)
        except BaseException:
            self.keep_workdir = True
            self.stop()
            raise
        return self

    def alive(self):
        """True while the QEMU process runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_incoming_socket(self, timeout=60.0):
        """For a started guest with incoming=True (a unix: URI): wait until
        its migration socket exists, or QEMU has exited (migrate_to() then
        reports why); returns self."""
        sock = self.incoming_uri[len("unix:"):]
        wait_for(lambda: os.path.exists(sock) or not self.alive(), timeout, 0.05,
                 "incoming migration socket")
        return self

    def cleanup(self):
        """Same as stop(); used by the atexit handler."""
        self.stop()

    def stop(self, grace=5.0):
        """Stop QEMU by PID (SIGTERM, SIGKILL after grace seconds), close QMP,
        remove the work directory if we created it and nothing asked to keep
        it.  Idempotent."""
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None
        if self.proc is not None:
            _terminate_popen(self.proc, grace)
        _live.discard(self)
        if self._own_workdir and not self.keep_workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- console -----------------------------------------------------------

    def console_text(self):
        """The serial console output so far (str)."""
        try:
            with open(self.console_log, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def console_tail(self, lines=40):
        """The last lines of the console (str)."""
        return "\n".join(self.console_text().splitlines()[-lines:])

    def crash_lines(self):
        """Console lines that indicate a guest kernel crash (list)."""
        return [l for l in self.console_text().splitlines()
                if any(p in l for p in CRASH_PATTERNS)]

    def diagnostics(self):
        """A multi-line description for error messages: QEMU state, stderr
        and console tail, log paths."""
        self.keep_workdir = True
        try:
            with open(self.stderr_log, errors="replace") as f:
                err = f.read()[-2000:]
        except OSError:
            err = ""
        rc = self.proc.poll() if self.proc else None
        return ("guest %s (pid %s, %s); console %s:\n%s\nqemu stderr (%s):\n%s"
                % (self.name, self.pid, "running" if rc is None else "exited %s" % rc,
                   self.console_log, self.console_tail(), self.stderr_log, err))

    def wait_ready(self, timeout=60.0):
        """Wait until the guest prints VSHIM-GUEST-READY on its console.
        Returns the seconds since start() (also in self.ready_seconds).
        Raises GuestError at once when QEMU exits, the guest reports
        VSHIM-GUEST-ERROR or its kernel crashes, and after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.console_text()
            if READY_MARKER in text:
                self.ready_seconds = time.monotonic() - self.started_at
                return self.ready_seconds
            if ERROR_MARKER in text:
                raise GuestError("guest reported an error; " + self.diagnostics())
            if self.crash_lines():
                raise GuestError("guest kernel crashed; " + self.diagnostics())
            if not self.alive():
                raise GuestError("QEMU exited during boot; " + self.diagnostics())
            if time.monotonic() >= deadline:
                raise GuestError("guest not ready after %.0f s; %s" % (timeout, self.diagnostics()))
            time.sleep(0.05)

    # -- QMP ---------------------------------------------------------------

    def qmp_client(self, timeout=60.0):
        """The (lazily connected) QMP client of this guest."""
        if self._qmp is None:
            self._qmp = QMP(self.qmp_path, timeout=timeout, alive=self.alive)
        return self._qmp

    def qmp(self, cmd, **args):
        """Execute QMP command cmd with keyword arguments (use the QMP names;
        for names with '-' pass a dict: ``g.qmp('x', **{'a-b': 1})``).
        Returns the 'return' value; raises QMPError."""
        return self.qmp_client().execute(cmd, args or None)

    def status(self):
        """QEMU's run state ('running', 'paused', 'inmigrate', 'postmigrate',
        ...)."""
        return self.qmp("query-status")["status"]

    def pause(self):
        """Stop the vCPUs (QMP stop)."""
        self.qmp("stop")

    def resume(self):
        """Resume the vCPUs (QMP cont)."""
        self.qmp("cont")

    def pmemsave(self, path, size=None):
        """Save guest physical memory [0, size) (default: all RAM) to path
        (QMP pmemsave; pause the guest first for a consistent image)."""
        size = size or self.mem_mb << 20
        self.qmp("pmemsave", val=0, size=size, filename=os.path.abspath(path))
        return path

    def migrate_to(self, dst, timeout=120.0, downtime_limit_ms=None, max_bandwidth=None,
                   capabilities=None, wait_dst_running=True):
        """Live-migrate this guest to dst, a Guest started with
        incoming=True, over its unix socket.

        downtime_limit_ms / max_bandwidth (bytes/s): migration parameters;
        capabilities: dict name -> bool for migrate-set-capabilities.  Waits
        until query-migrate reports completed (MigrationError on failure,
        cancel + MigrationError after timeout), then, unless dst was started
        paused or wait_dst_running is false, until dst runs.  Returns QEMU's
        reported downtime in ms; the full query-migrate answer is in
        self.last_migration."""
        if not dst.incoming_uri:
            raise ValueError("destination guest was not started with incoming=")
        if dst.incoming_uri.startswith("unix:"):
            sock = dst.incoming_uri[5:]
            wait_for(lambda: os.path.exists(sock) or not dst.alive(), 60, 0.05,
                     "migration socket %s" % sock)
            if not dst.alive():
                raise MigrationError("destination QEMU exited; " + dst.diagnostics())
        if capabilities:
            self.qmp("migrate-set-capabilities", capabilities=[
                {"capability": k, "state": bool(v)} for k, v in capabilities.items()])
        params = {}
        if downtime_limit_ms is not None:
            params["downtime-limit"] = int(downtime_limit_ms)
        if max_bandwidth is not None:
            params["max-bandwidth"] = int(max_bandwidth)
        if params:
            self.qmp_client().execute("migrate-set-parameters", params)
        self.qmp("migrate", uri=dst.incoming_uri)
        deadline = time.monotonic() + timeout
        info = {}
        while True:
            info = self.qmp("query-migrate")
            self.last_migration = info
            st = info.get("status")
            if st == "completed":
                break
            if st in ("failed", "cancelled"):
                raise MigrationError("migration %s: %s" % (st, info.get("error-desc", "")), info)
            if not dst.alive():
                raise MigrationError("destination QEMU died; " + dst.diagnostics(), info)
            if time.monotonic() >= deadline:
                try:
                    self.qmp("migrate_cancel")
                except HarnessError:
                    pass
                raise MigrationError("migration not completed after %.0f s (status %s)"
                                     % (timeout, st), info)
            time.sleep(0.05)
        if wait_dst_running and not dst.paused:
            wait_for(lambda: not dst.alive() or dst.status() == "running", 30, 0.05,
                     "destination running")
            if not dst.alive():
                raise MigrationError("destination QEMU died after migration; "
                                     + dst.diagnostics(), info)
        return info.get("downtime")

    # -- agent shortcuts (need ns) ----------------------------------------

    def check(self):
        """Raise GuestError (with diagnostics) if QEMU exited or the guest
        kernel crashed; returns self otherwise."""
        if not self.alive():
            raise GuestError("QEMU is not running; " + self.diagnostics())
        if self.crash_lines():
            raise GuestError("guest kernel crashed; " + self.diagnostics())
        return self

    def _agent(self, fn, *args):
        if self.ns is None:
            raise ValueError("Guest has no NetNS for agent commands")
        try:
            return fn(self.ns, self.addr, *args)
        except TimeoutError as e:
            self.check()  # a crash explains the silence better
            raise TimeoutError("%s; %s" % (e, self.diagnostics())) from None

    def wait_agent(self, timeout=30.0):
        """Wait until the agent answers 'ping' (e.g. on a migration
        destination, whose console never shows the READY marker).  Returns
        the seconds waited; GuestError if the guest crashed or QEMU exited,
        TimeoutError after timeout."""
        t0 = time.monotonic()
        while True:
            self.check()
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise TimeoutError("agent of %s silent for %.0f s; %s"
                                   % (self.name, timeout, self.diagnostics()))
            try:
                if agent_cmd(self.ns, self.addr, "ping", min(0.5, left), 1) == "pong":
                    return time.monotonic() - t0
            except TimeoutError:
                pass

    def cmd(self, text, timeout=1.0, retries=5):
        """agent_cmd(self.ns, self.addr, text); on timeout raises GuestError
        if the guest crashed, else TimeoutError with the console tail."""
        return self._agent(agent_cmd, text, timeout, retries)

    def stats(self):
        """agent_stats(self.ns, self.addr) (errors as for cmd)."""
        return self._agent(agent_stats)

    def reset(self):
        """agent_reset(self.ns, self.addr) (errors as for cmd)."""
        return self._agent(agent_reset)

    def send(self, dst_ip, port, count, pps, stream=0, size=64, start_seq=0):
        """agent_send(self.ns, self.addr, ...) (errors as for cmd)."""
        return self._agent(agent_send, dst_ip, port, count, pps, stream, size, start_seq)

    def tcpsend(self, dst_ip, port, nbytes):
        """agent_tcpsend(self.ns, self.addr, ...) (errors as for cmd)."""
        return self._agent(agent_tcpsend, dst_ip, port, nbytes)

    def wait_tx_idle(self, timeout=60.0):
        """agent_wait_tx_idle(self.ns, self.addr, timeout)."""
        return self._agent(agent_wait_tx_idle, timeout)

    def timeline(self, stream=0):
        """agent_timeline(self.ns, self.addr, stream) (errors as for cmd)."""
        return self._agent(agent_timeline, stream)

    def kernel_counters(self):
        """agent_kernel_counters(self.ns, self.addr) (errors as for cmd)."""
        return self._agent(agent_kernel_counters)

    def channels(self, combined=None):
        """agent_channels(self.ns, self.addr, combined): eth0's combined
        channel count, set first when combined is given (errors as for
        cmd; HarnessError when the guest kernel refuses the count)."""
        return self._agent(agent_channels, combined)


def start_incoming_guest(netdev, ns, workdir, name, ip, mac):
    """Start a Guest waiting for an incoming migration on netdev (its work
    directory workdir/name) and return it once its migration socket
    exists (or QEMU has exited: migrate_to() then reports why)."""
    dg = Guest(netdev, ns=ns, name=name, ip=ip, mac=mac, workdir=os.path.join(workdir, name),
               incoming=True)
    return dg.start().wait_incoming_socket()


def compare_ram(path_a, path_b, page_size=4096, limit=None):
    """Compare two guest RAM images (Guest.pmemsave) page by page; returns
    the list of guest-physical addresses of pages that differ (at most
    limit).  Images of different sizes compare up to the shorter one."""
    diff = []
    chunk = page_size * 256
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        off = 0
        while True:
            a = fa.read(chunk)
            b = fb.read(chunk)
            n = min(len(a), len(b))
            if n == 0:
                break
            if a[:n] != b[:n]:
                for p in range(0, n, page_size):
                    if a[p:p + page_size] != b[p:p + page_size]:
                        diff.append(off + p)
                        if limit is not None and len(diff) >= limit:
                            return diff
            off += n
            if n < chunk:
                break
    return diff
