# SPDX-License-Identifier: BSD-3-Clause
"""Shared pieces of the bench/ scripts.

* paths and imports of the test harness (tests/lib: vshimtest, shimlib,
  testpmd);
* ``Pmd``: an interactive dpdk-testpmd driven through its stdin (frontends
  with net_virtio_user ports, the dpdk-testpmd backend with net_vhost ports)
  whose ``show port stats all`` output is parsed;
* CPU accounting from /proc (a process, one of its threads by name);
* hugepage reservation (and its undo), the machine description;
* result files: every benchmark writes one JSON document (``--json``) that
  bench/run-all turns into bench/results/results.md.

Everything runs as root on this machine; processes are started inside a
vshimtest.NetNS (no bridge needed: vhost-user sockets are files) so they are
stopped by PID when the namespace goes.
"""

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
import vshimtest as vt  # noqa: E402
import shimlib  # noqa: E402

RESULTS_DIR = os.path.join(BENCH_DIR, "results")

# The pinning every bench uses (2 cores): the backend's polling thread on
# core 1 (vhost-shim --lcores 0,1: main loop on 0, poller on 1; testpmd -l 0,1:
# main on 0, forwarding lcore 1), the frontend's forwarding lcore on core 0
# (testpmd -l 0,1 --main-lcore 1: its main lcore, idle, on 1).
BACKEND_LCORES = "0,1"
FRONTEND_LCORES = "0,1"
FRONTEND_MAIN_LCORE = "1"
POLLER_THREAD = "rte-worker-1"     # EAL 22.11 names the thread of lcore N rte-worker-N
FRONTEND_FWD_THREAD = "rte-worker-0"


def log(msg):
    print("bench: %s" % msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# CPU accounting
# ---------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_times(path):
    """(utime + stime) in seconds from a /proc/.../stat file."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu(pid):
    """CPU seconds used so far by process pid (all threads)."""
    return _stat_times("/proc/%d/stat" % pid)


def thread_ids(pid, name):
    """TIDs of the threads of pid whose comm is name."""
    out = []
    for d in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(os.path.join(d, "comm")) as f:
                if f.read().strip() == name:
                    out.append(int(os.path.basename(d)))
        except OSError:
            pass
    return out


def thread_cpu(pid, tid):
    """CPU seconds used so far by thread tid of pid."""
    return _stat_times("/proc/%d/task/%d/stat" % (pid, tid))


def wait_thread(pid, name, timeout=30.0):
    return vt.wait_for(lambda: (thread_ids(pid, name) or [None])[0], timeout, 0.05,
                       "thread %s of %d" % (name, pid))


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tsc_hz():
    """Nominal (TSC) frequency in Hz: what 'cycles' means in the tables."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except OSError:
        pass
    return 0.0


class CpuWindow:
    """CPU time of a process (and optionally one thread) over a window."""

    def __init__(self, pid, tid=None):
        self.pid, self.tid = pid, tid
        self.t0 = time.monotonic()
        self.p0 = proc_cpu(pid)
        self.th0 = thread_cpu(pid, tid) if tid else 0.0

    def stop(self):
        dt = time.monotonic() - self.t0
        p = proc_cpu(self.pid) - self.p0
        th = (thread_cpu(self.pid, self.tid) - self.th0) if self.tid else 0.0
        return {"wall_s": dt, "proc_cpu_s": p, "thread_cpu_s": th,
                "proc_pct": 100.0 * p / dt if dt else 0.0,
                "thread_pct": 100.0 * th / dt if dt else 0.0}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class PerfRecord:
    """perf record -e cpu-clock (software clock: hardware counters do not
    work in this VM) -g on one thread, from now until stop(); stop()
    returns the top symbols as [[percent, 'dso symbol'], ...]."""

    def __init__(self, tid, data):
        self.data = data
        self.proc = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-t",
                                      str(tid), "-o", data], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def stop(self, limit=15):
        import signal as _signal
        self.proc.send_signal(_signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return perf_top(self.data, limit)


def perf_top(data, limit=15):
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                          "--sort", "dso,symbol", "-g", "none", "--percent-limit", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    top = []
    for line in rep.stdout.splitlines():
        line = line.strip()
        if line and line[0].isdigit() and "%" in line:
            pct, _, sym = line.partition("%")
            sym = " ".join(w for w in sym.replace("[.]", " ").split() if w != "-")
            top.append([float(pct), sym])
    return top[:limit]


# ---------------------------------------------------------------------------
# Hugepages
# ---------------------------------------------------------------------------

def _meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def remove_hugefiles(prefix):
    """DPDK leaves its hugepage files (PREFIXmap_N) behind when it exits:
    remove those of one of our EAL prefixes, or the pages stay taken."""
    for d in ("/dev/hugepages",):
        for p in glob.glob(os.path.join(d, glob.escape(prefix) + "map_*")):
            try:
                os.unlink(p)
            except OSError:
                pass


class Hugepages:
    """Make sure `pages` free 2 MiB hugepages exist (raising nr_hugepages by
    what is missing) and hugetlbfs is mounted, as tests/e2e/test_uplinks.py
    does; release() takes back only what we added.  Other users of the
    machine may hold hugepages: we never lower the count below theirs."""

    def __init__(self, pages):
        self.added = 0
        self.ok = False
        try:
            with open("/proc/mounts") as f:
                if not any(len(l.split()) > 2 and l.split()[2] == "hugetlbfs" for l in f):
                    os.makedirs("/dev/hugepages", exist_ok=True)
                    subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"],
                                   check=True)
            for attempt in range(3):
                free = _meminfo("HugePages_Free")
                if free >= pages:
                    break
                if attempt:     # fragmented memory: let the kernel compact it
                    with open("/proc/sys/vm/compact_memory", "w") as f:
                        f.write("1")
                with open("/proc/sys/vm/nr_hugepages") as f:
                    total = int(f.read())
                with open("/proc/sys/vm/nr_hugepages", "w") as f:
                    f.write(str(total + (pages - free)))
                with open("/proc/sys/vm/nr_hugepages") as f:
                    self.added += max(0, int(f.read()) - total)
            self.ok = _meminfo("HugePages_Free") >= pages
            if not self.ok:
                log("hugepages: wanted %d free, have %d" % (pages, _meminfo("HugePages_Free")))
        except (OSError, subprocess.CalledProcessError) as e:
            log("hugepages: %s" % e)

    def release(self):
        if self.added:
            try:
                with open("/proc/sys/vm/nr_hugepages") as f:
                    total = int(f.read())
                with open("/proc/sys/vm/nr_hugepages", "w") as f:
                    f.write(str(max(0, total - self.added)))
            except OSError:
                pass
            self.added = 0


# ---------------------------------------------------------------------------
# dpdk-testpmd, interactive
# ---------------------------------------------------------------------------

_pmd_count = 0


class Pmd:
    """dpdk-testpmd in interactive mode (-i), commands written to its stdin,
    output in a log file.  vdevs: list of --vdev strings; lcores/main_lcore:
    EAL pinning; mem: 'huge' (hugepages, --single-file-segments) or 'nohuge'
    (--no-huge; virtio_user still works: DPDK 22.11 backs it with a memfd);
    args: testpmd application arguments."""

    def __init__(self, ns, workdir, name, vdevs, args, lcores="0,1", main_lcore=None,
                 mem="nohuge", mem_mb=256):
        global _pmd_count
        _pmd_count += 1
        self.ns = ns
        self.name = name
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self.prefix = "vshimb-%d-%d-%s" % (os.getpid(), _pmd_count, name)
        # stdout is a file: line-buffer it, the prompts and stats are read back
        eal = ["stdbuf", "-oL", "-eL", "dpdk-testpmd", "-l", lcores, "--no-pci", "--file-prefix", self.prefix,
               "-m", str(mem_mb)]
        if main_lcore is not None:
            eal += ["--main-lcore", str(main_lcore)]
        eal += ["--single-file-segments"] if mem == "huge" else ["--no-huge",
                                                                 "--single-file-segments"]
        for v in vdevs:
            eal += ["--vdev", v]
        self.cmd = eal + ["--", "-i"] + list(args)
        self.proc = None
        self.nports = len(vdevs)

    def start(self, timeout=60.0):
        self._log = open(self.log_path, "wb")
        self.proc = self.ns.popen(self.cmd, stdin=subprocess.PIPE, stdout=self._log,
                                  stderr=subprocess.STDOUT)
        vt.wait_for(lambda: "testpmd>" in self.text() or not self.alive(), timeout, 0.05,
                    "%s prompt" % self.name)
        if not self.alive():
            raise vt.HarnessError("%s exited:\n%s" % (self.name, self.tail()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, n=30):
        return "\n".join(self.text().splitlines()[-n:])

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def cmd_wait(self, line, marker, count=1, timeout=30.0):
        """Send a command and wait until marker appears count more times in
        the log; returns the log text after the command."""
        before = self.text()
        n0 = before.count(marker)
        self.send(line)
        vt.wait_for(lambda: self.text().count(marker) >= n0 + count or not self.alive(),
                    timeout, 0.02, "%s: %r" % (self.name, line))
        if not self.alive():
            raise vt.HarnessError("%s exited:\n%s" % (self.name, self.tail()))
        return self.text()[len(before):]

    def port_stats(self):
        """Per-port counters and testpmd's own 'since last show' rates:
        [{'rx': .., 'tx': .., 'rx_bytes': .., 'tx_bytes': .., 'rx_pps': ..,
        'tx_pps': .., 'rx_missed': .., 'rx_errors': .., 'rx_nombuf': ..,
        'tx_errors': ..}, ...]."""
        start = len(self.text())
        self.cmd_wait("show port stats all", "Throughput (since last show)", self.nports)
        time.sleep(0.05)     # the Tx-pps line follows the marker
        out = self.text()[start:]
        ports = []
        for blk in out.split("NIC statistics for port")[1:]:
            def num(pat):
                m = re.search(pat, blk)
                return int(m.group(1)) if m else 0
            ports.append({"rx": num(r"RX-packets:\s+(\d+)"), "tx": num(r"TX-packets:\s+(\d+)"),
                          "rx_bytes": num(r"RX-bytes:\s+(\d+)"),
                          "tx_bytes": num(r"TX-bytes:\s+(\d+)"),
                          "rx_pps": num(r"Rx-pps:\s+(\d+)"), "tx_pps": num(r"Tx-pps:\s+(\d+)"),
                          "rx_missed": num(r"RX-missed:\s+(\d+)"),
                          "rx_errors": num(r"RX-errors:\s+(\d+)"),
                          "rx_nombuf": num(r"RX-nombuf:\s+(\d+)"),
                          "tx_errors": num(r"TX-errors:\s+(\d+)")})
        return ports[-self.nports:]

    def stop(self):
        if not self.proc:
            return
        if self.alive():
            try:
                self.send("stop")
                self.send("quit")
                self.proc.stdin.close()
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
                pass
        self.ns.kill(self.proc)
        self._log.close()
        self.proc = None
        remove_hugefiles(self.prefix)
        # and the runtime directory (config, sockets), or they pile up
        shutil.rmtree(os.path.join("/var/run/dpdk", self.prefix), ignore_errors=True)


# ---------------------------------------------------------------------------
# Machine and results
# ---------------------------------------------------------------------------

def _cmd_first_line(cmd):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=20)
        return r.stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    """What the numbers were measured on."""
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    # the version probe's EAL runtime directory goes with it (it was left
    # in /var/run/dpdk after every benchmark run)
    ver_prefix = "vshimb-%d-0-ver" % os.getpid()
    dpdk = re.search(r"RTE Version: '([^']+)'", _cmd_first_line(["dpdk-testpmd", "-v",
                                                                  "--no-huge", "-m", "64",
                                                                  "--no-pci", "--file-prefix",
                                                                  ver_prefix, "--",
                                                                  "--help"]))
    shutil.rmtree(os.path.join("/var/run/dpdk", ver_prefix), ignore_errors=True)
    qemu = _cmd_first_line(vt.qemu_command() + ["--version"]).splitlines()
    virt = _cmd_first_line(["systemd-detect-virt"]).strip() or "?"
    hyp = ""
    with open("/proc/cpuinfo") as f:
        hyp = "hypervisor" if " hypervisor" in f.read() else "bare metal"
    return {
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "tsc_mhz": round(tsc_hz() / 1e6, 1),
        "virtualised": "%s (%s)" % (hyp, virt),
        "memory_gib": round(_meminfo("MemTotal") / 1048576.0, 1),
        "dpdk": dpdk.group(1) if dpdk else "?",
        "qemu": qemu[0] if qemu else "?",
        "loadavg": loadavg(),
    }


def write_json(path, doc):
    if not path:
        print(json.dumps(doc, indent=2))
        return
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def common_args(ap):
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (numbers meaningless)")
    ap.add_argument("--json", metavar="FILE", help="write the results here (default: stdout)")
    ap.add_argument("--workdir", help="keep logs here (default: a temporary directory)")
    return ap


def require_root():
    if os.geteuid() != 0:
        vt.skip_or_fail("benchmarks need root (DPDK, namespaces, hugepages)")
    shimlib.shim_binary()
    if not _cmd_first_line(["sh", "-c", "command -v dpdk-testpmd"]).strip():
        vt.skip_or_fail("dpdk-testpmd not found (tools/install-deps.sh)")
