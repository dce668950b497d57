#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The host's side of the link fuzzer: run in the host guest by
# `test/guest/link.sh --fuzz-card SECS -- bash kmod/tests/link-fuzz.sh` while node 1 is
# kmod/fabric/build/link-fuzz, a hostile userspace card. scif_linkconn fuzz-host connects and
# accepts, REGs windows and tries RMAs, mmaps and fences on those connections (in children it
# kills after 2 s), then checks node 1's departure and the debugfs counters (connections,
# endpoints, windows, pinned_pages, peer_windows, rma_inflight). This script then checks
# dmesg itself; run.sh checks it again (WARNING, BUG, KFENCE...), with taint and all the
# counters. Ends with "N passed, N failed".
# With SCIF_LINK_FUZZ_SCENARIOS=LIST (link.sh --fuzz-scenarios LIST) the card first runs its
# deterministic scenarios (link-fuzz --scenario LIST: the kernel's limits against a peer); here
# scif_linkconn limits-host plays the host's part of them, then this script checks what the
# kernel shows of them before the random traffic starts: dmesg clean, and the only link drop
# the flood's (a queue not drained), none if it did not run.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# SCIF_LINK_FUZZ_KPROBE=1: trace every window message the kernel handles and its verdict
# (scif_link_rma_rx() entry args and return value), to find the one that dropped the link
T=/sys/kernel/tracing
kprobe=${SCIF_LINK_FUZZ_KPROBE:-0}
if ((kprobe)); then
    mountpoint -q $T || mount -t tracefs nodev $T
    echo 16384 >$T/buffer_size_kb
    echo 'p:scif_wrx scif:scif_link_rma_rx n=%di:u16 type=+0(%si):u16 a0=+16(%si):x64 a1=+24(%si):x64 a2=+32(%si):x64 a3=+40(%si):x64 a4=+48(%si):x64 a5=+56(%si):x64' >>$T/kprobe_events
    echo 'r:scif_wret scif:scif_link_rma_rx ret=$retval:s32' >>$T/kprobe_events
    echo 1 >$T/events/kprobes/enable
fi
P=0 F=0
# run_part PROGRAM ARGS...: its result lines; its counts added to P and F
run_part() {
    local out rc p f
    out=$("$@")
    rc=$?
    printf '%s\n' "$out" | grep -avE '^[0-9]+ passed, [0-9]+ failed$'
    read -r p _ f _ <<<"$(printf '%s\n' "$out" | grep -aE '^[0-9]+ passed, [0-9]+ failed$' | tail -n1 | tr -d ,)"
    p=${p:-0} f=${f:-1}
    ((rc == 0)) || ((f > 0)) || f=1
    P=$((P + p)) F=$((F + f))
}
# check_dmesg WHEN: no BUG/WARNING... in the kernel log
check_dmesg() {
    local bad
    bad=$(dmesg | grep -E 'BUG|WARNING|KASAN|KFENCE|Oops|general protection|Call Trace' || true)
    if [[ -z $bad ]]; then
        echo "ok - ${1}dmesg has no BUG/WARNING/KASAN/KFENCE lines"; P=$((P + 1))
    else
        echo "not ok - ${1}dmesg has kernel errors:"; printf '%s\n' "$bad" | head -n 20 | sed 's/^/# /'; F=$((F + 1))
    fi
}
scenarios=${SCIF_LINK_FUZZ_SCENARIOS:-}
if [[ -n $scenarios ]]; then
    run_part "$here/build/scif_linkconn" limits-host "$scenarios"
    check_dmesg "limits: after the scenarios, "
    drops=$(dmesg | grep -ao 'broke the link protocol ([^)]*)' || true)
    want="" what="never" tag="limits"
    if [[ ,$scenarios, == *,limits,* || ,$scenarios, == *,flood,* ]]; then
        want="broke the link protocol (bad queue or ring index, or a queue not drained)"
        what="once, for the flood (a queue not drained)" tag="limits/flood"
    fi
    if [[ $drops == "$want" ]]; then
        echo "ok - $tag: dmesg: the scenarios dropped the link $what"; P=$((P + 1))
    else
        echo "not ok - $tag: dmesg: the scenarios should have dropped the link $what:"
        printf '%s\n' "${drops:-(no drop)}" | head -n 10 | sed 's/^/# /'; F=$((F + 1))
    fi
fi
# the drops of the random traffic come after these
drops_before=$(dmesg | grep -ac 'broke the link protocol')
# the card waits for this before its random traffic
[[ -z $scenarios ]] || run_part "$here/build/scif_linkconn" limits-go
run_part "$here/build/scif_linkconn" fuzz-host "${SCIF_LINK_FUZZ:?run me with link.sh --fuzz-card}"
check_dmesg ""
p=$P f=$F
if [[ ${SCIF_LINK_FUZZ_CALM:-0} == 1 ]]; then
    # the card kept to the protocol (link-fuzz --calm 1): any drop is the kernel's fault
    drops=$(dmesg | grep -a 'broke the link protocol' | tail -n +$((drops_before + 1)))
    if [[ -z $drops ]]; then
        echo "ok - a card that keeps to the protocol never had its link dropped"; p=$((p + 1))
    else
        echo "not ok - the link to a card that keeps to the protocol was dropped:"
        printf '%s\n' "$drops" | head -n 10 | sed 's/^/# /'; f=$((f + 1))
    fi
fi
if ((kprobe)); then
    echo 0 >$T/events/kprobes/enable
    echo "# window messages handled: $(grep -c scif_wrx: $T/trace)"
    grep -B1 'ret=-' $T/trace | grep -v '^--' | sed 's/^ *//; s/^/# kprobe: /' | head -n 40
fi
echo "# link drops: $(dmesg | grep -o 'broke the link protocol ([^)]*)' | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
echo "$p passed, $f failed"
((f == 0))
