#!/usr/bin/env bash
# Build a qemu-system-x86_64 (TCG) from Debian's qemu 7.2 source with the
# patch series in this directory (TCG migration dirty-bitmap fix), and
# install it as CACHE_DIR/qemu/qemu-system-x86_64.
#
# usage: qemu-patches/build-qemu.sh [CACHE_DIR]
#   CACHE_DIR defaults to ${VSHIM_CACHE:-$HOME/.cache/vhost-shim}.
#
# Idempotent: when CACHE_DIR/qemu/series.sha256 matches the hash of the
# patch series (plus the configure flags and $recipe_version), nothing is
# done.  CACHE_DIR/qemu/BUILD-INFO records the source version and timings.
#
# environment:
#   FORCE=1        rebuild even if the cached binary is up to date
#   KEEP_BUILD=1   keep the temporary source/build tree (path is printed)
#   JOBS=N         ninja parallelism (default: nproc)
#
# Needs root (or sudo) only for apt-get: it enables deb-src entries derived
# from the Debian entries already configured, and installs the minimal build
# dependencies (no `apt-get build-dep qemu`, which pulls in hundreds of
# packages) plus the firmware packages the binary needs at run time
# (seabios, ipxe-qemu, qemu-system-data).
set -euo pipefail

# Debian's tools, not a pyenv/venv python that may come first in PATH:
# configure runs `python3` and the distribution's meson from PATH.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${1:-${VSHIM_CACHE:-$HOME/.cache/vhost-shim}}
dest=$cache/qemu
bin=$dest/qemu-system-x86_64
stamp=$dest/series.sha256
jobs=${JOBS:-$(nproc)}

log() { printf 'build-qemu: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --without-default-features turns every optional feature off; turn back on
# what vhost-shim's tests use.  memory-backend-memfd, chardev socket + QMP,
# -kernel/-initrd (linuxboot_dma.bin from /usr/share/qemu) and virtio-net-pci
# need no option: they are always built for x86_64-softmmu (default devices
# stay on).  vhost-user netdev needs both vhost-user and vhost-net.
# --firmwarepath: the same search path as Debian's own qemu, so that the BIOS
# (seabios) and the virtio-net option ROM (ipxe-qemu, efi-virtio.rom) are
# found with or without -L.
configure_flags=(
    --target-list=x86_64-softmmu
    --without-default-features
    --enable-tcg
    --disable-docs
    --disable-werror
    --disable-install-blobs
    --enable-vhost-user
    --enable-vhost-net
    --enable-vhost-kernel
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)

# Minimal build set.  libfdt-dev: x86_64-softmmu sets TARGET_NEED_FDT and the
# dfsg tarball has no bundled dtc to fall back on.  QEMU 7.2 works with the
# system meson (bookworm: 1.0.1); no flex/bison (only for a bundled dtc).
build_pkgs=(gcc make ninja-build meson python3 pkg-config dpkg-dev patch
            xz-utils binutils libglib2.0-dev libpixman-1-dev zlib1g-dev
            libfdt-dev)
runtime_pkgs=(seabios ipxe-qemu qemu-system-data)

shopt -s nullglob
patches=("$here"/[0-9][0-9][0-9][0-9]-*.patch)
shopt -u nullglob
[ ${#patches[@]} -gt 0 ] || die "no patches found in $here"

# Bump when the build recipe changes in a way that changes the binary
# (it is part of the hash, so cached binaries get rebuilt).
recipe_version=2

series_hash() {
    {
        printf 'recipe %s\n' "$recipe_version"
        for p in "${patches[@]}"; do
            printf '%s\n' "$(basename "$p")"
            cat "$p"
        done
        printf '%s\n' "${configure_flags[@]}"
    } | sha256sum | cut -d' ' -f1
}
want=$(series_hash)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo -n "$@"
    else die "need root for: $*"
    fi
}

missing_pkgs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q '^install ok installed$' || printf '%s\n' "$p"
    done
}

apt_updated=0
apt_install() {
    local miss
    miss=$(missing_pkgs "$@")
    [ -n "$miss" ] || return 0
    if [ $apt_updated = 0 ]; then
        as_root apt-get update -q >&2
        apt_updated=1
    fi
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends $miss >&2
}

# deb-src: derive entries from the Debian "deb" entries already configured
# (same mirrors, suites, components, keys), so no host name is hard-coded.
have_deb_src() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && grep -Eq '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -Eiq '^Types:.*deb-src' "$f" && return 0
    done
    return 1
}

enable_deb_src() {
    have_deb_src && return 0
    local out=/etc/apt/sources.list.d/vhost-shim-deb-src.sources
    log "enabling deb-src entries in $out"
    local tmp
    tmp=$(mktemp)
    python3 - "$tmp" <<'PY'
import glob, re, sys
out = []
def debian_uri(u):
    # only Debian archive mirrors (path .../debian or .../debian-security)
    return re.search(r'/debian(-security)?/?$', u) is not None
# deb822 files
for f in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
    text = open(f).read()
    for stanza in re.split(r'\n\s*\n', text):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith('#') or not line.strip():
                continue
            m = re.match(r'([A-Za-z-]+):\s*(.*)', line)
            if m:
                fields[m.group(1).lower()] = (m.group(1), m.group(2))
        if 'types' not in fields or 'deb' not in fields['types'][1].split():
            continue
        if fields.get('enabled', ('', 'yes'))[1].strip().lower() == 'no':
            continue
        uris = fields.get('uris', ('', ''))[1].split()
        if not uris or not all(debian_uri(u) for u in uris):
            continue
        lines = ['Types: deb-src']
        for key, (name, val) in fields.items():
            if key != 'types':
                lines.append('%s: %s' % (name, val))
        out.append('\n'.join(lines))
# one-line format
for f in ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list')):
    try:
        lines = open(f).read().splitlines()
    except OSError:
        continue
    for line in lines:
        m = re.match(r'\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)', line)
        if not m or not debian_uri(m.group(2)):
            continue
        opts = m.group(1) or ''
        entry = ['Types: deb-src', 'URIs: ' + m.group(2),
                 'Suites: ' + m.group(3),
                 'Components: ' + m.group(4).split('#')[0].strip()]
        sb = re.search(r'signed-by=(\S+?)[\s\]]', opts)
        if sb:
            entry.append('Signed-By: ' + sb.group(1))
        out.append('\n'.join(entry))
if not out:
    sys.exit('no Debian "deb" entry found to derive deb-src entries from')
open(sys.argv[1], 'w').write('\n\n'.join(out) + '\n')
PY
    as_root install -m 0644 "$tmp" "$out"
    rm -f "$tmp"
    as_root apt-get update -q >&2
    apt_updated=1
}

mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9

if [ "${FORCE:-0}" != 1 ] && [ -x "$bin" ] && [ -f "$stamp" ] &&
   [ "$(cat "$stamp")" = "$want" ]; then
    # Still make sure the run-time firmware is there (cheap when it is).
    apt_install "${runtime_pkgs[@]}"
    log "up to date: $bin (series $want)"
    exit 0
fi

t0=$(date +%s)
apt_install "${build_pkgs[@]}" "${runtime_pkgs[@]}"
enable_deb_src

work=$(mktemp -d "${TMPDIR:-/tmp}/vshim-qemu.XXXXXX")
cleanup() {
    if [ "${KEEP_BUILD:-0}" = 1 ]; then log "kept build tree: $work"
    else rm -rf "$work"; fi
}
trap cleanup EXIT
chmod 0755 "$work"   # lets apt's _apt user write the download

cd "$work"
log "fetching Debian qemu source"
apt-get source --download-only -q qemu >&2 2> >(grep -v 'unsandboxed as root' >&2)
dsc=$(find . -maxdepth 1 -name 'qemu_*.dsc' | head -n1)
[ -n "$dsc" ] || die "apt-get source did not download a qemu .dsc"
# dpkg-source -x also applies Debian's own debian/patches (3.0 quilt).
dpkg-source -q -x "$dsc" src >&2
debver=$(sed -n 's/^Version: //p' "$dsc")
case "$debver" in
    *:7.2+dfsg-*) ;;
    *) die "expected Debian qemu 7.2+dfsg, got $debver" ;;
esac
log "source: qemu $debver"

cd src
for p in "${patches[@]}"; do
    log "applying $(basename "$p")"
    patch -p1 --batch --forward --quiet <"$p" || die "patch failed: $p"
done

# The dfsg tarball has no edk2 images, but meson.build turns on unpacking
# them whenever bzip2 is installed; never try.
sed -i "s/^\(\s*unpack_edk2_blobs = \)bzip2\.found()/\1false/" meson.build

# Shown by --version and in QMP query-version's "package": tells a test
# which source and which patch series the binary was built from.
pkgversion="Debian $debver, vhost-shim qemu-patches ${want:0:12}"

mkdir build
cd build
log "configure ${configure_flags[*]}"
../configure "${configure_flags[@]}" --with-pkgversion="$pkgversion" \
    >configure.log 2>&1 ||
    { tail -n 40 configure.log >&2; die "configure failed (log above)"; }
t1=$(date +%s)
log "ninja -j$jobs qemu-system-x86_64"
ninja -j"$jobs" qemu-system-x86_64 >ninja.log 2>&1 ||
    { tail -n 40 ninja.log >&2; die "build failed (log above)"; }
t2=$(date +%s)

./qemu-system-x86_64 --version >/dev/null || die "built binary does not run"
install -m 0755 -s qemu-system-x86_64 "$bin.new"
mv -f "$bin.new" "$bin"
printf '%s\n' "$want" >"$stamp"
{
    echo "debian-source: qemu $debver"
    echo "patches: $(for p in "${patches[@]}"; do basename "$p"; done | tr '\n' ' ')"
    echo "configure: ${configure_flags[*]}"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores"
    echo "build-seconds: total $((t2 - t0)), compile $((t2 - t1))"
} >"$dest/BUILD-INFO"
log "installed $bin"
log "build time: $((t2 - t0)) s total, $((t2 - t1)) s compile (ninja, -j$jobs)"
