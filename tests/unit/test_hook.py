#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Unit test of the libvirt hook libvirt-hooks/vhost-shim (TAP output).

The domain XML parser runs on the golden `virsh dumpxml`-style files of
tests/hook/ (NAME.xml -> NAME.json; the rewrite -> NAME.rewritten.xml).  The
hook itself runs as libvirt runs it, a subprocess with the XML on stdin,
against a fake vhost-shim (fake_shim.py): a tiny QMP server on a unix
socket in a temporary directory that records the commands it receives and
answers from a table of ports.  Checked: which commands each operation sends, what it
prints on stdout (nothing, or the XML for `migrate begin` with a rewrite),
exit codes and the single stderr line for an unreachable, silent or
refusing shim in default and strict modes, and how long a run takes.
Also `tools/vshimctl migrate` (the wrapper for setups without the hook)
against two fake shims and a fake virsh on $PATH.
"""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOOK = os.path.join(REPO, "libvirt-hooks", "vhost-shim")
GOLDEN = os.path.join(REPO, "tests", "hook")


def load_hook_module():
    sys.dont_write_bytecode = True      # no __pycache__ beside the installed hook
    loader = importlib.machinery.SourceFileLoader("vshim_hook", HOOK)
    spec = importlib.util.spec_from_loader("vshim_hook", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


hook = load_hook_module()

sys.path.insert(0, HERE)
from fake_shim import FakeShim, port  # noqa: E402


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines():
                    print("# " + line)
        return bool(cond)

    def diag(self, text):
        print("# " + text, flush=True)

    def finish(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


# The ports of the shim that serves web-01 (vm-multi.xml): net1 and
# ua-storage; /var/run/openvswitch/vhu-web01 belongs to someone else.
WEB_PORTS = [port("web01a", "/run/vhost-shim/web-01-1.sock", "52:54:00:aa:00:01", queues=2),
             port("web01b", "/run/vhost-shim/web-01-4.sock", "52:54:00:aa:00:04", queues=4),
             port("other", "/run/vhost-shim/other.sock", "52:54:00:99:99:99")]


# migrate-expect's identity of the golden domains (<uuid> and <name>)
WEB_ID = {"vm-uuid": "6c3f1a2e-8d4b-4f7a-9e21-0b5d7c9a4e11", "vm-name": "web-01"}
TINY_ID = {"vm-uuid": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "vm-name": "tiny"}


def golden(name, mode="r"):
    with open(os.path.join(GOLDEN, name), mode) as f:
        return f.read()


class Env:
    """A temporary directory with a hook.conf and (optionally) a fake shim."""

    def __init__(self, tmp, conf="", ports=None, **shim_kw):
        self.tmp = tmp
        self.ctl = os.path.join(tmp, "control.sock")
        self.log = os.path.join(tmp, "hook.log")
        for p in (self.ctl, self.log):
            if os.path.exists(p):
                os.unlink(p)
        self.conf = os.path.join(tmp, "hook.conf")
        text = "[hook]\ncontrol-socket=%s\nlog=stderr\n" % self.ctl
        with open(self.conf, "w") as f:
            f.write(text + conf)
        self.shim = FakeShim(self.ctl, ports, **shim_kw) if ports is not None else None

    def run(self, domain, op, subop, xml=b"", extra="-"):
        env = dict(os.environ, VSHIM_HOOK_CONF=self.conf)
        t0 = time.monotonic()
        p = subprocess.run([HOOK, domain, op, subop, extra], input=xml, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        p.elapsed_ms = (time.monotonic() - t0) * 1000
        p.err_lines = p.stderr.decode().splitlines()
        return p

    def close(self):
        if self.shim:
            self.shim.close()


# ---------------------------------------------------------------------------

def test_parse(tap):
    for name in ("vm-multi", "vm-none", "vm-incoming"):
        dom, uuid, ifs = hook.parse_domain_full(golden(name + ".xml"))
        got = {"domain": dom, "uuid": uuid, "interfaces": [
            {"index": i.index, "mac": i.mac, "path": i.path, "mode": i.mode,
             "queues": i.queues, "alias": i.alias} for i in ifs]}
        want = json.loads(golden(name + ".json"))
        tap.ok(got == want, "parse %s.xml: name, uuid and %d vhostuser interface(s) as "
               "in %s.json" % (name, len(want["interfaces"]), name), json.dumps(got, indent=1))
        dom2, ifs2 = hook.parse_domain(golden(name + ".xml"))
        tap.ok(dom2 == dom and [vars(i) for i in ifs2] == [vars(i) for i in ifs],
               "parse_domain(%s.xml) is parse_domain_full() without the uuid" % name)
    try:
        hook.parse_domain("<domain><name>x</name>")
        tap.ok(False, "truncated XML is refused")
    except hook.HookError as e:
        tap.ok("not valid XML" in str(e), "truncated XML is refused: %s" % e)


def test_vm_identity(tap):
    u = "6c3f1a2e-8d4b-4f7a-9e21-0b5d7c9a4e11"
    cases = [
        (("web-01", u), {"vm-name": "web-01", "vm-uuid": u}),
        (("web-01", u.upper()), {"vm-name": "web-01", "vm-uuid": u}),
        (("web-01", " %s\n" % u), {"vm-name": "web-01", "vm-uuid": u}),
        (("web-01", None), {"vm-name": "web-01"}),
        (("web-01", u.replace("-", "")), {"vm-name": "web-01"}),
        (("web-01", u[:-1] + "g"), {"vm-name": "web-01"}),
        (("t\u00e9st vm", u), {"vm-name": "t\u00e9st vm", "vm-uuid": u}),
        (("a" * 255, None), {"vm-name": "a" * 255}),
        (("a" * 256, None), {}),
        (("\u00e9" * 128, None), {}),          # 256 bytes of UTF-8
        (("web\t01", None), {}),
        ((None, u), {"vm-uuid": u}),
        (("", None), {}),
    ]
    bad = [(a, hook.vm_identity(*a), w) for a, w in cases if hook.vm_identity(*a) != w]
    tap.ok(not bad, "vm_identity: a canonical <uuid> (lower-cased) and a <name> of 1-255 "
           "printable bytes are sent, anything the shim would refuse is left out", bad)


def test_port_name(tap):
    cases = {("web-01", 1): "web-01-1", ("tiny", 0): "tiny-0",
             ("abcdefghijklm", 3): "abcdefghijklm-3"}
    tap.ok(all(hook.port_name(d, i) == n for (d, i), n in cases.items()),
           "port names: DOMAIN-INDEX when it fits", cases)
    long_names = [("web-frontend-production", 0), ("web-frontend-productio2", 0),
                  ("vm.example.org", 12), ("vm_example_org", 12), ("ünïcode", 1),
                  ("a" * 64, 7)]
    got = [hook.port_name(d, i) for d, i in long_names]
    tap.ok(all(hook.PORT_NAME_RE.match(n) for n in got) and len(set(got)) == len(got)
           and all(n.endswith("-%d" % i) for n, (_, i) in zip(got, long_names)),
           "port names: long or unusual domain names give distinct valid names "
           "(<= 15 of [A-Za-z0-9_-], index kept): %s" % " ".join(got))


def test_rewrite(tap, tmp):
    src = golden("vm-incoming.xml", "rb")
    want = golden("vm-incoming.rewritten.xml", "rb")
    conf = ("[rewrite hosta]\nfrom=/run/vhost-shim/hosta/\nto=/run/vhost-shim/hostb/\n")
    ports = [port("tiny0", "/run/vhost-shim/hostb/tiny-0.sock", "52:54:00:77:03:01"),
             port("tiny1", "/run/vhost-shim/hostb/tiny&1.sock", "52:54:00:77:03:02")]
    e = Env(tmp, conf, ports=ports)
    try:
        p = e.run("tiny", "migrate", "begin", src)
        tap.ok(p.returncode == 0 and p.stdout == want,
               "migrate begin with a rewrite prints vm-incoming.rewritten.xml (ElementTree: "
               "the socket paths change, the qemu: prefix and '&amp;' are kept)",
               p.stderr.decode() + p.stdout.decode()[:400])
        tap.ok(same_but_paths(src, p.stdout),
               "the rewritten XML is the same tree as the original but for the two "
               "<source path> attributes", p.stdout.decode()[:400])
        tap.ok(e.shim.sent() == [("query-ports", {}),
                                 ("migrate-expect", dict({"port": "tiny0"}, **TINY_ID)),
                                 ("migrate-expect", dict({"port": "tiny1"}, **TINY_ID))],
               "the ports are found by their rewritten socket paths and armed, naming the "
               "VM by its <uuid> and <name>", e.shim.sent())
        e.shim.commands.clear()
        for op, sub in (("prepare", "begin"), ("start", "begin"), ("started", "begin"),
                        ("stopped", "end"), ("release", "end"), ("restore", "begin")):
            p = e.run("tiny", op, sub, src)
            if p.stdout or p.returncode:
                break
        tap.ok(p.stdout == b"" and p.returncode == 0,
               "every other operation prints nothing, even with a rewrite configured",
               "%s %s: %r" % (op, sub, p.stdout[:200]))
    finally:
        e.close()
    # a rewrite that matches nothing: the XML comes back byte for byte
    conf = "[rewrite elsewhere]\nfrom=/srv/sockets/\nto=/run/vhost-shim/\n"
    e = Env(tmp, conf, ports=WEB_PORTS)
    try:
        src = golden("vm-multi.xml", "rb")
        p = e.run("web-01", "migrate", "begin", src)
        tap.ok(p.returncode == 0 and p.stdout == src,
               "migrate begin, rewrite matching nothing: XML passed through unchanged "
               "(%d bytes)" % len(src), p.stderr)
    finally:
        e.close()
    e = Env(tmp, "", ports=WEB_PORTS)
    try:
        p = e.run("web-01", "migrate", "begin", golden("vm-multi.xml", "rb"))
        tap.ok(p.returncode == 0 and p.stdout == b"",
               "migrate begin without a rewrite prints nothing (libvirt keeps its XML)",
               p.stdout[:200])
    finally:
        e.close()


def tree(xml_bytes):
    """(tag, attributes, text, children) of an XML document, comparable"""
    import xml.etree.ElementTree as ET

    def walk(e):
        return (e.tag, dict(e.attrib), (e.text or "").strip(),
                [walk(c) for c in e])
    return walk(ET.fromstring(xml_bytes))


def same_but_paths(a, b):
    """Are documents a and b equal once vhostuser socket paths are blanked?"""
    def blank(t):
        tag, attrs, text, kids = t
        if tag == "source" and attrs.get("type") == "unix" and "path" in attrs:
            attrs = dict(attrs, path="*")
        return (tag, attrs, text, [blank(k) for k in kids])
    return blank(tree(a)) == blank(tree(b)) and tree(a) != tree(b)


def test_hostile(tap, tmp):
    """Values from the domain never reach devargs or paths unchecked: a
    hostile one is refused with one line and exit 1 where libvirt lets a
    hook fail (strict or not), and nothing is sent to the shim."""
    xml = golden("vm-multi.xml", "rb")
    tmpl = "create-ports=true\n[port-template]\nuplink=net_tap_{name},iface={domain}\n"
    hostile = "x,remote=eth0"
    for strict in ("false", "true"):
        # timeout-ms: the refusal comes after query-ports; at the default
        # 80 ms a loaded machine (load 7) let the fake shim miss the budget,
        # and a non-strict hook then warned and exited 0 before port-add
        e = Env(tmp, "strict=%s\ntimeout-ms=5000\n" % strict + tmpl, ports=[])
        try:
            rcs = []
            for op, sub in (("prepare", "begin"), ("start", "begin"), ("migrate", "begin")):
                p = e.run(hostile, op, sub, xml)
                rcs.append((p.returncode, len(p.err_lines)))
            adds = [a for c, a in e.shim.sent() if c == "port-add"]
            tap.ok(rcs == [(1, 1)] * 3 and not adds and
                   "refused: domain name 'x,remote=eth0' cannot go into an uplink's devargs"
                   in p.err_lines[0],
                   "domain named %r, template with {domain} (strict=%s): prepare/start/migrate "
                   "exit 1 with one line, no port-add" % (hostile, strict),
                   {"rc": rcs, "stderr": p.err_lines, "sent": e.shim.sent()})
        finally:
            e.close()
    # {name} is sanitised by construction: the port is created
    e = Env(tmp, "create-ports=true\n[port-template]\nuplink=net_tap_{name},iface={name}\n",
            ports=[])
    try:
        p = e.run(hostile, "prepare", "begin", xml)
        ups = [a["uplink"] for c, a in e.shim.sent() if c == "port-add"]
        import re as _re
        tap.ok(p.returncode == 0 and len(ups) == 2 and
               all(_re.match(r"^net_tap_[A-Za-z0-9_-]+,iface=[A-Za-z0-9_-]+$", u) for u in ups),
               "domain named %r, template with {name}: ports created, devargs hold no ',' or "
               "'=' from the name: %s" % (hostile, " ".join(ups)), p.err_lines)
    finally:
        e.close()
    # a hostile MAC or socket path in the XML
    cases = [
        (xml.replace(b"52:54:00:AA:00:01", b"52:54:00:aa:00:01,remote=eth0"),
         "MAC '52:54:00:aa:00:01,remote=eth0' is not a MAC address"),
        (xml.replace(b"/run/vhost-shim/web-01-1.sock", b"/run/vhost-shim/../../etc/x.sock"),
         "socket path '/run/vhost-shim/../../etc/x.sock' is not a plain file name"),
        (xml.replace(b"/run/vhost-shim/web-01-1.sock", b"/run/vhost-shim/sub/x.sock"),
         "socket path '/run/vhost-shim/sub/x.sock' is not a plain file name"),
        (xml.replace(b"/run/vhost-shim/web-01-1.sock", b"/run/vhost-shim/x&#10;y.sock"),
         "socket path '/run/vhost-shim/x\\ny.sock' is not a plain file name"),
    ]
    e = Env(tmp, "create-ports=true\n[port-template]\nuplink=net_tap_{name},iface={name},"
            "mac={mac}\n", ports=[])
    try:
        for doc, needle in cases:
            e.shim.commands.clear()
            p = e.run("web-01", "prepare", "begin", doc)
            adds = [a for c, a in e.shim.sent() if c == "port-add"]
            tap.ok(p.returncode == 1 and len(p.err_lines) == 1 and needle in p.err_lines[0]
                   and not any(a["name"] == "web-01-1" for a in adds),
                   "hostile XML value refused, exit 1, one line: %s" % needle,
                   {"rc": p.returncode, "stderr": p.err_lines, "sent": adds})
        # release end cannot stop libvirt: a refusal there is a warning, exit 0
        p = e.run("web-01", "release", "end", cases[0][0])
        tap.ok(p.returncode == 0, "release end with a hostile MAC: exit 0", p.err_lines)
    finally:
        e.close()
    # a socket elsewhere is another backend's: ignored, not refused
    e = Env(tmp, "create-ports=true\n[port-template]\nuplink=net_tap_{name}\n", ports=[])
    try:
        p = e.run("web-01", "prepare", "begin",
                  xml.replace(b"/run/vhost-shim/web-01-1.sock", b"/srv/other.sock"))
        adds = [a["socket"] for c, a in e.shim.sent() if c == "port-add"]
        tap.ok(p.returncode == 0 and adds == ["/run/vhost-shim/web-01-4.sock"],
               "a socket outside socket-dir is another backend's: left alone, exit 0", adds)
    finally:
        e.close()
    # the domain name in log lines: control characters escaped
    e = Env(tmp, "", ports=WEB_PORTS)
    try:
        p = e.run("web-01\nFAKE LINE", "migrate", "begin", xml)
        tap.ok(p.returncode == 0 and len(p.err_lines) == 2 and
               all(l.startswith("vhost-shim-hook: web-01\\nFAKE LINE migrate begin")
                   for l in p.err_lines),
               "a newline in the domain name is escaped in log lines (no forged line)",
               p.err_lines)
    finally:
        e.close()


def test_hostile_xml(tap, tmp):
    """The XML: parsed by expat through ElementTree; a DOCTYPE (entity
    expansion) or an oversized document is refused, comments survive a
    rewrite, a path inside a comment is not rewritten."""
    lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY l0 "lol">' +
           "".join('<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10) for i in range(1, 10)) +
           ']><domain><name>&l9;</name><devices/></domain>').encode()
    conf = "[rewrite hosta]\nfrom=/run/vhost-shim/hosta/\nto=/run/vhost-shim/hostb/\n"
    e = Env(tmp, conf, ports=WEB_PORTS)
    try:
        p = e.run("web-01", "migrate", "begin", lol)
        tap.ok(p.returncode == 1 and p.stdout == b"" and len(p.err_lines) == 1 and
               "has a DOCTYPE: refused" in p.err_lines[0] and p.elapsed_ms < 5000 and
               e.shim.sent() == [],
               "a DOCTYPE with nested entities ('billion laughs'): refused at once, exit 1, "
               "nothing printed (%.0f ms)" % p.elapsed_ms, {"stderr": p.err_lines})
        p = e.run("web-01", "release", "end", lol)
        tap.ok(p.returncode == 0 and len(p.err_lines) == 1, "the same at release end: exit 0",
               p.err_lines)
    finally:
        e.close()
    try:
        hook.parse_xml("<domain>" + " " * hook.MAX_XML_BYTES + "</domain>")
        tap.ok(False, "XML over MAX_XML_BYTES is refused")
    except hook.Refused as err:
        tap.ok("is over" in str(err), "XML over MAX_XML_BYTES is refused: %s" % err)
    doc = ("<domain xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>c</name>"
           "<!-- <interface type='vhostuser'><source type='unix' "
           "path='/run/vhost-shim/hosta/in-comment.sock'/></interface> -->"
           "<devices><interface type='vhostuser'><mac address='52:54:00:00:00:01'/>"
           "<source type='unix' path='/run/vhost-shim/hosta/c.sock' mode='client'/>"
           "</interface></devices><qemu:commandline/></domain>\n")
    out, changes = hook.rewrite_xml(doc, [hook.Rewrite("a", "/run/vhost-shim/hosta/",
                                                       "/run/vhost-shim/hostb/")])
    tap.ok(changes == [("/run/vhost-shim/hosta/c.sock", "/run/vhost-shim/hostb/c.sock")] and
           "hosta/in-comment.sock" in out and "<qemu:commandline />" in out and
           "hostb/c.sock" in out and out.endswith("</domain>\n"),
           "rewrite: the interface's path changes; a path inside a comment does not (no "
           "regular expression on the XML); comments and the qemu: prefix are kept", out)


def test_arming(tap, tmp):
    xml = golden("vm-multi.xml", "rb")
    e = Env(tmp, "", ports=WEB_PORTS)
    try:
        p = e.run("web-01", "migrate", "begin", xml)
        want = [("query-ports", {}), ("migrate-expect", dict({"port": "web01a"}, **WEB_ID)),
                ("migrate-expect", dict({"port": "web01b"}, **WEB_ID))]
        tap.ok(p.returncode == 0 and e.shim.sent() == want,
               "migrate begin (auto): migrate-expect for each vhost-shim port, by socket "
               "path, with vm-uuid and vm-name from the XML; the OVS socket and the other "
               "port are left alone", {"sent": e.shim.sent(), "stderr": p.stderr})
        tap.ok(len(p.err_lines) == 2 and all("armed" in l and WEB_ID["vm-uuid"] in l and
                                             " of web-01 " in l for l in p.err_lines),
               "one log line per action (log=stderr), naming the VM", p.err_lines)
        tap.diag("migrate begin with 2 ports: %.0f ms (process start included)" % p.elapsed_ms)
        tap.ok(p.elapsed_ms < 1000, "migrate begin run takes %.0f ms" % p.elapsed_ms)
        e.shim.commands.clear()
        p = e.run("db-primary", "migrate", "begin", golden("vm-none.xml", "rb"))
        tap.ok(p.returncode == 0 and e.shim.sent() == [] and p.stdout == b"",
               "a domain without vhostuser interfaces: no connection, nothing printed",
               e.shim.sent())
        e.shim.commands.clear()
        for op, sub in (("prepare", "begin"), ("start", "begin"), ("started", "begin"),
                        ("stopped", "end"), ("reconnect", "begin"), ("attach", "begin"),
                        ("restore", "begin"), ("migrate", "end")):
            e.run("web-01", op, sub, xml)
        tap.ok(e.shim.sent() == [],
               "without create-ports, prepare/start/started/stopped/reconnect/... never "
               "contact the shim (never arm a plain start)", e.shim.sent())
    finally:
        e.close()

    # libvirt's <name> wins over argv; a name the shim would refuse is left out
    e = Env(tmp, "", ports=WEB_PORTS)
    try:
        odd = xml.replace(b"<name>web-01</name>", b"<name>web\t01</name>")
        p = e.run("web-01", "migrate", "begin", odd)
        args = [a for c, a in e.shim.sent() if c == "migrate-expect"]
        tap.ok(p.returncode == 0 and len(args) == 2 and
               all(a == {"port": a["port"], "vm-uuid": WEB_ID["vm-uuid"]} for a in args) and
               not [l for l in p.err_lines if "warning" in l],
               "a <name> with a TAB is not sent as vm-name (the shim wants printable "
               "text); the port is still armed with vm-uuid", {"sent": args,
                                                               "stderr": p.err_lines})
    finally:
        e.close()

    # a shim older than vm-uuid/vm-name: armed without them
    e = Env(tmp, "strict=true\n", ports=WEB_PORTS, old_expect=True)
    try:
        p = e.run("web-01", "migrate", "begin", xml)
        exp = [a for c, a in e.shim.sent() if c == "migrate-expect"]
        tap.ok(p.returncode == 0 and e.shim.states == {"web01a": "dst-expecting",
                                                       "web01b": "dst-expecting"} and
               exp == [dict({"port": "web01a"}, **WEB_ID), {"port": "web01a"},
                       dict({"port": "web01b"}, **WEB_ID), {"port": "web01b"}] and
               not [l for l in p.err_lines if "warning" in l or "unexpected" in l],
               "a shim that refuses vm-uuid/vm-name as unexpected: each port is armed "
               "again without them (strict: exit 0)", {"sent": exp, "stderr": p.err_lines})
    finally:
        e.close()

    # MAC mismatch
    ports = [dict(WEB_PORTS[0], mac="52:54:00:aa:00:99"), WEB_PORTS[1]]
    for strict in (False, True):
        e = Env(tmp, "strict=%s\n" % ("true" if strict else "false"), ports=ports)
        try:
            p = e.run("web-01", "migrate", "begin", xml)
            armed = [a["port"] for c, a in e.shim.sent() if c == "migrate-expect"]
            errs = [l for l in p.err_lines if "MAC" in l]
            tap.ok(p.returncode == (1 if strict else 0) and armed == ["web01b"] and
                   len(errs) == 1 and "52:54:00:aa:00:99" in errs[0],
                   "MAC mismatch (%s): the port is not armed, one line, exit %d"
                   % ("strict" if strict else "default", 1 if strict else 0),
                   {"rc": p.returncode, "stderr": p.err_lines, "sent": e.shim.sent()})
        finally:
            e.close()

    # error reply
    for strict in (False, True):
        e = Env(tmp, "strict=%s\n" % strict, ports=WEB_PORTS,
                errors={"migrate-expect": ("GenericError",
                                           "port web01a cannot expect a migration in state "
                                           "src-blackout")})
        try:
            p = e.run("web-01", "migrate", "begin", xml)
            tap.ok(p.returncode == (1 if strict else 0) and len(p.err_lines) == 1 and
                   "cannot expect a migration" in p.err_lines[0] and
                   "and 1 more" in p.err_lines[0],
                   "error replies (%s): one stderr line, exit %d: %s"
                   % ("strict" if strict else "default", 1 if strict else 0,
                      p.err_lines[0] if p.err_lines else ""), p.err_lines)
        finally:
            e.close()

    # explicit mode
    e = Env(tmp, "mode=explicit\n", ports=WEB_PORTS, states={"web01a": "dst-expecting"})
    try:
        p = e.run("web-01", "migrate", "begin", xml)
        sent = e.shim.sent()
        tap.ok(p.returncode == 0 and not any(c == "migrate-expect" for c, _ in sent) and
               len(p.err_lines) == 2 and "is armed" in p.err_lines[0] and
               "web01b is not armed" in p.err_lines[1],
               "mode=explicit: checks the arming, never arms; warns about the unarmed port",
               {"sent": sent, "stderr": p.err_lines})
    finally:
        e.close()


def test_unreachable(tap, tmp):
    xml = golden("vm-multi.xml", "rb")
    # nobody listens on the control socket
    for strict in (False, True):
        e = Env(tmp, "strict=%s\ncreate-ports=true\n[port-template]\nuplink=net_tap_{name}\n"
                % ("true" if strict else "false"))
        try:
            for op, sub, abortable in (("migrate", "begin", True), ("prepare", "begin", True),
                                       ("start", "begin", True), ("release", "end", False)):
                p = e.run("web-01", op, sub, xml)
                want = 1 if strict and abortable else 0
                tap.ok(p.returncode == want and len(p.err_lines) == 1 and
                       "cannot connect to vhost-shim" in p.err_lines[0] and p.stdout == b"",
                       "shim unreachable, %s, %s %s: exit %d, one stderr line"
                       % ("strict" if strict else "default", op, sub, want),
                       {"rc": p.returncode, "stderr": p.err_lines})
            if strict:
                tap.diag("strict: %s" % p.err_lines[0])
        finally:
            e.close()
    # a shim that accepts but never answers: bounded by timeout-ms
    for strict in (False, True):
        e = Env(tmp, "strict=%s\ntimeout-ms=100\n" % strict, ports=[], silent=True)
        try:
            p = e.run("web-01", "migrate", "begin", xml)
            tap.ok(p.returncode == (1 if strict else 0) and len(p.err_lines) == 1 and
                   "did not answer in time" in p.err_lines[0] and p.elapsed_ms < 1500,
                   "silent shim (%s): gives up after timeout-ms (run took %.0f ms), exit %d"
                   % ("strict" if strict else "default", p.elapsed_ms, 1 if strict else 0),
                   {"rc": p.returncode, "stderr": p.err_lines})
        finally:
            e.close()


def test_create_ports(tap, tmp):
    conf = ("create-ports=true\nsocket-dir=/run/vhost-shim\n"
            "[port-template]\nuplink=net_tap_{name},iface={name}\n")
    xml = golden("vm-multi.xml", "rb")
    e = Env(tmp, conf, ports=[WEB_PORTS[2]])
    try:
        p = e.run("web-01", "prepare", "begin", xml)
        adds = [a for c, a in e.shim.sent() if c == "port-add"]
        want = [{"name": "web-01-1", "socket": "/run/vhost-shim/web-01-1.sock",
                 "mac": "52:54:00:aa:00:01", "uplink": "net_tap_web-01-1,iface=web-01-1",
                 "queues": 2},
                {"name": "web-01-4", "socket": "/run/vhost-shim/web-01-4.sock",
                 "mac": "52:54:00:aa:00:04", "uplink": "net_tap_web-01-4,iface=web-01-4",
                 "queues": 4}]
        tap.ok(p.returncode == 0 and adds == want and
               not any(c == "migrate-expect" for c, _ in e.shim.sent()),
               "create-ports, prepare begin: port-add for the missing ports under "
               "socket-dir (name DOMAIN-INDEX, uplink from the template, queues), none "
               "for the OVS socket, nothing armed", {"sent": e.shim.sent(), "stderr": p.stderr})
        e.shim.commands.clear()
        p = e.run("web-01", "start", "begin", xml)
        tap.ok(p.returncode == 0 and e.shim.sent() == [("query-ports", {})],
               "start begin afterwards: the ports exist, nothing added", e.shim.sent())
        e.shim.commands.clear()
        inc = golden("vm-incoming.xml", "rb").replace(b"/hosta/", b"/")
        p = e.run("tiny", "migrate", "begin", inc)
        sent = [c for c, _ in e.shim.sent()]
        tap.ok(p.returncode == 0 and sent == ["query-ports", "port-add", "port-add",
                                              "migrate-expect", "migrate-expect"] and
               [a for c, a in e.shim.sent() if c == "migrate-expect"] ==
               [dict({"port": "tiny-0"}, **TINY_ID), dict({"port": "tiny-1"}, **TINY_ID)],
               "create-ports, migrate begin: creates, then arms the new ports",
               {"sent": e.shim.sent(), "stderr": p.stderr})
    finally:
        e.close()
    # a slow port-add has its own budget and leaves the shared one intact
    e = Env(tmp, "timeout-ms=80\n" + conf, ports=[], delays={"port-add": 0.15})
    try:
        p = e.run("tiny", "migrate", "begin", inc)
        sent = [c for c, _ in e.shim.sent()]
        tap.ok(p.returncode == 0 and sent.count("migrate-expect") == 2 and not
               [l for l in p.err_lines if "warning" in l],
               "port-add taking 150 ms each (timeout-ms=80): still created and armed",
               {"sent": sent, "stderr": p.err_lines})
    finally:
        e.close()
    e = Env(tmp, "create-ports=true\n")
    try:
        p = e.run("web-01", "prepare", "begin", xml)
        tap.ok(p.returncode == 1 and len(p.err_lines) == 1 and "[port-template]" in
               p.err_lines[0], "create-ports without an uplink template: a configuration "
               "error, exit 1", p.err_lines)
    finally:
        e.close()


def test_release(tap, tmp):
    xml = golden("vm-multi.xml", "rb")
    e = Env(tmp, "strict=true\n", ports=WEB_PORTS,
            states={"web01a": "dst-expecting", "web01b": "src-forwarding"})
    try:
        t0 = time.monotonic()
        p = e.run("web-01", "release", "end", xml, extra="migrated")
        cancels = [a["port"] for c, a in e.shim.sent() if c == "migrate-cancel"]
        tap.ok(p.returncode == 0 and cancels == ["web01a"] and len(p.err_lines) == 2 and
               "disarmed" in p.err_lines[0] and "src-forwarding to hostb" in p.err_lines[1],
               "release end: a port still armed (failed incoming migration) is disarmed; a "
               "lingering source port is only logged", {"sent": e.shim.sent(),
                                                        "stderr": p.err_lines})
        tap.ok(time.monotonic() - t0 < 2.0, "release end does not wait for the linger")
        e.shim.commands.clear()
        e.run("web-01", "stopped", "end", xml)
        tap.ok(e.shim.sent() == [], "stopped end does nothing (release end follows)")
    finally:
        e.close()


def test_config_errors(tap, tmp):
    for text, what in (("[hook]\nmode=sometimes\n", "bad mode"),
                       ("[hook]\nstrict=perhaps\n", "bad boolean"),
                       ("[hook]\ntimeout=5\n", "unknown key"),
                       ("[hook\n", "syntax")):
        conf = os.path.join(tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write(text)
        env = dict(os.environ, VSHIM_HOOK_CONF=conf)
        rcs = []
        lines = []
        for op, sub in (("migrate", "begin"), ("release", "end")):
            p = subprocess.run([HOOK, "vm", op, sub, "-"], input=b"", env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            rcs.append(p.returncode)
            lines.append(p.stderr.decode().splitlines())
        tap.ok(rcs == [1, 0] and all(len(l) == 1 for l in lines),
               "configuration error (%s): migrate begin exits 1, release end 0, one line: %s"
               % (what, lines[0][0] if lines[0] else ""), {"rc": rcs, "stderr": lines})
    p = subprocess.run([HOOK, "vm"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.ok(p.returncode == 2, "usage error: exit 2")
    missing = os.path.join(tmp, "no-such.conf")
    cfg = hook.Config.load(missing)
    tap.ok(cfg.control == "/run/vhost-shim/control.sock" and cfg.mode == "auto" and
           not cfg.strict and not cfg.create_ports and cfg.log == "syslog",
           "no configuration file: the defaults (auto, not strict, no create-ports, syslog)")


def test_log_file(tap, tmp):
    e = Env(tmp, "", ports=WEB_PORTS)
    try:
        text = open(e.conf).read().replace("log=stderr", "log=%s" % e.log)
        with open(e.conf, "w") as f:
            f.write(text)
        p = e.run("web-01", "migrate", "begin", golden("vm-multi.xml", "rb"))
        with open(e.log) as f:
            lines = f.read().splitlines()
        tap.ok(p.returncode == 0 and p.stderr == b"" and len(lines) == 2 and
               all("vhost-shim-hook[" in l and "armed" in l for l in lines),
               "log=FILE: one line per action in the file, nothing on stderr", lines)
    finally:
        e.close()


FAKE_VIRSH = """#!/bin/sh
# fake virsh: dumpxml prints $FAKE_VIRSH_XML, migrate records its arguments
echo "$@" >> "$FAKE_VIRSH_LOG"
case " $* " in
*" dumpxml "*) cat "$FAKE_VIRSH_XML" ;;
*" migrate "*) exit "${FAKE_VIRSH_RC:-0}" ;;
esac
"""


def test_vshimctl_migrate(tap, tmp):
    """tools/vshimctl migrate: arms the destination, then the source, then
    runs virsh migrate --live; disarms both when virsh fails."""
    vshimctl = os.path.join(REPO, "tools", "vshimctl")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "virsh"), "w") as f:
        f.write(FAKE_VIRSH)
    os.chmod(os.path.join(bindir, "virsh"), 0o755)
    vlog = os.path.join(tmp, "virsh.log")
    journal = []
    src = FakeShim(os.path.join(tmp, "src.ctl"), WEB_PORTS, journal=journal)
    dst_ports = [port("b-web1", "/srv/b/web-01-1.sock", "52:54:00:aa:00:01"),
                 port("b-web4", "/srv/b/web-01-4.sock", "52:54:00:AA:00:04"),
                 port("b-other", "/srv/b/x.sock", "52:54:00:aa:00:03")]
    dst = FakeShim(os.path.join(tmp, "dst.ctl"), dst_ports, journal=journal)
    try:
        for rc in (0, 1):
            journal.clear()
            if os.path.exists(vlog):
                os.unlink(vlog)
            env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"],
                       FAKE_VIRSH_XML=os.path.join(GOLDEN, "vm-multi.xml"),
                       FAKE_VIRSH_LOG=vlog, FAKE_VIRSH_RC=str(rc))
            # the interpreter itself: the shebang's python3 may be a slow wrapper
            p = subprocess.run([sys.executable, vshimctl, "-s", src.path, "migrate",
                                "--dest-control", dst.path, "--peer", "hostb", "--from",
                                "hosta", "--source-uri", "qemu:///system", "web-01",
                                "qemu+ssh://hostb/system", "--", "--persistent"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            with open(vlog) as f:
                calls = f.read().splitlines()
            arm = [(os.path.basename(pth), c, a) for pth, c, a in journal
                   if c in ("migrate-expect", "migrate-set-peer")]
            cancels = sorted((os.path.basename(pth), a["port"]) for pth, c, a in journal
                             if c == "migrate-cancel")
            ident = {"vm-uuid": "6c3f1a2e-8d4b-4f7a-9e21-0b5d7c9a4e11", "vm-name": "web-01"}
            want_arm = [("dst.ctl", "migrate-expect", dict(ident, port="b-web1", peer="hosta")),
                        ("src.ctl", "migrate-set-peer", {"port": "web01a", "peer": "hostb"}),
                        ("dst.ctl", "migrate-expect", dict(ident, port="b-web4", peer="hosta")),
                        ("src.ctl", "migrate-set-peer", {"port": "web01b", "peer": "hostb"})]
            want_calls = ["-c qemu:///system dumpxml web-01",
                          "-c qemu:///system migrate --live web-01 qemu+ssh://hostb/system "
                          "--persistent"]
            if rc == 0:
                tap.ok(p.returncode == 0 and arm == want_arm and calls == want_calls and
                       not cancels,
                       "vshimctl migrate: ports found by socket path (source) and MAC "
                       "(destination); destination armed before the source, with the "
                       "VM's uuid and name; then virsh "
                       "migrate --live with the extra options",
                       {"rc": p.returncode, "arm": arm, "virsh": calls, "out": p.stdout,
                        "err": p.stderr})
            else:
                tap.ok(p.returncode == 1 and arm == want_arm and
                       cancels == [("dst.ctl", "b-web1"), ("dst.ctl", "b-web4"),
                                   ("src.ctl", "web01a"), ("src.ctl", "web01b")] and
                       "virsh migrate failed" in p.stderr,
                       "vshimctl migrate: virsh fails -> both sides disarmed, virsh's exit "
                       "status", {"rc": p.returncode, "cancels": cancels, "err": p.stderr})
        # --port, and virsh cannot show the domain: armed anyway, without identity
        journal.clear()
        env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"],
                   FAKE_VIRSH_XML=os.path.join(tmp, "no-such.xml"), FAKE_VIRSH_LOG=vlog,
                   FAKE_VIRSH_RC="0")
        p = subprocess.run([sys.executable, vshimctl, "-s", src.path, "migrate",
                            "--dest-control", dst.path, "--peer", "hostb", "--port", "web01a:b-web1", "web-01",
                            "qemu+ssh://hostb/system"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        arm = [(os.path.basename(pth), c, a) for pth, c, a in journal
               if c in ("migrate-expect", "migrate-set-peer")]
        tap.ok(p.returncode == 0 and
               arm == [("dst.ctl", "migrate-expect", {"port": "b-web1"}),
                       ("src.ctl", "migrate-set-peer", {"port": "web01a", "peer": "hostb"})] and
               "arming without the VM's name and UUID" in p.stderr,
               "vshimctl migrate --port: dumpxml fails -> one warning, armed without "
               "vm-uuid/vm-name", {"rc": p.returncode, "arm": arm, "err": p.stderr})
    finally:
        src.close()
        dst.close()


def test_example_config(tap):
    cfg = hook.Config.load(os.path.join(REPO, "libvirt-hooks", "hook.conf.example"))
    d = hook.Config()
    same = all(getattr(cfg, k) == getattr(d, k) for k in
               ("control", "mode", "strict", "create_ports", "timeout_ms",
                "port_add_timeout_ms", "log", "socket_dir", "uplink", "rewrites"))
    tap.ok(same, "libvirt-hooks/hook.conf.example is valid and shows the defaults")


def main():
    tap = Tap()
    with tempfile.TemporaryDirectory(prefix="vshim-hook-") as tmp:
        test_parse(tap)
        test_vm_identity(tap)
        test_port_name(tap)
        test_rewrite(tap, tmp)
        test_hostile(tap, tmp)
        test_hostile_xml(tap, tmp)
        test_arming(tap, tmp)
        test_unreachable(tap, tmp)
        test_create_ports(tap, tmp)
        test_release(tap, tmp)
        test_config_errors(tap, tmp)
        test_log_file(tap, tmp)
        test_example_config(tap)
        test_vshimctl_migrate(tap, tmp)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
