#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host-deps.sh run|check|ci - make sure this Debian 12 host has the
# packages "make run" or "make check" (ci: the same as check) needs.
# Missing ones are installed when run as root (apt-get, no recommends);
# otherwise it prints one line naming the command to run and exits 1.
# .ci/run, make run and make check call it; nothing else installs host
# packages.
set -euo pipefail

# The kernel build, the guest root (debootstrap, mkfs.ext4, busybox for
# the initramfs), the VM (qemu-system-x86), module tools (kmod).
run_pkgs="make gcc libc6-dev bc flex bison libelf-dev libssl-dev dwarves kmod
	  perl python3 xz-utils cpio busybox-static e2fsprogs debootstrap
	  qemu-system-x86 ca-certificates"
# sparse; the allocator harness (liburcu); the ring decoder's fuzzer;
# checkpatch's SPDX check in the patch series' check (python3 git, ply).
check_pkgs="sparse liburcu-dev clang-14 libclang-rt-14-dev llvm-14
	    python3-git python3-ply"

case ${1:-} in
run) want=$run_pkgs ;;
check|ci) want="$run_pkgs $check_pkgs" ;;
*) echo "usage: $0 run|check|ci" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing="$missing $p"
done
# The kernels are fetched through apt's package lists (fetch-kernel.sh).
lists=1
apt-cache show linux-image-amd64 >/dev/null 2>&1 || lists=0
[ -z "$missing" ] && [ $lists = 1 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	if [ -n "$missing" ]; then
		echo "host-deps: missing packages; run: sudo apt-get install --no-install-recommends$missing" >&2
	else
		echo "host-deps: apt knows no kernel packages; run: sudo apt-get update" >&2
	fi
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
[ -z "$missing" ] && exit 0
echo "host-deps: installing$missing" >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
