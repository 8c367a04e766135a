#!/usr/bin/env bash
# test.sh - the README's second command: install what the tests need, build,
# build the patched QEMU the migration tests use (cached), run every test.
#   sudo tools/test.sh                 all suites (unit, e2e)
#   sudo tools/test.sh --suite unit    extra arguments go to `meson test`
# With CI=true a missing dependency fails a test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
tools/build.sh >/dev/null
# valgrind for the unit tests (tools/sanitize.sh)
command -v valgrind >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null; }
# QEMU 7.2 + qemu-patches/: stock 7.2 corrupts TCG guests in ~1 migration in 7
qemu-patches/build-qemu.sh
tools/cleanup-stale.sh

status=0
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=$?
if [ $# -eq 0 ]; then
  tools/sanitize.sh || status=$?
fi

# One plain summary line, from meson's own log
python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
res = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    res[t["name"]] = t["result"]
ok = sum(r in ("OK", "EXPECTEDFAIL") for r in res.values())
skip = sum(r == "SKIP" for r in res.values())
bad = len(res) - ok - skip
print("\n%d passed, %d failed, %d skipped" % (ok, bad, skip))
PY
exit $status
