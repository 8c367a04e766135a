#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: the daemon as an unprivileged user with only CAP_NET_ADMIN.

The daemon runs as a system user of its own (created here if absent and
removed again) through setpriv(1): real, effective and saved UID/GID of
that user, no supplementary groups, and CAP_NET_ADMIN alone in its
inheritable, ambient and bounding sets, as systemd's User= and
AmbientCapabilities=CAP_NET_ADMIN give it (docs/hardening.md).  EAL runs
with --no-huge; its runtime directory is under $XDG_RUNTIME_DIR, a
directory the user owns, as RuntimeDirectory= provides.

Shown:
* without the capability the same start fails with one clear error line
  naming it, exit status 1, and leaves no tap and no control socket;
* the control socket is refused when its directory is world-writable and
  not sticky, and when a socket of another user sits at its path;
* net_af_packet needs CAP_NET_RAW and CAP_NET_ADMIN: with CAP_NET_RAW
  alone the port fails, naming CAP_NET_ADMIN;
* with CAP_NET_ADMIN: /proc/PID/status shows the user's UIDs and exactly
  CAP_NET_ADMIN as permitted and effective set, the control socket is mode
  0600, owned by the user, answers, and refuses another user; a QEMU TCG
  guest on a net_tap uplink (put on the bridge by the test, as an
  operator's ifup hook would) answers 5/5 pings, gets 1000/1000 UDP
  datagrams and sends 500/500; SIGTERM ends it with status 0.
"""

import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 9
USER = "vshim-lp"
CAP_NET_ADMIN = 12
MAC = "52:54:00:77:09:01"
IP = "10.77.0.91/24"


def status_fields(pid):
    """The Uid/Gid/Cap* lines of /proc/PID/status as a dict of strings."""
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in f)
                if k in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
                         "CapAmb")}


class User:
    """A system user for the daemon: reuse USER if it exists, else create
    it (and its group) and remove both in cleanup()."""

    def __init__(self):
        self.created = False
        try:
            pw = pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                            "--shell", "/usr/sbin/nologin", "--home-dir", "/nonexistent",
                            USER], check=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
            self.created = True
            pw = pwd.getpwnam(USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def cleanup(self):
        if self.created:
            subprocess.run(["userdel", USER], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.created = False

    def prefix(self, caps, env=None):
        """setpriv command prefix: become the user with only caps (names
        without CAP_, e.g. ["net_admin"]) in every set."""
        c = ",".join(["-all"] + ["+" + x for x in caps])
        cmd = [shutil.which("setpriv"), "--reuid=%d" % self.uid, "--regid=%d" % self.gid,
               "--clear-groups", "--inh-caps=" + c, "--ambient-caps=" + c,
               "--bounding-set=" + c, "--", "env"]
        return cmd + ["%s=%s" % kv for kv in sorted((env or {}).items())]


class UserShim(shimlib.Shim):
    """A Shim started as the unprivileged user with the given capabilities;
    its sockets and DPDK runtime directory are in rundir (owned by the
    user)."""

    def __init__(self, ns, name, rundir, user, caps, **kw):
        super().__init__(ns, name, rundir, memory_mb=256, **kw)
        self.user = user
        self.caps = caps
        self.rundir = rundir

    def command(self):
        return self.user.prefix(self.caps, {"XDG_RUNTIME_DIR": self.rundir,
                                            "HOME": self.rundir}) + super().command()


def user_dir(path, user, mode):
    os.makedirs(path, exist_ok=True)
    os.chown(path, user.uid, user.gid)
    os.chmod(path, mode)
    return path


def run_to_exit(ns, shim, timeout=60):
    """Start shim's command, wait for it to exit; (status, log text)."""
    with open(shim.log_path, "ab") as log:
        p = ns.popen(shim.command(), stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            ns.kill(p)
            rc = "still running after %d s" % timeout
    if p in ns.procs:
        ns.procs.remove(p)
    return rc, shim.log_text()


def error_lines(text):
    """The last few error lines of a log."""
    return [line for line in text.splitlines()
            if "ERR" in line or "failed" in line or "refus" in line or "lacks" in line
            or "not sticky" in line or "belongs to" in line][-4:]


def connect_as(user_prefix, path):
    """Try to connect to the unix socket path as another identity; returns
    'ok' or the error text."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1]); print('ok')\n"
            "except OSError as e:\n print(e.strerror)\n")
    # the system's python: the test's own may live in root's home
    py = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    r = subprocess.run(user_prefix + [py, "-c", code, path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    return r.stdout.strip()


def run(tap, state, workdir, user):
    vt.build_guest()
    os.chmod(workdir, 0o711)        # the user reaches its own directories only
    with vt.NetNS() as ns:
        state["ns"] = ns.name

        # 1. no capability: the tap cannot be created; one clear error
        rundir = user_dir(os.path.join(workdir, "nocap"), user, 0o750)
        shim = UserShim(ns, "nocap", rundir, user, [])
        port = shim.add_port("vm1", MAC)
        rc, log = run_to_exit(ns, shim)
        tap.diag("\n".join(error_lines(log)[-1:]))
        tap.ok(rc == 1 and "needs CAP_NET_ADMIN" in log and "lacks CAP_NET_ADMIN" in log
               and "Segmentation" not in log and not ns.link_exists(port.tap)
               and not os.path.exists(shim.control),
               "without CAP_NET_ADMIN: exit status %r, the error names the capability, no "
               "tap or control socket left" % rc, error_lines(log))

        # 2. control socket refusals (no ports: they fail before any)
        wdir = user_dir(os.path.join(workdir, "worldw"), user, 0o777)
        shim = UserShim(ns, "worldw", wdir, user, ["net_admin"])
        rc, log = run_to_exit(ns, shim)
        tap.diag("\n".join(error_lines(log)[-1:]))
        tap.ok(rc == 1 and "writable by every user and not sticky" in log
               and not os.path.exists(shim.control),
               "control socket in a world-writable, non-sticky directory: refused, exit %r"
               % rc, error_lines(log))

        fdir = user_dir(os.path.join(workdir, "foreign"), user, 0o750)
        shim = UserShim(ns, "foreign", fdir, user, ["net_admin"])
        s = socket.socket(socket.AF_UNIX)
        s.bind(shim.control)        # root's, and stale: nobody listens
        s.close()
        rc, log = run_to_exit(ns, shim)
        st = os.lstat(shim.control)
        tap.diag("\n".join(error_lines(log)[-1:]))
        tap.ok(rc == 1 and "belongs to uid 0" in log and st.st_uid == 0
               and stat.S_ISSOCK(st.st_mode),
               "another user's socket at the control path: refused and left alone, exit %r"
               % rc, error_lines(log))
        os.unlink(shim.control)

        # 3. net_af_packet (no guest): CAP_NET_RAW alone is not enough
        ns.run(["ip", "link", "add", "vlpb", "type", "veth", "peer", "name", "vlpu"])
        ns.attach("vlpb")
        ns.run(["ip", "link", "set", "vlpu", "up"])
        adir = user_dir(os.path.join(workdir, "afp"), user, 0o750)
        shim = UserShim(ns, "afraw", adir, user, ["net_raw"])
        shim.add_port("vm1", MAC, uplink="net_af_packet0,iface=vlpu")
        rc, log = run_to_exit(ns, shim)
        shim2 = UserShim(ns, "afboth", adir, user, ["net_raw", "net_admin"])
        shim2.add_port("vm1", MAC, uplink="net_af_packet0,iface=vlpu")
        shim2.start()
        try:
            up = [p["name"] for p in shim2.execute("query-ports")]
        finally:
            status2 = shim2.stop()
        tap.diag("\n".join(error_lines(log)[-1:]))
        tap.ok(rc == 1 and "lacks CAP_NET_ADMIN" in log and up == ["vm1"] and status2 == 0,
               "net_af_packet: CAP_NET_RAW alone fails naming CAP_NET_ADMIN (exit %r); with "
               "CAP_NET_RAW and CAP_NET_ADMIN the port comes up" % rc, error_lines(log))

        # 4. CAP_NET_ADMIN only: the real thing
        # 0755 like systemd's RuntimeDirectoryMode=: the socket's mode alone keeps
        # other users out
        rundir = user_dir(os.path.join(workdir, "run"), user, 0o755)
        shim = UserShim(ns, "lp", rundir, user, ["net_admin"])
        shim.add_port("vm1", MAC)
        shim.start()                # the test attaches the tap to br0, as root
        pid = shim.proc.pid
        state["pids"].append(pid)
        guest = None
        try:
            f = status_fields(pid)
            want = "%d\t%d\t%d\t%d" % ((user.uid,) * 4)
            caps = {k: int(f[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                                "CapAmb")}
            tap.ok(f["Uid"] == want and f["Gid"] == "%d\t%d\t%d\t%d" % ((user.gid,) * 4)
                   and f["Groups"] == "" and all(v == 1 << CAP_NET_ADMIN
                                                 for v in caps.values())
                   and "running as uid %d (%s), gid %d (%s), capabilities: CAP_NET_ADMIN"
                   % (user.uid, USER, user.gid, USER) in shim.log_text(),
                   "daemon runs as uid %d (%s) with CapPrm=CapEff=%#x (CAP_NET_ADMIN) only"
                   % (user.uid, USER, caps["CapEff"]), f)

            st = os.lstat(shim.control)
            ports = shim.execute("query-ports")
            other = connect_as(["setpriv", "--reuid=65534", "--regid=65534",
                                "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                                "--"], shim.control)
            own = connect_as(user.prefix([]), shim.control)
            tap.ok(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
                   and st.st_uid == user.uid and [p["name"] for p in ports] == ["vm1"]
                   and own == "ok" and other == "Permission denied",
                   "control socket: mode %04o, owner uid %d, answers query-ports; the user "
                   "connects (%s), nobody cannot (%s)"
                   % (stat.S_IMODE(st.st_mode), st.st_uid, own, other), ports)

            guest = vt.Guest(shim.port("vm1").netdev(), ns=ns, name="vm1", ip=IP, mac=MAC,
                             workdir=os.path.join(workdir, "vm1"))
            guest.start()
            state["pids"].append(guest.pid)
            boot = guest.wait_ready(timeout=90)
            pr = ns.ping(guest.addr, count=5, interval=0.2, timeout=2.0)
            tap.ok(pr.received == 5, "guest booted (%.1f s); ping: 5 of 5 replies" % boot, pr)

            guest.reset()
            res = vt.UdpSender(ns, guest.addr, pps=1000, count=1000,
                               size=200).start().wait(timeout=30)
            s0 = shimlib.wait_stream(guest, 1000)
            rcv = vt.UdpReceiver(ns, 7190, expect=500, idle=5, timeout=40).start()
            guest.send(ns.host_ip, 7190, 500, 500, stream=5, size=200)
            rres = rcv.wait(timeout=45)
            tap.ok(res["sent"] == 1000 and shimlib.loss_counts(s0) == shimlib.lossless(1000)
                   and rres["received"] == 500,
                   "UDP: 1000/1000 datagrams to the guest, none lost, 500/500 from it",
                   {"guest": s0, "host": rres})
        finally:
            if guest:
                guest.stop()
            status = shim.stop()
            state["shim_log"] = shim.log_text()
        tap.ok(status == 0 and not os.path.exists(shim.control)
               and "counters:" in state["shim_log"],
               "SIGTERM: exit status %r, control socket removed" % status, shim.log_tail(8))


def require_tools():
    for tool in ("setpriv", "useradd", "userdel"):
        if not shutil.which(tool):
            vt.skip_or_fail("%s not found (util-linux, passwd)" % tool)


def run_as_user(tap, state, workdir):
    """run() with the daemon's user, which is removed afterwards if it was
    created here."""
    user = User()
    state["user_created"] = user.created
    try:
        run(tap, state, workdir, user)
    finally:
        user.cleanup()


def user_left(state):
    """The user this test created, if it is still there."""
    if state.get("user_created"):
        try:
            pwd.getpwnam(USER)
            return {"created user": USER}
        except KeyError:
            pass
    return {}


def main():
    return vt.tap_main(PLAN, "lp", run_as_user, require=require_tools, leftovers=user_left)


if __name__ == "__main__":
    sys.exit(main())
