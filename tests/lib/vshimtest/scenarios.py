# SPDX-License-Identifier: BSD-3-Clause
"""The main of the end-to-end scripts that run a scenario in a network
namespace: ``scenario_main`` picks one of a script's scenarios by the name
tests/meson.build passes (argv[1]), ``netns_main`` runs one.

Theory of operation: every such script used to repeat the same main():
the scenario's name from sys.argv (a default when there is none), the
usage and exit status 2 for an unknown name, then tap_main() with the
scenario's plan and a body that builds the guest image and creates the
NetNS the scenario runs in (recorded in state["ns"], so tap_main checks it
is gone afterwards).  Here it is once; tap_main (tap.py) still does the
rest: prerequisites, the work directory (VSHIM_KEEP=DIR keeps the logs in
DIR), the report of an aborted run and the exit status (0, 1, or 77 for a
skip outside CI)."""

import sys

from .env import build_guest
from .netns import NetNS
from .tap import tap_main

__all__ = ["scenario_main", "netns_main"]


def netns_main(plan, prefix, scenario, guest=True, ipv6=False, with_state=False):
    """Run scenario(ns, workdir, tap) under tap_main(plan, prefix, ...) in
    a new NetNS(ipv6=ipv6), after build_guest() if guest is true;
    with_state: scenario(ns, workdir, tap, state), for one that records
    the processes it starts in state["pids"].  Returns the exit status for
    sys.exit()."""
    def body(tap, state, workdir):
        if guest:
            build_guest()
        with NetNS(ipv6=ipv6) as ns:
            state["ns"] = ns.name
            if with_state:
                scenario(ns, workdir, tap, state)
            else:
                scenario(ns, workdir, tap)

    return tap_main(plan, prefix, body)


def scenario_main(scenarios, default, prefix, guest=True, ipv6=False, argv=None):
    """The main of a script with several scenarios.

    scenarios: {name: (fn, plan)}, fn(ns, workdir, tap) as for netns_main.
    argv[1] (sys.argv by default) names the scenario to run, default when
    it is absent; an unknown name prints the usage on stderr and returns 2.
    prefix: the work directory's prefix, "{name}" in it replaced by the
    scenario's name.  guest: True, False, or the names of the scenarios
    that need the guest image.  Returns the exit status for sys.exit()."""
    argv = sys.argv if argv is None else argv
    name = argv[1] if len(argv) > 1 else default
    if name not in scenarios:
        print("usage: %s {%s}" % (argv[0], "|".join(scenarios)), file=sys.stderr)
        return 2
    fn, plan = scenarios[name]
    needs_guest = guest if isinstance(guest, bool) else name in guest
    return netns_main(plan, prefix.format(name=name), fn, guest=needs_guest, ipv6=ipv6)
