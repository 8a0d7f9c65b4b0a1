#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - the whole test suite ("make check").
#
#   1. static checks of the driver: a W=1 build with no warnings, sparse
#      (C=2) with no warnings, checkpatch.pl --strict;
#   2. the data-area allocator's userspace unit harness (tools/testing/tcmu/alloc);
#   3. the VM tests, once against Debian's stock target_core_user and once
#      against ours (tools/testing/tcmu/vm.sh).
#
# Each step prints its own lines; the last line is the total:
# "N passed, N failed, N skipped".  Exits 1 if anything failed.
#
# Env: CHECK_VM_TESTS="a b"  run only these VM tests
#      CHECK_MODULES="stock ours"  which modules the VM tests run against
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
export TCMU_CACHE=${TCMU_CACHE:-$top/.cache}
out=$top/results/check
mkdir -p "$out"

pass=0 failed=0 skipped=0
add() { pass=$((pass + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }
result() {	# PASS|FAIL name [detail file]
	echo "$1 $2"
	if [ "$1" = PASS ]; then add 1 0; else add 0 1; [ -n "${3:-}" ] && sed 's/^/    | /' "$3" | tail -n 40; fi
}

kernel_dir=$("$top/scripts/fetch-kernel.sh" --source | tail -n1)
abi=$(basename "$kernel_dir")
KDIR=${KDIR:-$kernel_dir/headers/usr/src/linux-headers-$abi-amd64}
KSRC=$kernel_dir/source
mod=$top/drivers/target

echo "== static checks =="
make -C "$KDIR" M="$mod" clean >/dev/null 2>&1
if make -C "$KDIR" M="$mod" W=1 modules >"$out/build-w1.log" 2>&1 &&
   ! grep -E 'warning:|error:' "$out/build-w1.log" >/dev/null; then
	result PASS static/build-w1
else
	result FAIL static/build-w1 "$out/build-w1.log"
fi
if make -C "$KDIR" M="$mod" C=2 W=1 modules >"$out/sparse.log" 2>&1 &&
   ! grep -E 'warning:|error:' "$out/sparse.log" >/dev/null; then
	result PASS static/sparse
else
	result FAIL static/sparse "$out/sparse.log"
fi
srcs=$(cd "$top" && ls drivers/target/*.[ch])
if (cd "$top" && "$KSRC/scripts/checkpatch.pl" --strict --no-tree --terse \
	--ignore SPDX_LICENSE_TAG -f $srcs) >"$out/checkpatch.log" 2>&1; then
	result PASS static/checkpatch
else
	result FAIL static/checkpatch "$out/checkpatch.log"
fi
# The module the VM tests load: a normal build.
make -C "$KDIR" M="$mod" modules >"$out/build.log" 2>&1 ||
	result FAIL static/build "$out/build.log"

if [ -f "$here/alloc/Makefile" ]; then
	echo "== allocator unit harness =="
	make -C "$here/alloc" KSRC="$KSRC" check 2>&1 | tee "$out/alloc.log" |
		grep -E '^(PASS|FAIL)|passed,'
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/alloc.log" | tail -n1)
	if [ -n "$line" ]; then
		read -r p _ f _ <<<"$line"
		add "$p" "$f"
	else
		result FAIL unit/alloc-harness "$out/alloc.log"
	fi
fi

for m in ${CHECK_MODULES:-stock ours}; do
	echo "== VM tests, $m module =="
	# shellcheck disable=SC2086
	"$here/vm.sh" --module "$m" ${CHECK_VM_TESTS:-}
	if [ -f "$top/results/$m/summary" ]; then
		read -r p f s <"$top/results/$m/summary"
		add "$p" "$f" "$s"
	else
		result FAIL "vm/$m" /dev/null
	fi
done

echo "$pass passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
