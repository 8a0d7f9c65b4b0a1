#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-patches.sh [--no-vm] [6.1|6.12]... - "make check-patches": prove
# each series make patches wrote (results/patches/<series>/), default
# both:
#
#   1. git am, patch by patch, on the pristine tree (mkpatches.sh's
#      scratch repository, branch "check" from "base");
#   2. after every patch, with Debian's config and Module.symvers for
#      that kernel (make olddefconfig modules_prepare once): an in-tree
#      build of drivers/target/ (make M=drivers/target W=1) with no
#      warning in a file the series touched so far (the base's own are
#      counted, not failed: 6.12's target core has some), and until the
#      switch patch adds its Makefile, each drivers/target/tcmu/*.c
#      compiled on its own with W=1: bisectable;
#   3. scripts/checkpatch.pl --strict on every patch: 0 errors, warnings
#      and checks, FILE_PATH_CHANGES aside (the new files' MAINTAINERS
#      entry comes in a patch of its own);
#   4. after the patch that adds it, the allocator's userspace tests
#      (tools/testing/tcmu/alloc) in the patched tree;
#   5. scripts/get_maintainer.pl on the series, which must name the
#      SCSI lists (get_maintainer.txt);
#   6. unless --no-vm, the module built in tree from the last patch,
#      loaded in the VM on that kernel for a smoke test: a user:qcow LUN
#      with targetcli and fio verify (tests/data-qcow-fio.sh).
#
# KTAP-like lines per series in results/patches/<series>/check.log;
# ends with "N passed, N failed" over all series, exit 1 on a failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export TCMU_CACHE=${TCMU_CACHE:-$top/.cache}
out_top=${PATCHES_OUT:-$top/results/patches}
vm=1
[ "${1:-}" = --no-vm ] && vm=0 && shift
[ $# -gt 0 ] || set -- 6.1 6.12

pass=0 failed=0
# checkpatch's PATH: Debian's python3 (spdxcheck.py) before any other.
cp_path=/usr/bin:$PATH
# result ok|fail WHAT [LOG]: one line, and a failure's log tail.
result() {
	if [ "$1" = ok ]; then
		pass=$((pass + 1))
		echo "ok $2" | tee -a "$clog"
	else
		failed=$((failed + 1))
		echo "not ok $2" | tee -a "$clog"
		[ -n "${3:-}" ] && tail -n 30 "$3" | sed 's/^/# /' | tee -a "$clog"
	fi
}
# warnings LOG [FILE...]: the compiler's warnings and errors in a build
# log (not those of the host tools modules_prepare leaves to the first
# build), only those in FILEs if given
warnings() {
	local log=$1 re='^[^ :]+\.[chS]:[0-9]+(:[0-9]+)?: (fatal )?(warning|error):'
	shift
	if [ $# = 0 ]; then
		grep -cE "$re" "$log"
	else
		grep -E "$re" "$log" | grep -cF "$(printf '%s:\n' "$@")"
	fi
}

for s in "$@"; do
	out=$out_top/$s
	clog=$out/check.log
	if ! ls "$out"/0001-*.patch >/dev/null 2>&1; then
		echo "no series in $out: run make patches" >&2
		failed=$((failed + 1))
		continue
	fi
	: >"$clog"
	kdir=$("$top/scripts/fetch-kernel.sh" --kernel "$s" | tail -n1)
	rel=$(basename "$kdir")-amd64
	hdr=$kdir/headers/usr/src/linux-headers-$rel
	tree=$TCMU_CACHE/patches/$(basename "$kdir")/tree
	[ -d "$tree/.git" ] || { echo "no tree $tree: run make patches" >&2; exit 1; }
	kmake=(make -C "$tree" -j"$(nproc)" KERNELRELEASE="$rel")
	logs=$out/logs
	mkdir -p "$logs"

	echo "# $s: $(git -C "$tree" log -1 --format=%s base)" | tee -a "$clog"
	# checkpatch skips its SPDX check, silently, where the python3 it
	# finds cannot run scripts/spdxcheck.py (no git or ply module):
	# Debian's python3 first, which host-deps.sh gives them.
	if spdx=$(cd "$tree" && echo "SPDX-License-Identifier: GPL-2.0" |
		PATH=$cp_path scripts/spdxcheck.py - 2>&1) && [ -z "$spdx" ]; then
		echo "# checkpatch's SPDX check: on" | tee -a "$clog"
	else
		echo "# checkpatch's SPDX check: off (python3 without its git and ply modules)" | tee -a "$clog"
	fi
	git -C "$tree" checkout -q -f -B check base
	git -C "$tree" clean -q -fdx
	cp "$hdr/.config" "$hdr/Module.symvers" "$tree/"
	if ! "${kmake[@]}" olddefconfig modules_prepare >"$logs/prepare.log" 2>&1; then
		result fail "$s prepare" "$logs/prepare.log"
		continue
	fi
	# The base's own W=1 warnings (6.12's target core has some) are
	# not the series': after each patch only those in the files the
	# series touched so far count.
	if "${kmake[@]}" W=1 M=drivers/target >"$logs/build-base.log" 2>&1; then
		result ok "$s base: builds, $(warnings "$logs/build-base.log") W=1 warnings of its own"
	else
		result fail "$s base: the unpatched tree does not build" "$logs/build-base.log"
	fi

	for p in "$out"/[0-9][0-9][0-9][0-9]-*.patch; do
		n=$(basename "$p" | cut -c1-4)
		[ "$n" = 0000 ] && continue
		name="$s $(basename "$p" .patch)"
		# (a committer of its own: CI's machines have no git identity)
		if ! git -C "$tree" -c user.name=check-patches -c user.email=check-patches@localhost \
			am -q "$p" >"$logs/am-$n.log" 2>&1; then
			result fail "$name: git am" "$logs/am-$n.log"
			git -C "$tree" am --abort >/dev/null 2>&1
			break
		fi
		blog=$logs/build-$n.log
		: >"$blog"
		bok=1
		"${kmake[@]}" W=1 M=drivers/target >>"$blog" 2>&1 || bok=0
		# The new driver's files before its Makefile: one by one.
		if [ ! -f "$tree/drivers/target/tcmu/Makefile" ]; then
			for c in "$tree"/drivers/target/tcmu/*.c; do
				[ -f "$c" ] || continue
				c=${c#"$tree"/}
				"${kmake[@]}" W=1 "${c%.c}.o" >>"$blog" 2>&1 || bok=0
			done
		fi
		mapfile -t touched < <(git -C "$tree" diff --name-only base HEAD -- '*.[chS]')
		w=0
		[ ${#touched[@]} = 0 ] || w=$(warnings "$blog" "${touched[@]}")
		[ "$w" = 0 ] || bok=0
		cpl=$logs/checkpatch-$n.log
		(cd "$tree" && PATH=$cp_path ./scripts/checkpatch.pl --strict \
			--ignore FILE_PATH_CHANGES "$p") >"$cpl" 2>&1
		tot=$(grep -E '^total:' "$cpl" | tail -n1)
		cok=0
		[[ "$tot" == "total: 0 errors, 0 warnings, 0 checks,"* ]] && cok=1
		if [ $bok = 1 ] && [ $cok = 1 ]; then
			result ok "$name: W=1 build, 0 warnings; checkpatch --strict: $tot"
		elif [ $bok = 0 ]; then
			result fail "$name: W=1 build: $w warnings or errors" "$blog"
		else
			result fail "$name: checkpatch --strict: $tot" "$cpl"
		fi
		# The allocator's userspace tests, in the tree, once they are in it.
		if [ -f "$tree/tools/testing/tcmu/alloc/Makefile" ] && [ -z "${alloc_done:-}" ]; then
			alloc_done=1
			if make -C "$tree/tools/testing/tcmu/alloc" check >"$logs/alloc-$n.log" 2>&1; then
				result ok "$name: tools/testing/tcmu/alloc in tree: $(grep -E '^[0-9]+ passed' "$logs/alloc-$n.log" | tail -n1)"
			else
				result fail "$name: tools/testing/tcmu/alloc in tree" "$logs/alloc-$n.log"
			fi
		fi
	done
	unset alloc_done

	# the patches, not the cover letter
	pl=()
	for p in "$out"/[0-9][0-9][0-9][0-9]-*.patch; do
		[[ $p == */0000-* ]] || pl+=("$p")
	done
	(cd "$tree" && ./scripts/get_maintainer.pl --nogit --nogit-fallback "${pl[@]}") \
		>"$out/get_maintainer.txt" 2>&1
	if grep -q 'linux-scsi@vger.kernel.org' "$out/get_maintainer.txt" &&
	   grep -q 'target-devel@vger.kernel.org' "$out/get_maintainer.txt"; then
		result ok "$s get_maintainer.pl: $(wc -l <"$out/get_maintainer.txt") addresses"
	else
		result fail "$s get_maintainer.pl" "$out/get_maintainer.txt"
	fi

	ko=$tree/drivers/target/tcmu/target_core_user.ko
	if [ $vm = 1 ] && [ -f "$ko" ]; then
		cp "$ko" "$out/target_core_user.ko"
		if "$top/tools/testing/tcmu/vm.sh" --kernel "$s" --module ours \
			--ko "$out/target_core_user.ko" -r "$out/vm" data-qcow-fio >"$logs/vm.log" 2>&1; then
			result ok "$s the in-tree module in the VM: data-qcow-fio"
		else
			result fail "$s the in-tree module in the VM: data-qcow-fio" "$logs/vm.log"
		fi
	fi
done
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
