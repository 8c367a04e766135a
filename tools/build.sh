#!/usr/bin/env bash
# build.sh - configure (once) and build vhost-shim into ./build
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build
