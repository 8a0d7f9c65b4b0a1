#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh - boot one of Debian 12's kernels (6.1, 6.12) or our debug build
# of 6.1 under QEMU and run guest tests in it.
#
# Usage: vm.sh [options] [TEST...]
#        vm.sh [-m stock|ours] [-k 6.1|6.12|debug] --shell
#   -m, --module stock|ours   which target_core_user the guest loads
#                             (default: $MODULE, else ours)
#   -r, --results DIR         where logs go (default: results/<module>)
#   -l, --list                list the tests and exit
#   -s, --show                print every test's output, not only failures
#   -k, --kernel 6.1|6.12|debug  the guest kernel: Debian's 6.1 image
#                             (default: $KERNEL, else 6.1; "debian" is
#                             6.1 too), Debian's 6.12 image
#                             (linux-image-6.12-amd64: our module is built
#                             against its headers, the stock one is its
#                             own) or our debug build of the 6.1 source
#                             (KASAN, lockdep, kmemleak, fault injection:
#                             scripts/build-debug-kernel.sh; timeouts are
#                             tripled on it).  Results of 6.12 and debug
#                             go to results/6.12-<module>, debug-<module>
#       --mem MB              guest RAM (default 2048)
#       --cpu MODEL           QEMU's -cpu (default: $TCMU_VM_CPU, else max);
#                             make bench uses max,-erms (see bench.sh)
#       --plugin SPEC         load a TCG plugin (QEMU's -plugin SPEC), as
#                             make bench does its instruction counter
#       --ko FILE             ours is this target_core_user.ko, built for
#                             the kernel booted (make check-patches: the
#                             module built in a patched kernel tree)
#       --shell               no tests: boot the guest with the module
#                             loaded and a shell on this terminal, for a
#                             fast edit/test loop (make; vm.sh --shell;
#                             in the guest: bash /tcmu/tests/NAME.sh or
#                             . /tcmu/lib.sh and its helpers).  "exit"
#                             powers the guest off, Ctrl-A X quits QEMU;
#                             piped commands work too (the serial port
#                             drops the first bytes while the kernel
#                             boots: start with empty lines):
#                             printf '\n\nlsmod; exit\n' | vm.sh --shell
#   TEST                      test names (tests/NAME.sh); default: all
#                             but those marked "# default: no"
#
# One boot runs all the named tests, one after the other, each under its
# own timeout (the "# timeout:" line of the script); the whole boot has a
# timeout too, so a hung guest can never hang this script: the tests that
# got no result fail and the console log is kept.
#
# Prints KTAP (TAP version 13, as kselftest) on stdout, and to
# DIR/ktap: a plan "1..N", then per test "ok N <test>", "ok N <test> #
# SKIP <why>", "ok N <test> # XFAIL <why>" or "not ok N <test> # <why>",
# after its run time and, on failure (all tests with --show), its output
# and dmesg tail as "# " diagnostic lines.  Ends with "# N passed, N
# failed, N skipped" (XFAIL counts as passed) and exits 1 if any test
# failed.  Its own notes go to stderr, as "# vm.sh: ..." lines.  Each
# test's whole output is in DIR/<test>.log.
#
# A test whose header says "# xfail: <module> <why>" is known to fail on
# that module (the stock one hangs or breaks where ours must not): there
# it runs in a boot of its own, its failure is reported as XFAIL and
# counted as passed, and its passing fails the run, so the known
# difference between the two drivers is checked on every run.  Only a
# failure after the test's "KNOWN-BUG:" line (lib.sh: known_bug) is the
# known one: a failure before it fails the run.  Its
# "# xfail-timeout: S" (default 300) replaces its timeout there; it ends
# at its first kernel report, and its boot ends with its result.
#
# Under TCMU_SOAK=1 (make soak), a test's "# soak-timeout: S" replaces
# its timeout: its rounds run with their full counts (guest/lib.sh).
#
# A test whose header says "# cmdline: <parameters>" needs them on the
# guest kernel's command line: every boot that runs it gets them.
#
# A test whose header says "# rootfs: dkms" installs our DKMS package
# (scripts/package/mkdeb.sh, in /tcmu) on an image where the Debian
# kernels are installed as packages, headers too (mkrootfs.sh --dkms):
# it boots alone on that image; on the debug kernel it is skipped.
#
# Guest test scripts: see guest/lib.sh for their conventions.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
export TCMU_CACHE=${TCMU_CACHE:-$top/.cache}
module=${MODULE:-ours}
kernel=${KERNEL:-6.1}
results=
mem=${TCMU_VM_MEM:-2048}
cpu=${TCMU_VM_CPU:-max}
plugin=
ko_given=
list=0
show=0
shell=0
tests=()

while [ $# -gt 0 ]; do
	case $1 in
	-m|--module) module=$2; shift ;;
	-r|--results) results=$2; shift ;;
	-k|--kernel) kernel=$2; shift ;;
	--mem) mem=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--plugin) plugin=$2; shift ;;
	--ko) ko_given=$(realpath "$2"); shift ;;
	-l|--list) list=1 ;;
	-s|--show) show=1 ;;
	--shell) shell=1 ;;
	-h|--help) sed -n '3,/^set -e/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
	-*) echo "vm.sh: unknown option $1" >&2; exit 2 ;;
	*) tests+=("$1") ;;
	esac
	shift
done
case $module in stock|ours) ;; *) echo "vm.sh: module is stock or ours" >&2; exit 2 ;; esac
case $kernel in
debian|6.1) kernel=6.1 ;;
6.12|debug) ;;
*) echo "vm.sh: kernel is 6.1, 6.12 or debug" >&2; exit 2 ;;
esac
label=$module
[ "$kernel" = 6.1 ] || label=$kernel-$module
if [ $shell = 1 ]; then
	[ ${#tests[@]} = 0 ] && [ $list = 0 ] ||
		{ echo "vm.sh: --shell runs no tests" >&2; exit 2; }
	label=shell-$label
fi

# A test's header line "# key: value".
header() { sed -n "s/^# $2: *//p" "$here/tests/$1.sh" | head -n1; }
# "# xfail: MODULE why": the reason if TEST is known to fail on $module.
xfail() { header "$1" xfail | sed -n "s/^$module  *//p"; }

if [ ${#tests[@]} = 0 ] && [ $shell = 0 ]; then
	for f in "$here"/tests/*.sh; do
		t=$(basename "$f" .sh)
		[ "$(header "$t" default)" = no ] && continue
		tests+=("$t")
	done
fi
for t in "${tests[@]}"; do
	[ -f "$here/tests/$t.sh" ] || { echo "vm.sh: no test $t" >&2; exit 2; }
done
if [ $list = 1 ]; then
	for t in "${tests[@]}"; do
		printf '%-28s %-12s %s\n' "$t" "[$(header "$t" modules)]" "$(header "$t" tcmu-test)"
	done
	exit 0
fi

results=${results:-$top/results/$label}
rm -rf "$results"
mkdir -p "$results"
note() { echo "# vm.sh: $*" >&2; }
ko=${ko_given:-$top/drivers/target/tcmu/target_core_user.ko}
if [ "$module" = ours ] && [ ! -f "$ko" ]; then
	note "build the module first: make"
	exit 2
fi

# KTAP, on stdout and in $results/ktap (not for --shell).
ktap=$results/ktap
out() { printf '%s\n' "$@" | tee -a "$ktap"; }
# out_diag [N]: stdin (its last N lines) as KTAP diagnostic lines.
out_diag() {
	tail -n "${1:-+1}" | sed 's/^/# /; s/^# $/#/' | tee -a "$ktap"
}
# first_report CONSOLE: the guest's first kernel report (the runner's
# report heads, an RCU stall or a panic), with the stack under it: a
# hung guest's log tail shows how it ended, this how it began.
. "$here/guest/kreport.sh"
first_report() {
	local pat="($KREPORT_HEAD|rcu: INFO|Kernel panic)"
	grep -aqE "$pat" "$1" || return 0
	out "# first kernel report ($1):"
	awk -v pat="$pat" '$0 ~ pat { on = 1 } on && n++ < 50' "$1" | tr -d '\r' | out_diag
}
[ $shell = 1 ] || out "TAP version 13" "1..${#tests[@]}" "# $label: $module module, $kernel kernel"

n=0 pass=0 failed=0 skipped=0
report() {	# result test seconds reason
	n=$((n + 1))
	[ "$3" = 0 ] || out "# $2: ${3} s"
	case $1 in
	PASS) pass=$((pass + 1)); out "ok $n $2" ;;
	FAIL) failed=$((failed + 1)); out "not ok $n $2${4:+ # $4}" ;;
	SKIP) skipped=$((skipped + 1)); out "ok $n $2 # SKIP${4:+ $4}" ;;
	XFAIL) pass=$((pass + 1)); out "ok $n $2 # XFAIL${4:+ $4}" ;;
	esac
}
finish() {
	out "# $pass passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
	exit $?
}

# Tests that do not apply to this module are skipped without booting.
run=()
for t in "${tests[@]}"; do
	if ! header "$t" modules | grep -qw "$module"; then
		report SKIP "$t" 0 "does not apply to the $module module"
	elif [ "$kernel" = debug ] && [ -n "$(header "$t" rootfs)" ]; then
		report SKIP "$t" 0 "the debug kernel is not a Debian package"
	else
		run+=("$t")
	fi
done
[ ${#run[@]} = 0 ] && [ $shell = 0 ] && finish

# One root filesystem for both Debian kernels: it holds both module trees.
k61=$("$top/scripts/fetch-kernel.sh" | tail -n1)
k612=$("$top/scripts/fetch-kernel.sh" --kernel 6.12 | tail -n1)
rootfs=$("$top/scripts/mkrootfs.sh" "$k61" "$k612" | tail -n1)
# Tests whose header says "# rootfs: dkms" install our DKMS package as an
# admin would: they boot the image with the kernels installed as Debian
# packages, headers too (mkrootfs.sh --dkms), and get the .deb in /tcmu.
dkms_rootfs=
for t in "${run[@]}"; do
	[ "$(header "$t" rootfs)" = dkms ] || continue
	dkms_rootfs=$("$top/scripts/mkrootfs.sh" --dkms "$k61" "$k612" | tail -n1)
	break
done
work=$(mktemp -d "${TMPDIR:-/tmp}/tcmu-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
scale=1
append="console=ttyS0 panic=5 quiet loglevel=4 tsc=reliable"
# build_ours KDIR WHAT: our module, built against KDIR in a scratch copy
# (drivers/target/tcmu keeps the 6.1 build); sets ko.
build_ours() {
	[ "$module" = ours ] && [ -z "$ko_given" ] || return 0
	mkdir -p "$work/mod"
	cp "$top"/drivers/target/tcmu/Kbuild "$top"/drivers/target/tcmu/*.[ch] "$work/mod/"
	rm -f "$work/mod"/*.mod.c
	make -s -C "$1" M="$work/mod" modules >"$work/mod/build.log" 2>&1 || {
		cat "$work/mod/build.log" >&2
		note "our module does not build against $2"
		exit 1
	}
	ko=$work/mod/target_core_user.ko
}
case $kernel in
debug)
	dk=$("$top/scripts/build-debug-kernel.sh" | tail -n1)
	rel=$(cat "$dk/build/include/config/kernel.release")
	vmlinuz=$dk/build/arch/x86/boot/bzImage
	modroot=$dk/mods
	scale=3
	# Our request cache may take failslab's injected failures
	# (tests/rel-faults.sh): on 6.1 only the boot line can say so.
	append="$append slub_debug=A,tcmu_req"
	# PCI interrupts through the BIOS's routing table, not ACPI's.
	# QEMU's i440fx _PRT is an AML loop of 128 rounds, which ACPICA
	# aborts after 30 s of wall time (ACPI_MAX_LOOP_TIMEOUT); this
	# kernel interprets it in 11.8 s on an idle host (virtio-pci's
	# initcall: 14 ms with pci=noacpi), so a host 2.5x slower crosses
	# the limit: the root disk then has no interrupt and the boot hangs
	# (CI of 2026-12-02: a soft lockup in the loop, AE_AML_LOOP_TIMEOUT,
	# no test started).
	append="$append pci=noacpi"
	build_ours "$dk/build" "the debug kernel"
	;;
*)
	kernel_dir=$k61
	[ "$kernel" = 6.12 ] && kernel_dir=$k612
	rel=$(basename "$kernel_dir")-amd64
	vmlinuz=$kernel_dir/root/boot/vmlinuz-$rel
	modroot=$kernel_dir/root
	[ "$kernel" = 6.12 ] &&
		build_ours "$kernel_dir/headers/usr/src/linux-headers-$rel" "6.12"
	;;
esac
moddir=$modroot/lib/modules/$rel

# Test helpers built on the host (same Debian release as the guest).
if [ -f "$here/handler/Makefile" ]; then
	make -s -C "$here/handler" >&2
fi
mkdir -p "$here/build"
for b in reclaim-probe ackwrite fragment tcmu-nl tcmu-mark; do
	gcc -O2 -Wall -Wextra -Werror -o "$here/build/$b" "$here/$b.c"
done

# The initramfs: busybox, the modules to reach the root disk, the payload.
ird=$work/initramfs
mkdir -p "$ird"/{bin,modules,proc,sys,dev,tcmu/tests,tcmu/bin}
cp /bin/busybox "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
[ -f "$moddir/modules.dep" ] || depmod -b "$modroot" "$rel"
: >"$ird/modules.order"
for m in virtio_pci virtio_blk ext4; do
	modprobe -d "$modroot" -S "$rel" --show-depends "$m" |
		sed -n 's/^insmod \([^ ]*\).*/\1/p' | while read -r f; do
		b=$(basename "$f")
		grep -qx "$b" "$ird/modules.order" && continue
		cp "$f" "$ird/modules/$b"
		echo "$b" >>"$ird/modules.order"
	done
done
install -m 755 "$here/guest/initramfs-init" "$ird/init"
cp "$here/guest/init.sh" "$here/guest/lib.sh" "$here/guest/kreport.sh" "$ird/tcmu/"
cp "$here"/tests/*.sh "$ird/tcmu/tests/"
for b in "$here"/handler/tcmu-ramd "$here"/build/{reclaim-probe,ackwrite,fragment,tcmu-nl,tcmu-mark}; do
	[ -x "$b" ] && cp "$b" "$ird/tcmu/bin/"
done
[ "$module" = ours ] && cp "$ko" "$ird/tcmu/target_core_user.ko"
[ -n "$dkms_rootfs" ] && "$top/scripts/package/mkdeb.sh" "$ird/tcmu" >/dev/null
# make bench BENCH_BASE=...: our module at an earlier revision, built
# against the same Debian kernel, for tests/bench.sh's "base" rounds.
if [ -n "${TCMU_BASE_KO:-}" ] && [ "$kernel" = 6.1 ]; then
	cp "$TCMU_BASE_KO" "$ird/tcmu/base.ko"
fi
# The root disk has Debian's module tree only: bring the debug kernel's.
[ "$kernel" = debug ] && mkdir -p "$ird/tcmu/modules" && cp -a "$moddir" "$ird/tcmu/modules/"

# watch_guest PID SERIAL SINGLE: kill the guest (QEMU's PID) as soon as it is
# stuck, rather than at the end of the boot's whole budget: when it has not
# started its first test within the boot allowance, or a test has run
# past its own timeout plus the runner's allowance for the kernel-log
# checks and the teardown after it.  The guest's own per-test timeout
# normally ends a test first; this catches a guest that hangs as a whole.
# SINGLE=1 (the boot of one known failure) kills it once the result is in.
watch_guest() {
	local pid=$1 serial=$2 single=$3 now deadline last t tmo watched=
	deadline=$(( $(date +%s) + 90 * scale ))
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		now=$(date +%s)
		last=$(grep -aE '^(# guest: (begin|done)|(not )?ok [0-9]+ )' "$serial" 2>/dev/null |
		       tail -n1 | tr -d '\r')
		case $last in
		"# guest: begin "*)
			t=${last#\# guest: begin }
			if [ "$t" != "$watched" ]; then
				watched=$t
				tmo=$(sed -n "s/^TIMEOUT_${t//-/_}=//p" "$ird/tcmu/config")
				# the test, then the kernel-log and kmemleak checks
				deadline=$((now + ${tmo:-300} + 60 * scale))
			fi ;;
		"ok "*|"not ok "*)
			# A known failure has a boot of its own, which
			# its failure may have wedged: nothing more to wait for.
			if [ "$single" = 1 ]; then
				kill "$pid" 2>/dev/null
				return
			fi
			# teardown (two bounded tries) until the next test
			[ "$watched" = "$last" ] || deadline=$((now + 150 * scale))
			watched=$last ;;
		"# guest: done"*)
			[ "$watched" = DONE ] || deadline=$((now + 60))
			watched=DONE ;;
		esac
		if [ "$now" -gt "$deadline" ]; then
			note "the guest is stuck (${last:-no test started}): killing it"
			kill "$pid" 2>/dev/null
			return
		fi
	done
}

# boot NAME TEST...: one guest boot running TESTs; reports each.
boot() {
	local name=$1 t tmo total line res secs reason xf qrc single=0
	local cmdline=$append params
	shift
	[ $# = 1 ] && [ -n "$(xfail "$1")" ] && single=1
	for t in "$@"; do
		params=$(header "$t" cmdline)
		[ -z "$params" ] || cmdline="$cmdline $params"
	done
	total=$((60 * scale))	# boot, module loading, power-off
	{
		echo "MODULE=$module"
		echo "KERNEL=$kernel"
		echo "TESTS=\"$*\""
		# tests/bench.sh's knobs (make bench), TCMU_SOAK (make soak),
		# TCMU_FUZZ_SEED (rel-fuzz), TCMU_HOSTILE_MODES (ring-hostile)
		for v in ${!TCMU_BENCH_@} ${!TCMU_SOAK@} ${!TCMU_FUZZ_@} ${!TCMU_HOSTILE_@}; do echo "export $v=$(printf %q "${!v}")"; done
		for t in "$@"; do
			tmo=$(header "$t" timeout)
			# make soak's full round counts take longer.
			if [ "${TCMU_SOAK:-0}" = 1 ] &&
			   [ -n "$(header "$t" soak-timeout)" ]; then
				tmo=$(header "$t" soak-timeout)
			fi
			# A known failure may be a hang: wait less for it, and
			# end it at its first kernel report.
			if [ -n "$(xfail "$t")" ]; then
				tmo=$(header "$t" xfail-timeout)
				echo "XFAIL_${t//-/_}=1"
			fi
			tmo=$(( ${tmo:-300} * scale ))
			echo "TIMEOUT_${t//-/_}=$tmo"
			total=$((total + tmo + 70))
		done
	} >"$ird/tcmu/config"
	(cd "$ird" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"

	local console=$results/console-$name.log serial=$results/serial-$name.log
	local disk=$rootfs
	[ "$(header "$1" rootfs)" = dkms ] && disk=$dkms_rootfs
	note "booting $rel with the $module module: $* (at most ${total}s)"
	set +e
	timeout -k 10 "$total" qemu-system-x86_64 "${qemu[@]}" \
		-drive "file=$disk,if=virtio,format=raw,snapshot=on" \
		-append "$cmdline" -monitor none -serial "file:$console" -serial "file:$serial" \
		</dev/null &
	watch_guest $! "$serial" "$single"
	wait $!
	qrc=$?
	set -e
	[ $qrc = 124 ] && note "the guest did not finish within ${total}s: killed"

	# Split the serial stream into per-test logs and results.
	tr -d '\r' <"$serial" >"$work/serial"
	sed -n 's/^# guest: note /guest: /p' "$work/serial" | while read -r l; do note "$l"; done
	for t in "$@"; do
		# its output: the diagnostic lines from its begin to its end
		awk -v t="$t" '$0 == "# guest: begin " t { on = 1; next }
			on && /^(# guest: (begin|end) |(not )?ok [0-9]+ )/ { exit }
			on { sub(/^# ?/, ""); print }' \
			"$work/serial" >"$results/$t.log"
		secs=$(sed -n "s/^# guest: end $t \([0-9]*\)$/\1/p" "$work/serial" | head -n1)
		line=$(grep -E "^(not )?ok [0-9]+ $t( |\$)" "$work/serial" | head -n1 || true)
		case $line in
		"") res=FAIL secs=0
		    reason="no result (guest hung or crashed; console: $console)" ;;
		"not ok "*) res=FAIL reason=${line#*"$t"}; reason=${reason# \# } ;;
		*"# SKIP"*) res=SKIP reason=${line#*\# SKIP}; reason=${reason# } ;;
		*) res=PASS reason= ;;
		esac
		xf=$(xfail "$t")
		if [ -n "$xf" ] && [ "$res" = FAIL ] &&
		   ! grep -q '^KNOWN-BUG:' "$results/$t.log"; then
			reason="failed before the part known to fail on $module (no KNOWN-BUG line): $reason"
		elif [ -n "$xf" ] && [ "$res" = FAIL ]; then
			res=XFAIL reason="known to fail on $module: $xf; here: $reason"
		elif [ -n "$xf" ] && [ "$res" = PASS ]; then
			res=FAIL
			reason="expected to fail on $module ($xf) but passed: update its xfail line"
		fi
		# the output before the result: all of it with --show, the
		# end of it on failure
		if [ $show = 1 ]; then
			out_diag <"$results/$t.log"
		elif [ "$res" = FAIL ]; then
			out_diag 60 <"$results/$t.log"
			if [ -z "$line" ]; then
				first_report "$console"
				out "# console log tail ($console):"
				out_diag 30 <"$console"
			fi
			out "# (full log: $results/$t.log, console: $console)"
		fi
		report "$res" "$t" "${secs:-0}" "$reason"
	done
}

# The guest: the runner's console, then its KTAP stream, are the serial
# ports given after these.
qemu=(-accel "tcg,thread=multi" -smp 2 -m "$mem" -cpu "$cpu" -display none
      -no-reboot -kernel "$vmlinuz" -initrd "$work/initramfs.cpio"
      -nic none)
[ -n "$plugin" ] && qemu+=(-plugin "$plugin")

if [ $shell = 1 ]; then
	{
		echo "MODULE=$module"
		echo "KERNEL=$kernel"
		echo "VM_SHELL=1"
		echo "VM_TERM=$(printf %q "${TERM:-vt100}")"
	} >"$ird/tcmu/config"
	(cd "$ird" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"
	note "booting $rel with the $module module to a shell (exit powers off, Ctrl-A X quits)"
	# the console is this terminal (and QEMU's monitor: Ctrl-A C)
	qemu-system-x86_64 "${qemu[@]}" -append "$append" -serial mon:stdio \
		-drive "file=$rootfs,if=virtio,format=raw,snapshot=on" \
		-serial "file:$results/serial.log"
	exit
fi

# Tests known to fail on this module may take the guest down with them:
# each gets a boot of its own, after the others.
# So do those on the image with the kernel packages (their own disk).
normal=() isolated=()
for t in "${run[@]}"; do
	if [ -n "$(xfail "$t")" ] || [ -n "$(header "$t" rootfs)" ]; then
		isolated+=("$t")
	else
		normal+=("$t")
	fi
done
[ ${#normal[@]} -gt 0 ] && boot main "${normal[@]}"
for t in "${isolated[@]}"; do
	boot "$t" "$t"
done
finish
