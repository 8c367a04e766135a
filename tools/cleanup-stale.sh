#!/usr/bin/env bash
# cleanup-stale.sh - remove leftovers of test runs that were killed hard:
# test namespaces (vshimt-*) whose creating process is gone, and the DPDK
# runtime directories (/var/run/dpdk/PREFIX) and hugepage files of the
# daemons and testpmds of test, demo and benchmark runs whose process is
# gone.  Their EAL prefixes carry that process's PID: vshimt-PID-NAME
# (tests/lib/vshimtest/shim.py, the uplinks test's switch),
# vshimt-tp-PID-NAME (tests/lib/testpmd.py), vshimb-PID-N-NAME
# (bench/lib/benchlib.py).  Processes are stopped by PID only, those still
# inside such a namespace.
set -u
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^vshimt-'); do
  owner=$(echo "$ns" | cut -d- -f2)
  if [ -n "$owner" ] && [ -d "/proc/$owner" ]; then
    continue    # its test is still running
  fi
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null && echo "cleanup: removed stale namespace $ns"
done

# The PID in a test prefix, or nothing
prefix_owner() {
  sed -n 's/^vshim[tb]-\(tp-\)\{0,1\}\([0-9][0-9]*\)-.*/\2/p' <<<"$1"
}

n=0
for d in /var/run/dpdk/vshimt-* /var/run/dpdk/vshimb-*; do
  [ -d "$d" ] || continue
  owner=$(prefix_owner "$(basename "$d")")
  [ -n "$owner" ] || continue
  [ -d "/proc/$owner" ] && continue
  rm -rf "$d" && n=$((n + 1))
done
[ "$n" -eq 0 ] || echo "cleanup: removed $n stale DPDK runtime directories"
for f in /dev/hugepages/vshimt-*map_* /dev/hugepages/vshimb-*map_*; do
  [ -e "$f" ] || continue
  owner=$(prefix_owner "$(basename "$f")")
  [ -n "$owner" ] || continue
  [ -d "/proc/$owner" ] || rm -f "$f"
done
exit 0
