#!/usr/bin/env bash
# The Node conformance suite on the kernel provider: the same vitest files as the host suite
# (via scripts/vitest-run.js), run inside a guest with scif.ko loaded (nodes=2) and
# SCIF_PROVIDER=kernel, on 6.1 and then on 6.12 (with KFENCE). run.sh fails the kernel's run if
# dmesg shows a WARNING/BUG/Oops, a debugfs counter is not back to zero afterwards, or rmmod
# fails; that counts as one failure. Ends with one "N passed, N failed" line over both kernels.
# The guest runs the host's build: npm run build first.
# Usage: test/guest/vm-suite.sh [--kernel 6.1|6.12|KVER]... [-- vitest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNELS=()
EXTRA=()
while (($#)); do
    case "$1" in
        --kernel) KERNELS+=("${2:?--kernel needs a value}"); shift 2 ;;
        -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) die "unknown option '$1' (usage: vm-suite.sh [--kernel K]... [-- vitest args])" ;;
    esac
done
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)

"$GUEST_DIR/setup.sh" --quiet
[[ -f $REPO/build/Release/scif.node && -f $REPO/dist/index.js ]] ||
    die "the package is not built (npm run build): the guest runs the host's build"
[[ -f $REPO/scripts/vitest-run.js ]] || die "scripts/vitest-run.js is missing"

RUN_OPTS=(--nodes 2 --env SCIF_PROVIDER=kernel)
# the vitest label (and its JSON report build/vitest-guest-$KVER.json) names the kernel
per_kernel_suite vm-suite 2400 "${KERNELS[@]}" -- \
    bash -c 'exec node scripts/vitest-run.js "guest-$SCIF_GUEST_KVER" "$@"' vm-suite \
    "${EXTRA[@]+"${EXTRA[@]}"}"
