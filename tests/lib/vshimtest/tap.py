# SPDX-License-Identifier: BSD-3-Clause
"""TAP output (``Tap``) and ``tap_main``, the one main of the end-to-end
scripts: prerequisites, a work directory, the report of an aborted run,
and a last check that nothing was left behind."""

import os
import shutil
import subprocess
import tempfile
import traceback

from .env import require_e2e_env
from .shim import dpdk_leftovers, remove_dpdk_files, remove_stale_dpdk_files

class Tap:
    """Minimal TAP producer.

    ::

        tap = Tap(5)                 # prints 1..5
        tap.ok(x == 1, "x is one")
        tap.diag("boot took 2.1 s")
        sys.exit(tap.finish())       # reports unrun tests as not ok
    """

    def __init__(self, plan=None):
        """plan: number of tests (printed now) or None to print it at
        finish()."""
        self.plan = plan
        self.n = 0
        self.failed = 0
        if plan is not None:
            print("1..%d" % plan, flush=True)

    def ok(self, cond, desc, diag=None):
        """Report test desc as passed if cond is true; diag (str or object)
        is printed as a '#' comment when it fails.  Returns bool(cond)."""
        self.n += 1
        cond = bool(cond)
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc), flush=True)
        if not cond and diag is not None:
            self.diag(diag)
        return cond

    def skip(self, desc, reason):
        """Report a skipped test."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, desc, reason), flush=True)

    def skip_or_fail(self, desc, reason):
        """A check that cannot run for want of a dependency: skipped, but a
        failure when CI is "true" (CI installs everything; see
        env.skip_or_fail).  Returns False."""
        if os.environ.get("CI", "").lower() == "true":
            return self.ok(False, "%s (CI=true, cannot skip: %s)" % (desc, reason))
        self.skip(desc, reason)
        return False

    def diag(self, msg):
        """Print msg as TAP comment lines."""
        for line in str(msg).splitlines() or [""]:
            print("# %s" % line, flush=True)

    def fail_remaining(self, reason):
        """Mark the planned tests that did not run as failed."""
        if self.plan is None:
            return
        while self.n < self.plan:
            self.ok(False, "not run: %s" % reason)

    def finish(self):
        """Print the plan if not yet printed, fail unrun planned tests, and
        return the exit status (0 iff everything passed)."""
        if self.plan is None:
            print("1..%d" % self.n, flush=True)
        else:
            self.fail_remaining("aborted")
        return 1 if self.failed else 0


def _diag_logs(tap, workdir):
    """The end of every *.log under workdir, as TAP comments."""
    for root, _, files in os.walk(workdir):
        for f in sorted(files):
            if f.endswith(".log"):
                with open(os.path.join(root, f), errors="replace") as fh:
                    tap.diag("--- %s ---\n%s" % (os.path.relpath(os.path.join(root, f), workdir),
                                                 fh.read()[-2500:]))


def _left_behind(state, leftovers):
    """What the body left running or existing: {what: details}."""
    left = {}
    nslist = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.split()
    if state.get("ns") and state["ns"] in nslist:
        left["namespace"] = state["ns"]
    pids = [p for p in state.get("pids", []) if p and os.path.exists("/proc/%d" % p)]
    if pids:
        left["processes"] = pids
    dirs = dpdk_leftovers()
    if dirs:
        left["DPDK runtime directories"] = dirs
    if leftovers:
        left.update({k: v for k, v in leftovers(state).items() if v})
    return left


def tap_main(plan, prefix, body, require=None, diagnose=None, leftovers=None):
    """Run an end-to-end test with TAP output; returns the exit status for
    sys.exit().

    plan: the number of checks body(tap, state, workdir) reports; one more,
    the last, checks that nothing was left behind.  prefix: the work
    directory is a new vshim-PREFIX-* in /tmp, removed afterwards, or
    $VSHIM_KEEP (created if needed, kept: for debugging).

    First the prerequisites: require_e2e_env(), then require() for the
    script's own (both skip, or fail with CI=true).  The body records in
    state what must be gone when it returns: state["ns"], the name of the
    NetNS it created, and state["pids"], the processes it started (QEMU,
    daemons); leftovers(state), if given, returns {what: details} of
    anything else still there (false details: nothing).  The runtime
    directories (/var/run/dpdk/PREFIX) of the daemons and testpmds this
    process started must be gone as well (Shim.stop(), TestpmdHost.stop()):
    one left fails the last check, and is removed.

    A body that returns before its plan is done, or raises, has the rest of
    its plan failed ("not run"); an exception is reported with its
    traceback, the end of every *.log in the work directory and
    diagnose(tap, state) as TAP comments."""
    require_e2e_env(tap=True)
    if require:
        require()
    remove_stale_dpdk_files()
    tap = Tap(plan + 1)
    state = {"pids": []}
    keep = os.environ.get("VSHIM_KEEP")
    if keep:
        os.makedirs(keep, exist_ok=True)
    workdir = keep or tempfile.mkdtemp(prefix="vshim-%s-" % prefix)
    try:
        try:
            body(tap, state, workdir)
        except SystemExit:
            raise
        except BaseException:
            tap.diag("aborted: %s" % traceback.format_exc())
            _diag_logs(tap, workdir)
            if diagnose:
                diagnose(tap, state)
            while tap.n < plan:
                tap.ok(False, "not run (aborted)")
        while tap.n < plan:
            tap.ok(False, "not run (the test stopped early)")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    left = _left_behind(state, leftovers)
    tap.ok(not left, "nothing left behind: namespace, processes, DPDK runtime directories%s"
           % (" (%s)" % ", ".join(left) if left else ""), left or None)
    for d in dpdk_leftovers():
        remove_dpdk_files(d)
    return tap.finish()
