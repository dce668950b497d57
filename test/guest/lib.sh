# shellcheck shell=bash
# Shared helpers for the guest harness (sourced by setup.sh, run.sh, kmod-suite.sh, kernels.sh).

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$GUEST_DIR/../.." && pwd)
BUILD="$REPO/build/guest"
KMOD_BUILD="$REPO/build/kmod"

die() { echo "guest: error: $*" >&2; exit 1; }
note() { echo "guest: $*" >&2; }

# The 6.1 KVER: what the linux-image-amd64 metapackage depends on.
kver_61() {
    local dep
    dep=$(dpkg-query -W -f '${Depends}' linux-image-amd64 2>/dev/null) ||
        die "linux-image-amd64 is not installed (run test/guest/setup.sh)"
    dep=${dep%% *}                       # linux-image-6.1.0-56-amd64
    [[ $dep == linux-image-* ]] || die "cannot parse linux-image-amd64 Depends: '$dep'"
    echo "${dep#linux-image-}"
}

# The 6.12 KVER: the newest installed linux-image-6.12.*+deb12-amd64 with matching headers.
kver_612() {
    local k best=""
    for k in $(dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'linux-image-6.12.*' 2>/dev/null |
               awk '$1 ~ /^(installed|unpacked|half-configured|triggers-awaited|triggers-pending)$/ {print $2}' | sed -n 's/^linux-image-\(6\.12\..*+deb12-amd64\)$/\1/p' |
               sort -V); do
        [[ -d /usr/src/linux-headers-$k ]] && best=$k
    done
    [[ -n $best ]] || die "no installed linux-image-6.12.*+deb12-amd64 with headers (run test/guest/setup.sh)"
    echo "$best"
}

# Resolve --kernel argument (full KVER, 6.1 or 6.12) to a KVER.
resolve_kver() {
    case "$1" in
        6.1) kver_61 ;;
        6.12) kver_612 ;;
        *) [[ -f /boot/vmlinuz-$1 ]] || die "unknown kernel '$1' (no /boot/vmlinuz-$1); use 6.1, 6.12 or a full KVER"
           echo "$1" ;;
    esac
}

# The KVER a guest build targets must have image, headers and modules.
check_kver_files() {
    local k=$1
    [[ -f /boot/vmlinuz-$k ]] || die "missing /boot/vmlinuz-$k"
    [[ -d /usr/src/linux-headers-$k ]] || die "missing /usr/src/linux-headers-$k"
    [[ -d /lib/modules/$k/kernel ]] || die "missing /lib/modules/$k/kernel"
}

# per_kernel_suite NAME TIMEOUT KERNEL... -- COMMAND [ARGS...]
# Runs COMMAND in a guest with scif.ko on each KERNEL (KFENCE on where the kernel has it),
# takes the last "N passed, N failed" line of each run, counts a harness failure (or a missing
# summary line, or a non-zero exit with no failure counted) as one failure, prints one line per
# kernel and a final "N passed, N failed" over all of them. Returns non-zero on any failure.
# Extra run.sh options can be given in the RUN_OPTS array.
per_kernel_suite() {
    local name=$1 timeout=$2; shift 2
    local kernels=()
    while (($#)) && [[ $1 != -- ]]; do kernels+=("$1"); shift; done
    [[ ${1:-} == -- ]] || die "per_kernel_suite: missing --"
    shift
    local total_p=0 total_f=0 summary=() k kver log rc line p f harness extra why s
    mkdir -p "$BUILD/suite"
    for k in "${kernels[@]}"; do
        kver=$(resolve_kver "$k")
        extra=()
        grep -qx 'CONFIG_KFENCE=y' "/boot/config-$kver" && extra+=(--kfence)
        log="$BUILD/suite/$name-$kver.log"
        note "=== $name on $kver ${extra[*]-}"
        set +e
        "$GUEST_DIR/run.sh" --kernel "$kver" "${extra[@]+"${extra[@]}"}" --timeout "$timeout" \
            "${RUN_OPTS[@]+"${RUN_OPTS[@]}"}" -- "$@" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        set -e
        line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1 || true)
        p=0 f=0 why=()
        if [[ -n $line ]]; then
            read -r p _ f _ <<<"${line//,/}"
        else
            why+=("no 'N passed, N failed' line from the command")
        fi
        # harness problems other than the command's own exit status
        harness=$(grep -a '^guest: \(FAIL\|error\):' "$log" | grep -v 'the command exited with status' || true)
        [[ -z $harness ]] || why+=("$(echo "$harness" | head -n3 | sed 's/^guest: //' | tr '\n' ';')")
        if ((rc != 0 && f == 0)) && ((${#why[@]} == 0)); then
            why+=("run.sh exited $rc although no test failed")
        fi
        ((${#why[@]} == 0)) || f=$((f + 1))
        total_p=$((total_p + p)) total_f=$((total_f + f))
        s="$kver: $p passed, $f failed"
        ((${#why[@]} == 0)) || s+=" (1 harness failure counted: ${why[*]})"
        summary+=("$s")
    done
    echo
    for s in "${summary[@]}"; do echo "$name: $s"; done
    echo "$total_p passed, $total_f failed"
    ((total_f == 0))
}

# The host's TSC rate in kHz (test/guest/tsc-khz.c), measured once per host boot and cached in
# build/guest/tsc-khz.txt; the helper is rebuilt when its source changes.
host_tsc_khz() {
    local src="$GUEST_DIR/tsc-khz.c" bin="$BUILD/tsc-khz" cache="$BUILD/tsc-khz.txt" boot khz
    boot=$(cat /proc/sys/kernel/random/boot_id)
    mkdir -p "$BUILD"
    if [[ -f $cache && $(sed -n 1p "$cache") == "$boot" && $cache -nt $src ]]; then
        sed -n 2p "$cache"
        return
    fi
    if [[ ! -x $bin || $src -nt $bin ]]; then
        gcc -O2 -Wall -Wextra -Werror -o "$bin.$$" "$src" || die "cannot build $src"
        mv "$bin.$$" "$bin"
    fi
    khz=$("$bin") || die "cannot measure the host's TSC rate ($bin): the guests' clocks would be calibrated against the emulated PIT"
    [[ $khz =~ ^[0-9]+$ ]] || die "tsc-khz printed '$khz', not a number of kHz"
    printf '%s\n%s\n' "$boot" "$khz" >"$cache.$$" && mv "$cache.$$" "$cache"
    echo "$khz"
}
