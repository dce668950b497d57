#!/usr/bin/env bash
# The whole test suite, every stage, ending with one line "N passed, N failed"
# that sums them all:
#   build  - the addon (warnings are errors) and the TypeScript
#   host   - the conformance suite on the user provider, on this machine
#   pack   - npm pack, publint, attw, install without a compiler, the echo example
#   kmod   - scif.ko's selftests and fuzzer in a qemu guest, on 6.1 and 6.12
#   guest  - the conformance suite on the kernel provider in the guest, both kernels
#   link   - two guests on a SCIF link (ivshmem + the fabric): 6.1, 6.12, host 6.1 / card 6.12
#   dkms   - the README's DKMS install of scif.ko in a guest, the echo example on it, dkms
#            remove: 6.1 and 6.12
# A stage whose tools are missing fails; nothing is skipped.
# Usage: scripts/test-all.sh [--fuzz-seconds N] [--only host|pack|kmod|guest|link|dkms]...
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZ=60
ONLY=()
while (($#)); do
    case "$1" in
        --fuzz-seconds) FUZZ=$2; shift 2 ;;
        --only)
            case "${2:-}" in
                host | pack | kmod | guest | link | dkms) ONLY+=("$2"); shift 2 ;;
                *) echo "test-all: --only takes host, pack, kmod, guest, link or dkms, not '${2:-}'" >&2; exit 2 ;;
            esac ;;
        *) echo "test-all: unknown option $1" >&2; exit 2 ;;
    esac
done
want() { ((${#ONLY[@]} == 0)) || [[ " ${ONLY[*]} " == *" $1 "* ]]; }

mkdir -p build/logs
TOTAL_P=0 TOTAL_F=0
LINES=()

# stage NAME COMMAND...: runs it, takes its last "N passed, N failed" line;
# a stage that prints none, or exits non-zero with no failure counted,
# counts one failure.
stage() {
    local name=$1; shift
    local log="build/logs/$name.log"
    echo "=== stage $name: $*"
    local start=$SECONDS
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line p=0 f=0
    line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
    if [[ -n $line ]]; then
        read -r p _ f _ <<<"${line//,/}"
    else
        f=1
    fi
    if ((rc != 0 && f == 0)); then f=1; fi
    TOTAL_P=$((TOTAL_P + p)) TOTAL_F=$((TOTAL_F + f))
    LINES+=("$name: $p passed, $f failed ($((SECONDS - start)) s, exit $rc)")
}

build() {
    npm run --silent build && echo "1 passed, 0 failed"
}

stage build build
if want host; then stage host node scripts/vitest-run.js host; fi
if want pack; then stage pack npm run --silent test:pack; fi
if want kmod; then stage kmod bash test/guest/kmod-suite.sh --fuzz-seconds "$FUZZ"; fi
if want guest; then stage guest bash test/guest/vm-suite.sh; fi
if want link; then stage link bash test/guest/link-suite.sh; fi
if want dkms; then stage dkms bash test/guest/dkms-suite.sh; fi

echo
for l in "${LINES[@]}"; do echo "test-all: $l"; done
echo "$TOTAL_P passed, $TOTAL_F failed"
((TOTAL_F == 0))
