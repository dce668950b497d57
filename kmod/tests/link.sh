#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The link selftests, run in both guests by test/guest/link.sh (as root, scif.ko
# loaded on an ivshmem link).  The role comes from SCIF_LINK_NODE (0 host, 1 card);
# SCIF_LINK_PHASE=2 is a card restarted after its qemu was killed;
# SCIF_LINK_KILL=1 makes the host ask the harness to kill the card's qemu
# (by creating $SCIF_LINK_DIR/kill-card).  Ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$here/build/scif_link
conn=$here/build/scif_linkconn
rma=$here/build/scif_linkrma
node=${SCIF_LINK_NODE:?SCIF_LINK_NODE unset}
phase=${SCIF_LINK_PHASE:-1}
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local what=$1; shift; if out=$("$@"); then ok "$what${out:+ (${out}s)}"; else fail "$what"; fi; }
# prog_results LOG: add the "N passed, N failed" of a test program's log
prog_results() {
    local line p f
    cat "$1"
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n1)
    if [[ -z $line ]]; then fail "$(basename "$1" .log) printed no result line"; return; fi
    read -r p _ f _ <<<"${line//,/}"
    passed=$((passed + p)) failed=$((failed + f))
}
finish() { echo "# irqs $(cat /sys/kernel/debug/scif/link/irqs) works $(cat /sys/kernel/debug/scif/link/works) up $(cat /sys/kernel/debug/scif/link/up); $(grep scif /proc/interrupts | tr -s ' ')"; echo "$passed passed, $failed failed"; exit $((failed != 0)); }

echo "# $(dmesg | grep -ai 'scif' | grep -v 'command line' | tr '\n' ';')"
for d in /sys/bus/pci/devices/*; do
    [[ $(cat "$d/vendor"):$(cat "$d/device") == 0x1af4:0x1110 ]] || continue
    echo "# ${d##*/} driver=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)"
done
[[ -x $bin ]] || { fail "build: $bin missing (make -C kmod/tests on the host)"; finish; }
[[ $(cat /sys/bus/pci/drivers/scif-link/*/vendor 2>/dev/null | head -n1) == 0x1af4 ]] &&
    ok "scif-link bound ivshmem devices: $(ls /sys/bus/pci/drivers/scif-link | grep -c ':')" ||
    fail "scif-link bound no ivshmem device"
self=$("$bin" self)
[[ $self == "$node" ]] && ok "GET_NODEIDS self is $node" || fail "GET_NODEIDS self is '$self', want $node"

# the virtio-net link beside SCIF: IPv6 link-local only (fe80::5054:ff:fe00:N+1%eth0)
if modprobe virtio_net && ip link set eth0 up; then ok "eth0 up"; else fail "eth0 up"; fi

if ((node == 0)); then
    node -e "require('net').createServer(s => s.end('scif-link\n')).listen(7777, '::')" &
    srv=$!
    conn_log=$(mktemp /tmp/linkconn-server.XXXXXX.log)
    "$conn" server >"$conn_log" 2>&1 &
    conn_srv=$!
    rma_log=$(mktemp /tmp/linkrma-server.XXXXXX.log)
    "$rma" server >"$rma_log" 2>&1 &
    rma_srv=$!
    check "host sees node 1" "$bin" wait-peer 1 40
    check "card's rmmod: node 1 leaves" "$bin" wait-gone 1 30
    check "card's insmod: node 1 is back" "$bin" wait-peer 1 30
    # the card runs scif_linkconn client and scif_linkrma client against our servers now
    wait "$conn_srv"
    prog_results "$conn_log"
    wait "$rma_srv"
    prog_results "$rma_log"
    if [[ ${SCIF_LINK_KILL:-0} == 1 ]]; then
        "$bin" wait-gone 1 0 >/dev/null 2>&1 && fail "node 1 gone before the kill"
        # the card streams into port 3010 and copies into our window on 3101;
        # once both run, the RMA side asks for the kill (mid-stream and mid-RMA)
        kill_log=$(mktemp /tmp/linkconn-kill.XXXXXX.log)
        rkill_log=$(mktemp /tmp/linkrma-kill.XXXXXX.log)
        "$rma" kill-host "${SCIF_LINK_DIR:?}/stream-ready" "$SCIF_LINK_DIR/kill-card" >"$rkill_log" 2>&1 &
        rkill=$!
        "$conn" kill-host 3010 "$SCIF_LINK_DIR/stream-ready" "$SCIF_LINK_DIR/kill-card" >"$kill_log" 2>&1
        wait "$rkill"
        prog_results "$kill_log"
        prog_results "$rkill_log"
        [[ -e $SCIF_LINK_DIR/kill-card ]] || : >"$SCIF_LINK_DIR/kill-card"
        check "card's qemu killed: node 1 leaves" "$bin" wait-gone 1 30
        "$conn" server >"$conn_log" 2>&1 &
        conn_srv=$!
        check "restarted card: node 1 is back" "$bin" wait-peer 1 180
        # the new card connects again (scif_linkconn client 0 quick)
        wait "$conn_srv"
        prog_results "$conn_log"
    fi
    # stay until the card is done (its module says goodbye at its end)
    check "card's end: node 1 leaves" "$bin" wait-gone 1 120
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
    finish
fi

# the card
check "card sees node 0" "$bin" wait-peer 0 120
if ((phase == 1)); then
    tcp() {
        node -e "const s = require('net').connect({ host: 'fe80::5054:ff:fe00:1%eth0', port: 7777 });
            let d = ''; s.on('data', (b) => { d += b; }); s.on('end', () => process.exit(d === 'scif-link\n' ? 0 : 1));
            s.on('error', () => process.exit(1));"
    }
    t=0
    until tcp 2>/dev/null; do t=$((t + 1)); ((t < 20)) || break; sleep 1; done
    ((t < 20)) && ok "TCP over virtio-net to the host's link-local address" ||
        fail "TCP over virtio-net to the host's link-local address"
    sleep 2
    rmmod scif && ok "rmmod scif" || fail "rmmod scif"
    sleep 2
    insmod "${SCIF_GUEST_KO:?}" nodes=1 && ok "insmod scif" || fail "insmod scif"
    check "card sees node 0 after its reload" "$bin" wait-peer 0 30
    # connections across the link, against the host's scif_linkconn server
    conn_log=$(mktemp /tmp/linkconn-client.XXXXXX.log)
    "$conn" client 0 >"$conn_log" 2>&1
    prog_results "$conn_log"
    # RMA across the link, against the host's scif_linkrma server
    rma_log=$(mktemp /tmp/linkrma-client.XXXXXX.log)
    "$rma" client 0 >"$rma_log" 2>&1
    prog_results "$rma_log"
    # stream and copy into the host until the harness kills our qemu
    if [[ ${SCIF_LINK_KILL:-0} == 1 ]]; then
        "$conn" kill-card 0 3010 &
        sleep 1
        "$rma" kill-card 0 &
        sleep 300
    fi
else
    # the restarted card: connections work again
    conn_log=$(mktemp /tmp/linkconn-client.XXXXXX.log)
    "$conn" client 0 quick >"$conn_log" 2>&1
    prog_results "$conn_log"
    sleep 2    # let the host see us back
fi
finish
