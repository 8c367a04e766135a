#!/usr/bin/env bash
# demo.sh - the README's first command: install the Debian packages, build
# vhost-shim and the patched QEMU, then live-migrate a tiny VM between two
# "hosts" on this machine under 5000 pps of UDP, once through plain
# dpdk-testpmd and once through vhost-shim, and print what the guest lost.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
tools/build.sh >/dev/null
qemu-patches/build-qemu.sh
tools/cleanup-stale.sh
exec python3 tools/demo.py "$@"
