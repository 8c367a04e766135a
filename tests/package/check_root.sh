#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# check_root.sh - run by tests/package/test_package.sh inside the clean
# Debian root where the packages were installed, as PID 1 of its own PID,
# mount and network namespaces (so every process it starts dies with it,
# and the tap it creates is nobody else's).  Checks that the files landed
# where they belong and that the installed daemon starts from the package's
# configuration and unit, as its user with its capabilities, and answers
# the installed vshimctl and the bash completion.  Prints one line per
# check; exit status 0 when all passed.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
failed=0
pass() { echo "  ok: $*"; }
fail() { echo "  FAILED: $*"; failed=1; }
check() {   # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/tmp/check.out 2>&1; then pass "$what"; else fail "$what"; sed 's/^/    /' /tmp/check.out; fi
}

echo "clean root: files"
for f in /usr/sbin/vhost-shim /usr/bin/vshimctl /usr/libexec/vhost-shim/libvirt-qemu-hook; do
    check "$f is an executable file" test -f "$f" -a -x "$f"
done
for f in /etc/vhost-shim/vhost-shim.conf /etc/vhost-shim/hook.conf \
         /usr/share/man/man8/vhost-shim.8.gz /usr/share/man/man8/vshimctl.8.gz \
         /usr/share/man/man5/vhost-shim.conf.5.gz \
         /usr/share/bash-completion/completions/vshimctl \
         /usr/share/doc/vhost-shim/README.Debian /usr/share/doc/vhost-shim/hardening.md \
         /usr/share/doc/vhost-shim/copyright /usr/share/doc/vhost-shim-tools/copyright; do
    check "$f" test -f "$f"
done
hook=/etc/libvirt/hooks/qemu.d/vhost-shim
check "$hook links to the hook program" \
    test "$(readlink "$hook")" = /usr/libexec/vhost-shim/libvirt-qemu-hook
unitdir=$(dpkg -L vhost-shim | sed -n 's,/vhost-shim\.service$,,p')
check "the units are in systemd's directory ($unitdir)" \
    test -f "$unitdir/vhost-shim.service" -a -f "$unitdir/vhost-shim@.service"
check "every file the packages list exists" bash -c '
    dpkg -L vhost-shim vhost-shim-tools | while read -r f; do
        [ -z "$f" ] || [ -e "$f" ] || [ -L "$f" ] || { echo "missing: $f"; exit 1; }
    done'
conffiles=$(dpkg-query -W -f='${Conffiles}\n' vhost-shim | awk 'NF {print $1}' | sort | tr '\n' ' ')
check "conffiles: $conffiles" \
    test "$conffiles" = "/etc/vhost-shim/hook.conf /etc/vhost-shim/vhost-shim.conf "
check "the man pages are readable text" bash -c \
    'for m in vhost-shim.8 vshimctl.8 vhost-shim.conf.5; do zcat /usr/share/man/man*/$m.gz | grep -q "^\.SH NAME" || exit 1; done'

echo "clean root: the user"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd vhost-shim)
check "user vhost-shim is a system user ($uid, $home, $shell)" \
    test -n "$uid" -a "${uid:-1000}" -lt 1000 -a "$home" = /nonexistent -a "$shell" = /usr/sbin/nologin
check "group vhost-shim is its group" test "$(getent group vhost-shim | cut -d: -f3)" = "$gid"

echo "clean root: the programs run"
check "the daemon's libraries resolve" bash -c '! ldd /usr/sbin/vhost-shim | grep "not found"'
check "vhost-shim --help" /usr/sbin/vhost-shim --help
check "vshimctl --help (python3 is there)" /usr/bin/vshimctl --help
check "the default configuration passes --check-config" \
    /usr/sbin/vhost-shim --config /etc/vhost-shim/vhost-shim.conf --check-config
check "the hook runs (an operation it ignores: exit 0, no output)" bash -c \
    'out=$(/etc/libvirt/hooks/qemu.d/vhost-shim vm1 started begin - </dev/null 2>&1) && [ -z "$out" ]'

# The unit, as systemd would run it (no systemd here): its ExecStart, User,
# Group, capabilities, runtime directory, environment and umask, read from
# the installed file.  $1: the unit file; $2: the instance name or "".
unit_get() { sed -n "s/^$2=//p" "$1" | tail -1 | sed "s/%i/$3/g"; }
run_unit() {
    local unit=$1 inst=$2
    local user group caps rtdir rtmode env umask exec
    # ExecStart may continue on the next line (a trailing backslash)
    exec=$(awk '/^ExecStart=/ {c = 1} c {print; if ($0 !~ /\\$/) exit}' "$unit" |
           sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ' | sed "s/%i/$inst/g")
    user=$(unit_get "$unit" User "$inst")
    group=$(unit_get "$unit" Group "$inst")
    caps=$(unit_get "$unit" AmbientCapabilities "$inst")
    rtdir=/run/$(unit_get "$unit" RuntimeDirectory "$inst")
    rtmode=$(unit_get "$unit" RuntimeDirectoryMode "$inst")
    env=$(unit_get "$unit" Environment "$inst")
    umask=$(unit_get "$unit" UMask "$inst")
    local setcaps
    setcaps=$(echo "$caps" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/\([a-z_]\+\)/+\1/g; s/ /,/g')
    echo "  unit $(basename "$unit") ${inst:+(instance $inst)}: $exec"
    echo "    as $user:$group, capabilities $caps, $rtdir ($rtmode), $env, umask $umask"
    install -d -o "$user" -g "$group" -m "$rtmode" "$rtdir"
    (umask "$umask"; exec env -i PATH="$PATH" "$env" \
        setpriv --reuid="$user" --regid="$group" --clear-groups \
            --inh-caps=-all,"$setcaps" --ambient-caps=-all,"$setcaps" \
            --bounding-set=-all,"$setcaps" --no-new-privs \
            $exec --memory-mb 256 \
            --port "name=vm1,socket=$rtdir/vm1.sock,mac=52:54:00:00:00:01,uplink=net_tap0,iface=vshpkg0" \
        >/tmp/daemon.log 2>&1) &
    daemon=$!
    ctl=$(echo "$exec" | sed -n 's/.*--control \([^ ]*\).*/\1/p')
    ctl=${ctl:-$(sed -n 's/^control-socket=//p' /etc/vhost-shim/vhost-shim.conf)}
    for _ in $(seq 150); do
        [ -S "$ctl" ] && vshimctl -s "$ctl" version >/dev/null 2>&1 && break
        kill -0 "$daemon" 2>/dev/null || break
        sleep 0.2
    done
    check "the daemon answers vshimctl on $ctl" vshimctl -s "$ctl" version
    check "vshimctl ports lists vm1" bash -c "vshimctl -s '$ctl' ports | grep -q '^vm1 '"
    local pid=$daemon     # the subshell exec()s env, setpriv, then the daemon
    check "it runs as $user" test "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = "$(id -u "$user")"
    check "with only $caps (CapEff 0x1000: CAP_NET_ADMIN)" test "$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")" = 0000000000001000
    check "control socket 0600 $user" test "$(stat -c '%a %U' "$ctl")" = "600 $user"
    check "vhost-user socket 0770 $user:$group (UMask=$umask)" \
        test "$(stat -c '%a %U %G' "$rtdir/vm1.sock")" = "770 $user $group"
    check "DPDK's runtime files under $rtdir" test -d "$rtdir/dpdk"
    check "bash completion: port names from the daemon" bash -c "
        source /usr/share/bash-completion/completions/vshimctl
        COMP_LINE='vshimctl -s $ctl stats '; COMP_POINT=\${#COMP_LINE}
        _vshimctl vshimctl; [ \"\${COMPREPLY[*]}\" = vm1 ]"
    kill -TERM "$pid" 2>/dev/null
    wait "$daemon"
    local rc=$?
    check "SIGTERM: it stops with status 0" test "$rc" = 0
    check "its log says it was ready with 1 port" grep -q "ready: 1 port(s)" /tmp/daemon.log
    if [ "$failed" != 0 ]; then sed 's/^/    log: /' /tmp/daemon.log; fi
}

echo "clean root: vhost-shim.service"
run_unit "$unitdir/vhost-shim.service" ""
echo "clean root: vhost-shim@pkgtest.service"
cp /etc/vhost-shim/vhost-shim.conf /etc/vhost-shim/pkgtest.conf
run_unit "$unitdir/vhost-shim@.service" pkgtest
rm -f /etc/vhost-shim/pkgtest.conf

exit "$failed"
