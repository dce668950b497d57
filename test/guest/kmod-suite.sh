#!/usr/bin/env bash
# The kernel module's selftests (kmod/tests/run.sh) in a guest on each kernel: 6.1, then 6.12
# with KFENCE. Prints a per-kernel summary and a final "N passed, N failed" line over both;
# a harness failure (build warning, boot failure, dmesg error, counters, rmmod, no summary line)
# counts as one failure. Exits non-zero on any failure.
# Usage: test/guest/kmod-suite.sh [--fuzz-seconds N] [--kernel 6.1|6.12|KVER]...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FUZZ=60
KERNELS=()
while (($#)); do
    case "$1" in
        --fuzz-seconds) FUZZ=${2:?--fuzz-seconds needs a value}; shift 2 ;;
        --fuzz-seconds=*) FUZZ=${1#*=}; shift ;;
        --kernel) KERNELS+=("${2:?--kernel needs a value}"); shift 2 ;;
        -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (usage: kmod-suite.sh [--fuzz-seconds N] [--kernel K]...)" ;;
    esac
done
[[ $FUZZ =~ ^[0-9]+$ ]] || die "--fuzz-seconds must be a number"
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)

"$GUEST_DIR/setup.sh" --quiet
[[ -f $REPO/kmod/tests/run.sh ]] || die "kmod/tests/run.sh is missing"

# The selftests are userspace programs: build them on the host (10x faster than in the guest).
[[ -f $REPO/kmod/tests/Makefile ]] || die "kmod/tests/Makefile is missing"
note "building kmod/tests on the host"
make -C "$REPO/kmod/tests" || die "make -C kmod/tests failed"

per_kernel_suite kmod-suite $((900 + 3 * FUZZ)) "${KERNELS[@]}" -- \
    bash kmod/tests/run.sh --fuzz-seconds "$FUZZ"
