#!/usr/bin/env bash
# Two guests on a SCIF link: node 0 "host" and node 1 "card", each with scif.ko, an
# ivshmem-doorbell device on the fabric's control region, an ivshmem-plain aperture onto the
# other guest's RAM, and a virtio-net link between them (IPv6 link-local). Runs COMMAND in
# both (SCIF_LINK_NODE=0|1 tells it which side; each run is a test/guest/run.sh with all its
# checks: build warnings, dmesg, taint, debugfs counters, rmmod).
#
# Usage: test/guest/link.sh [--kernel K] [--host-kernel K] [--card-kernel K] [--timeout S]
#                           [--kill-card] [--fuzz-card SECS] [--fuzz-scenarios LIST] [--prebuilt]
#                           [--debug-mm] [--env K=V]... -- COMMAND [ARGS...]
#   --prebuilt: use build/kmod/KVER/scif.ko as built by an earlier run (no W=1 build here).
#   --kill-card: when the host's command creates $SCIF_LINK_DIR/kill-card, kill the card's
#   qemu and boot a new card (SCIF_LINK_PHASE=2); the new card's status is the card's status.
#   --fuzz-card SECS: no card guest; node 1 is kmod/fabric/build/link-fuzz, a hostile
#   userspace card, for SECS seconds (the host's command sees SCIF_LINK_FUZZ=SECS);
#   SCIF_LINK_FUZZ_SEED=N replays its choices, SCIF_LINK_FUZZ_ARGS adds options (--calm 1).
#   --fuzz-scenarios LIST: with --fuzz-card, the card first runs link-fuzz --scenario LIST
#   (limits, or some of flood,import,src0), the host's command sees SCIF_LINK_FUZZ_SCENARIOS=LIST.
#   --debug-mm: both kernels with KFENCE on every allocation and slub_debug=FZPU (6.12 only).
# Exit status: 0 if both sides passed; prints "link: host ... card ..." lines and, when both
# commands print "N passed, N failed" lines, their sum as the last line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '8,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

HK=6.1 CK="" TIMEOUT=600 KILL=0 PREBUILT=0 FUZZ=0 SCENARIOS=""
ENVS=()
DEBUG_MM=()
while (($#)); do
    case "$1" in
        --kernel) HK=${2:?}; CK=${2}; shift 2 ;;
        --host-kernel) HK=${2:?}; shift 2 ;;
        --card-kernel) CK=${2:?}; shift 2 ;;
        --timeout) TIMEOUT=${2:?}; shift 2 ;;
        --kill-card) KILL=1; shift ;;
        --fuzz-card) FUZZ=${2:?}; ENVS+=(--env "SCIF_LINK_FUZZ=$2"); shift 2 ;;
        --fuzz-scenarios) SCENARIOS=${2:?}; ENVS+=(--env "SCIF_LINK_FUZZ_SCENARIOS=$2"); shift 2 ;;
        --prebuilt) PREBUILT=1; shift ;;
        --debug-mm) DEBUG_MM=(--kfence --append "slub_debug=FZPU"); shift ;;
        --env) ENVS+=(--env "${2:?}"); shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) echo "link: unknown option '$1'" >&2; usage ;;
    esac
done
(($#)) || usage
[[ -z $SCENARIOS ]] || ((FUZZ)) || die "--fuzz-scenarios needs --fuzz-card SECS"
CK=${CK:-$HK}
"$GUEST_DIR/setup.sh" --quiet
make -s -C "$REPO/kmod/fabric" >/dev/null
make -s -C "$REPO/kmod/tests" >/dev/null
# the module, built once per kernel (W=1, warnings fail), before any guest boots
for k in $(printf '%s\n' "$HK" "$CK" | sort -u); do
    ((PREBUILT)) && [[ -f $KMOD_BUILD/$(resolve_kver "$k")/scif.ko ]] && continue
    "$GUEST_DIR/run.sh" --kernel "$k" --build-only -- true >/dev/null 2>"$BUILD/link-build.log" ||
        { cat "$BUILD/link-build.log" >&2; die "kmod build for $k failed"; }
done

MEM_MB=1024     # <= 2G: RAM below the PCI hole, guest physical address = file offset
DOORBELL_SLOT=0x0c NET_SLOT=0x0d
aperture_slot() { printf '0x%x' $((0x10 + $1)); }     # node N's RAM, in the other guests

# Everything of this link lives in a run directory in the repo (the guests see it) and in
# /dev/shm (RAM files and the control region; removed at the end).
LINKID="$(date +%Y%m%d-%H%M%S)-$$"
LDIR="$BUILD/link/$LINKID"
SHM="/dev/shm/scif-link-$LINKID"
mkdir -p "$LDIR" "$SHM"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
    for f in "$LDIR"/*.rundir; do
        [[ -f $f ]] || continue
        p=$(cat "$(cat "$f")/qemu.pid" 2>/dev/null || true)
        [[ -n $p ]] && kill -TERM "$p" 2>/dev/null || true
    done
    rm -rf "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

for n in 0 1; do truncate -s "${MEM_MB}M" "$SHM/ram$n"; done

FABRIC=("$REPO/kmod/fabric/build/scif-fabric" --verbose --shm "$SHM/ctl")
for n in 0 1; do
    FABRIC+=(--node "$n:$LDIR/fabric$n.sock:00:$(printf '%02x' $((0x10 + n))).0:$((MEM_MB << 20))")
done
"${FABRIC[@]}" 2>"$LDIR/fabric.log" &
PIDS+=($!)
for _ in $(seq 100); do [[ -S $LDIR/fabric1.sock ]] && break; sleep 0.05; done
[[ -S $LDIR/fabric1.sock ]] || die "the fabric did not start (build/guest/link/$LINKID/fabric.log)"

# qemu arguments of node N (peer P)
node_args() {
    local n=$1 p=$((1 - $1))
    local a=(
        -object "memory-backend-file,id=ram0,size=${MEM_MB}M,mem-path=$SHM/ram$n,share=on"
        -machine memory-backend=ram0
        -chardev "socket,path=$LDIR/fabric$n.sock,id=fabric"
        -device "ivshmem-doorbell,chardev=fabric,vectors=1,addr=$DOORBELL_SLOT"
        -object "memory-backend-file,id=peer,size=${MEM_MB}M,mem-path=$SHM/ram$p,share=on"
        -device "ivshmem-plain,memdev=peer,addr=$(aperture_slot "$p")"
        -netdev "stream,id=net0,server=$( ((n == 0)) && echo on || echo off),addr.type=unix,addr.path=$LDIR/net.sock"
        -device "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:0$((n + 1)),addr=$NET_SLOT"
    )
    local x
    for x in "${a[@]}"; do printf '%s\0' --qemu-arg "$x"; done
}

start_node() {   # start_node N KERNEL PHASE LOG
    local n=$1 k=$2 phase=$3 log=$4 args
    shift 4
    mapfile -d '' args < <(node_args "$n")
    "$GUEST_DIR/run.sh" --kernel "$k" --ko "$KMOD_BUILD/$(resolve_kver "$k")/scif.ko" --nodes 1 --mem "${MEM_MB}M" --smp 1 --timeout "$TIMEOUT" \
        --run-dir-file "$LDIR/node$n-$phase.rundir" "${args[@]}" \
        --env SCIF_LINK_NODE="$n" --env SCIF_LINK_PHASE="$phase" --env SCIF_LINK_DIR="$LDIR" \
        --env SCIF_LINK_KILL="$KILL" "${DEBUG_MM[@]+"${DEBUG_MM[@]}"}" "${ENVS[@]+"${ENVS[@]}"}" -- "$@" >"$log" 2>&1
}

note "link $LINKID: host $HK, card $CK (logs in build/guest/link/$LINKID/)"
T0=$EPOCHREALTIME
start_node 0 "$HK" 1 "$LDIR/host.log" "$@" &
HOST_PID=$!
# the host's netdev is the stream server: let it listen first
for _ in $(seq 200); do [[ -S $LDIR/net.sock ]] && break; sleep 0.1; done
if ((FUZZ)); then
    # node 1 is a hostile userspace card on the fabric, not a guest
    [[ -x $REPO/kmod/fabric/build/link-fuzz ]] || die "kmod/fabric/build/link-fuzz is not built (make -C kmod/fabric)"
    "$REPO/kmod/fabric/build/link-fuzz" --sock "$LDIR/fabric1.sock" --self-ram "$SHM/ram1" \
        --peer-ram "$SHM/ram0" --seconds "$FUZZ" --seed "${SCIF_LINK_FUZZ_SEED:-$RANDOM}" \
        ${SCENARIOS:+--scenario "$SCENARIOS"} ${SCIF_LINK_FUZZ_ARGS:-} >"$LDIR/card.log" 2>&1 &
else
    start_node 1 "$CK" 1 "$LDIR/card.log" "$@" &
fi
CARD_PID=$!
CARD_LOG=$LDIR/card.log

if ((KILL)); then
    while kill -0 "$HOST_PID" 2>/dev/null && [[ ! -e $LDIR/kill-card ]]; do sleep 0.2; done
    if [[ -e $LDIR/kill-card ]]; then
        qpid=$(cat "$(cat "$LDIR/node1-1.rundir")/qemu.pid")
        note "killing the card's qemu (pid $qpid)"
        kill -KILL "$qpid"
        wait "$CARD_PID" || true
        start_node 1 "$CK" 2 "$LDIR/card2.log" "$@" &
        CARD_PID=$!
        CARD_LOG=$LDIR/card2.log
    fi
fi
set +e
wait "$HOST_PID"; HRC=$?
wait "$CARD_PID"; CRC=$?
set -e
secs=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

sumline() { grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n1 || true; }
P=0 F=0
for side in host card; do
    log=$LDIR/host.log rc=$HRC
    [[ $side == card ]] && log=$CARD_LOG rc=$CRC
    echo "--- $side (${log#"$REPO"/})"
    grep -avE '^\[ *[0-9]+\.[0-9]+\]' "$log" | grep -aE '^(ok|not ok|guest:)' || true
    line=$(sumline "$log") p=0 f=0
    [[ -n $line ]] && read -r p _ f _ <<<"${line//,/}"
    ((rc == 0 || f > 0)) || f=$((f + 1))
    P=$((P + p)) F=$((F + f))
    echo "link: $side: exit $rc, ${line:-no summary line}"
done
if [[ $CARD_LOG != "$LDIR/card.log" ]]; then
    # the killed card printed no summary: count its result lines up to the kill
    p=$(grep -acE '^ok - ' "$LDIR/card.log" || true) f=$(grep -acE '^not ok - ' "$LDIR/card.log" || true)
    echo "--- card before the kill (${LDIR#"$REPO"/}/card.log)"
    grep -aE '^(ok|not ok) - ' "$LDIR/card.log" || true
    P=$((P + p)) F=$((F + f))
    echo "link: killed card: $p passed, $f failed"
fi
echo "link: fabric log: $(tr '\n' ';' <"$LDIR/fabric.log" | cut -c1-400)"
echo "link: $HK/$CK in ${secs}s"
echo "$P passed, $F failed"
((HRC == 0 && CRC == 0))
