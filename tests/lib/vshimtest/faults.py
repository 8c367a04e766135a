# SPDX-License-Identifier: BSD-3-Clause
"""Faults for the end-to-end tests of the tunnel and the handover
(tests/e2e/test_migration_faults.py), imported as ``vshimtest.faults``:

* ``Partition``: a silent network partition of the tunnel inside a test
  namespace: iptables DROP rules on both directions of TCP ports, so that
  nothing is answered (no reset, no ICMP), as with a peer that lost power
  or a switch that drops packets.  The rules are inserted and deleted by
  their exact spec, never flushed; ``heal()`` is idempotent, so a test
  calls it in its ``finally``.
* ``LogOnFrontend``: a vhost-user frontend (tests/lib/hostile_frontend.py's
  ``Frontend``) that connects to a shim's port and switches dirty logging
  (``VHOST_F_LOG_ALL``) on and off, as QEMU does when a migration starts
  and is cancelled: the shim sees ``log-on`` and opens its tunnel stream,
  without any guest.  A third shim that claims to be a VM's source.

A missing iptables is a skip outside CI, a failure with CI=true
(tools/install-deps.sh installs it).
"""

import os
import struct
import sys

from .env import HarnessError, skip_or_fail

__all__ = ["Partition", "LogOnFrontend"]

VHOST_F_LOG_ALL = 26


class Partition:
    """Drop every TCP segment to and from the given ports inside ns: one
    rule per port and direction in the INPUT chain (on loopback both ends
    of a connection receive through it), e.g.

        -p tcp --dport 7402 -j DROP
        -p tcp --sport 7402 -j DROP

    start() inserts them in one transaction, heal() deletes exactly those
    it inserted."""

    def __init__(self, ns, ports, chain="INPUT"):
        self.ns = ns
        self.chain = chain
        self.specs = []
        for p in ports:
            for way in ("--dport", "--sport"):
                self.specs.append(["-p", "tcp", way, str(p), "-j", "DROP"])
        self.active = []
        self.count = 0          # partitions started

    def _iptables(self, *args, cmd="iptables", input=None):
        try:
            return self.ns.run([cmd] + list(args), check=False, input=input)
        except FileNotFoundError:
            skip_or_fail("%s not found (tools/install-deps.sh installs iptables)" % cmd)
        return None

    def _restore(self, op, specs):
        """Apply op (-I or -D) to every spec in one iptables-restore
        transaction (--noflush: the other rules stay): all of them take
        effect at once, or none."""
        lines = ["*filter"] + ["%s %s %s" % (op, self.chain, " ".join(s)) for s in specs]
        return self._iptables("--noflush", cmd="iptables-restore",
                              input="\n".join(lines + ["COMMIT", ""]))

    def start(self):
        """Insert the DROP rules, all at once (one iptables-restore
        transaction: a partition starts in both directions at the same
        moment); raises HarnessError if they are refused."""
        if self.active:
            raise HarnessError("partition already in place")
        r = self._restore("-I", self.specs)
        if r.returncode != 0:
            if "not found" in r.stderr or "No such file" in r.stderr:
                skip_or_fail("iptables unusable: %s" % r.stderr.strip())
            raise HarnessError("iptables-restore -I %s: %s" % (self.specs, r.stderr.strip()))
        self.active = list(self.specs)
        self.count += 1
        return self

    def heal(self):
        """Delete the rules start() inserted, by their exact specs, at
        once; if that transaction fails, one by one.  Returns the specs
        that could not be deleted (none normally)."""
        if not self.active:
            return []
        if self._restore("-D", self.active).returncode == 0:
            self.active = []
            return []
        failed = []
        while self.active:
            spec = self.active.pop()
            if self._iptables("-D", self.chain, *spec).returncode != 0:
                failed.append(spec)
        return failed

    def dropped(self):
        """Packets the rules in place dropped so far ({spec: packets})."""
        r = self._iptables("-L", self.chain, "-n", "-v", "-x")
        out = {}
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) > 2 and f[2] == "DROP" and f[0].isdigit():
                out[" ".join(f[9:]) or str(len(out))] = int(f[0])
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.heal()


class LogOnFrontend:
    """A vhost-user frontend without a guest on a shim's port socket: the
    device comes up (new_device), then dirty logging goes on (log-on, the
    port becomes a migration's source) and off (log-off: the migration
    cancelled)."""

    def __init__(self, socket_path):
        lib = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if lib not in sys.path:
            sys.path.insert(0, lib)
        import hostile_frontend as hf
        self._hf = hf
        self.fe = hf.Frontend(socket_path)
        self.fe.connect()

    def set_logging(self, on):
        """SET_FEATURES with or without VHOST_F_LOG_ALL (DPDK calls the
        backend's features_changed() for it on a running device)."""
        feats = self.fe.features | (1 << VHOST_F_LOG_ALL) if on else self.fe.features
        self.fe.call(self._hf.SET_FEATURES, struct.pack("<Q", feats))

    def close(self):
        self.fe.destroy()
