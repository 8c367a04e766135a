# SPDX-License-Identifier: BSD-3-Clause
"""Run real vhost-shim daemons for end-to-end tests: vshimtest.shim, under
the name the scripts have always imported (``import shimlib``), with
``tap_main`` (vshimtest.tap)."""

from vshimtest.shim import *  # noqa: F401,F403
from vshimtest.tap import tap_main  # noqa: F401
