#!/usr/bin/env bash
# In a guest booted by run.sh --no-module (dkms-suite.sh does that): installs scif.ko with
# DKMS by running the README's own DKMS commands (the sh blocks after the "dkms-install" and
# "dkms-remove" markers in README.md, "sudo " dropped: the guest runs as root), checks each
# step's effect, loads the module with the README's modprobe line, runs the echo example on
# the kernel provider over it (node 0 <-> node 1), and removes it again.
# The host root is read-only in the guest: /usr/src and /lib/modules/$KVER get overlays and
# /var/lib/dkms a tmpfs first, all in guest memory, so the host is never changed; the kernel's
# own modules are left out of /lib/modules/$KVER (see setup_writable).
# Ends with one line "N passed, N failed"; exits non-zero if anything failed.
# Usage (in the guest, from the repo root): bash test/guest/dkms.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "not ok - $1"; failed=$((failed + 1)); }
check() {   # check NAME COMMAND...: ok if COMMAND succeeds
    local name=$1; shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}
finish() { echo "$passed passed, $failed failed"; ((failed == 0)); exit; }
# A failed step that the rest depends on: count it and stop.
fatal() { fail "$1"; finish; }

# Never on a real machine: this mounts over /usr/src and /lib/modules.
[[ ${SCIF_GUEST:-} == 1 ]] || fatal "setup: not in a guest (SCIF_GUEST=1 unset; run test/guest/dkms-suite.sh)"
KVER=$(uname -r)
[[ ${SCIF_GUEST_KVER:-} == "$KVER" ]] || fatal "setup: SCIF_GUEST_KVER '${SCIF_GUEST_KVER:-}' is not the running kernel $KVER"
[[ ! -e /sys/module/scif ]] || fatal "setup: scif is already loaded (run.sh needs --no-module)"
command -v dkms >/dev/null || fatal "setup: no dkms on the host root (test/guest/setup.sh installs it)"
[[ -e /lib/modules/$KVER/build ]] || fatal "setup: /lib/modules/$KVER/build (the kernel's headers) is missing"

# The version: package.json's, which dkms.conf, MODULE_VERSION and the README's commands
# must all carry (checked below).
VERSION=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' package.json)
[[ -n $VERSION ]] || fatal "setup: no version in package.json"

# --- the README's commands --------------------------------------------------------------
# readme_block MARKER: the lines of the first ```sh block after the line <!-- MARKER -->
readme_block() {
    awk -v m="<!-- $1 -->" '
        $0 == m { found = 1; next }
        found == 1 && /^```sh$/ { found = 2; next }
        found == 2 && /^```$/ { exit }
        found == 2 && NF { print }' README.md
}
INSTALL=() REMOVE=()
mapfile -t INSTALL < <(readme_block dkms-install)
mapfile -t REMOVE < <(readme_block dkms-remove)
((${#INSTALL[@]})) || fatal "setup: README.md has no sh block after <!-- dkms-install -->"
((${#REMOVE[@]})) || fatal "setup: README.md has no sh block after <!-- dkms-remove -->"
check "kmod/dkms.conf's PACKAGE_VERSION is package.json's version ($VERSION)" \
    grep -qxF "PACKAGE_VERSION=$VERSION" kmod/dkms.conf
check "MODULE_VERSION in kmod/main.c is $VERSION" grep -qF "MODULE_VERSION(\"$VERSION\");" kmod/main.c
check "the README's install adds scif/$VERSION" grep -qxF "sudo dkms add scif/$VERSION" <(printf '%s\n' "${INSTALL[@]}")
# run_readme LINE: one README command, as root ("sudo " dropped), timed
run_readme() {
    local line=$1 cmd t0 rc
    cmd=${line#sudo }
    echo "# $cmd"
    t0=$EPOCHREALTIME
    bash -c "$cmd" 2>&1 | sed 's/^/    /'
    rc=${PIPESTATUS[0]}
    if ((rc == 0)); then
        ok "README: $line ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"
    else
        fail "README: $line (exit $rc)"
    fi
    return "$rc"
}

# --- writable /usr/src, /var/lib/dkms, /lib/modules/$KVER, in guest memory ---------------
W=/tmp/dkms-overlays
setup_writable() {
    mkdir -p "$W" /var/lib/dkms 2>/dev/null || [[ -d /var/lib/dkms ]] || return 1
    modprobe overlay || return 1
    mount -t tmpfs -o mode=755 tmpfs /var/lib/dkms || return 1
    # /lib/modules/$KVER shows the kernel's index files, build and source links, but not its
    # own ~4,000 modules (kernel/ is empty): depmod, which dkms runs on install and on remove,
    # reads and decompresses every module under emulation (100 s a run on 6.12), and none of
    # them is what this test checks (scif.ko depends on no module; a missing one would fail
    # the modprobe below, not pass it).
    local mods="$W/modules-lower" e
    mkdir -p "$mods/kernel" || return 1
    for e in "/lib/modules/$KVER"/* "/lib/modules/$KVER"/.[!.]*; do
        [[ -e $e || -L $e ]] || continue
        [[ ${e##*/} == kernel ]] || cp -a "$e" "$mods/" || return 1
    done
    local d lower n=0
    for d in /usr/src "/lib/modules/$KVER"; do
        n=$((n + 1))
        lower=$d
        [[ $d == /usr/src ]] || lower=$mods
        mkdir -p "$W/$n/upper" "$W/$n/work" || return 1
        mount -t overlay overlay -o "lowerdir=$lower,upperdir=$W/$n/upper,workdir=$W/$n/work" "$d" || return 1
    done
    # really writable now, and still showing the host's files
    touch /usr/src/.w "/lib/modules/$KVER/.w" /var/lib/dkms/.w && rm -f /usr/src/.w "/lib/modules/$KVER/.w" /var/lib/dkms/.w &&
        [[ -f /lib/modules/$KVER/build/Makefile && -f /lib/modules/$KVER/modules.dep ]]
}
setup_writable || fatal "setup: tmpfs on /var/lib/dkms and overlays on /usr/src, /lib/modules/$KVER"
ok "setup: /var/lib/dkms, /usr/src and /lib/modules/$KVER writable in the guest"
[[ -z $(dkms status scif 2>/dev/null) ]] || fatal "setup: dkms already knows scif before the install: $(dkms status scif)"

# --- install and load: the README's block, line by line ----------------------------------
for line in "${INSTALL[@]}"; do
    if ! run_readme "$line"; then
        for log in /var/lib/dkms/scif/*/build/make.log; do
            [[ -f $log ]] && { echo "# the end of $log:"; tail -n 40 "$log" | sed 's/^/    /'; }
        done
        echo "# the README's install stops at: $line"
        finish
    fi
done

# (stderr apart: dkms's readelf of the headers' vmlinux warns on Debian's 6.12)
status=$(dkms status scif 2>/dev/null)
echo "# dkms status scif: $status"
want="scif/$VERSION, $KVER, $(uname -m): installed"
check "dkms status: $want" grep -qxF "$want" <<<"$status"
ko=$(ls "/lib/modules/$KVER/updates/dkms/"scif.ko* 2>/dev/null | head -n1)
check "the module file is in /lib/modules/$KVER/updates/dkms/ (${ko##*/})" test -n "$ko" -a -f "$ko"
path=$(modinfo -n scif 2>&1)
check "modinfo -n scif (depmod's index) is that file: $path" test -n "$ko" -a "$path" = "$ko"
vermagic=$(modinfo -F vermagic scif 2>/dev/null)
check "the module is built for $KVER (vermagic '$vermagic')" test "${vermagic%% *}" = "$KVER"
check "scif is loaded (/sys/module/scif)" test -d /sys/module/scif
check "the loaded module's version is $VERSION" test "$(cat /sys/module/scif/version 2>/dev/null)" = "$VERSION"
check "the loaded module is the DKMS-built file (srcversion $(cat /sys/module/scif/srcversion 2>/dev/null))" \
    test -n "$(modinfo -F srcversion scif 2>/dev/null)" -a \
    "$(cat /sys/module/scif/srcversion 2>/dev/null)" = "$(modinfo -F srcversion scif 2>/dev/null)"
check "loaded with nodes=2 (debugfs scif/nodes)" test "$(cat /sys/kernel/debug/scif/nodes 2>/dev/null)" = 2
check "/dev/scif (node 0) is a character device" test -c /dev/scif
check "/dev/scif1 (node 1) is a character device" test -c /dev/scif1
check "no /dev/scif2 (nodes=2)" test ! -e /dev/scif2

# --- the echo example on it: a server on node 0, a client on node 1 ----------------------
if [[ -c /dev/scif && -c /dev/scif1 ]]; then
    msg1="dkms $KVER $$ $RANDOM" msg2="second line: $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "# SCIF_PROVIDER=kernel node examples/echo.js '$msg1' '$msg2'"
    out=$(SCIF_PROVIDER=kernel timeout 120 node examples/echo.js "$msg1" "$msg2" 2>&1)
    rc=$?
    sed 's/^/    /' <<<"$out"
    check "echo example exits 0 (exit $rc)" test "$rc" = 0
    check "echo server on node 0 got a connection from node 1" grep -qE '^echo-server: connection from 1:[0-9]+$' <<<"$out"
    check "echo client on node 1 got the first line back" grep -qxF "echo-client: echoed \"$msg1\"" <<<"$out"
    check "echo client on node 1 got the second line back" grep -qxF "echo-client: echoed \"$msg2\"" <<<"$out"
    counters_zero() {   # every debugfs counter but nodes back to 0 (releases may be async: 5 s)
        local i f bad
        for ((i = 0; i < 10; i++)); do
            bad=""
            for f in /sys/kernel/debug/scif/*; do
                [[ -f $f && ${f##*/} != nodes ]] || continue
                [[ $(cat "$f") == 0 ]] || bad+=" ${f##*/}=$(cat "$f")"
            done
            [[ -z $bad ]] && return 0
            sleep 0.5
        done
        echo "    debugfs counters not 0:$bad"
        return 1
    }
    check "debugfs counters back to 0 after the echo" counters_zero
else
    fail "echo example: not run, no /dev/scif and /dev/scif1"
fi

# --- remove: the README's block ----------------------------------------------------------
for line in "${REMOVE[@]}"; do
    run_readme "$line"
done
check "scif is unloaded (no /sys/module/scif)" test ! -e /sys/module/scif
check "/dev/scif and /dev/scif1 are gone" test ! -e /dev/scif -a ! -e /dev/scif1
status=$(dkms status scif 2>/dev/null)
check "dkms status knows no scif ('$status')" test -z "$status"
check "no scif under /var/lib/dkms" test ! -e /var/lib/dkms/scif
left=$(ls "/lib/modules/$KVER/updates/dkms/"scif.ko* 2>/dev/null)
check "the module file is gone from /lib/modules/$KVER/updates/dkms/ ${left:+($left)}" test -z "$left"
check "modinfo scif finds nothing (depmod's index updated)" bash -c '! modinfo -n scif >/dev/null 2>&1'
check "/usr/src/scif-$VERSION is gone" test ! -e "/usr/src/scif-$VERSION"
finish
