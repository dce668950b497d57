#!/bin/busybox sh
# /init of the guest initramfs (busybox sh, PID 1). Built into the image by setup.sh.
#
# Kernel command line parameters (set by run.sh):
#   scif_repo=PATH   host path of the repo; exported writable over 9p tag "repo"
#   scif_run=ID      run directory: $scif_repo/build/guest/runs/ID (cmd.sh in, results out)
#   scif_module=0|1  insmod the run directory's scif.ko (copied from build/kmod/$KVER) first
#   scif_nodes=N     value of the module's nodes= parameter
#
# Console protocol: "@@GUEST-EXIT=<n>@@" is the command's exit status;
# "@@GUEST-ERROR=<msg>@@" is a harness failure inside the guest.

/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /mnt/root /tmp
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
stty -onlcr 2>/dev/null

ROOT=/mnt/root

halt_guest() {
    sync
    poweroff -f
    echo o >/proc/sysrq-trigger
    sleep 5
    exit 1   # PID 1 exits -> panic=-1 -> reboot -> qemu -no-reboot exits
}

guest_error() {
    echo "@@GUEST-ERROR=$*@@"
    halt_guest
}

for arg in $(cat /proc/cmdline); do
    case "$arg" in
        scif_repo=*) scif_repo=${arg#scif_repo=} ;;
        scif_run=*) scif_run=${arg#scif_run=} ;;
        scif_module=*) scif_module=${arg#scif_module=} ;;
        scif_nodes=*) scif_nodes=${arg#scif_nodes=} ;;
        scif_repo_cache=*) scif_repo_cache=${arg#scif_repo_cache=} ;;
    esac
done
[ -n "$scif_repo" ] && [ -n "$scif_run" ] || guest_error "scif_repo/scif_run missing from the kernel command line"
KVER=$(uname -r)

# virtio/9p modules, in dependency order (list written by setup.sh)
while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$m" || guest_error "insmod $m failed"
done </lib/modules/order

O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$O,cache=loose,ro" hostroot "$ROOT" || guest_error "mount of 9p hostroot failed"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount -t devtmpfs devtmpfs "$ROOT/dev"
mkdir -p "$ROOT/dev/pts" "$ROOT/dev/shm"
# what udev/systemd provide on a real system: bash's <(...) and dkms need /dev/fd
ln -sfn /proc/self/fd "$ROOT/dev/fd"
ln -sfn /proc/self/fd/0 "$ROOT/dev/stdin"
ln -sfn /proc/self/fd/1 "$ROOT/dev/stdout"
ln -sfn /proc/self/fd/2 "$ROOT/dev/stderr"
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts "$ROOT/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm"
mount -t debugfs debugfs "$ROOT/sys/kernel/debug" || guest_error "mount debugfs failed"
for d in tmp var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$ROOT/$d" || guest_error "tmpfs on /$d failed"; done
for d in run root; do mount -t tmpfs -o mode=755 tmpfs "$ROOT/$d" || guest_error "tmpfs on /$d failed"; done
# the repo, writable, over its own path (after the tmpfs mounts: it may live under /tmp or /root)
mkdir -p "$ROOT$scif_repo" 2>/dev/null
mount -t 9p -o "$O,cache=${scif_repo_cache:-loose}" repo "$ROOT$scif_repo" || guest_error "mount of 9p repo at $scif_repo failed"

RUN="$ROOT$scif_repo/build/guest/runs/$scif_run"
[ -f "$RUN/cmd.sh" ] || guest_error "missing $RUN/cmd.sh (is the repo export writable and shared?)"

ip link set lo up || guest_error "ip link set lo up failed"
hostname scif-guest

if [ "$scif_module" = 1 ]; then
    KO="$RUN/scif.ko"
    [ -f "$KO" ] || guest_error "module not built: $KO"
    insmod "$KO" "nodes=${scif_nodes:-2}" || guest_error "insmod scif.ko nodes=${scif_nodes:-2} failed"
fi

# the guest's own clock around the command: run.sh compares it with the host's
cut -d' ' -f1 /proc/uptime >"$RUN/uptime.start"
echo "@@GUEST-START@@"
chroot "$ROOT" /usr/bin/env -i /bin/bash "$scif_repo/build/guest/runs/$scif_run/cmd.sh" </dev/null
rc=$?
echo "@@GUEST-EXIT=$rc@@"
cut -d' ' -f1 /proc/uptime >"$RUN/uptime.exit"

# Anything the command left behind (daemons, children) is killed before the leak checks.
ps -o pid,args | awk 'NR > 1 && $1 != 1 && $2 !~ /^\[/ && $0 !~ /sh \/init$/' >"$RUN/stragglers.txt"
if [ -s "$RUN/stragglers.txt" ]; then
    kill -TERM -1 2>/dev/null; sleep 1; kill -KILL -1 2>/dev/null; sleep 1
fi

dmesg >"$RUN/dmesg.txt" 2>&1
cat /proc/sys/kernel/tainted >"$RUN/tainted.txt"
: >"$RUN/counters.txt"
if [ "$scif_module" = 1 ]; then
    if [ -d "$ROOT/sys/kernel/debug/scif" ]; then
        # releases may finish asynchronously (workers, RCU): give non-zero counters up to 5 s
        tries=0
        while :; do
            : >"$RUN/counters.txt"
            for f in "$ROOT"/sys/kernel/debug/scif/*; do
                [ -f "$f" ] || continue
                printf '%s %s\n' "${f##*/}" "$(tr '\n' ' ' <"$f" | sed 's/ *$//')" >>"$RUN/counters.txt"
            done
            awk '$1 != "nodes" && $2 != "0" { bad = 1 } END { exit !bad }' "$RUN/counters.txt" || break
            tries=$((tries + 1))
            [ $tries -le 10 ] || break
            sleep 0.5
        done
    else
        echo "@@NO-DEBUGFS@@" >"$RUN/counters.txt"
    fi
    if rmmod scif >"$RUN/rmmod.txt" 2>&1; then
        echo 0 >"$RUN/rmmod.status"
    else
        echo 1 >"$RUN/rmmod.status"
        lsmod >>"$RUN/rmmod.txt" 2>&1
    fi
    dmesg >"$RUN/dmesg.txt" 2>&1     # again: rmmod may have complained
fi
echo "$rc" >"$RUN/exit.status"
sync
echo "@@GUEST-DONE@@"
halt_guest
