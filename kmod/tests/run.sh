#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Run the scif.ko selftests and the fuzzer (as root, with scif.ko loaded).
# usage: kmod/tests/run.sh [--fuzz-seconds N] [--fuzz-threads N]
# Ends with one line "N passed, N failed"; exits non-zero if anything failed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fuzz_seconds=60 fuzz_threads=4
while (($#)); do
    case "$1" in
        --fuzz-seconds) fuzz_seconds=${2:?}; shift 2 ;;
        --fuzz-seconds=*) fuzz_seconds=${1#*=}; shift ;;
        --fuzz-threads) fuzz_threads=${2:?}; shift 2 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

passed=0 failed=0
fail() { echo "not ok - $1"; failed=$((failed + 1)); }

# Never skip: the device and the counters must be there.
if [[ ! -c /dev/scif ]]; then
    fail "setup: /dev/scif does not exist (is scif.ko loaded?)"
    echo "$passed passed, $failed failed"; exit 1
fi
if [[ ! -d /sys/kernel/debug/scif ]]; then
    fail "setup: /sys/kernel/debug/scif does not exist (debugfs mounted?)"
    echo "$passed passed, $failed failed"; exit 1
fi

if (($(cat /sys/kernel/debug/scif/nodes) < 2)); then
    fail "setup: the suite needs scif.ko loaded with nodes >= 2"
    echo "$passed passed, $failed failed"; exit 1
fi

build=$here/build
if [[ ! -x $build/scif_fuzz || ! -x $build/scif_harden || ! -x $build/scif_basic || ! -x $build/scif_rma || ! -x $build/scif_compat32 ]]; then
    make -s -C "$here" >/dev/null || { fail "build: make -C kmod/tests"; echo "$passed passed, $failed failed"; exit 1; }
fi

for prog in scif_basic scif_msg scif_kill scif_rma scif_harden; do
    out=$(mktemp)
    "$build/$prog" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    p=$(grep -c '^ok ' "$out") f=$(grep -c '^not ok ' "$out")
    passed=$((passed + p)) failed=$((failed + f))
    if ((rc != 0 && f == 0)); then fail "$prog exited with status $rc"; fi
    rm -f "$out"
done

# The 32-bit ABI (compat_ioctl).
out=$(mktemp)
"$build/scif_compat32" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
p=$(grep -c '^ok ' "$out") f=$(grep -c '^not ok ' "$out")
passed=$((passed + p)) failed=$((failed + f))
if ((rc != 0 && f == 0)); then fail "scif_compat32 exited with status $rc"; fi
rm -f "$out"

# The fuzzer: half the time as root, half as uid 65534 (small RLIMIT_MEMLOCK).
if ((fuzz_seconds > 0)); then
    priv=$(((fuzz_seconds + 1) / 2)) unpriv=$((fuzz_seconds / 2))
    if "$build/scif_fuzz" "$priv" "$fuzz_threads"; then
        echo "ok - scif_fuzz $priv s"; passed=$((passed + 1))
    else
        fail "scif_fuzz $priv s"
    fi
    if ((unpriv > 0)); then
        if "$build/scif_fuzz" --unpriv "$unpriv" "$fuzz_threads"; then
            echo "ok - scif_fuzz --unpriv $unpriv s"; passed=$((passed + 1))
        else
            fail "scif_fuzz --unpriv $unpriv s"
        fi
    fi
fi

# Module parameters: only when we know which scif.ko is loaded (guest harness)
# or were told (SCIF_KO=path).  Reloads the module, so every fd must be closed.
ko=${SCIF_KO:-${SCIF_GUEST_KO:-}}
if [[ -n $ko ]]; then
    orig=$(cat /sys/kernel/debug/scif/nodes)
    if ! rmmod scif; then
        fail "module: rmmod scif"
    else
        for bad in 0 130 65536; do
            if msg=$(insmod "$ko" nodes=$bad 2>&1); then
                fail "module: insmod nodes=$bad was accepted"; rmmod scif
            elif [[ $msg != *"Invalid argument"* && $msg != *"Invalid parameters"* ]]; then
                fail "module: insmod nodes=$bad: $msg"
            else
                echo "ok - module: nodes=$bad rejected with EINVAL"; passed=$((passed + 1))
            fi
        done
        for n in 129 1; do
            if ! insmod "$ko" nodes=$n; then fail "module: insmod nodes=$n"; continue; fi
            last=/dev/scif$((n - 1)); ((n == 1)) && last=/dev/scif
            if [[ -c $last && ! -e /dev/scif$n ]] && SCIF_TEST_FILTER=highest_node "$build/scif_basic" >/dev/null 2>&1; then
                echo "ok - module: nodes=$n ($last works)"; passed=$((passed + 1))
            else
                fail "module: nodes=$n"
            fi
            rmmod scif || fail "module: rmmod after nodes=$n"
        done
        insmod "$ko" nodes="$orig" || fail "module: reload with nodes=$orig"
    fi
fi

if [[ -z $ko ]]; then
    echo "# module parameter checks not run: set SCIF_KO=/path/to/scif.ko to include them"
fi

# Everything closed: nothing may remain.
for c in endpoints connections windows pinned_pages rma_inflight; do
    v=$(cat /sys/kernel/debug/scif/$c)
    if [[ $v == 0 ]]; then echo "ok - counter $c is 0"; passed=$((passed + 1))
    else fail "counter $c is $v after all tests"; fi
done

echo "$passed passed, $failed failed"
((failed == 0))
