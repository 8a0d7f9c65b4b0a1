#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a debug kernel (KASAN, lockdep, kmemleak, fault injection, hung
# task and soft lockup detectors) from linux-source-6.1 for the VM tests.
# tinyconfig plus tools/testing/tcmu/debug-kernel/debug.config.
#
# Cached in $TCMU_CACHE/debug-kernel/<key>, <key> hashing the fragment,
# this script and the source package: rebuilt only when one changes.
# Prints that folder; it holds build/ (KDIR for our module, and
# build/arch/x86/boot/bzImage) and mods/lib/modules/<release>/.
# A cold build takes ~15-20 minutes on 2 cores.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCMU_CACHE:-$top/.cache}
frag=$top/tools/testing/tcmu/debug-kernel/debug.config
kernel_dir=$("$top/scripts/fetch-kernel.sh" --source | tail -n1)
src=$kernel_dir/source

key=$( (cat "$0" "$frag" "$src/.unpacked") | sha256sum | cut -c1-16)
out=$cache/debug-kernel/$key
if [ -f "$out/.done" ]; then
	echo "$out"
	exit 0
fi
log() { echo "build-debug-kernel: $*" >&2; }
mkdir -p "$out"
b=$out/build
log "configuring in $b"
make -s -C "$src" O="$b" tinyconfig >&2
(cd "$b" && "$src/scripts/kconfig/merge_config.sh" -m -O "$b" .config "$frag") >"$out/merge.log" 2>&1
make -s -C "$src" O="$b" olddefconfig >&2
# Every option of the fragment must have survived (a missing dependency
# silently drops one).
missing=0
while read -r line; do
	case $line in CONFIG_*=*) ;; *) continue ;; esac
	grep -qx "$line" "$b/.config" || { log "not set: $line"; missing=1; }
done <"$frag"
[ $missing = 0 ] || { log "the fragment did not apply"; exit 1; }
log "building bzImage and modules (long)"
make -C "$src" O="$b" -j"$(nproc)" bzImage modules >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	exit 1
}
make -s -C "$src" O="$b" INSTALL_MOD_PATH="$out/mods" modules_install >&2
touch "$out/.done"
echo "$out"
