#!/usr/bin/env bash
# sanitize.sh - the unit tests under AddressSanitizer + UBSan (build-asan/)
# and the C unit tests under valgrind (build/).  Called by tools/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-asan >/dev/null
echo "sanitize: unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs

echo "sanitize: C unit tests under valgrind"
G_SLICE=always-malloc G_DEBUG=gc-friendly VS_TEST_TIME_SCALE=20 \
  meson test -C build --suite unit --no-rebuild --print-errorlogs --timeout-multiplier 20 \
  --wrap='valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite -q' \
  config migration pkt tunnel-proto control
