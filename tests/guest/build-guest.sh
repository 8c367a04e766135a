#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# build-guest.sh OUTDIR
#
# Builds the tiny end-to-end test guest: OUTDIR/vmlinuz and OUTDIR/initrd.img,
# plus OUTDIR/vmlinux, the same kernel uncompressed (boots ~2x faster under
# TCG through its PVH entry point; absent if it cannot be extracted).
#   * kernel: Debian's current linux-image-<abi>-amd64 (the one the
#     linux-image-amd64 metapackage depends on), fetched with
#     `apt-get download` and unpacked with dpkg-deb, never installed;
#   * initramfs: busybox-static, the virtio-net kernel modules, /init and the
#     static test agent (tests/guest/agent*.c, AGENT_SRCS below).
#
# Idempotent and fast when cached: OUTDIR/.stamp records the inputs (kernel
# package version, sources of this directory, busybox version); a rebuild
# happens only when one of them changed.  Concurrent runs serialize on
# OUTDIR/.lock.
#
# Debian packages needed (apt-get install -y --no-install-recommends ...):
#   busybox-static cpio gcc libc6-dev xz-utils
# (xz-utils unpacks the uncompressed vmlinux from Debian's xz bzImage and
# decompresses .ko.xz modules; zstd is only needed for .ko.zst modules or a
# zstd bzImage; gcc brings binutils' readelf.)  To run the guest:
# qemu-system-x86 and iproute2 (tests/lib/vshimtest/).  Also used, always
# present on Debian: apt, dpkg, coreutils, util-linux (flock, setpriv), gzip, grep.
# `apt-get update` must have run once so apt-cache knows the kernel package.
#
# Environment:
#   VSHIM_KERNEL_DEB=path.deb  use this kernel package instead of asking apt
#                              (no apt-cache/apt-get needed then).
set -euo pipefail

die() { echo "build-guest.sh: error: $*" >&2; exit 1; }
log() { echo "build-guest.sh: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUT=$1
case ${BASH_SOURCE[0]} in
*/*) SRC=$(cd "${BASH_SOURCE[0]%/*}" && pwd) ;;
*) SRC=$PWD ;;
esac

# Kernel modules for virtio-net over PCI, in load order.
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
# The test agent: main() in agent.c, one file per service (agent.h)
AGENT_SRCS=("$SRC/agent.c" "$SRC/agent_udp.c" "$SRC/agent_tcp.c" "$SRC/agent_send.c" "$SRC/agent_ctl.c")
# 802.1Q VLAN devices, in load order: in the initramfs, loaded by /init only
# when a test asks for a VLAN (vshim.vlan=)
VLAN_MODULES="llc stp garp mrp 8021q"

need() { # need TOOL PACKAGE
	command -v "$1" >/dev/null 2>&1 ||
		die "'$1' not found; install it: apt-get install -y --no-install-recommends $2"
}
need gcc gcc
need cpio cpio
need gzip gzip
need dpkg-deb dpkg
need flock util-linux
need sha256sum coreutils
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found; install it: apt-get install -y --no-install-recommends busybox-static"
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
	# The dynamic "busybox" package would not run in the initramfs.
	die "busybox-static is not installed (the dynamically linked 'busybox' package does not work in the guest); apt-get install -y --no-install-recommends busybox-static"
fi
[ -e /usr/include/stdio.h ] || die "C headers missing; install them: apt-get install -y --no-install-recommends libc6-dev"
[ -e "$(gcc -print-file-name=libc.a)" ] || die "static libc missing; install it: apt-get install -y --no-install-recommends libc6-dev"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9

# ---- which kernel? ------------------------------------------------------
if [ -n "${VSHIM_KERNEL_DEB:-}" ]; then
	[ -f "$VSHIM_KERNEL_DEB" ] || die "VSHIM_KERNEL_DEB=$VSHIM_KERNEL_DEB does not exist"
	KPKG=$(dpkg-deb -f "$VSHIM_KERNEL_DEB" Package)
	KVER=$(dpkg-deb -f "$VSHIM_KERNEL_DEB" Version)
	KSHA=$(sha256sum "$VSHIM_KERNEL_DEB" | cut -d' ' -f1)
	KFILE=$(basename "$VSHIM_KERNEL_DEB")
else
	need apt-cache apt
	# apt-cache takes ~2 s here; remember its answer until the package
	# lists change.
	APTFP=$(stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* /var/lib/apt/lists/*InRelease* 2>/dev/null | sha256sum | cut -d' ' -f1)
	if [ -f "$OUT/.aptinfo" ] && [ "$(head -n1 "$OUT/.aptinfo")" = "$APTFP" ]; then
		read -r KPKG KVER KSHA KFILE < <(sed -n 2p "$OUT/.aptinfo")
	else
		KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
		if [ -z "$KPKG" ]; then
			if [ -f "$OUT/.stamp" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
				log "warning: apt-cache does not know linux-image-amd64 (run apt-get update); using the cached guest"
				exit 0
			fi
			die "apt-cache depends linux-image-amd64 names no kernel package; run 'apt-get update' first"
		fi
		SHOW=$(apt-cache show --no-all-versions "$KPKG")
		KVER=$(sed -n 's/^Version: //p' <<<"$SHOW" | head -n1)
		KSHA=$(sed -n 's/^SHA256: //p' <<<"$SHOW" | head -n1)
		KFILE=$(basename "$(sed -n 's/^Filename: //p' <<<"$SHOW" | head -n1)")
		[ -n "$KVER" ] && [ -n "$KSHA" ] && [ -n "$KFILE" ] || die "apt-cache show $KPKG gave no Version/SHA256/Filename"
		printf '%s\n%s %s %s %s\n' "$APTFP" "$KPKG" "$KVER" "$KSHA" "$KFILE" >"$OUT/.aptinfo"
	fi
fi

# ---- up to date? ----------------------------------------------------------
KEY=$( {
	echo "kernel $KPKG $KVER $KSHA"
	echo "busybox $(dpkg-query -W -f='${Version}' busybox-static)"
	echo "gcc $(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)"
	cat "$SRC/build-guest.sh" "${AGENT_SRCS[@]}" "$SRC/agent.h" "$SRC/agent-proto.h" "$SRC/init"
} | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$KEY" ] &&
	[ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
	exit 0
fi
log "building guest into $OUT (kernel $KPKG $KVER)"

TMP=$(mktemp -d /tmp/vshim-guest.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"

# ---- fetch the kernel package -------------------------------------------
mkdir -p "$OUT/debs"
DEB=""
if [ -n "${VSHIM_KERNEL_DEB:-}" ]; then
	DEB=$VSHIM_KERNEL_DEB
else
	for cand in "$OUT/debs/$KFILE" "/var/cache/apt/archives/$KFILE" "/tmp/$KFILE"; do
		if [ -f "$cand" ] && [ "$(sha256sum "$cand" | cut -d' ' -f1)" = "$KSHA" ]; then
			DEB=$cand
			break
		fi
	done
	if [ -z "$DEB" ]; then
		need apt-get apt
		log "downloading $KPKG=$KVER"
		mkdir -p "$TMP/dl"
		# _apt cannot write into a root-only dir; make it accessible, the
		# "unsandboxed" warning apt may still print is harmless.
		chmod 777 "$TMP/dl"
		(cd "$TMP/dl" && apt-get download -q "$KPKG=$KVER") >&2 ||
			die "apt-get download $KPKG=$KVER failed"
		got=$(ls "$TMP/dl"/*.deb 2>/dev/null | head -n1)
		[ -n "$got" ] || die "apt-get download produced no .deb"
		[ "$(sha256sum "$got" | cut -d' ' -f1)" = "$KSHA" ] || die "checksum mismatch for $got"
		rm -f "$OUT"/debs/*.deb
		mv "$got" "$OUT/debs/$KFILE"
		DEB=$OUT/debs/$KFILE
	fi
fi

mkdir -p "$TMP/k"
dpkg-deb -x "$DEB" "$TMP/k"
VMLINUZ=$(ls "$TMP"/k/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$VMLINUZ" ] || die "no /boot/vmlinuz-* in $DEB"
KREL=${VMLINUZ##*/vmlinuz-}
MODDIR=$TMP/k/lib/modules/$KREL
[ -d "$MODDIR" ] || MODDIR=$TMP/k/usr/lib/modules/$KREL
[ -d "$MODDIR" ] || die "no modules directory for $KREL in $DEB"

# ---- initramfs tree ---------------------------------------------------------
R=$TMP/root
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,run,lib/modules}
cp "$BUSYBOX" "$R/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$R/bin/$applet"
done
: >"$R/etc/modules"
: >"$R/etc/modules.vlan"
for m in $MODULES $VLAN_MODULES; do
	list=$R/etc/modules
	case " $VLAN_MODULES " in *" $m "*) list=$R/etc/modules.vlan ;; esac
	# modules.builtin lists paths; '-' and '_' are equivalent in names.
	if [ -f "$MODDIR/modules.builtin" ] &&
		sed 's/-/_/g' "$MODDIR/modules.builtin" | grep -Eq "/${m}\.ko(\.[a-z]+)?$"; then
		log "module $m is built in"
		continue
	fi
	f=$(find "$MODDIR/kernel" \( -name "$m.ko" -o -name "$m.ko.*" -o -name "${m//_/-}.ko" -o -name "${m//_/-}.ko.*" \) | head -n1)
	[ -n "$f" ] || die "kernel module $m neither built in nor found in $KPKG"
	case "$f" in
	*.ko) cp "$f" "$R/lib/modules/$m.ko" ;;
	*.ko.xz) need xz xz-utils; xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*.ko.zst) need zstd zstd; zstd -qdc "$f" >"$R/lib/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*) die "unknown module compression: $f" ;;
	esac
	echo "$m" >>"$list"
done

gcc -static -O2 -Wall -Werror -s -o "$R/bin/vshim-agent" "${AGENT_SRCS[@]}"
install -m 755 "$SRC/init" "$R/init"
echo "$KPKG $KVER" >"$R/etc/vshim-kernel"

(cd "$R" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet --owner=0:0) | gzip -6 >"$TMP/initrd.img"

# ---- uncompressed PVH kernel ----------------------------------------------
# Decompressing an xz bzImage takes ~3 s under TCG; QEMU boots the
# uncompressed ELF (PVH entry point) directly, which halves the boot time.
# The guest library prefers OUTDIR/vmlinux when it exists.
extract_vmlinux() { # extract_vmlinux BZIMAGE OUTFILE -> 0 if OUTFILE is a PVH ELF
	local magic tool off
	for spec in 'xz:\xfd\x37\x7a\x58\x5a\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool=${spec%%:*}
		magic=${spec#*:}
		command -v "$tool" >/dev/null 2>&1 || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$1" 2>/dev/null | head -n 3 | cut -d: -f1); do
			case $tool in
			xz) tail -c +$((off + 1)) "$1" | xz -dcq --single-stream >"$2" 2>/dev/null ;;
			zstd) tail -c +$((off + 1)) "$1" | zstd -dcq >"$2" 2>/dev/null ;;
			gzip) tail -c +$((off + 1)) "$1" | gzip -dcq >"$2" 2>/dev/null ;;
			esac
			if readelf -n "$2" 2>/dev/null | grep -q '(0x00000012)'; then
				return 0
			fi
		done
	done
	rm -f "$2"
	return 1
}
HAVE_VMLINUX=0
if command -v readelf >/dev/null 2>&1 && extract_vmlinux "$VMLINUZ" "$TMP/vmlinux"; then
	HAVE_VMLINUX=1
else
	log "warning: could not extract an uncompressed PVH vmlinux; guests boot the slower bzImage"
fi

# Publish atomically.
if [ $HAVE_VMLINUX = 1 ]; then
	install -m 644 "$TMP/vmlinux" "$OUT/vmlinux.new"
	mv -f "$OUT/vmlinux.new" "$OUT/vmlinux"
else
	rm -f "$OUT/vmlinux"
fi
install -m 644 "$VMLINUZ" "$OUT/vmlinuz.new"
install -m 644 "$TMP/initrd.img" "$OUT/initrd.img.new"
mv -f "$OUT/vmlinuz.new" "$OUT/vmlinuz"
mv -f "$OUT/initrd.img.new" "$OUT/initrd.img"
echo "$KEY" >"$OUT/.stamp"
log "done: $(du -h "$OUT/vmlinuz" | cut -f1) vmlinuz, $(du -h "$OUT/initrd.img" | cut -f1) initrd.img"
