#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Count QEMU 7.2 TCG migration RAM divergences and guest crashes under UDP.

Runs N live migrations of the tiny TCG test guest (tests/guest/) between two
dpdk-testpmd vhost-user backends ("host A" and "host B", each a net_tap on
the test bridge, see tests/lib/testpmd.py) while PPS datagrams per second of
UDP flow from the test namespace to the guest.  The guest ping-pongs
A -> B -> A ...; each migration goes to a fresh destination QEMU started
with ``-incoming`` and ``-S``, so that after the migration BOTH sides are
paused (the source in 'postmigrate', the destination in 'paused') and can be
dumped with QMP ``pmemsave``.  The two dumps are compared page by page with
tests/e2e/ramdiff.py, without backend ranges (they are not known here): any
differing page means the destination is not the source's image.  Then the
destination is resumed (``cont``) and the guest must answer its agent within
--agent-timeout seconds and show no crash line on its console
(vshimtest.CRASH_PATTERNS) during --observe seconds of traffic.

A guest whose RAM diverged, or that crashed, is replaced by a freshly booted
one before the next run, so every run starts from a guest whose RAM has
matched the source image after every migration it went through.

Usage:
  bench/tcg-migration-bug.py --qemu PATH --runs N [--pps 5000]
      [--observe 5] [--agent-timeout 5] [--warmup 1] [--out DIR] [--keep-dumps]

--qemu is exported as VSHIM_QEMU (vshimtest.qemu_command() then uses exactly
that binary, without extra -L options); the QMP query-version 'package'
string of the binary that ran is reported, so stock and patched runs cannot
be mixed up.

Output: one line per run while running, a summary table, and a last line
``JSON {...}`` with all figures.  Per run: direction, QEMU downtime and total
migration time (ms), pages differing, ramdiff verdict, crashed (yes/no, with
the reason and first crash line), datagrams the guest received before the
migration (rx_before_migration) and in the whole run (rx_total, read after
the observation window; the agent is reset at the start of each run).  --out DIR (default: a new
/tmp/vshim-tcgbug-* directory) keeps runs.jsonl, the ramdiff JSON of every
diverged run, and the console log of every crashed guest.

Exit status: 0 when every run completed (whatever it measured), 1 when a run
could not be carried out (harness/migration error), 77 when the environment
cannot run it (no root, no QEMU; see vshimtest.skip_or_fail).
Needs root, QEMU, dpdk-testpmd (dpdk-dev) and the test guest
(built on first use by tests/guest/build-guest.sh).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
import testpmd  # noqa: E402
import vshimtest as vt  # noqa: E402

RAMDIFF = os.path.join(REPO, "tests", "e2e", "ramdiff.py")
MAC = "52:54:00:77:0b:01"
IP = "10.77.0.41/24"
MEM_MB = 256


def log(msg):
    print(msg, flush=True)


class Bench:
    def __init__(self, ns, workdir, outdir, args):
        self.ns = ns
        self.workdir = workdir
        self.outdir = outdir
        self.a = args
        self.hosts = [testpmd.TestpmdHost(ns, "hosta", workdir).start(),
                      testpmd.TestpmdHost(ns, "hostb", workdir).start()]
        self.cur = 0            # index of the host the guest runs on
        self.guest = None
        self.gen = 0
        self.boots = 0
        self.qemu_package = None

    # -- guests ------------------------------------------------------------

    def _new_guest(self, host, incoming):
        self.gen += 1
        name = "g%d" % self.gen
        return vt.Guest(self.hosts[host].netdev(), ns=self.ns, name=name, ip=IP, mac=MAC,
                        mem_mb=MEM_MB, workdir=os.path.join(self.workdir, name),
                        incoming=incoming, paused=incoming)

    def boot(self):
        """(Re)boot a fresh guest on the current host."""
        if self.guest is not None:
            self.guest.stop()
            self._rm(self.guest)
        self.guest = self._new_guest(self.cur, incoming=False)
        self.guest.start()
        self.guest.wait_ready(timeout=120)
        self.flush_fdb()
        self.boots += 1
        if self.qemu_package is None:
            v = self.guest.qmp("query-version")
            self.qemu_package = "%d.%d.%d %s" % (v["qemu"]["major"], v["qemu"]["minor"],
                                                 v["qemu"]["micro"], v.get("package", ""))
            log("# QEMU: %s (%s)" % (self.guest.cmdline[0], self.qemu_package.strip()))
        return self.guest

    def flush_fdb(self):
        """Forget where the bridge learned the guest's MAC, so that frames to
        it are flooded to both hosts until the guest sends again.  Without
        this, a guest that hung before announcing itself leaves the entry on
        the other host's port, and a guest booted afresh there (it sends
        nothing by itself) is unreachable until the entry ages out (300 s).
        With it, reaching the agent depends on the guest alone."""
        for h in self.hosts:
            self.ns.fdb_del(MAC, h.tap)

    def _rm(self, g):
        if not self.a.keep_workdirs:
            shutil.rmtree(g.workdir, ignore_errors=True)

    def check_hosts(self):
        for h in self.hosts:
            if not h.alive():
                raise vt.HarnessError("dpdk-testpmd %s exited: %s" % (h.name, h.log_tail()))

    # -- one run -----------------------------------------------------------

    def run_one(self, i):
        a = self.a
        rec = {"run": i, "direction": "%s->%s" % ("AB"[self.cur], "AB"[1 - self.cur]),
               "fresh_boot": self.guest is None}
        t_run = time.monotonic()
        snd = dst = None
        try:
            self.check_hosts()
            if self.guest is None:
                self.boot()
            src = self.guest
            src.check()
            src.reset()
            snd = vt.UdpSender(self.ns, src.addr, pps=a.pps, duration=600, size=100).start()
            time.sleep(a.warmup)
            rec["rx_before_migration"] = vt.stream_stats(src.stats(), 0)["received"]
            dst = self._new_guest(1 - self.cur, incoming=True)
            dst.start()
            downtime = src.migrate_to(dst, timeout=a.migrate_timeout)
            info = src.last_migration or {}
            rec["downtime_ms"] = downtime
            rec["total_ms"] = info.get("total-time")
            rec["ram_mb_sent"] = round(info.get("ram", {}).get("transferred", 0) / 1048576.0, 1)
            rec["dirty_sync_count"] = info.get("ram", {}).get("dirty-sync-count")
            # 'completed' on the source can come before the destination has
            # loaded the last section: wait until it is paused (-S).
            vt.wait_for(lambda: not dst.alive() or dst.status() == "paused", 30, 0.02,
                        "destination paused after the migration")
            vt.wait_for(lambda: src.status() == "postmigrate", 30, 0.02,
                        "source in postmigrate")
            if not dst.alive():
                raise vt.GuestError("destination QEMU died; " + dst.diagnostics())
            sp = os.path.join(self.workdir, "src-%d.ram" % i)
            dp = os.path.join(self.workdir, "dst-%d.ram" % i)
            t0 = time.monotonic()
            src.pmemsave(sp)
            dst.pmemsave(dp)
            rec["dump_s"] = round(time.monotonic() - t0, 2)
            rd = subprocess.run([vt.PYTHON, RAMDIFF, sp, dp, "--max-pages", "256"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                timeout=120)
            if rd.returncode not in (0, 10, 20):
                raise vt.HarnessError("ramdiff.py failed (%d): %s" % (rd.returncode, rd.stderr))
            summary = json.loads(rd.stdout)
            rec["pages_differing"] = summary["pages_differing"]
            rec["verdict"] = summary["verdict"]
            rec["ramdiff_exit"] = rd.returncode
            if summary["pages_differing"]:
                with open(os.path.join(self.outdir, "ramdiff-run%d.json" % i), "w") as f:
                    f.write(rd.stdout)
                rec["differing_gpas"] = [p["gpa"] for p in summary["differing_pages"][:16]]
            if a.keep_dumps and summary["pages_differing"]:
                for p in (sp, dp):
                    shutil.move(p, os.path.join(self.outdir, os.path.basename(p)))
            for p in (sp, dp):
                if os.path.exists(p):
                    os.unlink(p)
            # the source is done: stop it before the destination resumes
            src.stop()
            self._rm(src)
            self.guest = dst
            self.cur = 1 - self.cur
            # resume and watch the guest
            dst.resume()
            self.flush_fdb()
            rec.update(self.watch(dst))
        except (vt.HarnessError, TimeoutError) as e:
            rec["error"] = str(e).splitlines()[0][:300]
            log("# run %d: error: %s" % (i, traceback.format_exc().strip()[-2000:]))
        finally:
            if snd is not None:
                try:
                    rec["sent"] = snd.stop().get("sent")
                except vt.HarnessError:
                    pass
            if dst is not None and self.guest is not dst:
                dst.keep_workdir = False
                dst.stop()
                self._rm(dst)
        rec["wall_s"] = round(time.monotonic() - t_run, 1)
        bad = rec.get("error") or rec.get("crashed") or rec.get("pages_differing")
        if rec.get("crashed") or rec.get("error"):
            g = self.guest
            if g is not None and os.path.exists(g.console_log):
                shutil.copy(g.console_log, os.path.join(self.outdir, "console-run%d.log" % i))
        if bad:
            # start the next run from a guest whose RAM is known good
            if self.guest is not None:
                self.guest.stop()
                self._rm(self.guest)
            self.guest = None
        return rec

    def watch(self, g):
        """After the resume: agent answer within --agent-timeout, then
        --observe seconds under traffic without a crash line."""
        a = self.a
        out = {"crashed": False, "crash_reason": None, "crash_line": None,
               "agent_answer_s": None}
        try:
            out["agent_answer_s"] = round(g.wait_agent(timeout=a.agent_timeout), 2)
        except vt.GuestError:
            pass
        except TimeoutError:
            out["crash_reason"] = "agent silent for %.0f s" % a.agent_timeout
        deadline = time.monotonic() + a.observe
        while out["crash_reason"] is None and time.monotonic() < deadline:
            if not g.alive() or g.crash_lines():
                break
            time.sleep(0.2)
        if out["crash_reason"] is None:
            try:
                out["rx_total"] = vt.stream_stats(g.stats(), 0)["received"]
            except TimeoutError:
                out["crash_reason"] = "agent silent after the resume"
            except vt.GuestError:
                pass
        if out["crash_reason"] and g.alive():
            out["silent_guest"] = self.cpu_state(g)
        lines = g.crash_lines()
        if lines:
            out["crash_reason"] = "kernel crash on the console"
            out["crash_line"] = lines[0].strip()[:200]
        elif not g.alive():
            out["crash_reason"] = "QEMU exited"
        out["crashed"] = out["crash_reason"] is not None
        return out

    @staticmethod
    def cpu_state(g):
        """Run state and two RIP samples 0.5 s apart of a silent guest (QMP
        query-status, HMP 'info registers'), to tell a hang from a network
        problem."""
        st = {}
        try:
            st["status"] = g.status()
            rips = []
            for _ in range(2):
                regs = g.qmp("human-monitor-command", **{"command-line": "info registers"})
                m = [w for w in regs.split() if w.startswith("RIP=")]
                rips.append(m[0][4:] if m else None)
                time.sleep(0.5)
            st["rip"] = rips
        except (vt.HarnessError, TimeoutError, OSError) as e:
            st["error"] = str(e)[:200]
        return st

    def stop(self):
        if self.guest is not None:
            self.guest.stop()
        for h in self.hosts:
            h.stop()


def fmt(v, spec="%s"):
    return "-" if v is None else spec % v


def summarize(recs, qemu, package, wall, args, outdir, boots):
    done = [r for r in recs if not r.get("error")]
    diverged = [r for r in done if r.get("pages_differing")]
    crashed = [r for r in done if r.get("crashed")]
    s = {
        "qemu": qemu, "package": package, "pps": args.pps,
        "runs_requested": args.runs, "runs_completed": len(done),
        "runs_failed": len(recs) - len(done),
        "diverged": len(diverged), "crashed": len(crashed),
        "crashed_and_diverged": sum(1 for r in crashed if r.get("pages_differing")),
        "crashed_identical": sum(1 for r in crashed if not r.get("pages_differing")),
        "diverged_survived": sum(1 for r in diverged if not r.get("crashed")),
        "pages_differing_per_diverged_run": [r["pages_differing"] for r in diverged],
        "downtime_ms_min": min((r["downtime_ms"] for r in done if r.get("downtime_ms") is not None), default=None),
        "downtime_ms_max": max((r["downtime_ms"] for r in done if r.get("downtime_ms") is not None), default=None),
        "guest_boots": boots,
        "wall_s": round(wall, 1), "outdir": outdir,
    }
    log("")
    log("%-4s %-5s %6s %8s %6s %-22s %-8s %s" % ("run", "dir", "down", "total", "pages",
                                                   "verdict", "crashed", "note"))
    log("%-4s %-5s %6s %8s %6s %-22s %-8s %s" % ("", "", "ms", "ms", "diff", "", "", ""))
    for r in recs:
        note = r.get("error") or r.get("crash_line") or r.get("crash_reason") or ""
        if r.get("fresh_boot"):
            note = ("fresh boot; " + note).rstrip("; ")
        log("%-4d %-5s %6s %8s %6s %-22s %-8s %s" % (
            r["run"], r["direction"], fmt(r.get("downtime_ms")), fmt(r.get("total_ms")),
            fmt(r.get("pages_differing")), r.get("verdict") or "-",
            "-" if r.get("error") else ("yes" if r.get("crashed") else "no"), note[:90]))
    log("")
    log("QEMU %s (%s), %d pps, %d runs completed (%d failed)" % (
        qemu, (package or "").strip(), args.pps, s["runs_completed"], s["runs_failed"]))
    log("RAM diverged in %d of %d runs; guest crashed in %d of %d runs "
        "(%d of them with diverged RAM); %d diverged runs survived the observation window"
        % (s["diverged"], s["runs_completed"], s["crashed"], s["runs_completed"],
           s["crashed_and_diverged"], s["diverged_survived"]))
    log("downtime %s..%s ms; %d guest boots; wall time %.0f s; details in %s" % (
        fmt(s["downtime_ms_min"]), fmt(s["downtime_ms_max"]), boots, wall, outdir))
    log("JSON " + json.dumps({"summary": s, "runs": recs}, sort_keys=True))
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", required=True, help="qemu-system-x86_64 to test (as VSHIM_QEMU)")
    ap.add_argument("--runs", type=int, required=True, help="number of migrations")
    ap.add_argument("--pps", type=int, default=5000, help="UDP datagrams per second (5000)")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of traffic before each migration (1)")
    ap.add_argument("--observe", type=float, default=5.0,
                    help="seconds to watch the resumed guest for crashes (5)")
    ap.add_argument("--agent-timeout", type=float, default=5.0,
                    help="seconds the resumed guest has to answer its agent (5)")
    ap.add_argument("--migrate-timeout", type=float, default=120.0)
    ap.add_argument("--out", help="directory for results (default: new /tmp/vshim-tcgbug-*)")
    ap.add_argument("--keep-dumps", action="store_true",
                    help="keep both RAM dumps of diverged runs in --out (512 MiB each run)")
    ap.add_argument("--keep-workdirs", action="store_true",
                    help="keep the work directory (QEMU consoles and logs, testpmd logs)")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be >= 1")
    qemu = shutil.which(a.qemu) or a.qemu
    if not (os.path.isfile(qemu) and os.access(qemu, os.X_OK)):
        ap.error("not an executable: %s" % a.qemu)
    qemu = os.path.abspath(qemu)
    os.environ["VSHIM_QEMU"] = qemu
    vt.require_e2e_env(tap=True)
    if not shutil.which("dpdk-testpmd"):
        vt.skip_or_fail("dpdk-testpmd not found (apt-get install dpdk-dev)")
    vt.build_guest()
    outdir = a.out or tempfile.mkdtemp(prefix="vshim-tcgbug-")
    os.makedirs(outdir, exist_ok=True)
    log("# tcg-migration-bug: %d runs, QEMU %s, %d pps, results in %s" % (a.runs, qemu, a.pps,
                                                                        outdir))
    recs = []
    t0 = time.monotonic()
    bench = None
    failed_setup = False
    errs = 0
    wd = tempfile.mkdtemp(prefix="vshim-tcgbug-wd-")
    try:
        try:
            with vt.NetNS() as ns:
                bench = Bench(ns, wd, outdir, a)
                try:
                    with open(os.path.join(outdir, "runs.jsonl"), "a") as jf:
                        for i in range(1, a.runs + 1):
                            r = bench.run_one(i)
                            recs.append(r)
                            errs = errs + 1 if r.get("error") else 0
                            jf.write(json.dumps(r, sort_keys=True) + "\n")
                            jf.flush()
                            log("run %d/%d %s: downtime %s ms, %s pages differ (%s), crashed %s%s"
                                " [%.1f s]" % (
                                    i, a.runs, r["direction"], fmt(r.get("downtime_ms")),
                                    fmt(r.get("pages_differing")), r.get("verdict") or "-",
                                    "-" if r.get("error") else
                                    ("yes" if r.get("crashed") else "no"),
                                    (" (%s)" % (r.get("crash_line") or r.get("crash_reason")
                                                or r.get("error")))
                                    if (r.get("crashed") or r.get("error")) else "",
                                    r["wall_s"]))
                            if errs >= 3:
                                log("# 3 runs in a row failed: giving up")
                                break
                finally:
                    bench.stop()
        except (vt.HarnessError, TimeoutError):
            log("# aborted: %s" % traceback.format_exc())
            failed_setup = True
    finally:
        if a.keep_workdirs:
            log("# work directory kept: %s" % wd)
        else:
            shutil.rmtree(wd, ignore_errors=True)
    wall = time.monotonic() - t0
    summarize(recs, qemu, bench.qemu_package if bench else None, wall, a, outdir,
              bench.boots if bench else 0)
    return 1 if failed_setup or any(r.get("error") for r in recs) else 0


if __name__ == "__main__":
    sys.exit(main())
