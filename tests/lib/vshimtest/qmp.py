# SPDX-License-Identifier: BSD-3-Clause
"""``QMP``: a minimal QMP client (QEMU's monitor and vhost-shim's control
socket speak the same protocol)."""

import itertools
import json
import socket
import time

from .env import GuestError, QMPError


class QMP:
    """Minimal QMP client over a unix socket: greeting, qmp_capabilities,
    ``execute``, and collection of asynchronous events."""

    def __init__(self, path, timeout=30.0, alive=None):
        """Connect to path, retrying until it accepts (at most timeout
        seconds; alive() returning false aborts early), and negotiate
        capabilities."""
        self.path = path
        self.events = []
        self._buf = b""
        self._id = itertools.count(1)
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                break
            except OSError as e:
                s.close()
                if alive is not None and not alive():
                    raise GuestError("QEMU exited before its QMP socket %s came up" % path)
                if time.monotonic() >= deadline:
                    raise GuestError("cannot connect to QMP socket %s: %s" % (path, e))
                time.sleep(0.05)
        self.sock = s
        # QEMU 7.2 can send an event before the greeting: events go to
        # every QMP monitor not in capability negotiation, and a monitor
        # enters negotiation only when its connection's OPENED event has
        # run, so an event emitted just as a client connects can reach it
        # first (seen in CI: RESUME from a destination that completed its
        # incoming migration while the test connected to ask its status).
        # Keep such events, wait for the greeting.
        deadline = time.monotonic() + timeout
        while True:
            greeting = self._read_msg(deadline)
            if "QMP" in greeting:
                break
            if "event" not in greeting:
                raise GuestError("bad QMP greeting: %r" % greeting)
            self.events.append(greeting)
        self.execute("qmp_capabilities")

    def close(self):
        """Close the connection."""
        try:
            self.sock.close()
        except OSError:
            pass

    def _read_msg(self, deadline):
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("QMP read timed out on %s" % self.path)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise GuestError("QMP connection %s closed" % self.path)
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        line = line.strip()
        if not line:
            return self._read_msg(deadline)
        return json.loads(line)

    def execute(self, cmd, args=None, timeout=60.0):
        """Run QMP command cmd with the arguments dict args; return its
        'return' value or raise QMPError.  Events read meanwhile are appended
        to self.events."""
        mid = next(self._id)
        msg = {"execute": cmd, "id": mid}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_msg(deadline)
            if "event" in m:
                self.events.append(m)
                continue
            if m.get("id") != mid:
                continue
            if "error" in m:
                raise QMPError(cmd, m["error"])
            return m.get("return")

    def poll_events(self):
        """Read events that are already waiting (non-blocking); returns the
        full list self.events."""
        while True:
            self.sock.settimeout(0)
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, socket.timeout):
                break
            if not chunk:
                break
            self._buf += chunk
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            if line.strip():
                m = json.loads(line)
                if "event" in m:
                    self.events.append(m)
        return self.events

    def wait_event(self, name, timeout=30.0, since=0):
        """Wait for an event called name (among self.events[since:] and new
        ones); returns it or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events[since:]:
                if ev["event"] == name:
                    return ev
            try:
                m = self._read_msg(deadline)
            except TimeoutError:
                raise TimeoutError("QMP event %s not seen within %.1f s" % (name, timeout))
            if "event" in m:
                self.events.append(m)
