#!/usr/bin/env bash
# install-deps.sh - install every Debian 12 package vhost-shim needs to
# build, run its demo and run all of its tests.  Idempotent; needs root.
set -euo pipefail

PACKAGES=(
  # build
  gcc libc6-dev meson ninja-build pkg-config
  libdpdk-dev libglib2.0-dev libjson-glib-dev libgnutls28-dev  # the tunnel: TLS 1.3 (GnuTLS)
  libsoup-3.0-dev  # [discovery]: etcd's JSON gateway over HTTP(S)
  # tests: certtool makes certificates and CRLs
  gnutls-bin
  # run: dpdk-testpmd (baseline and benchmarks), DPDK tools
  dpdk dpdk-dev
  # test guests
  qemu-system-x86 qemu-utils seabios ipxe-qemu busybox-static cpio gzip xz-utils
  # test networks and tools
  iproute2 bridge-utils iptables iputils-ping ethtool procps psmisc socat python3 kmod util-linux
  gnuplot-nox  # bench/run-all: bench/results/blackout.png
  groff-base  # tests/unit/test_manpages.py renders the man pages
  clang libclang-rt-14-dev llvm  # fuzz/, bench/fuzz: libFuzzer with ASan and UBSan
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients  # tests/e2e/test_libvirt.py
  etcd-server  # tests/e2e/test_discovery.py, bench/discovery: a real etcd on loopback
  # tests/e2e/test_backend_migration_ovs.py: OVS-DPDK 3.1, a backend VMs move
  # from; the test runs its own ovsdb-server and ovs-vswitchd-dpdk (where
  # apt starts the system's openvswitch-switch service, the test leaves it be)
  openvswitch-switch-dpdk
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get install, network namespaces, hugepages)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present"
