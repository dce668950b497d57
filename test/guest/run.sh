#!/usr/bin/env bash
# Run a command as root inside a qemu (TCG) guest booted on a Debian kernel, with the host root
# read-only and the repo writable over 9p, and (unless --no-module) kmod/scif.ko loaded.
#
# Usage: test/guest/run.sh [--kernel KVER|6.1|6.12] [--nodes N] [--timeout SECONDS]
#                          [--no-module] [--kfence] [--append KERNEL_ARGS] [--env K=V]...
#                          [--cache loose|mmap|none]
#                          [--kmod-src DIR (default kmod/; for testing the harness)]
#                          [--mem SIZE] [--smp N] [--qemu-arg ARG]... [--run-dir-file F]
#                          [--build-only | --ko FILE (a scif.ko built by --build-only)]
#                          -- COMMAND [ARGS...]
# Exit status: the command's if non-zero; otherwise non-zero when the harness found a problem
# (build warning, boot failure, timeout, dmesg WARNING/BUG/Oops/..., taint, non-zero scif
# debugfs counter, failed rmmod). See test/guest/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '5,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

KMOD_SRC=""
KERNEL=6.1 NODES=2 TIMEOUT=1200 MODULE=1 KFENCE=0 CACHE=loose MEM=2G SMP=2 RUN_DIR_FILE="" BUILD_ONLY=0 KO=""
ENVS=() QEMU_EXTRA=()
while (($#)); do
    case "$1" in
        --kernel) KERNEL=${2:?--kernel needs a value}; shift 2 ;;
        --kernel=*) KERNEL=${1#*=}; shift ;;
        --nodes) NODES=${2:?--nodes needs a value}; shift 2 ;;
        --nodes=*) NODES=${1#*=}; shift ;;
        --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
        --timeout=*) TIMEOUT=${1#*=}; shift ;;
        --no-module) MODULE=0; shift ;;
        --kfence) KFENCE=1; shift ;;
        --append) EXTRA_APPEND+=" ${2:?}"; shift 2 ;;
        --env) ENVS+=("${2:?--env needs K=V}"); shift 2 ;;
        --env=*) ENVS+=("${1#*=}"); shift ;;
        --kmod-src) KMOD_SRC=${2:?--kmod-src needs a directory}; shift 2 ;;
        --cache) CACHE=${2:?--cache needs a value}; shift 2 ;;
        --cache=*) CACHE=${1#*=}; shift ;;
        --mem) MEM=${2:?--mem needs a size}; shift 2 ;;
        --smp) SMP=${2:?--smp needs a number}; shift 2 ;;
        --qemu-arg) QEMU_EXTRA+=("${2:?--qemu-arg needs a value}"); shift 2 ;;
        --build-only) BUILD_ONLY=1; shift ;;
        --ko) KO=${2:?--ko needs a file}; shift 2 ;;
        --run-dir-file) RUN_DIR_FILE=${2:?--run-dir-file needs a path}; shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) echo "guest: unknown option '$1' (the command goes after --)" >&2; usage ;;
    esac
done
(($#)) || { echo "guest: no command given" >&2; usage; }
[[ $NODES =~ ^[0-9]+$ ]] || die "--nodes must be a number, got '$NODES'"
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -gt 0 ]] || die "--timeout must be a positive number of seconds"
[[ $CACHE =~ ^(loose|mmap|none|fscache)$ ]] || die "--cache must be loose, mmap, none or fscache"
[[ $REPO != *[[:space:]]* ]] || die "the repo path '$REPO' contains whitespace; the kernel command line cannot carry it"

"$GUEST_DIR/setup.sh" --quiet
KVER=$(resolve_kver "$KERNEL")
check_kver_files "$KVER"
VMLINUX="$BUILD/$KVER/vmlinux" INITRD="$BUILD/$KVER/initramfs.cpio"
[[ -f $VMLINUX && -f $INITRD ]] || die "setup did not produce $VMLINUX / $INITRD"
if ((KFENCE)); then
    grep -qx 'CONFIG_KFENCE=y' "/boot/config-$KVER" || die "--kfence: kernel $KVER has no KFENCE (use --kernel 6.12)"
fi

# --- the run directory: cmd.sh in, results out ---------------------------------------------
RUNS="$BUILD/runs"
mkdir -p "$RUNS"
# keep the newest 20 runs (and anything younger than 2 hours: it may still be running)
find "$RUNS" -mindepth 1 -maxdepth 1 -type d -mmin +120 -printf '%T@ %p\n' | sort -rn | tail -n +21 |
    cut -d' ' -f2- | xargs -r rm -rf
RUNID="$(date +%Y%m%d-%H%M%S)-$$"
RUN="$RUNS/$RUNID"
mkdir -p "$RUN"
ln -sfn "runs/$RUNID" "$BUILD/last"
[[ -z $RUN_DIR_FILE ]] || echo "$RUN" >"$RUN_DIR_FILE"

# --- build the module (a private copy of kmod/ per kernel; warnings are failures) ----------
if ((MODULE)) && [[ -n $KO ]]; then
    [[ -f $KO ]] || die "--ko $KO: no such file"
    cp "$KO" "$RUN/scif.ko"
elif ((MODULE)); then
    KMOD_SRC=${KMOD_SRC:-$REPO/kmod}
    [[ -f $KMOD_SRC/Makefile || -f $KMOD_SRC/Kbuild ]] ||
        die "no Makefile or Kbuild in $KMOD_SRC (use --no-module to run without the module)"
    mkdir -p "$KMOD_BUILD"
    exec 8>"$KMOD_BUILD/.$KVER.lock"
    flock 8
    dst="$KMOD_BUILD/$KVER"
    # built in place (not in a temp dir) so that debug info and WARN paths name a real file
    rm -rf "$dst"
    mkdir -p "$dst"
    # sources only: never build products of another kernel (the tree may hold the kmod
    # engineer's host build); tests/ is excluded too (userspace, built on the host)
    tar -C "$KMOD_SRC" --exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
        --exclude='.*.cmd' --exclude='*.a' --exclude=modules.order --exclude=Module.symvers \
        --exclude='.tmp_versions' --exclude='*.dwo' --exclude='.cache.mk' --exclude=./tests \
        -cf - . | tar -C "$dst" -xf -
    note "building kmod for $KVER (make W=1)"
    TB0=$EPOCHREALTIME
    set +e
    make -C "/usr/src/linux-headers-$KVER" M="$dst" W=1 modules >"$dst/build.log" 2>&1
    mrc=$?
    set -e
    sed "s|$REPO/||g" "$dst/build.log"
    ((mrc == 0)) || die "kmod build for $KVER failed (make exit $mrc)"
    if grep -qiE '\bwarning\b' "$dst/build.log"; then
        rm -f "$dst/scif.ko"
        die "kmod build for $KVER printed warnings (above; build/kmod/$KVER/build.log): warnings are failures"
    fi
    [[ -f $dst/scif.ko ]] || die "kmod build for $KVER produced no scif.ko"
    BUILD_SECS=$(awk -v a="$TB0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    # the guest loads this run's own copy: a concurrent run may rebuild build/kmod/$KVER
    cp "$dst/scif.ko" "$RUN/scif.ko"
    flock -u 8
fi
if ((BUILD_ONLY)); then
    rm -rf "$RUN"
    note "built ${dst:-nothing} (--build-only)"
    exit 0
fi

{
    echo '# generated by test/guest/run.sh'
    echo 'export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    echo 'export LANG=C.UTF-8 TERM=dumb SCIF_GUEST=1'
    printf 'export SCIF_GUEST_KVER=%q SCIF_GUEST_NODES=%q\n' "$KVER" "$NODES"
    ((MODULE)) && printf 'export SCIF_GUEST_KO=%q\n' "$RUN/scif.ko"
    for k in $(compgen -e); do
        [[ $k =~ ^(SCIF_[A-Za-z0-9_]*|CI)$ ]] && printf 'export %s=%q\n' "$k" "${!k}"
    done
    for kv in "${ENVS[@]+"${ENVS[@]}"}"; do
        [[ $kv =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants K=V, got '$kv'"
        printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
    done
    printf 'cd %q || exit 126\n' "$REPO"
    # stdout/stderr through a pipe, not the console tty: output as CI sees it (no spinners,
    # no colors), and much less serial-console traffic under emulation
    echo 'set -o pipefail'
    printf '%q ' "$@"; printf '2>&1 | cat\n'
    echo 'exit "${PIPESTATUS[0]}"'
} >"$RUN/cmd.sh"

APPEND="console=ttyS0 panic=-1 quiet loglevel=3 log_buf_len=16M"
# tsc=reliable: no clocksource watchdog, so the TSC is never marked unstable at run time. That
# flips the sched_clock_stable static key with text_poke_bp(), whose int3 window a multi-threaded
# TCG guest can hit on another vCPU ("Oops: int3" in sched_clock_cpu; seen once in kmod-suite).
APPEND+=" tsc=reliable"
# tsc_early_khz: the guest's TSC is the host's (TCG returns the host's rdtsc), but the guest
# calibrates it against the emulated PIT, which a busy host makes read wrong: once it took
# 141.8 MHz for 2793 MHz ("PIT calibration deviates from HPET") and the guest's clock ran 20x
# fast, so a 1 s wait measured 20 s. The host's own rate, measured, skips that calibration.
TSC_KHZ=$(host_tsc_khz)
APPEND+=" tsc_early_khz=$TSC_KHZ"
APPEND+=" scif_repo=$REPO scif_run=$RUNID scif_module=$MODULE scif_nodes=$NODES scif_repo_cache=$CACHE"
((KFENCE)) && APPEND+=" kfence.sample_interval=1"
APPEND+="${EXTRA_APPEND:-}"

# -cpu max without erms/fsrm: TCG emulates "rep movsb" one byte per step (34-530 MB/s in these
# guests, against 4 GB/s for "rep movsq"), and with those flags every kernel copy (memcpy,
# copy_to_user) is a rep movsb; without them the kernel picks its 8-byte string moves.
QEMU=(qemu-system-x86_64 -nodefaults -display none -serial stdio -monitor none -nic none
      -no-reboot -machine pc -accel tcg,thread=multi -cpu max,erms=off,fsrm=off -m "$MEM" -smp "$SMP"
      -kernel "$VMLINUX" -initrd "$INITRD" -append "$APPEND"
      -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
      -virtfs "local,path=$REPO,mount_tag=repo,security_model=none,multidevs=remap"
      "${QEMU_EXTRA[@]+"${QEMU_EXTRA[@]}"}")

note "booting $KVER (module: $( ((MODULE)) && echo "scif.ko nodes=$NODES" || echo none)$( ((KFENCE)) && echo ", kfence")), timeout ${TIMEOUT}s, run dir build/guest/runs/$RUNID"
T0=$EPOCHREALTIME
# --foreground: qemu stays in our process group, so Ctrl-C and a group kill reach it; and if
# run.sh alone is killed, the trap stops this run's qemu (by its pidfile, never by name)
QEMU+=(-pidfile "$RUN/qemu.pid")
stop_qemu() {
    local pid
    pid=$(cat "$RUN/qemu.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    echo "guest: interrupted: stopped qemu${pid:+ (pid $pid)}" >&2
    exit 130
}
trap stop_qemu INT TERM HUP
set +e
# in the background, so that the trap runs as soon as a signal arrives (bash defers traps
# until a foreground pipeline ends)
{
    timeout --foreground -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null 2>&1 |
        while IFS= read -r line || [[ -n $line ]]; do
            line=${line%$'\r'}
            printf '%s\n' "$line"
            printf '%s\n' "$line" >>"$RUN/console.log"
            case "$line" in
                '@@GUEST-START@@') echo "$EPOCHREALTIME" >"$RUN/t.start" ;;
                '@@GUEST-EXIT='*) echo "$EPOCHREALTIME" >"$RUN/t.exit" ;;
            esac
        done
    exit "${PIPESTATUS[0]}"
} &
wait $!
QRC=$?
set -e
trap - INT TERM HUP
T1=$EPOCHREALTIME
touch "$RUN/console.log"

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
TIMES="total $(secs "$T0" "$T1")s"
[[ -n ${BUILD_SECS:-} ]] && TIMES="module build ${BUILD_SECS}s, $TIMES"
[[ -f $RUN/t.start ]] && TIMES+=", boot $(secs "$T0" "$(cat "$RUN/t.start")")s"
[[ -f $RUN/t.start && -f $RUN/t.exit ]] && TIMES+=", command $(secs "$(cat "$RUN/t.start")" "$(cat "$RUN/t.exit")")s"
[[ -f $RUN/uptime.start && -f $RUN/uptime.exit ]] &&
    TIMES+=" (guest clock $(secs "$(cat "$RUN/uptime.start")" "$(cat "$RUN/uptime.exit")")s)"

# --- verdict ---------------------------------------------------------------------------------
# debugfs files that are not leak counters (the module's node count)
COUNTERS_NOT_LEAKS="nodes"
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }

if ((QRC == 124 || QRC == 137)); then
    problem "timeout: the guest did not finish within ${TIMEOUT}s (qemu killed)"
elif ((QRC != 0)); then
    problem "qemu exited with status $QRC"
fi
gerr=$(sed -n 's/^@@GUEST-ERROR=\(.*\)@@$/\1/p' "$RUN/console.log" | head -n1)
[[ -z $gerr ]] || problem "guest init failed: $gerr"
panic=$(grep -a -m1 'Kernel panic' "$RUN/console.log" || true)
[[ -z $panic ]] || problem "the guest kernel panicked: $panic"
RC=$(sed -n 's/^@@GUEST-EXIT=\([0-9]*\)@@$/\1/p' "$RUN/console.log" | tail -n1)
if [[ -z $RC ]]; then
    problem "the guest reported no exit status for the command (boot failure, panic or timeout; see build/guest/runs/$RUNID/console.log)"
    RC=""
elif ! grep -qx '@@GUEST-DONE@@' "$RUN/console.log"; then
    problem "the guest did not finish its post-command checks (hung or crashed after the command)"
fi

# The guest's clock against the host's over the command: a guest whose TSC was calibrated wrong
# runs its clock fast or slow, and every time bound inside it (poll timeouts, test deadlines)
# is off by as much. Checked once either clock passes 2 s (shorter ones are mostly noise).
if [[ -f $RUN/t.start && -f $RUN/t.exit && -f $RUN/uptime.start && -f $RUN/uptime.exit ]]; then
    clock=$(awk -v hs="$(cat "$RUN/t.start")" -v he="$(cat "$RUN/t.exit")" \
                -v gs="$(cat "$RUN/uptime.start")" -v ge="$(cat "$RUN/uptime.exit")" \
        'BEGIN { h = he - hs; g = ge - gs; if (h < 2 && g < 2) exit; r = g / h;
                 if (r > 2 || r < 0.5) printf "%.2f %.1f %.1f", r, g, h }')
    if [[ -n $clock ]]; then
        read -r ratio gsec hsec <<<"$clock"
        problem "the guest's clock ran ${ratio}x the host's over the command (${gsec} s guest, ${hsec} s host): its time bounds meant nothing; dmesg: $(grep -m3 -E 'tsc:' "$RUN/dmesg.txt" 2>/dev/null | tr '\n' ' ')"
    fi
elif [[ -f $RUN/t.exit ]]; then
    problem "the guest recorded no clock readings around the command (uptime.start/uptime.exit missing)"
fi

if [[ -f $RUN/dmesg.txt ]]; then
    DMESG_BAD='WARNING|BUG|Oops|general protection|KFENCE|kernel BUG|soft lockup|hard LOCKUP|blocked for more than|self-detected stall|detected stalls|Call Trace|UBSAN|refcount_t'
    bad=$(grep -E "$DMESG_BAD" "$RUN/dmesg.txt" || true)
    if [[ -n $bad ]]; then
        first=$(grep -nE "$DMESG_BAD" "$RUN/dmesg.txt" | head -n1 | cut -d: -f1)
        problem "dmesg has kernel errors (full log: build/guest/runs/$RUNID/dmesg.txt); from the first one:"$'\n'"$(tail -n +"$first" "$RUN/dmesg.txt" | head -n 80)"
    fi
elif [[ -n $RC ]]; then
    problem "no dmesg recorded (build/guest/runs/$RUNID/dmesg.txt missing)"
fi
if [[ -f $RUN/tainted.txt ]]; then
    t=$(cat "$RUN/tainted.txt")
    # B bad page (32), D died/oops (128), W warning (512), L soft lockup (16384)
    ((t & (32 | 128 | 512 | 16384))) && problem "kernel taint $t has B/D/W/L flags set (bad page, oops, warning, soft lockup)"
fi
if [[ -s $RUN/stragglers.txt ]]; then
    note "processes left running after the command were killed before the checks:"
    sed 's/^/    /' "$RUN/stragglers.txt" >&2
fi
if ((MODULE)) && [[ -n $RC ]]; then
    if [[ ! -f $RUN/counters.txt ]]; then
        problem "no debugfs counters recorded"
    elif grep -qx '@@NO-DEBUGFS@@' "$RUN/counters.txt"; then
        problem "scif.ko has no /sys/kernel/debug/scif/ directory: the leak counters cannot be checked"
    else
        note "debugfs scif/ after the command: $(tr '\n' ' ' <"$RUN/counters.txt")"
        while read -r name value; do
            if [[ " $COUNTERS_NOT_LEAKS " == *" $name "* ]]; then
                continue    # a configuration value, not a leak counter
            elif [[ ! $value =~ ^-?[0-9]+$ ]]; then
                problem "debugfs scif/$name: expected a decimal counter, got '$value'"
            elif ((value != 0)); then
                problem "debugfs counter scif/$name = $value after the command (expected 0: leak?)"
            fi
        done <"$RUN/counters.txt"
        [[ -s $RUN/counters.txt ]] || problem "/sys/kernel/debug/scif/ is empty: no leak counters to check"
    fi
    if [[ $(cat "$RUN/rmmod.status" 2>/dev/null) != 0 ]]; then
        problem "rmmod scif failed: $(head -n1 "$RUN/rmmod.txt" 2>/dev/null) (lsmod in build/guest/runs/$RUNID/rmmod.txt)"
    fi
fi

echo "guest: $KVER: $TIMES; command exit status ${RC:-none}" >&2
if ((${#PROBLEMS[@]})); then
    for p in "${PROBLEMS[@]}"; do echo "guest: FAIL: $p" >&2; done
fi
if [[ -n $RC && $RC != 0 ]]; then
    echo "guest: FAIL: the command exited with status $RC" >&2
    exit "$RC"
fi
if ((${#PROBLEMS[@]})); then exit 1; fi
echo "guest: OK" >&2
exit 0
