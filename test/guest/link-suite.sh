#!/usr/bin/env bash
# The link stage: the fabric against fake clients (no qemu), then two guests on a SCIF link
# (test/guest/link.sh running kmod/tests/link.sh) on 6.1, 6.12 and the mixed pair host 6.1 /
# card 6.12; the mixed pair also kills the card's qemu and boots a new card.
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
echo
printf '%s\n' "${lines[@]}"
echo "$P passed, $F failed"
((F == 0))
