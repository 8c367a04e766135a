# SPDX-License-Identifier: BSD-3-Clause
"""A fake vhost-shim control socket for the unit tests of the libvirt hook
and of ``vshimctl migrate`` (tests/unit/test_hook.py).

``FakeShim`` is a QMP server on a unix socket, one thread per connection,
that speaks the vhost-shim dialect well enough for the hook: it greets,
answers from a table of ports and migration states, records every request
(``sent()``; a ``journal`` shared by several fake shims orders them across
shims) and can refuse a command, delay it, or stay silent.  ``port()``
builds one query-ports entry.  Python 3 standard library only.
"""

import json
import os
import socket
import threading
import time


class FakeShim:
    """QMP server speaking the vhost-shim dialect well enough for the hook:
    greeting, qmp_capabilities, query-ports, query-migration,
    migrate-expect, migrate-cancel, port-add.  Every request after the
    greeting is appended to self.commands as (execute, arguments).

    ports: list of query-ports entries; states: port -> migration state;
    errors: command -> (class, desc) answered instead; silent: accept and
    never greet; old_expect: migrate-expect knows only port and peer (a
    shim older than vm-uuid/vm-name refuses them, as any unknown argument)."""

    def __init__(self, path, ports=(), states=None, errors=None, silent=False, journal=None,
                 delays=None, old_expect=False):
        self.path = path
        self.ports = [dict(p) for p in ports]
        self.states = dict(states or {})
        self.errors = dict(errors or {})
        self.silent = silent
        self.delays = dict(delays or {})   # command -> seconds before the reply
        self.old_expect = old_expect
        self.commands = []
        self.journal = journal      # shared by several fake shims: (path, command, args)
        self.conns = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _send(self, c, obj):
        c.sendall(json.dumps(obj).encode() + b"\r\n")

    def _serve(self, c):
        if self.silent:
            return
        self._send(c, {"QMP": {"version": {"qemu": {"micro": 0, "minor": 1, "major": 0},
                                           "package": "vhost-shim 0.1.0"},
                               "capabilities": []}})
        dec = json.JSONDecoder()
        buf = ""
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data.decode()
            while buf.strip():
                try:
                    req, end = dec.raw_decode(buf.lstrip())
                except ValueError:
                    break
                buf = buf.lstrip()[end:]
                self._reply(c, req)

    def _reply(self, c, req):
        cmd = req.get("execute")
        args = req.get("arguments", {})
        with self.lock:
            self.commands.append((cmd, args))
            if self.journal is not None:
                self.journal.append((self.path, cmd, args))
        rid = req.get("id")
        time.sleep(self.delays.get(cmd, 0))

        def ret(v):
            self._send(c, {"return": v, "id": rid})

        def err(cls, desc):
            self._send(c, {"error": {"class": cls, "desc": desc}, "id": rid})

        if cmd in self.errors:
            return err(*self.errors[cmd])
        if cmd == "qmp_capabilities":
            return ret({})
        if cmd == "query-ports":
            return ret(self.ports)
        names = [p["name"] for p in self.ports]
        if cmd in ("migrate-expect", "migrate-cancel", "query-migration", "migrate-set-peer"):
            if args.get("port") not in names:
                return err("DeviceNotFound", "no port '%s'" % args.get("port"))
            if cmd == "migrate-expect":
                for k in sorted(args):
                    if k not in ("port", "peer") and (self.old_expect or
                                                      k not in ("vm-uuid", "vm-name")):
                        return err("GenericError", "Parameter '%s' is unexpected" % k)
                    if not isinstance(args[k], str):
                        return err("GenericError", "Invalid parameter type for '%s', "
                                   "expected: string" % k)
                self.states[args["port"]] = "dst-expecting"
            elif cmd == "migrate-cancel":
                self.states[args["port"]] = "none"
            elif cmd == "migrate-set-peer":
                pass
            else:
                m = {"port": args["port"], "state": self.states.get(args["port"], "none")}
                if m["state"].startswith("src-"):
                    m["peer"] = "hostb"
                return ret([m])
            return ret({})
        if cmd == "port-add":
            self.ports.append({"name": args["name"], "socket": args["socket"],
                               "mac": args["mac"], "uplink": args["uplink"],
                               "mode": args.get("mode", "server"),
                               "queues": args.get("queues", 1), "state": "waiting"})
            # events come before the reply, as the real daemon sends them
            self._send(c, {"event": "PORT_ADDED", "data": {"port": args["name"]},
                           "timestamp": {"seconds": 1, "microseconds": 0}})
            return ret({})
        return err("CommandNotFound", "The command %s has not been found" % cmd)

    def sent(self):
        """The commands received, without the negotiation."""
        with self.lock:
            return [c for c in self.commands if c[0] != "qmp_capabilities"]

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def port(name, sock, mac, mode="server", queues=1):
    return {"name": name, "socket": sock, "mac": mac, "uplink": "net_tap_%s,iface=%s" % (name, name),
            "mode": mode, "queues": queues, "state": "waiting"}
