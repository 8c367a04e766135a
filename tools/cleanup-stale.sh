#!/usr/bin/env bash
# cleanup-stale.sh - remove leftovers of test runs that were killed hard:
# test namespaces (vshimt-*) whose creating process is gone, and DPDK
# runtime directories of test prefixes.  Processes are stopped by PID only,
# those still inside such a namespace.
set -u
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^vshimt-'); do
  owner=$(echo "$ns" | cut -d- -f2)
  if [ -n "$owner" ] && [ -d "/proc/$owner" ]; then
    continue    # its test is still running
  fi
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null && echo "cleanup: removed stale namespace $ns"
done
for d in /var/run/dpdk/vshimt-*; do
  [ -d "$d" ] || continue
  owner=$(basename "$d" | cut -d- -f2)
  [ "$owner" = "tp" ] && owner=$(basename "$d" | cut -d- -f3)
  [ -d "/proc/$owner" ] || rm -rf "$d"
done
exit 0
