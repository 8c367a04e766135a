#!/usr/bin/env bash
# sanitize.sh - the unit and end-to-end tests under AddressSanitizer + UBSan
# (build-asan/: every e2e test starts that daemon, VSHIM_BIN) and the C unit
# tests under valgrind (build/).  Called by tools/test.sh.
#
# The daemon's sanitizer reports go to $VS_SANITIZE_LOGS/{asan,ubsan}.PID as
# well as to the test logs; any report fails this script.  LeakSanitizer
# runs for the unit tests only (detect_leaks=0 for the daemon, which the
# e2e tests often stop with SIGKILL on purpose).  VSHIM_MIGRATIONS=4: the
# udp migration scenario does 4 migrations instead of 10 under ASan.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-asan >/dev/null
echo "sanitize: unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs --logbase asan-unit

echo "sanitize: end-to-end tests with the ASan+UBSan daemon"
logs=${VS_SANITIZE_LOGS:-$(mktemp -d /tmp/vs-sanitize.XXXXXX)}
mkdir -p "$logs"
# bench-smoke measures, it does not test the daemon's memory safety; the
# libvirt tests exercise libvirt's hook and virsh, and reach the daemon
# through the same migration signals and commands as the migration-* and
# postcopy-* tests, which do run here (about 135 s of the CI's hour).
# backend-migration-ovs drives the daemon through the paths of
# backend-migration (a migration to and from a backend that is not a shim),
# which runs here, with OVS-DPDK in testpmd's place; migration-tcp-tso
# streams 384 MiB through a TCG guest, and the daemon's TSO cut runs here
# in virtio-features (TCP with TSO) and in the unit suites pkt-tso and
# dp-tx-offload above: both run in the main pass only, to keep CI within
# its hour (the run of 2026-12-07 took 69 minutes)
mapfile -t e2e < <(meson test -C build-asan --list --suite e2e 2>/dev/null |
  sed -n 's/^vhost-shim:e2e \/ //p' |
  grep -vx -e 'bench-smoke' -e 'libvirt' -e 'libvirt-postcopy' \
    -e 'backend-migration-ovs' -e 'migration-tcp-tso')
e2e_status=0
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:log_path=$logs/asan \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan \
VSHIM_MIGRATIONS=4 \
  meson test -C build-asan --no-rebuild --print-errorlogs --num-processes 1 --logbase asan-e2e \
    "${e2e[@]}" || e2e_status=$?
if compgen -G "$logs/*san.*" >/dev/null; then
  echo "sanitize: sanitizer reports from the daemon:" >&2
  cat "$logs"/*san.* >&2
  e2e_status=1
fi
[ "$e2e_status" -eq 0 ] || exit "$e2e_status"

echo "sanitize: C unit tests under valgrind"
G_SLICE=always-malloc G_DEBUG=gc-friendly VS_TEST_TIME_SCALE=20 \
  meson test -C build --suite unit --no-rebuild --print-errorlogs --timeout-multiplier 20 \
  --logbase valgrind \
  --wrap='valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite -q' \
  config config-keys migration pkt tunnel-proto control control-proto control-cmds flow-key \
  flow-rules flow-syntax flow-prio flow-src tcp-ct
