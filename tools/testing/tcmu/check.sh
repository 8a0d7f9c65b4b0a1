#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - the whole test suite ("make check").
#
#   1. static checks of the driver: a W=1 build with no warnings, sparse
#      (C=2) with no warnings, checkpatch.pl --strict;
#   2. userspace harnesses: the data-area allocator's (tools/testing/tcmu/alloc,
#      the kernel's lib/xarray.c compiled in userspace) and tcmu-ramd's
#      self-test against a fake ring (tools/testing/tcmu/handler);
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
# Our sources, not the build's generated *.mod.c.
srcs=$(cd "$top" && ls drivers/target/*.[ch] | grep -v '\.mod\.c$')
if (cd "$top" && "$KSRC/scripts/checkpatch.pl" --strict --no-tree --terse \
	-f $srcs) >"$out/checkpatch.log" 2>&1; then
	result PASS static/checkpatch
else
	result FAIL static/checkpatch "$out/checkpatch.log"
fi
# The module the VM tests load: a normal build.
make -C "$KDIR" M="$mod" modules >"$out/build.log" 2>&1 ||
	result FAIL static/build "$out/build.log"

# unit NAME LOG CMD...: a userspace harness that ends with "N passed, N failed".
unit() {
	local name=$1 log=$2 line rc p=0 f=0
	shift 2
	echo "== $name =="
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL)|passed,' "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
	[ -n "$line" ] && read -r p _ f _ <<<"$line" && add "$p" "$f"
	# No summary, or a non-zero exit its counts do not explain (a build
	# error, a sanitizer report at exit): one more failure.
	if [ -z "$line" ] || { [ $rc != 0 ] && [ "$f" = 0 ]; }; then
		result FAIL "unit/$name (exit $rc)" "$log"
	fi
}
unit "allocator unit harness" "$out/alloc.log" \
	make -C "$here/alloc" KSRC="$KSRC" check
unit "tcmu-ramd self-test (ASan, UBSan)" "$out/ramd-selftest.log" \
	make -s -C "$here/handler" check SAN=1

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
