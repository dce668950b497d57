#!/usr/bin/env bash
# Prepare everything the qemu guest harness needs; idempotent and cached.
#   - installs the Debian packages (only if something is missing)
#   - picks the two guest kernels (6.1 from linux-image-amd64, newest installed 6.12) and
#     writes their KVERs to build/guest/kernels
#   - per kernel: build/guest/$KVER/vmlinux (uncompressed, PVH-bootable) and
#     build/guest/$KVER/initramfs.cpio (static busybox + virtio/9p modules + init.sh)
# Usage: test/guest/setup.sh [--quiet]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUIET=0
[[ ${1:-} == --quiet ]] && QUIET=1
say() { [[ $QUIET == 1 ]] || note "$@"; }

mkdir -p "$BUILD"
exec 9>"$BUILD/.setup.lock"
flock 9   # concurrent run.sh invocations: one setup at a time

BASE_PKGS=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod
           zstd xz-utils iproute2 make gcc libc6-dev util-linux coreutils dkms)

# "present": unpacked at least. A failed kernel postinst hook (initramfs-tools in a container)
# leaves a package half-configured or with triggers pending, but its files are there.
pkg_installed() {
    case $(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null || true) in
        installed|unpacked|half-configured|triggers-awaited|triggers-pending) return 0 ;;
        *) return 1 ;;
    esac
}

apt_install() {
    note "apt-get install $*"
    # Kernel postinst hooks (initramfs-tools, zz-update-grub) may fail in containers;
    # the packages are still unpacked and usable, so verify the files afterwards instead.
    "${SUDO[@]+"${SUDO[@]}"}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
        note "apt-get install returned $? (kernel hooks?); checking the installed files"
}

updated=0
SUDO=()
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install"
    SUDO=(sudo -n)
fi
apt_update() { [[ $updated == 1 ]] || { note "apt-get update"; "${SUDO[@]+"${SUDO[@]}"}" apt-get update -q; updated=1; }; }

missing=()
for p in "${BASE_PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
    apt_update
    apt_install "${missing[@]}"
    still=()
    for p in "${missing[@]}"; do pkg_installed "$p" || still+=("$p"); done
    ((${#still[@]} == 0)) || die "apt-get install failed to install: ${still[*]}"
fi

# 6.12: prefer an installed one with headers; otherwise install the newest from the archive.
k612=""
for k in $(dpkg-query -W -f '${db:Status-Status} ${Package}\n' 'linux-image-6.12.*' 2>/dev/null |
           awk '$1 ~ /^(installed|unpacked|half-configured|triggers-awaited|triggers-pending)$/ {print $2}' |
           sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' | sort -V); do
    [[ -d /usr/src/linux-headers-$k ]] && k612=$k
done
if [[ -z $k612 ]]; then
    apt_update
    for k in $(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
               sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\) .*/\1/p' | sort -rV); do
        if apt-cache show "linux-headers-$k" >/dev/null 2>&1; then k612=$k; break; fi
    done
    [[ -n $k612 ]] || die "no linux-image-6.12.*+deb12-amd64 with matching headers in the apt sources"
    apt_install "linux-image-$k612" "linux-headers-$k612"
    pkg_installed "linux-image-$k612" && pkg_installed "linux-headers-$k612" ||
        die "apt-get install failed to install linux-image-$k612 linux-headers-$k612"
fi

# No silent skips: everything we use must be there now.
for tool in qemu-system-x86_64 busybox cpio modprobe zstd xz make gcc flock sha256sum od dd dkms; do
    command -v "$tool" >/dev/null || die "'$tool' is missing after setup"
done
[[ -x /bin/busybox ]] || die "/bin/busybox (busybox-static) is missing"
grep -qx insmod < <(/bin/busybox --list) ||
    die "/bin/busybox (busybox-static) missing or without insmod"
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
file_is_static /bin/busybox || die "/bin/busybox is dynamically linked (need busybox-static)"

K61=$(kver_61)
K612=$k612
check_kver_files "$K61"
check_kver_files "$K612"
printf '%s\n%s\n' "$K61" "$K612" >"$BUILD/kernels.tmp"
mv "$BUILD/kernels.tmp" "$BUILD/kernels"

# --- vmlinux: the compressed payload located through the bzImage setup header ---------------
# boot protocol >= 2.08: payload_offset (0x248) / payload_length (0x24c), relative to the
# protected-mode code at (setup_sects + 1) * 512. The payload ends with a 4-byte size trailer.
extract_vmlinux() {
    local src=$1 dst=$2 ss po pl off magic
    ss=$(od -An -tu1 -j $((0x1f1)) -N1 "$src" | tr -d ' ')
    ((ss == 0)) && ss=4
    read -r po pl < <(od -An -tu4 -j $((0x248)) -N8 "$src")
    off=$(((ss + 1) * 512 + po))
    magic=$(od -An -tx1 -j "$off" -N6 "$src" | tr -d ' \n')
    local dec
    case "$magic" in
        fd377a585a00) dec=(xz -dc --single-stream) ;;
        28b52ffd*) dec=(zstd -dcq) ;;
        1f8b*) dec=(gzip -dc) ;;
        *) die "$src: unknown compression magic '$magic' at payload offset $off" ;;
    esac
    dd if="$src" iflag=skip_bytes,count_bytes skip="$off" count=$((pl - 4)) bs=1M status=none |
        "${dec[@]}" >"$dst.tmp" ||
        die "$src: decompressing the payload with ${dec[*]} failed"
    [[ $(od -An -tx1 -N4 "$dst.tmp" | tr -d ' \n') == 7f454c46 ]] ||
        die "$src: extracted payload is not an ELF image"
    mv "$dst.tmp" "$dst"
}

# Inputs of the initramfs: hash of the files that go into it + this script's recipe.
build_kernel() {
    local k=$1 out="$BUILD/$1"
    mkdir -p "$out"
    local vstamp
    vstamp=$(sha256sum /boot/vmlinuz-"$k" | cut -d' ' -f1)
    if [[ ! -f $out/vmlinux || $(cat "$out/vmlinux.stamp" 2>/dev/null) != "$vstamp" ]]; then
        say "extracting vmlinux for $k"
        extract_vmlinux "/boot/vmlinuz-$k" "$out/vmlinux"
        echo "$vstamp" >"$out/vmlinux.stamp"
    fi

    # module list, dependency order, deduplicated; "builtin" ones need nothing
    local mods=() m line
    for m in virtio_pci 9pnet_virtio 9p; do
        while read -r line; do
            case "$line" in
                insmod\ *) line=${line#insmod }; line=${line%% *}
                           [[ " ${mods[*]-} " == *" $line "* ]] || mods+=("$line") ;;
                builtin\ *) ;;
                *) die "modprobe -S $k --show-depends $m: unexpected '$line'" ;;
            esac
        done < <(modprobe -S "$k" --show-depends "$m" || die "modprobe -S $k --show-depends $m failed")
    done
    ((${#mods[@]})) || die "no 9p modules found for $k"

    local istamp
    istamp=$( { sha256sum /bin/busybox "$GUEST_DIR/init.sh" "$GUEST_DIR/setup.sh" "${mods[@]}"; } |
              sha256sum | cut -d' ' -f1)
    if [[ -f $out/initramfs.cpio && $(cat "$out/initramfs.stamp" 2>/dev/null) == "$istamp" ]]; then
        return
    fi
    say "building initramfs for $k"
    local tmp
    tmp=$(mktemp -d "$BUILD/initramfs.XXXXXX")
    mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt/root,lib/modules}
    cp /bin/busybox "$tmp/bin/busybox"
    install -m 0755 "$GUEST_DIR/init.sh" "$tmp/init"
    : >"$tmp/lib/modules/order"
    for m in "${mods[@]}"; do
        local name=${m##*/}
        case "$name" in
            *.ko) cp "$m" "$tmp/lib/modules/$name" ;;
            *.ko.xz) xz -dc "$m" >"$tmp/lib/modules/${name%.xz}"; name=${name%.xz} ;;
            *.ko.zst) zstd -dcq "$m" >"$tmp/lib/modules/${name%.zst}"; name=${name%.zst} ;;
            *.ko.gz) gzip -dc "$m" >"$tmp/lib/modules/${name%.gz}"; name=${name%.gz} ;;
            *) die "unexpected module file $m" ;;
        esac
        echo "$name" >>"$tmp/lib/modules/order"
    done
    (cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out/initramfs.cpio.tmp"
    rm -rf "$tmp"
    mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
    echo "$istamp" >"$out/initramfs.stamp"
}

for k in "$K61" "$K612"; do build_kernel "$k"; done
say "ready: kernels $K61 $K612 (build/guest/kernels)"
