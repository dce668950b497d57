#!/usr/bin/env bash
# The Node conformance suite on the kernel provider: the same vitest files as
# the host suite, run inside a guest with scif.ko loaded (nodes=2) and
# SCIF_PROVIDER=kernel, on 6.1 and then on 6.12 (with KFENCE). run.sh fails
# the kernel's run if dmesg shows a WARNING/BUG/Oops or a debugfs counter is
# not back to zero afterwards. Ends with one "N passed, N failed" line.
# Usage: test/guest/vm-suite.sh [--kernel 6.1|6.12]... [-- vitest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNELS=()
EXTRA=()
while (($#)); do
    case "$1" in
        --kernel) KERNELS+=("${2:?--kernel needs a value}"); shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) die "unknown option '$1' (usage: vm-suite.sh [--kernel K]... [-- vitest args])" ;;
    esac
done
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)

"$GUEST_DIR/setup.sh" --quiet
[[ -f $REPO/build/Release/scif.node && -f $REPO/dist/index.js ]] ||
    die "the package is not built (npm run build) — the guest runs the host's build"

TOTAL_P=0 TOTAL_F=0
SUMMARY=()
LOGDIR="$BUILD/suite"
mkdir -p "$LOGDIR"
for k in "${KERNELS[@]}"; do
    kver=$(resolve_kver "$k")
    extra=()
    grep -qx 'CONFIG_KFENCE=y' "/boot/config-$kver" && extra+=(--kfence)
    log="$LOGDIR/vm-$kver.log"
    note "=== Node suite on the kernel provider, $kver ${extra[*]-}"
    set +e
    "$GUEST_DIR/run.sh" --kernel "$kver" --nodes 2 "${extra[@]+"${extra[@]}"}" --timeout 2400 \
        --env SCIF_PROVIDER=kernel \
        -- node scripts/vitest-run.js "guest-$kver" "${EXTRA[@]+"${EXTRA[@]}"}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1 || true)
    p=0 f=0 why=()
    if [[ -n $line ]]; then
        read -r p _ f _ <<<"$line"
    else
        why+=("no 'N passed, N failed' line from the guest")
    fi
    harness=$(grep -a '^guest: \(FAIL\|error\):' "$log" | grep -v 'the command exited with status' || true)
    [[ -z $harness ]] || why+=("harness: $(echo "$harness" | head -n3 | sed 's/^guest: //' | tr '\n' ';')")
    if ((rc != 0 && f == 0)) && [[ -z $harness && -n $line ]]; then
        why+=("run.sh exited $rc although no test failed")
    fi
    ((${#why[@]})) && f=$((f + 1))
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f))
    s="$kver: $p passed, $f failed"
    ((${#why[@]})) && s+=" (counted 1 harness failure: ${why[*]})"
    SUMMARY+=("$s")
done

echo
for s in "${SUMMARY[@]}"; do echo "vm-suite: $s"; done
echo "$TOTAL_P passed, $TOTAL_F failed"
((TOTAL_F == 0))
