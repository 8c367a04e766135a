#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# test_package.sh - the 'package' test suite (tests/meson.build): the Debian
# packages of debian/, built, linted, installed and run.
#
#   1. Copy the source tree without its build directories (the files git
#      knows, committed or not, and untracked ones it does not ignore).
#   2. Build the source package (dpkg-source -b) and the binary packages
#      (dpkg-buildpackage -us -uc -b) from that copy.
#   3. lintian on both: a tag of level info or above that debian/*lintian-
#      overrides does not override is a failure; pedantic and experimental
#      tags are printed.
#   4. A clean Debian root (mmdebstrap --variant=minbase, from the Debian
#      mirror): install the two .debs with apt, which must resolve their
#      dependencies; then tests/package/check_root.sh inside it checks the
#      files, the user, and starts the daemon as the units would.
#   5. This host: install the .debs, check the units with systemd-analyze,
#      run the migration demo (tools/demo.py --only shim) against the
#      installed /usr/sbin/vhost-shim, then purge the packages and remove
#      the user they created, so that a later run starts from the same
#      state.  If vhost-shim is installed here by someone else, the test
#      does not touch it: skip (77), or a failure with CI=true.
#
# Needs root.  Installs what it needs with apt-get (dpkg-dev, debhelper,
# lintian, mmdebstrap, the build dependencies); a missing tool that cannot
# be installed is a skip (exit 77), or a failure with CI=true.  Prints the
# time of each step.
#
# Environment: PKG_WORKDIR (default /var/tmp/vhost-shim-package-test) holds
# the copy, the packages, the logs and the clean root, emptied at each run;
# VSHIM_PKG_KEEP_ROOT=1 keeps the clean root; DEB_MIRROR (default
# http://deb.debian.org/debian) is the clean root's mirror.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
WORK=${PKG_WORKDIR:-/var/tmp/vhost-shim-package-test}
MIRROR=${DEB_MIRROR:-http://deb.debian.org/debian}
MARKER=/var/tmp/vhost-shim-package-test.installed
PACKAGES=(vhost-shim vhost-shim-tools)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

T0=$(date +%s)
TIMES=()
step_start=$T0
step() {    # step NAME: print the time of the previous step, start NAME
    local now
    now=$(date +%s)
    [ -n "${step_name:-}" ] && TIMES+=("$(printf '%-34s %4d s' "$step_name" $((now - step_start)))")
    step_name=$1
    step_start=$now
    echo
    echo "== package test: $1"
}
print_times() {
    step ""
    echo "== package test: times"
    printf '  %s\n' "${TIMES[@]}"
    printf '  %-34s %4d s\n' "total" $(($(date +%s) - T0))
}
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        echo "package test: FAILED (CI=true, a missing dependency is a failure): $*"
        exit 1
    fi
    echo "package test: SKIP: $*"
    exit 77
}
die() {
    echo "package test: FAILED: $*"
    [ -n "${step_name:-}" ] && print_times
    exit 1
}
# rm -rf DIR, unless something is mounted below it (a root left mounted by
# a killed run would take the host's /dev or /proc with it)
safe_rm() {
    if grep -q " $1/" /proc/self/mountinfo; then
        die "something is mounted under $1: not removing it ($(grep " $1/" /proc/self/mountinfo | cut -d' ' -f5 | head -3 | tr '\n' ' '))"
    fi
    rm -rf "$1"
}
# apt and dpkg wait for each other's lock instead of failing at once
APT=(apt-get -o DPkg::Lock::Timeout=300)

[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root (apt-get, a chroot, the demo's namespaces)"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || skip_or_fail "not a Debian system"

installed_status() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------
# Step 5's state is checked first: never touch someone else's installation
host_cleanup() {
    [ -f "$MARKER" ] || return 0
    echo "package test: removing the packages installed on this host by $(head -1 "$MARKER")"
    # shellcheck disable=SC1090
    . "$MARKER"
    # purge stops the daemons (prerm) and removes the conffiles and units
    "${APT[@]}" purge -y -qq "${PACKAGES[@]}" >/dev/null 2>&1 ||
        { echo "package test: apt-get purge ${PACKAGES[*]} failed"; return 1; }
    if [ "${created_user:-0}" = 1 ] && getent passwd vhost-shim >/dev/null; then
        deluser --system --quiet vhost-shim >/dev/null 2>&1 || true
    fi
    if [ "${created_group:-0}" = 1 ] && getent group vhost-shim >/dev/null; then
        delgroup --system --quiet vhost-shim >/dev/null 2>&1 || true
    fi
    rm -f "$MARKER"
}
for p in "${PACKAGES[@]}"; do
    st=$(installed_status "$p")
    if [ -n "$st" ] && [ "$st" != "unknown ok not-installed" ] && [ ! -f "$MARKER" ]; then
        skip_or_fail "$p is installed on this host ($st), not by this test: the test would replace it; remove it first"
    fi
done
host_cleanup || die "cannot remove the packages a previous run left installed"

# ---------------------------------------------------------------------------
step "tools"
need_pkgs=(dpkg-dev debhelper lintian mmdebstrap git)
missing=()
for p in "${need_pkgs[@]}"; do
    [ "$(installed_status "$p")" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}"
    { "${APT[@]}" update -qq && "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null ||
        skip_or_fail "cannot install ${missing[*]} with apt-get"
fi

safe_rm "$WORK"
mkdir -p "$WORK"
LOG=$WORK/logs
mkdir -p "$LOG"

# ---------------------------------------------------------------------------
step "clean copy of the source tree"
COPY=$WORK/src/vhost-shim
mkdir -p "$COPY"
if [ -e "$SRC/.git" ] && command -v git >/dev/null; then
    # committed and uncommitted files, untracked ones that are not ignored;
    # not the files deleted from the work tree
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done | tar --null -T - -cf -) | tar -C "$COPY" -xf - || die "copying the tree failed"
else
    tar -C "$SRC" --exclude=./.git --exclude='./build*' --exclude='./obj-*' -cf - . |
        tar -C "$COPY" -xf - || die "copying the tree failed"
fi
echo "$(find "$COPY" -type f | wc -l) files in $COPY"

if ! (cd "$COPY" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
    echo "installing the build dependencies"
    { "${APT[@]}" update -qq && "${APT[@]}" build-dep -y -qq "$COPY"; } >"$LOG/build-dep.log" 2>&1 ||
        skip_or_fail "cannot install the build dependencies (apt-get build-dep), see $LOG/build-dep.log"
fi

# ---------------------------------------------------------------------------
step "source package (dpkg-source -b)"
(cd "$WORK/src" && dpkg-source -b vhost-shim) >"$LOG/source.log" 2>&1 ||
    { tail -20 "$LOG/source.log"; die "dpkg-source -b failed"; }
ls "$WORK/src"/*.dsc

# nocheck: the build neither builds nor runs the unit tests, which the unit
# suite runs in the same CI run (about 100 s less); VSHIM_PKG_BUILD_TESTS=1
# builds and runs them in the package build too (debian/rules)
check=nocheck
[ "${VSHIM_PKG_BUILD_TESTS:-0}" = 1 ] && check=
step "binary packages (dpkg-buildpackage -us -uc -b${check:+, DEB_BUILD_OPTIONS=$check})"
(cd "$COPY" && DEB_BUILD_OPTIONS="$check parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b) >"$LOG/build.log" 2>&1 ||
    { tail -40 "$LOG/build.log"; die "dpkg-buildpackage failed, log: $LOG/build.log"; }
grep -E "^(Ok|Fail|Skipped|Timeout):" "$LOG/build.log" | sed 's/^/  unit tests in the build: /'
DEBS=()
for p in "${PACKAGES[@]}"; do
    f=$(ls "$WORK/src/${p}"_*.deb 2>/dev/null | grep -v dbgsym | head -1)
    [ -n "$f" ] || die "no .deb for $p"
    DEBS+=("$f")
    echo "  $(basename "$f"): $(dpkg-deb -f "$f" Depends)"
done

# ---------------------------------------------------------------------------
step "lintian"
lint_as=()
# lintian warns when run as root; run it as nobody when nobody can read the files
if command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups \
        test -r "${DEBS[0]}" 2>/dev/null; then
    lint_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp)
fi
# Every tag is printed, overridden ones too (O:, with the reason from the
# overrides file).  The verdict is read from the output: lintian 2.116
# counts overridden tags towards --fail-on when --show-overrides is given.
"${lint_as[@]}" lintian --display-info --display-experimental --pedantic --show-overrides \
    --fail-on none "$WORK"/src/*.changes "$WORK"/src/*.dsc >"$LOG/lintian.txt" 2>&1
lint_rc=$?
if [ -s "$LOG/lintian.txt" ]; then sed 's/^/  /' "$LOG/lintian.txt"; else echo "  (no tags)"; fi
[ "$lint_rc" -eq 0 ] || die "lintian did not run (exit $lint_rc)"
if grep -q '^[EWI]: ' "$LOG/lintian.txt"; then
    die "lintian: tags of level info or above that debian/*lintian-overrides do not override"
fi
echo "  lintian $(lintian --print-version): no error, warning or info tag that is not overridden"

# ---------------------------------------------------------------------------
step "clean root (mmdebstrap) with the packages"
. /etc/os-release
SUITE=${VERSION_CODENAME:-bookworm}
ROOT=$WORK/root
sources="deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main"
case $MIRROR in
    http://deb.debian.org/debian) sources="$sources
deb http://deb.debian.org/debian-security $SUITE-security main" ;;
esac
# The packages the root downloads are kept for the next run (the test
# cache, like the QEMU build's); only those of this run are kept.
CACHE=${VSHIM_CACHE:-$HOME/.cache/vhost-shim}/package-root-debs
mkdir -p "$CACHE"
rm -rf "$CACHE.new"
mkdir -p "$CACHE.new"
# file-mirror-automount: dpkg inside the root must see the local .debs.
# In a mount namespace of its own: the mounts it makes in the root vanish
# with it, even when it is killed.
unshare --mount --propagation private \
mmdebstrap --variant=minbase --mode=root --verbose --dpkgopt=force-unsafe-io \
    --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $CACHE /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $CACHE.new" \
    --include="${DEBS[0]}" --include="${DEBS[1]}" \
    "$SUITE" "$ROOT" - <<<"$sources" >"$LOG/mmdebstrap.log" 2>&1 ||
    { grep -E "^(E|W):|rror" "$LOG/mmdebstrap.log" | tail -20
      die "mmdebstrap, or installing the packages in it, failed (log: $LOG/mmdebstrap.log)"; }
rm -rf "$CACHE"
mv "$CACHE.new" "$CACHE"
echo "  $(grep -cE '^Get:[0-9]+ http.*/main [a-z0-9]+ [^ ]+ [a-z0-9]+ [^ ]+ \[' "$LOG/mmdebstrap.log") packages downloaded," \
     "$(ls "$CACHE" | wc -l) in the cache $CACHE"
for p in "${PACKAGES[@]}"; do
    st=$(chroot "$ROOT" dpkg-query -W -f='${Status} ${Version}' "$p")
    echo "  $p: $st"
    [[ $st == "install ok installed"* ]] || die "$p is not installed in the clean root"
done
echo "  $(chroot "$ROOT" dpkg-query -W | wc -l) packages in the clean root"

step "clean root: the installed files and daemon"
cp "$HERE/check_root.sh" "$ROOT/tmp/check_root.sh"
# PID 1 of new PID, mount and network namespaces: whatever it starts dies
# with it, its mounts vanish with it, its tap is in its own namespace
unshare --pid --fork --mount --net --propagation private bash -c '
    root=$1
    mount -t proc proc "$root/proc" &&
    mount -t sysfs sysfs "$root/sys" &&
    mount --rbind /dev "$root/dev" &&
    mount -t tmpfs -o mode=0755 tmpfs "$root/run" &&
    exec chroot "$root" /bin/bash /tmp/check_root.sh' bash "$ROOT" 2>&1 | tee "$LOG/check_root.txt"
root_rc=${PIPESTATUS[0]}
if [ "${VSHIM_PKG_KEEP_ROOT:-0}" != 1 ]; then safe_rm "$ROOT"; fi
[ "$root_rc" -eq 0 ] || die "checks in the clean root failed"

# ---------------------------------------------------------------------------
step "this host: install the packages"
trap 'host_cleanup' EXIT
trap 'exit 143' TERM INT     # so that the EXIT trap runs
{
    echo "# vhost-shim package test, pid $$, $(date -u)"
    getent passwd vhost-shim >/dev/null && echo created_user=0 || echo created_user=1
    getent group vhost-shim >/dev/null && echo created_group=0 || echo created_group=1
} >"$MARKER"
"${APT[@]}" install -y -qq --no-install-recommends "${DEBS[@]}" >"$LOG/host-install.log" 2>&1 ||
    { tail -20 "$LOG/host-install.log"; die "apt-get install of the packages on this host failed"; }
for p in "${PACKAGES[@]}"; do
    echo "  $p: $(installed_status "$p")"
done
unitdir=$(dpkg -L vhost-shim | sed -n 's,/vhost-shim\.service$,,p')
verify=$(mktemp -d)
ln -s "$unitdir/vhost-shim@.service" "$verify/vhost-shim@pkgtest.service"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
    "$unitdir/vhost-shim.service" "$verify/vhost-shim@pkgtest.service" 2>&1)
rc=$?
rm -rf "$verify"
echo "  systemd-analyze verify vhost-shim.service vhost-shim@pkgtest.service: exit $rc${out:+: $out}"
[ "$rc" -eq 0 ] && [ -z "$out" ] || die "systemd-analyze verify complained"

step "this host: the migration demo on /usr/sbin/vhost-shim"
VSHIM_BIN=/usr/sbin/vhost-shim python3 "$SRC/tools/demo.py" --only shim --guest-rcvbuf 8388608 --json \
    >"$LOG/demo.json" 2>"$LOG/demo.log"
demo_rc=$?
tail -5 "$LOG/demo.log" | sed 's/^/  /'
[ "$demo_rc" -eq 0 ] || { cat "$LOG/demo.json"; die "tools/demo.py failed (exit $demo_rc)"; }
python3 - "$LOG/demo.json" <<'PY' || die "the demo on the installed daemon lost, reordered or duplicated frames"
import json, sys
text = open(sys.argv[1]).read()      # progress lines, then the JSON figures
s = json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)["shim"]
print("  one live migration through the installed vhost-shim: sent %d, received %d, lost %d, "
      "reordered %d, duplicated %d, corrupted %d; blackout %.1f ms, %d buffered, %d tunnelled, "
      "%d replayed" % (s["sent"], s["received"], s["lost"], s["reordered"], s["duplicated"],
                       s["corrupted"], s["blackout_ms"], s["buffered_at_a"], s["tunnelled"],
                       s["replayed_at_b"]))
sys.exit(0 if s["sent"] > 0 and s["received"] == s["sent"] and s["lost"] == 0 and
         s["reordered"] == 0 and s["duplicated"] == 0 and s["corrupted"] == 0 else 1)
PY

step "this host: purge the packages"
lists=$(cat /var/lib/dpkg/info/vhost-shim.list /var/lib/dpkg/info/vhost-shim-tools.list)
host_cleanup || die "purging the packages failed"
trap - EXIT TERM INT
left=$(while read -r f; do     # files and links; not directories (nor /lib -> usr/lib)
           if [ ! -d "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then echo "$f"; fi
       done <<<"$lists"
       [ -e /etc/vhost-shim ] && echo /etc/vhost-shim
       ls /var/lib/systemd/deb-systemd-helper-*/*vhost-shim* 2>/dev/null
       getent passwd vhost-shim | sed -n "s/^\(vhost-shim\):.*/user \1/p")
if [ "${created_user:-1}" = 0 ]; then     # set by host_cleanup from the marker
    left=$(grep -v '^user vhost-shim$' <<<"$left")
fi
[ -z "$left" ] || die "left on this host after the purge: $left"
echo "  nothing of the packages is left on this host"

print_times
echo
echo "package test: PASSED"
exit 0
