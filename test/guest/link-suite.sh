#!/usr/bin/env bash
# The link stage: the fabric against fake clients (no qemu), then two guests on a SCIF link
# (test/guest/link.sh running kmod/tests/link.sh) on 6.1, 6.12 and the mixed pair host 6.1 /
# card 6.12; the mixed pair also kills the card's qemu mid-stream and boots a new card. Last,
# the Node suite's two-process cases with the peer process in the other guest (host 6.12,
# card 6.1: test/guest/link-node.sh), the README's demo, and the link fuzzer: a hostile
# userspace card against each kernel (LINK_FUZZ_SECONDS, default 30), which first runs its
# deterministic scenarios of the kernel's limits against a peer (link-fuzz --scenario limits:
# import, src0, flood) in the same boot; each scenario gets a line of its own.
# Ends with "N passed, N failed" over everything; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P=0 F=0 lines=()
add() {   # add NAME LOG RC
    local line p=0 f=0
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$2" | tail -n1)
    [[ -n $line ]] && read -r p _ f _ <<<"${line//,/}"
    (($3 == 0 || f > 0)) || f=$((f + 1))
    P=$((P + p)) F=$((F + f))
    lines+=("link: $1: $p passed, $f failed$( (($3)) && echo " (exit $3)")")
}
# add_split NAME LOG RC TAG...: as add, but the result lines "ok - TAG: ..." / "not ok - TAG: ..."
# of each TAG count on a line of their own ("NAME TAG"), the rest on NAME's. A TAG without any
# result line (it did not run) counts as one failure; so does a missing summary line.
add_split() {
    local name=$1 log=$2 rc=$3 line p=0 f=0 tag tp tf sp=0 sf=0
    shift 3
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)
    [[ -n $line ]] && read -r p _ f _ <<<"${line//,/}"
    ((rc == 0 || f > 0)) || f=$((f + 1))
    for tag; do
        tp=$(grep -acE "^ok - $tag: " "$log") tf=$(grep -acE "^not ok - $tag: " "$log")
        sp=$((sp + tp)) sf=$((sf + tf))   # in the summary line too: taken out of NAME's
        if ((tp + tf)); then
            lines+=("link: $name $tag: $tp passed, $tf failed")
        else
            F=$((F + 1)); lines+=("link: $name $tag: 0 passed, 1 failed (it did not run)")
        fi
        P=$((P + tp)) F=$((F + tf))
    done
    p=$((p > sp ? p - sp : 0)) f=$((f > sf ? f - sf : 0))
    [[ -n $line ]] || ((f > 0)) || f=1
    P=$((P + p)) F=$((F + f))
    lines+=("link: $name: $p passed, $f failed$( ((rc)) && echo " (exit $rc)")")
}
# the Node test files whose two-process cases run across the link (their peer fixtures,
# SCIF_NODE=1, run in the other guest: test/remote-child.ts)
LINK_NODE_TESTS=(test/stream.test.ts test/lifecycle.test.ts test/rma-errors.test.ts test/rma-fence.test.ts
    test/rma-mmap.test.ts test/rma-lifecycle.test.ts test/rma-model.test.ts)
LINK_FUZZ_SECONDS=${LINK_FUZZ_SECONDS:-30}
[[ -f $REPO/build/Release/scif.node && -f $REPO/dist/index.js ]] ||
    die "the package is not built (npm run build): the guests run the host's build"
mkdir -p "$BUILD/suite"
log=$BUILD/suite/link-fabric.log
make -s -C "$REPO/kmod/fabric" test 2>&1 | tee "$log"
add fabric "$log" "${PIPESTATUS[0]}"

# build the module once per kernel (W=1, warnings fail)
for k in 6.1 6.12; do
    log=$BUILD/suite/link-build-$k.log
    if ! "$GUEST_DIR/run.sh" --kernel "$k" --build-only -- true >"$log" 2>&1; then
        cat "$log"; F=$((F + 1)); lines+=("link: build $k failed")
    fi
done
run_pair() {   # run_pair NAME link.sh-options...
    local name=$1 log=$BUILD/suite/link-$1.log; shift
    note "=== link $name"
    "$GUEST_DIR/link.sh" --prebuilt --timeout 300 "$@" -- bash kmod/tests/link.sh 2>&1 | tee "$log"
    add "$name" "$log" "${PIPESTATUS[0]}"
}
run_pair 6.1 --kernel 6.1
run_pair 6.12 --kernel 6.12
run_pair mixed-kill --host-kernel 6.1 --card-kernel 6.12 --kill-card
# the README's demo across the link: the host pipes a file to the card
run_demo() {
    local log=$BUILD/suite/link-demo.log
    note "=== link demo"
    "$GUEST_DIR/link.sh" --prebuilt --timeout 600 --kernel 6.12 -- bash examples/link-file-pipe.sh 2>&1 | tee "$log"
    add demo "$log" "${PIPESTATUS[0]}"
}
run_demo
# a hostile userspace card (kmod/fabric/link-fuzz) against each kernel: its scenarios of the
# kernel's limits (one line each), then LINK_FUZZ_SECONDS of random traffic, in one boot
for k in 6.1 6.12; do
    log=$BUILD/suite/link-fuzz-$k.log
    note "=== link fuzz $k"
    "$GUEST_DIR/link.sh" --prebuilt --timeout 600 --kernel "$k" --fuzz-card "$LINK_FUZZ_SECONDS" \
        --fuzz-scenarios limits -- bash kmod/tests/link-fuzz.sh 2>&1 | tee "$log"
    add_split "fuzz $k" "$log" "${PIPESTATUS[0]}" limits/import limits/src0 limits/flood
done
# the Node suite's two-process cases, the peer process in the other kernel
log=$BUILD/suite/link-node.log
note "=== link node"
"$GUEST_DIR/link.sh" --prebuilt --timeout 1500 --host-kernel 6.12 --card-kernel 6.1 -- \
    bash test/guest/link-node.sh "${LINK_NODE_TESTS[@]}" 2>&1 | tee "$log"
add node "$log" "${PIPESTATUS[0]}"
echo
printf '%s\n' "${lines[@]}"
echo "$P passed, $F failed"
((F == 0))
