# SPDX-License-Identifier: BSD-3-Clause
"""Host-side library for the vhost-shim end-to-end tests.

Python 3 standard library only (Debian's /usr/bin/python3).  Modules:

* ``env``: paths, errors (``HarnessError``...), ``skip_or_fail``,
  ``require_e2e_env``, ``cache_dir``, ``build_guest``, ``qemu_command``,
  ``wait_for``, and the tracking of every process the harness starts;
* ``netns``: ``NetNS``, a throw-away network namespace with a Linux bridge
  (the "top of rack switch"), helpers to run commands and open sockets
  inside it;
* ``qmp``: ``QMP``, a minimal QMP client;
* ``guest``: ``Guest``, a TCG QEMU guest (tests/guest/) with a vhost-user
  or tap NIC, a QMP client and migration helpers; ``compare_ram`` for
  telling the QEMU 7.2 TCG migration bug (docs/qemu-tcg-bug.md) apart from
  backend bugs;
* ``traffic``: the guest agent's client (``agent_cmd``, ``agent_stats``...,
  see tests/guest/agent.c) and ``UdpSender``, ``UdpReceiver``,
  ``TcpSender``, ``TcpReceiver`` (subprocesses inside a NetNS);
* ``shim``: ``Shim``, a real vhost-shim daemon standing for one host, and
  the files EAL leaves behind (tests/lib/shimlib.py re-exports it);
* ``tap``: ``Tap`` (TAP output) and ``tap_main``, the one main of the
  end-to-end scripts;
* ``scenarios``: ``scenario_main`` (a scenario named on the command line)
  and ``netns_main`` (one scenario in a new NetNS), the main() of the
  scripts built on ``tap_main``;
* ``certs``: test certificates made with certtool (``tls_make_ca``,
  ``tls_make_host``), imported as ``vshimtest.certs``;
* ``faults``: ``Partition`` (a silent partition: iptables DROP rules on
  TCP ports, removed by exact spec) and ``LogOnFrontend`` (a vhost-user
  frontend that switches a port's dirty logging on and off, so a shim
  starts a migration without a guest), imported as ``vshimtest.faults``;
* ``pair``: ``Pair`` and ``TlsPair``, two shims standing for two hosts and
  a VM migrating between them, with the helpers the migration tests share
  (``wait_received``, ``resend_points``, ``diagnose_loss``, ``tls_config``),
  imported as ``vshimtest.pair``.

``import vshimtest as vt`` and ``from vshimtest import X`` see every
public name of every module but ``certs``, ``faults`` and ``pair``, as
when this was one file.

Every process started here is tracked and stopped by PID (never by name);
namespaces are deleted on exit, on exceptions, and on SIGTERM/SIGHUP.
Guest addresses are 10.77.0.0/24 inside the test namespace only.
"""

from .env import *  # noqa: F401,F403
from .env import _live, _terminate_popen  # noqa: F401  (used by tests)
from .netns import *  # noqa: F401,F403
from .qmp import *  # noqa: F401,F403
from .traffic import *  # noqa: F401,F403
from .guest import *  # noqa: F401,F403
from .shim import *  # noqa: F401,F403
from .tap import *  # noqa: F401,F403
from .scenarios import *  # noqa: F401,F403
