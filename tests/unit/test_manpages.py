#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Unit test of the installed documentation and shell completion (TAP).

The man pages (docs/man/) and the bash completion of vshimctl
(tools/vshimctl.bash-completion) are written by hand; this test keeps them
in step with the code they describe:

* each man page renders without a groff warning (lintian reports those);
* vhost-shim(8) names every option of "vhost-shim --help";
* vshimctl(8) names every subcommand of vshimctl and every option of each;
* vhost-shim.conf(5) names every group and key of the configuration's key
  table (vhost-shim/config/config_keys.c), and its example
  passes "vhost-shim --check-config", as does the package's default
  configuration (tools/vhost-shim.conf);
* the completion offers exactly vshimctl's subcommands, each subcommand's
  options, the buffer-policy keys of the parser, and the port and command
  names of a running daemon (a fake control socket here).

Environment: VSHIM_BIN, the daemon built by meson (tests/meson.build).
"""

import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
MAN = os.path.join(REPO, "docs", "man")
VSHIMCTL = os.path.join(REPO, "tools", "vshimctl")
COMPLETION = os.path.join(REPO, "tools", "vshimctl.bash-completion")
CI = os.environ.get("CI") == "true"


class Tap:
    def __init__(self):
        self.results = []

    def ok(self, cond, name, diag=None):
        self.results.append(("ok" if cond else "not ok", name, diag))

    def skip(self, name, why):
        # a missing tool is a failure under CI=true, a TAP skip otherwise
        if CI:
            self.results.append(("not ok", name, "CI=true: " + why))
        else:
            self.results.append(("ok", "%s # SKIP %s" % (name, why), None))

    def finish(self):
        print("1..%d" % len(self.results))
        failed = 0
        for i, (res, name, diag) in enumerate(self.results, 1):
            print("%s %d - %s" % (res, i, name))
            if res != "ok":
                failed += 1
                for line in str(diag or "").splitlines():
                    print("# " + line)
        return 1 if failed else 0


def man_text(name):
    """The man page's source with the roff escapes we use undone."""
    with open(os.path.join(MAN, name)) as f:
        lines = [ln for ln in f if not ln.startswith('.\\"')]
    text = "".join(lines)
    text = re.sub(r"\\f[BIRP]", "", text)
    for a, b in (("\\-", "-"), ("\\(aq", "'"), ("\\e", "\\"), ("\\&", ""), ("\\:", "")):
        text = text.replace(a, b)
    return text


def words_of(text):
    return set(re.findall(r"[A-Za-z0-9_.@/-]+", text))


def check_render(t):
    groff = shutil.which("groff")
    for page in sorted(os.listdir(MAN)):
        name = "%s renders without groff warnings" % page
        if not groff:
            t.skip(name, "groff not found (apt-get install groff-base)")
            continue
        r = subprocess.run([groff, "-man", "-ww", "-z", "-Tutf8", "-rLL=78n",
                            os.path.join(MAN, page)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t.ok(r.returncode == 0 and not r.stderr.strip(), name, r.stderr)


def check_daemon_options(t):
    vbin = os.environ.get("VSHIM_BIN") or os.path.join(REPO, "build", "vhost-shim", "vhost-shim")
    if not os.access(vbin, os.X_OK):
        t.ok(False, "vhost-shim --help runs", "no daemon binary at %s (VSHIM_BIN)" % vbin)
        return vbin
    r = subprocess.run([vbin, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    opts = re.findall(r"^\s+(?:(-\w), )?(--[\w-]+)", r.stdout, re.M)
    t.ok(r.returncode == 0 and len(opts) >= 15, "vhost-shim --help lists its options",
         r.stdout + r.stderr)
    page = words_of(man_text("vhost-shim.8"))
    missing = [o for pair in opts for o in pair if o and o not in page]
    t.ok(not missing, "vhost-shim.8 names all %d options of --help" % len(opts),
         "missing: %s" % " ".join(missing))
    return vbin


def load_vshimctl():
    loader = importlib.machinery.SourceFileLoader("vshimctl", VSHIMCTL)
    spec = importlib.util.spec_from_loader("vshimctl", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def vshimctl_commands(mod):
    """{subcommand: [its options]}, from vshimctl's own argparse parser."""
    parser = mod.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = {}
    for name, p in sub.choices.items():
        out[name] = sorted(o for a in p._actions for o in a.option_strings)
    glob = sorted(o for a in parser._actions for o in a.option_strings)
    return out, glob


def check_vshimctl_page(t, cmds, glob):
    page = words_of(man_text("vshimctl.8"))
    missing = [c for c in cmds if c not in page]
    t.ok(not missing, "vshimctl.8 names all %d subcommands" % len(cmds),
         "missing: %s" % " ".join(missing))
    missing = sorted({o for opts in cmds.values() for o in opts if o not in page} |
                     {o for o in glob if o not in page})
    t.ok(not missing, "vshimctl.8 names every option of every subcommand",
         "missing: %s" % " ".join(missing))


def parser_keys():
    """(groups, keys, buffer-policy keys) of the configuration, read from
    the key table in vhost-shim/config/config_keys.c."""
    src = open(os.path.join(REPO, "vhost-shim", "config", "config_keys.c")).read()
    table = src[src.index("vs_cfg_keys[] = {"):]
    table = table[:table.index("\n};")]
    keys = set(re.findall(r'\.name = "([a-z-]+)"', table))
    keys -= set(re.findall(r'\.name = "([a-z-]+)"[^}]*VS_CFG_KEY_SPEC_ONLY', table))
    policy = set(re.findall(r'\.name = "([a-z-]+)", POLICY\(', table))
    # POLICY_CLASS("udp", ...) rows: the class name and the macro's suffixes
    suffixes = re.findall(r'\.name = cls "(-[a-z-]+)"', src)
    for cls in re.findall(r'POLICY_CLASS\("(\w+)"', table):
        policy |= {cls + sfx for sfx in suffixes}
    keys |= policy
    keys.add("address")       # [peer NAME]: its one key (config.c)
    groups = {"daemon", "tunnel", "migration", "peer", "port"}
    return groups, keys, policy


def check_conf_page(t, vbin):
    groups, keys, _ = parser_keys()
    text = man_text("vhost-shim.conf.5")
    page = words_of(text)
    t.ok(len(keys) > 40, "the keys were found in config_keys.c (%d)" % len(keys),
         " ".join(sorted(keys)))
    missing = sorted(k for k in keys if k not in page)
    t.ok(not missing, "vhost-shim.conf.5 names every key of the parser",
         "missing: %s" % " ".join(missing))
    missing = sorted(g for g in groups if ".SH [%s" % g not in text)
    t.ok(not missing, "vhost-shim.conf.5 has a section per group",
         "missing: %s" % " ".join(missing))
    m = re.search(r"\.SH EXAMPLES\n.*?\.nf\n(.*?)\.fi\n", text, re.S)
    configs = [("the example of vhost-shim.conf.5", m.group(1) if m else "")]
    with open(os.path.join(REPO, "tools", "vhost-shim.conf")) as f:
        configs.append(("the package's default tools/vhost-shim.conf", f.read()))
    with tempfile.TemporaryDirectory() as tmp:
        for what, conf in configs:
            path = os.path.join(tmp, "c.conf")
            with open(path, "w") as f:
                f.write(conf)
            r = subprocess.run([vbin, "-c", path, "--check-config"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            t.ok(conf and r.returncode == 0, "%s passes --check-config" % what, r.stdout)


class FakeDaemon(threading.Thread):
    """A control socket that answers query-ports and query-commands."""

    PORTS = [{"name": "vm1", "state": "running", "mode": "server", "queues": 1,
              "mac": "52:54:00:00:00:01", "socket": "/run/vhost-shim/vm1.sock",
              "uplink": "net_tap0,iface=t0"},
             {"name": "web-2", "state": "waiting", "mode": "client", "queues": 2,
              "mac": "52:54:00:00:00:02", "socket": "/run/vhost-shim/web-2.sock",
              "uplink": "net_tap1,iface=t1"}]
    COMMANDS = ["migrate-expect", "port-add", "qmp_capabilities", "query-commands",
                "query-ports"]

    def __init__(self, path):
        super().__init__(daemon=True)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)

    def run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with c:
                c.sendall(b'{"QMP": {"version": {"qemu": {"major": 0, "minor": 1, '
                          b'"micro": 0}, "package": "fake"}, "capabilities": []}}\n')
                f = c.makefile("r")
                for line in f:
                    req = json.loads(line)
                    ret = {"query-ports": self.PORTS,
                           "query-commands": [{"name": n} for n in self.COMMANDS]
                           }.get(req["execute"], {})
                    c.sendall(json.dumps({"return": ret, "id": req.get("id")}).encode() + b"\n")

    def close(self):
        self.srv.close()


def complete(line, env=None):
    """COMPREPLY for the command line LINE (cursor at its end), sorted."""
    script = ('source "$1"; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; '
              '_vshimctl "$3"; printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION,
                        line, VSHIMCTL], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=30)
    return sorted(w for w in r.stdout.split("\n") if w), r.stderr


def check_completion(t, cmds):
    got, err = complete("vshimctl ")
    t.ok(got == sorted(cmds), "completion: the subcommands are vshimctl's",
         "completion: %s\nvshimctl:   %s\n%s" % (got, sorted(cmds), err))
    bad = {}
    for name, opts in cmds.items():
        got, err = complete("vshimctl %s --" % name)
        want = sorted(o for o in opts if o.startswith("--"))
        if got != want:
            bad[name] = (got, want, err)
    t.ok(not bad, "completion: each subcommand's options are its own",
         "\n".join("%s: completion %s, vshimctl %s %s" % (n, *v) for n, v in bad.items()))
    got, _ = complete("vshimctl port-add vm1 --mode ")
    t.ok(got == ["client", "server"], "completion: --mode values", got)
    _, _, policy = parser_keys()
    got, err = complete("vshimctl buffer-policy vm1 ")
    t.ok(got == sorted(k + "=" for k in policy),
         "completion: the buffer-policy keys are the parser's (%d)" % len(policy),
         "completion: %s\nparser:     %s\n%s" % (got, sorted(policy), err))
    got, _ = complete("vshimctl buffer-policy vm1 overflow=drop-")
    t.ok(got == ["drop-newest", "drop-oldest"], "completion: a policy value after '='", got)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "control.sock")
        d = FakeDaemon(path)
        d.start()
        try:
            got, err = complete("vshimctl -s %s stats " % path)
            t.ok(got == ["vm1", "web-2"], "completion: port names from the daemon", "%s %s" % (got, err))
            env = dict(os.environ, VSHIM_CONTROL=path)
            got, err = complete("vshimctl buffer-policy w", env)
            t.ok(got == ["web-2"], "completion: port names with $VSHIM_CONTROL", "%s %s" % (got, err))
            got, err = complete("vshimctl --socket=%s raw query-" % path)
            t.ok(got == ["query-commands", "query-ports"],
                 "completion: raw completes the daemon's commands", "%s %s" % (got, err))
            got, err = complete("vshimctl -s %s stats vm1 " % path)
            t.ok(got == [], "completion: nothing after stats' one argument", got)
        finally:
            d.close()
    got, err = complete("vshimctl -s /nonexistent/control.sock stats ")
    t.ok(got == [] and not err, "completion: no daemon, no names, no noise", "%s %s" % (got, err))


def main():
    t = Tap()
    check_render(t)
    vbin = check_daemon_options(t)
    cmds, glob = vshimctl_commands(load_vshimctl())
    check_vshimctl_page(t, cmds, glob)
    if os.access(vbin, os.X_OK):
        check_conf_page(t, vbin)
    check_completion(t, cmds)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
