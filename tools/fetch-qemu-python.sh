#!/usr/bin/env bash
# fetch-qemu-python.sh - QEMU's own Python QMP library (python/qemu/qmp:
# qemu.qmp.QMPClient, qemu.qmp.legacy, qmp-shell) from Debian's qemu 7.2
# source package, for tests/e2e/test_qmp_library.py.  QEMU's code is not
# kept in this repository (licence); it is fetched the way
# qemu-patches/build-qemu.sh gets QEMU: `apt-get source --download-only
# qemu`, `dpkg-source -x` (Debian's own patches applied, some of which touch
# python/qemu/qmp), then only python/qemu/qmp is kept.
#
# usage: tools/fetch-qemu-python.sh [CACHE_DIR]
#   CACHE_DIR defaults to ${VSHIM_CACHE:-$HOME/.cache/vhost-shim}.
#
# Prints one line on stdout: the directory to put on sys.path (it holds
# qemu/qmp/), CACHE_DIR/qemu-python/<Debian version>/python.  Progress goes
# to stderr.  Reuses that directory when it is there (no network); its
# SOURCE file names the source package and tarball hashes.
#
# Needs deb-src entries (qemu-patches/build-qemu.sh enables them; CI runs it
# before the tests), dpkg-source (dpkg-dev) and xz.  When apt knows no
# qemu 7.2 source (no deb-src), an existing cached copy is used.
set -euo pipefail

export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C.UTF-8

cache=${1:-${VSHIM_CACHE:-$HOME/.cache/vhost-shim}}/qemu-python

log() { printf 'fetch-qemu-python: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Bump when what is extracted changes (part of the cache key).
recipe_version=1

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 900 9 || die "timed out waiting for $cache/.lock"

# The .dsc apt-get source would fetch: qemu_7.2+dfsg-7+deb12u18.dsc
# (works offline, from the package lists).
# Lines are 'URI' FILE SIZE HASH; FILE is not URL-encoded.
dsc_name=$(apt-get source --print-uris -q qemu 2>/dev/null |
           awk '$2 ~ /^qemu_.*\.dsc$/ { print $2; exit }' || true)
debver=${dsc_name#qemu_}
debver=${debver%.dsc}

cached() {
    local d=$1
    [ -f "$d/SOURCE" ] && [ -f "$d/python/qemu/qmp/__init__.py" ] &&
        grep -qx "recipe: $recipe_version" "$d/SOURCE"
}

if [ -z "$debver" ]; then
    # No deb-src: fall back to the newest copy fetched earlier, if any.
    newest=""
    for d in "$cache"/7.2*; do
        cached "$d" && newest=$d
    done
    [ -n "$newest" ] ||
        die "apt-get source knows no qemu source (no deb-src entries?): run qemu-patches/build-qemu.sh once, it enables them"
    log "no deb-src entries; using the cached $(basename "$newest")"
    echo "$newest/python"
    exit 0
fi
case "$debver" in
    7.2+dfsg-*) ;;
    *) die "expected Debian qemu 7.2+dfsg, apt offers $debver" ;;
esac

dest=$cache/$debver
if cached "$dest"; then
    log "up to date: $dest"
    echo "$dest/python"
    exit 0
fi

command -v dpkg-source >/dev/null || die "dpkg-source not found (apt-get install dpkg-dev)"
command -v xz >/dev/null || die "xz not found (apt-get install xz-utils)"

work=$(mktemp -d "${TMPDIR:-/tmp}/vshim-qemu-python.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"   # lets apt's _apt user write the download

cd "$work"
log "fetching Debian qemu $debver source"
apt-get source --download-only -q qemu >&2 2> >(grep -v 'unsandboxed as root' >&2)
dsc=$(find . -maxdepth 1 -name 'qemu_*.dsc' | head -n1)
[ -n "$dsc" ] || die "apt-get source did not download a qemu .dsc"
got=$(sed -n 's/^Version: //p' "$dsc")
[ "${got#*:}" = "$debver" ] || die "downloaded $got, expected $debver"
# Whole tree (about 300 MB, a few seconds): Debian's patches apply to it.
dpkg-source -q -x "$dsc" src >&2
[ -f src/python/qemu/qmp/__init__.py ] || die "no python/qemu/qmp in the qemu source"

stage=$cache/.new-$debver
rm -rf "$stage"
mkdir -p "$stage/python/qemu"
cp -a src/python/qemu/qmp "$stage/python/qemu/"
cp src/COPYING src/COPYING.LIB "$stage/" 2>/dev/null || true
{
    echo "recipe: $recipe_version"
    echo "debian-source: qemu $got"
    echo "python-version: $(cat src/python/VERSION 2>/dev/null || echo unknown)"
    for f in qemu_*; do
        echo "file: $f sha256 $(sha256sum "$f" | cut -d' ' -f1)"
    done
    echo "fetched: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$stage/SOURCE"
rm -rf "$dest"
mv "$stage" "$dest"
log "installed $dest/python/qemu/qmp (qemu $got)"
echo "$dest/python"
