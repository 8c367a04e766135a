#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end: QEMU's own Python QMP library drives the control socket.

docs/control-protocol.md says any QMP client works unchanged; this checks it
with QEMU's: ``qemu.qmp`` from the python/ directory of Debian's qemu 7.2
source package, which tools/fetch-qemu-python.sh downloads with `apt-get
source` and caches (never kept in this repository).  Against a real daemon
(VSHIM_BIN) with one port (net_tap uplink, no VM):

* ``qemu.qmp.QMPClient`` (asyncio) connects and negotiates, parses the
  greeting; runs query-version, query-ports, query-stats, query-commands,
  several of them pipelined; an unknown command and an unknown port raise
  ``ExecuteError`` with the right class;
* an event listener receives MIGRATION_EXPECTED (migrate-expect arms the
  port as a migration destination; migrate-cancel disarms it);
* ``qemu.qmp.legacy.QEMUMonitorProtocol`` (synchronous) connects and runs
  commands;
* ``qmp-shell`` (python -m qemu.qmp.qmp_shell) runs one command piped on
  stdin.

Without the library (no deb-src entries, no network, no dpkg-source) the
test is skipped, or fails with CI=true; so is the qmp-shell check when the
library has no qmp_shell.py.
"""

import asyncio
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import shimlib  # noqa: E402
import vshimtest as vt  # noqa: E402

PLAN = 7
PORT, MAC = "vm1", "52:54:00:77:0b:01"
FETCH = os.path.join(shimlib.REPO, "tools", "fetch-qemu-python.sh")

qmp = None          # the qemu.qmp module, imported by load_library()
LIB = {}            # 'path', 'source' (the cache's SOURCE file)


def load_library():
    """Fetch (or reuse) QEMU's python/qemu/qmp and import it; skip_or_fail
    when that is impossible."""
    global qmp
    try:
        r = subprocess.run(["bash", FETCH, vt.cache_dir()], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        vt.skip_or_fail("fetch-qemu-python.sh: %s" % e)
    if r.returncode != 0 or not r.stdout.strip():
        vt.skip_or_fail("QEMU's python QMP library unavailable: fetch-qemu-python.sh "
                        "failed (%d): %s" % (r.returncode, r.stderr.strip()[-1500:]))
    path = r.stdout.strip().splitlines()[-1]
    sys.path.insert(0, path)
    try:
        import qemu.qmp as mod
        import qemu.qmp.legacy  # noqa: F401
        import qemu.qmp.models  # noqa: F401
    except ImportError as e:
        vt.skip_or_fail("cannot import qemu.qmp from %s: %s" % (path, e))
    if not os.path.abspath(mod.__file__).startswith(os.path.abspath(path) + os.sep):
        vt.skip_or_fail("qemu.qmp imported from %s, not from the fetched %s"
                        % (mod.__file__, path))
    qmp = mod
    LIB["path"] = path
    try:
        with open(os.path.join(os.path.dirname(path), "SOURCE")) as f:
            LIB["source"] = dict(l.split(": ", 1) for l in f.read().splitlines() if ": " in l)
    except OSError:
        LIB["source"] = {}


def ts_ok(ts):
    """A QMP event timestamp: wall clock, within a minute of ours."""
    return (isinstance(ts, dict) and isinstance(ts.get("seconds"), int) and
            isinstance(ts.get("microseconds"), int) and 0 <= ts["microseconds"] < 1000000 and
            abs(ts["seconds"] + ts["microseconds"] / 1e6 - time.time()) < 60)


async def async_part(tap, sock):
    client = qmp.QMPClient("vshim-test")
    await asyncio.wait_for(client.connect(sock), 30)
    try:
        # 1: connect() read the greeting and negotiated
        g = client.greeting       # a qemu.qmp.models.Greeting
        ver = g.QMP.version
        package = ver.get("package", "")
        q = ver.get("qemu", {})
        tap.diag("greeting (as parsed by QMPClient): %s" % json.dumps(g._asdict()))
        tap.ok(isinstance(g, qmp.models.Greeting) and
               client.runstate == qmp.Runstate.RUNNING and
               package.startswith("vhost-shim ") and
               all(isinstance(q.get(k), int) for k in ("major", "minor", "micro")) and
               list(g.QMP.capabilities) == [],
               "QMPClient.connect(): greeting parsed (%s, version %s.%s.%s, no capabilities), "
               "negotiated" % (package, q.get("major"), q.get("minor"), q.get("micro")),
               g._asdict())

        # 2: commands, four of them pipelined, and two errors
        v, ports, stats, cmds = await asyncio.wait_for(asyncio.gather(
            client.execute("query-version"),
            client.execute("query-ports"),
            client.execute("query-stats", {"port": PORT}),
            client.execute("query-commands")), 30)
        errors = {}
        for cmd, args in (("no-such-command", None), ("query-stats", {"port": "nope"})):
            try:
                await asyncio.wait_for(client.execute(cmd, args), 30)
                errors[cmd] = None
            except qmp.ExecuteError as e:
                errors[cmd] = (e.error_class, str(e))
        names = [c["name"] for c in cmds]
        st = stats[0] if isinstance(stats, list) and stats else {}
        LIB["greeting-version"] = dict(ver)
        tap.ok(v == dict(ver) and
               [(p["name"], p["mac"]) for p in ports] == [(PORT, MAC)] and
               st.get("name") == PORT and isinstance(st.get("rx-pkts"), int) and
               "migrate-expect" in names and "query-stats" in names and
               errors["no-such-command"] == ("CommandNotFound",
                                             "The command no-such-command has not been found") and
               errors["query-stats"] is not None and
               errors["query-stats"][0] == "DeviceNotFound",
               "QMPClient.execute(): query-version (= the greeting's), query-ports, query-stats, query-commands "
               "(pipelined); unknown command -> ExecuteError CommandNotFound, unknown port -> "
               "DeviceNotFound",
               {"version": v, "ports": ports, "stats": st, "errors": errors})

        # 3: an event through a listener
        with client.listener("MIGRATION_EXPECTED") as listener:
            await asyncio.wait_for(client.execute("migrate-expect", {"port": PORT}), 30)
            try:
                ev = await asyncio.wait_for(listener.get(), 10)
            except asyncio.TimeoutError:
                ev = None
        state = (await client.execute("query-migration", {"port": PORT}))[0]["state"]
        await asyncio.wait_for(client.execute("migrate-cancel", {"port": PORT}), 30)
        after = (await client.execute("query-migration", {"port": PORT}))[0]["state"]
        evd = dict(ev) if ev is not None else None
        tap.diag("event: %s" % json.dumps(evd))
        tap.ok(evd is not None and evd.get("event") == "MIGRATION_EXPECTED" and
               isinstance(evd.get("data"), dict) and evd["data"].get("port") == PORT and
               ts_ok(evd.get("timestamp")) and
               state == "dst-expecting" and after == "none",
               "QMPClient event listener: MIGRATION_EXPECTED {port: %s} with a timestamp "
               "after migrate-expect (state %s), migrate-cancel -> %s" % (PORT, state, after),
               evd)
    finally:
        await client.disconnect()


def legacy_part(tap, sock):
    # QEMUMonitorProtocol runs its own event loop (asyncio.get_event_loop())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mon = qmp.legacy.QEMUMonitorProtocol(sock)
    try:
        mon.settimeout(30)
        greeting = mon.connect()
        ports = mon.command("query-ports")
        bad = mon.cmd("no-such-command")
    finally:
        mon.close()
        asyncio.set_event_loop(None)
        loop.close()
    tap.ok(greeting["QMP"]["version"]["package"].startswith("vhost-shim ") and
           [p["name"] for p in ports] == [PORT] and
           bad.get("error", {}).get("class") == "CommandNotFound",
           "legacy.QEMUMonitorProtocol: connect() negotiated, command('query-ports') -> "
           "[%s], cmd('no-such-command') -> CommandNotFound" % PORT,
           {"greeting": greeting, "ports": ports, "bad": bad})


def shell_part(tap, sock, workdir):
    shell_py = os.path.join(LIB["path"], "qemu", "qmp", "qmp_shell.py")
    if not os.path.exists(shell_py):
        tap.skip_or_fail("qmp-shell", "no python/qemu/qmp/qmp_shell.py in this QEMU source")
        return
    env = dict(os.environ, PYTHONPATH=LIB["path"],
               HOME=workdir)     # qmp-shell keeps its readline history in ~
    r = subprocess.run([sys.executable, "-m", "qemu.qmp.qmp_shell", sock],
                       input="query-version\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60, env=env)
    replies = []
    for line in r.stdout.splitlines():
        line = line.replace("(QEMU) ", "").strip()
        if line.startswith("{"):
            try:
                replies.append(json.loads(line))
            except ValueError:
                pass
    tap.diag("qmp-shell output:\n%s" % r.stdout.rstrip())
    want = "Connected to QEMU {major}.{minor}.{micro}".format(
        **LIB.get("greeting-version", {}).get("qemu", {"major": "?", "minor": "?", "micro": "?"}))
    tap.ok(r.returncode == 0 and want in r.stdout and
           len(replies) == 1 and
           replies[0].get("return", {}).get("package", "").startswith("vhost-shim "),
           "qmp-shell: 'query-version' on stdin -> {\"return\": {... \"package\": "
           "\"vhost-shim ...\"}}", {"status": r.returncode, "stderr": r.stderr[-1500:]})


def run(tap, state, workdir):
    src = LIB["source"]
    tap.diag("QEMU python QMP library %s from Debian source qemu %s, in %s" % (
        src.get("python-version", "?"), src.get("debian-source", "?").replace("qemu ", ""),
        LIB["path"]))
    with vt.NetNS() as ns:
        state["ns"] = ns.name
        shim = shimlib.Shim(ns, "hosta", workdir)
        shim.add_port(PORT, MAC)
        shim.start()
        try:
            tap.ok(shim.alive() and os.path.exists(shim.control),
                   "daemon %s runs with port %s, control socket %s" % (
                       shimlib.shim_binary(), PORT, os.path.basename(shim.control)))
            asyncio.run(async_part(tap, shim.control))
            legacy_part(tap, shim.control)
            shell_part(tap, shim.control, workdir)
            cs = shim.execute("query-control-stats")
            tap.diag("control stats: %s" % json.dumps(cs))
            tap.ok(shim.alive() and cs.get("malformed", 0) == 0,
                   "daemon alive afterwards, no malformed input from the clients", cs)
        finally:
            shim.stop()


def main():
    return vt.tap_main(PLAN, "qmplib", run, require=load_library)


if __name__ == "__main__":
    sys.exit(main())
