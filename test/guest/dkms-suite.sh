#!/usr/bin/env bash
# The DKMS install of scif.ko, as the README gives it, in a guest on each kernel: 6.1, then 6.12
# with KFENCE. Each guest boots without the harness's module (run.sh --no-module) and runs
# test/guest/dkms.sh: the README's dkms add/build/install and modprobe against that kernel's
# headers, checks, the echo example on the kernel provider, modprobe -r and dkms remove.
# run.sh's checks (dmesg, taint) apply to each run; a harness failure counts as one failure.
# Ends with one "N passed, N failed" line over both kernels; exits non-zero on any failure.
# The echo example runs the host's build: npm run build first.
# Usage: test/guest/dkms-suite.sh [--kernel 6.1|6.12|KVER]...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNELS=()
while (($#)); do
    case "$1" in
        --kernel) KERNELS+=("${2:?--kernel needs a value}"); shift 2 ;;
        -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (usage: dkms-suite.sh [--kernel K]...)" ;;
    esac
done
((${#KERNELS[@]})) || KERNELS=(6.1 6.12)

"$GUEST_DIR/setup.sh" --quiet
command -v dkms >/dev/null || die "dkms is missing (test/guest/setup.sh installs it)"
[[ -f $REPO/kmod/dkms.conf ]] || die "kmod/dkms.conf is missing"
[[ -f $REPO/build/Release/scif.node && -f $REPO/dist/index.js ]] ||
    die "the package is not built (npm run build): the echo example runs the host's build"
for k in "${KERNELS[@]}"; do
    kver=$(resolve_kver "$k")
    [[ -f /lib/modules/$kver/build/Makefile ]] ||
        die "/lib/modules/$kver/build is not $kver's headers: dkms builds against it"
done

RUN_OPTS=(--no-module)
per_kernel_suite dkms-suite 1500 "${KERNELS[@]}" -- bash test/guest/dkms.sh
