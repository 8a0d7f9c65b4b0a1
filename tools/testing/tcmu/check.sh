#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - the whole test suite ("make check").
#
#   1. static checks of the driver: a W=1 build with no warnings, sparse
#      (C=2) with no warnings, both against 6.1 and 6.12 (Debian 12's two
#      kernels), checkpatch.pl --strict (and on the userspace tests'
#      C); of the test
#      scripts: bash -n, and no shell function defined twice;
#   2. userspace harnesses: the data-area allocator's (tools/testing/tcmu/alloc,
#      the kernel's lib/xarray.c compiled in userspace), the ring decoder's
#      fuzzer (tools/testing/tcmu/fuzz: its seeds and regression inputs,
#      then about a minute of libFuzzer) and tcmu-ramd's self-test against
#      a fake ring (tools/testing/tcmu/handler);
#   3. the VM tests (their root filesystem is built in the background
#      while steps 1 and 2 run) against ours (but those of the debug
#      tier, which step 5 runs with ours on the debug kernel; all of
#      them with CHECK_DEBUG=no or in make check-all), and against
#      Debian's stock target_core_user the tests whose "# tier:" line
#      names stock: those whose result differs on stock (its known bugs)
#      and a data-path baseline (CHECK_STOCK=all, make check-all: every
#      test);
#   4. the 6.12 tier: the tests whose "# tier:" line names 6.12, with our
#      module on Debian's 6.12 kernel (CHECK_612=all, make check-all:
#      every test, on both modules);
#   5. the debug tier: the tests whose "# tier:" line names debug, with
#      our module on our debug kernel (KASAN, lockdep, kmemleak, fault
#      injection; scripts/build-debug-kernel.sh, cached: a cold build
#      takes ~15-20 minutes, started first).  "make check-debug" runs
#      every test there;
#   6. the patch series' fast part, built in the background once the
#      debug kernel is: make patches for Debian's 6.1 source, and make
#      check-patches without its VM smoke test (each patch applied,
#      built with W=1 and checkpatch'ed; make check-all does both bases
#      and the VM).
#
# Each step prints its own lines; the last line is the total:
# "N passed, N failed, N skipped".  Exits 1 if anything failed.
#
# Env: CHECK_VM_TESTS="a b"  run only these VM tests
#      CHECK_MODULES="stock ours"  which modules the VM tests run against
#      CHECK_DEBUG=no  skip the debug tier
#      CHECK_612=tier|all|no  the 6.12 tier (default), every test on 6.12
#                      with both modules, or none
#      CHECK_STOCK=tier|all  stock runs its tier (default) or every test
#      CHECK_PATCHES=no  skip the patch series
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
k612=$("$top/scripts/fetch-kernel.sh" --kernel 6.12 2>"$out/fetch-6.12.log" | tail -n1)
abi=$(basename "$kernel_dir")
KDIR=${KDIR:-$kernel_dir/headers/usr/src/linux-headers-$abi-amd64}
KSRC=$kernel_dir/source
mod=$top/drivers/target/tcmu

# Two jobs run in the background at the lowest priority, each in a
# process group of its own: paused while the fuzzer runs (its million
# executions need both CPUs), killed if make check is interrupted.  The
# other steps spend much of their time waiting (downloads, timeouts, idle
# periods), and niced the jobs barely slow them.
bg_jobs=()
# bg NAME CMD...: start CMD so, its output in $out/NAME.log; sets bg_pid.
bg() {
	local name=$1
	shift
	setsid nice -n 19 "$@" >"$out/$name.log" 2>&1 &
	bg_pid=$!
	bg_jobs+=("$bg_pid")
}
# bg_signal SIG: send SIG to every background job.
bg_signal() {
	local p
	for p in "${bg_jobs[@]}"; do
		kill -"$1" -- -"$p"
	done 2>/dev/null
	return 0
}
trap 'bg_signal CONT; bg_signal TERM' EXIT

# The debug kernel (cached; a cold build is ~15 CPU-minutes), from the
# start; the debug tier waits for it.  Its exit code lands in
# debug-kernel.rc, which the series' check waits for.
debug_build=
rm -f "$out/debug-kernel.rc"
if [ "${CHECK_DEBUG:-yes}" != no ]; then
	bg debug-kernel bash -c '"$1"; rc=$?; echo $rc >"$2"; exit $rc' _ \
		"$top/scripts/build-debug-kernel.sh" "$out/debug-kernel.rc"
	debug_build=$bg_pid
fi
# The guests' root filesystem (cached; a cold debootstrap takes ~3
# minutes, mostly waiting for the mirror), while the static checks run;
# vm.sh waits for it (mkrootfs.sh's lock) or builds it if this failed.
[ -n "$k612" ] && bg rootfs "$top/scripts/mkrootfs.sh" "$kernel_dir" "$k612"
# The patch series' fast part (CHECK_PATCHES=no: none): make patches for
# the 6.1 base, then make check-patches without the VM (each patch
# applied, built W=1 and checkpatch'ed; the VM smoke test and the 6.12
# base are make check-all's).  After the debug kernel: both at once
# would delay the debug tier.
series_check=
if [ "${CHECK_PATCHES:-fast}" != no ]; then
	bg patches-6.1 bash -c 'while [ -n "$1" ] && [ ! -e "$2" ]; do sleep 10; done
		"$3/mkpatches.sh" 6.1 && "$3/check-patches.sh" --no-vm 6.1' _ \
		"$debug_build" "$out/debug-kernel.rc" "$top/scripts/patches"
	series_check=$bg_pid
fi

echo "== static checks =="
# build_checks SUFFIX KDIR DIR: a W=1 build and a sparse one of the
# driver in DIR against KDIR, with no warnings.
build_checks() {
	make -C "$2" M="$3" clean >/dev/null 2>&1
	if make -C "$2" M="$3" W=1 modules >"$out/build-w1$1.log" 2>&1 &&
	   ! grep -E 'warning:|error:' "$out/build-w1$1.log" >/dev/null; then
		result PASS "static/build-w1$1"
	else
		result FAIL "static/build-w1$1" "$out/build-w1$1.log"
	fi
	if make -C "$2" M="$3" C=2 W=1 modules >"$out/sparse$1.log" 2>&1 &&
	   ! grep -E 'warning:|error:' "$out/sparse$1.log" >/dev/null; then
		result PASS "static/sparse$1"
	else
		result FAIL "static/sparse$1" "$out/sparse$1.log"
	fi
}
build_checks "" "$KDIR" "$mod"
# Debian 12's other kernel, 6.12 (compat.h): built from a copy of the
# sources, so that the 6.1 module the VM tests load stays.
if [ -n "$k612" ]; then
	rm -rf "$out/build-6.12"
	mkdir -p "$out/build-6.12"
	cp "$mod"/Kbuild "$mod"/*.[ch] "$out/build-6.12/"
	rm -f "$out/build-6.12"/*.mod.c
	build_checks -6.12 "$k612/headers/usr/src/linux-headers-$(basename "$k612")-amd64" \
		"$out/build-6.12"
else
	result FAIL static/fetch-6.12 "$out/fetch-6.12.log"
fi
# Our sources, not the build's generated *.mod.c.
srcs=$(cd "$top" && ls drivers/target/tcmu/*.[ch] | grep -v '\.mod\.c$')
if (cd "$top" && "$KSRC/scripts/checkpatch.pl" --strict --no-tree --terse \
	-f $srcs) >"$out/checkpatch.log" 2>&1; then
	result PASS static/checkpatch
else
	result FAIL static/checkpatch "$out/checkpatch.log"
fi
# The userspace tests' C, which make patches sends with the driver
# (make check-patches checks each patch whole, in make check-all).
tsrcs=$(cd "$top" && ls tools/testing/tcmu/{alloc,fuzz,handler}/*.[ch] \
	tools/testing/tcmu/{alloc,fuzz}/shim/*.h tools/testing/tcmu/{alloc,fuzz}/shim/*/*.h 2>/dev/null)
if (cd "$top" && "$KSRC/scripts/checkpatch.pl" --strict --no-tree --terse \
	-f $tsrcs) >"$out/checkpatch-tests.log" 2>&1; then
	result PASS static/checkpatch-tests
else
	result FAIL static/checkpatch-tests "$out/checkpatch-tests.log"
fi
# kernel-doc of every function one file calls in another, the data
# area's API included (-v: 6.1's kernel-doc checks Return: sections and
# short descriptions only then, what later kernels call -Wall).
if (cd "$top" && "$KSRC/scripts/kernel-doc" -none -v -Werror $srcs) \
	>"$out/kernel-doc.log" 2>&1; then
	result PASS static/kernel-doc
else
	result FAIL static/kernel-doc "$out/kernel-doc.log"
fi
# The test scripts: every one parses, and no shell function is defined
# twice anywhere under tools/testing/tcmu (helpers live once, in
# guest/lib.sh; a test's own helpers have names of their own).
shells=$(find "$here" -name '*.sh' -o -name initramfs-init | sort)
if (rc=0; for f in $shells; do bash -n "$f" || rc=1; done; exit $rc) >"$out/shell-syntax.log" 2>&1; then
	result PASS static/shell-syntax
else
	result FAIL static/shell-syntax "$out/shell-syntax.log"
fi
# shellcheck disable=SC2086
grep -EHo '^[[:space:]]*(function[[:space:]]+)?[A-Za-z_][A-Za-z0-9_]*[[:space:]]*\(\)[[:space:]]*[{(]' $shells |
	sed -E "s|^$here/||; s/:[[:space:]]*(function[[:space:]]+)?([A-Za-z0-9_]+).*/ \2/" |
	awk '{ n[$2]++; at[$2] = at[$2] " " $1 }
	     END { for (f in n) if (n[f] > 1) print f "() defined in" at[f] }' \
	>"$out/shell-functions.log"
if [ -s "$out/shell-functions.log" ]; then
	result FAIL static/shell-functions "$out/shell-functions.log"
else
	result PASS static/shell-functions
fi
# The module the VM tests load: a normal build.
make -C "$KDIR" M="$mod" modules >"$out/build.log" 2>&1 ||
	result FAIL static/build "$out/build.log"

# unit NAME LOG CMD...: a userspace harness that ends with "N passed, N failed".
unit() {
	local name=$1 log=$2
	shift 2
	echo "== $name =="
	"$@" >"$log" 2>&1
	unit_counts "$name" "$log" $?
}
# unit_counts NAME LOG RC: the result lines and counts of a harness's LOG.
unit_counts() {
	local line p=0 f=0
	grep -E '^(PASS|FAIL|ok|not ok)|passed,' "$2"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n1)
	[ -n "$line" ] && read -r p _ f _ <<<"$line" && add "$p" "$f"
	# No summary, or a non-zero exit its counts do not explain (a build
	# error, a sanitizer report at exit): one more failure.
	if [ -z "$line" ] || { [ "$3" != 0 ] && [ "$f" = 0 ]; }; then
		result FAIL "unit/$1 (exit $3)" "$2"
	fi
}
unit "allocator unit harness" "$out/alloc.log" \
	make -C "$here/alloc" KSRC="$KSRC" check
bg_signal STOP
unit "ring decoder fuzzer (libFuzzer, ASan, UBSan)" "$out/fuzz.log" \
	make -s -C "$here/fuzz" KSRC="$KSRC" check
bg_signal CONT
unit "tcmu-ramd self-test (ASan, UBSan)" "$out/ramd-selftest.log" \
	make -s -C "$here/handler" check SAN=1

# vmsum LABEL: add a vm.sh run's counts from its KTAP, results/LABEL/ktap:
# "ok" passed (XFAIL too), "ok ... # SKIP" skipped, "not ok" failed; a
# result missing from the plan is one more failure.
vmsum() {
	local k=$top/results/$1/ktap plan p f s
	if [ ! -f "$k" ]; then
		result FAIL "vm/$1 (no KTAP)" /dev/null
		return
	fi
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$k" | head -n1)
	s=$(grep -Ec '^ok [0-9]+ [^#]*# SKIP' "$k")
	p=$(($(grep -Ec '^ok [0-9]+ ' "$k") - s))
	f=$(grep -Ec '^not ok [0-9]+ ' "$k")
	add "$p" "$f" "$s"
	[ $((p + f + s)) = "${plan:--1}" ] ||
		result FAIL "vm/$1: $((p + f + s)) results for the plan 1..${plan:-?}" /dev/null
}

# tier NAME: the tests whose "# tier:" line names NAME.
tier() {
	grep -lE "^# tier:.*\<$1\>" "$here"/tests/*.sh | sed 's|.*/||; s|\.sh$||'
}

# but_debug: the default tests but the debug tier's, which the debug
# kernel runs with ours after this (the same 6.1 source, checked harder).
but_debug() {
	local f t
	for f in "$here"/tests/*.sh; do
		t=$(basename "$f" .sh)
		grep -q '^# default: no' "$f" && continue
		grep -qE '^# tier:.*\<debug\>' "$f" && continue
		echo "$t"
	done
}

for m in ${CHECK_MODULES:-stock ours}; do
	sel=${CHECK_VM_TESTS:-}
	what=
	if [ -z "$sel" ] && [ $m = stock ] && [ "${CHECK_STOCK:-tier}" = tier ]; then
		sel=$(tier stock)
		what=" (tier: stock)"
	elif [ -z "$sel" ] && [ $m = ours ] && [ -n "$debug_build" ] &&
	     [ "${CHECK_STOCK:-tier}" = tier ]; then
		sel=$(but_debug)
		what=" (all but the debug tier's)"
	fi
	echo "== VM tests, $m module$what =="
	rm -f "$top/results/$m/ktap"
	# shellcheck disable=SC2086
	"$here/vm.sh" --module "$m" $sel
	vmsum "$m"
done

# make bench's report parser on the bench smoke's records (tests/bench-smoke.sh)
if [ -f "$top/results/ours/bench-smoke.log" ]; then
	if python3 "$here/bench/report.py" --check "$top/results/ours/bench-smoke.log" \
		>"$out/bench-report.log" 2>&1; then
		result PASS bench/report-parse
	else
		result FAIL bench/report-parse "$out/bench-report.log"
	fi
fi

case ${CHECK_612:-tier} in
tier)
	echo "== VM tests, 6.12 kernel, ours module (tier: 6.12) =="
	rm -f "$top/results/6.12-ours/ktap"
	# shellcheck disable=SC2046
	"$here/vm.sh" --kernel 6.12 --module ours $(tier 6.12)
	vmsum 6.12-ours ;;
all)
	for m in ${CHECK_MODULES:-stock ours}; do
		echo "== VM tests, 6.12 kernel, $m module =="
		rm -f "$top/results/6.12-$m/ktap"
		# shellcheck disable=SC2086
		"$here/vm.sh" --kernel 6.12 --module "$m" ${CHECK_VM_TESTS:-}
		vmsum "6.12-$m"
	done ;;
esac

if [ -n "$debug_build" ]; then
	echo "== VM tests, debug kernel, ours module (tier: debug) =="
	if wait "$debug_build"; then
		rm -f "$top/results/debug-ours/ktap"
		# shellcheck disable=SC2046
		"$here/vm.sh" --kernel debug --module ours $(tier debug)
		vmsum debug-ours
	else
		result FAIL debug/kernel-build "$out/debug-kernel.log"
	fi
fi

if [ -n "$series_check" ]; then
	echo "== the patch series for 6.1, without the VM =="
	wait "$series_check"
	unit_counts "patches-6.1" "$out/patches-6.1.log" $?
fi

echo "$pass passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
