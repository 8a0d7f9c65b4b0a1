#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest's root filesystem from Debian packages: debootstrap
# (minbase) with tcmu-runner, targetcli-fb, fio, sg3-utils, ... plus the
# module trees of the fetched kernels (6.1 and 6.12 boot the same image),
# trimmed, written to an ext4 image.
#
# With --dkms, an image for installing our DKMS package as an admin
# would (tests/pkg-dkms.sh): dkms and its compiler too, and each kernel
# installed as Debian packages -- image, headers, kbuild -- from the
# cached .debs fetch-kernel.sh downloaded, rather than its modules
# copied in.
#
# Cached in $TCMU_CACHE/rootfs/<key>.ext4, where <key> hashes this script,
# the package list and the kernel ABIs: rebuilt only when one changes.
#
# Usage: scripts/mkrootfs.sh [--dkms] KERNEL_DIR...  (prints the image path)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCMU_CACHE:-$top/.cache}
dkms=0
[ "${1:-}" = --dkms ] && dkms=1 && shift
[ $# -ge 1 ] || { echo "usage: $0 [--dkms] KERNEL_DIR..." >&2; exit 2; }
kernel_dirs=("$@")
abis=
for k in "${kernel_dirs[@]}"; do
	abis="$abis $(basename "$k")-amd64"
done
mirror=${TCMU_MIRROR:-http://deb.debian.org/debian}

packages=tcmu-runner,libtcmu2,dbus,targetcli-fb,python3-rtslib-fb,fio,sg3-utils
packages=$packages,qemu-utils,kmod,util-linux,procps,psmisc,e2fsprogs
# what the kernel packages depend on (tiny-initramfs: the lightest
# initramfs tool they accept), and dkms with its compiler
[ $dkms = 1 ] && packages=$packages,dkms,linux-base,tiny-initramfs,linux-compiler-gcc-12-x86,pahole,libelf1,libssl3

log() { echo "mkrootfs: $*" >&2; }

key=$( (cat "$0"; echo "$packages$abis") | sha256sum | cut -c1-16)
out=$cache/rootfs
img=$out/rootfs-$key.ext4
[ $dkms = 1 ] && img=$out/rootfs-dkms-$key.ext4
if [ -f "$img" ]; then
	echo "$img"
	exit 0
fi
mkdir -p "$out"
# One build of an image at a time (make check starts one in the
# background, then vm.sh asks for it): a second caller waits for the
# first and takes its image.
exec 9>"$img.lock"
flock 9
if [ -f "$img" ]; then
	echo "$img"
	exit 0
fi
dir=$out/tree-$key
rm -rf "$dir"

log "debootstrap bookworm into $dir (a few minutes)"
debootstrap --variant=minbase --include="$packages" bookworm "$dir" "$mirror" \
	>"$out/debootstrap-$key.log" 2>&1 || {
	tail -n 30 "$out/debootstrap-$key.log" >&2
	exit 1
}

log "trimming"
rm -rf "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
	"$dir"/usr/share/locale/* "$dir"/var/cache/apt/archives/*.deb \
	"$dir"/var/lib/apt/lists/* "$dir"/usr/share/i18n/* 2>/dev/null || true

# Kernel modules: everything but hardware the VM does not have.
mkdir -p "$dir/lib/modules"
for k in "${kernel_dirs[@]}"; do
	abi=$(basename "$k")-amd64
	if [ $dkms = 1 ]; then
		# the .debs fetch-kernel.sh unpacked (its stamps list them)
		log "installing the packages of $abi"
		mkdir -p "$dir/tmp/debs"
		# shellcheck disable=SC2046
		cp $(cat "$k/root/.unpacked" "$k/headers/.unpacked") "$dir/tmp/debs/"
		# the initramfs hook reads /proc/self/mountinfo
		mount -t proc proc "$dir/proc"
		rc=0
		chroot "$dir" sh -c 'dpkg -i /tmp/debs/*.deb' \
			>>"$out/debootstrap-$key.log" 2>&1 || rc=$?
		umount "$dir/proc"
		if [ $rc != 0 ]; then
			tail -n 30 "$out/debootstrap-$key.log" >&2
			exit 1
		fi
		rm -rf "$dir/tmp/debs"
	else
		log "adding modules of $abi"
		cp -a "$k/root/lib/modules/$abi" "$dir/lib/modules/"
	fi
	m=$dir/lib/modules/$abi/kernel
	rm -rf "$m"/drivers/gpu "$m"/drivers/media "$m"/drivers/net/wireless \
		"$m"/drivers/infiniband "$m"/drivers/staging "$m"/sound \
		"$m"/drivers/bluetooth "$m"/net/wireless "$m"/net/mac80211 \
		"$m"/drivers/iio "$m"/drivers/hid "$m"/drivers/input \
		"$m"/drivers/usb "$m"/drivers/isdn "$m"/drivers/net/ethernet
	depmod -b "$dir" "$abi"
done

echo tcmu-guest >"$dir/etc/hostname"
# fio's verify state and test images live on the root disk.
mkdir -p "$dir/var/lib/tcmu-test"

size_mb=$(du -sm "$dir" | cut -f1)
size_mb=$((size_mb + 1536))	# room for qcow2 images and logs
log "writing ${size_mb} MiB ext4 image"
rm -f "$img.tmp"
mkfs.ext4 -q -F -L tcmu-root -d "$dir" "$img.tmp" "${size_mb}M"
mv "$img.tmp" "$img"
rm -rf "$dir"
echo "$img"
