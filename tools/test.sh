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
# the summary below reads every run's log: the plain suites (build/), the
# sanitizer runs (build-asan/) and valgrind (build/; meson appends the
# wrapper's name to --logbase); none may be left from an earlier run
extra_logs=(build-asan/meson-logs/asan-unit.json build-asan/meson-logs/asan-e2e.json
            build/meson-logs/valgrind-valgrind.json)
rm -f "${extra_logs[@]}"
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=$?
if [ $# -eq 0 ]; then
  tools/sanitize.sh || status=$?
fi

# One plain summary line over every run
python3 - build/meson-logs/testlog.json "${extra_logs[@]}" <<'PY'
import json, os, sys
res = {}
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    run = os.path.basename(path)[:-len(".json")]
    run = "" if run == "testlog" else run + ":"
    for line in open(path):
        t = json.loads(line)
        res[run + t["name"]] = t["result"]
ok = sum(r in ("OK", "EXPECTEDFAIL") for r in res.values())
skip = sum(r == "SKIP" for r in res.values())
bad = sorted(n for n, r in res.items() if r not in ("OK", "EXPECTEDFAIL", "SKIP"))
print("\n%d passed, %d failed, %d skipped" % (ok, len(bad), skip))
for n in bad:
    print("  failed: " + n)
PY
exit $status
