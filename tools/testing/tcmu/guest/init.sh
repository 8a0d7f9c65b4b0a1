#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test guest (after the initramfs switched to the Debian root).
# Loads the target modules, runs the tests named in /tcmu/config one by one
# with a timeout each, and streams the results as KTAP to the second
# serial port, where vm.sh on the host reads them:
#
#   TAP version 13
#   1..<number of tests>
#   # guest: note <what the host should know>
#   # guest: begin <test>
#   # ...the test's output, then on failure the tail of dmesg...
#   # guest: end <test> <seconds>
#   ok <n> <test>  |  ok <n> <test> # SKIP <why>  |  not ok <n> <test> # <why>
#   # guest: done
#
# A test is a bash script tests/<test>.sh; exit 0 passes, 4 skips
# (kselftest's KSFT_SKIP), any other code (or the timeout) fails.  After
# every test the kernel log is checked: a BUG, WARNING, oops, lockdep,
# KASAN or kmemleak report or a hung task (lib.sh: KREPORT_RE) fails the
# test even if the script passed.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
cd /
# Nothing here reads the console: what is typed (or piped) into it
# before vm.sh --shell's shell starts is left for that shell.
exec </dev/null

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# what udev would add: bash's <(...) needs /dev/fd (dkms uses it)
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname tcmu-guest
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null

# shellcheck source=/dev/null
. /tcmu/config		# MODULE, TESTS, KERNEL_ABI, per-test timeouts
# shellcheck source=tools/testing/tcmu/guest/lib.sh
. /tcmu/lib.sh		# the kernel-report pattern: kernel_reports

out=/dev/ttyS1
stty -F $out raw -echo 115200 2>/dev/null
exec 3>$out
emit() { printf '%s\n' "$*" >&3; }
# diag: stdin as KTAP diagnostic lines, each line whole.
diag() { local l; while IFS= read -r l || [ -n "$l" ]; do printf '# %s\n' "$l"; done; }
emit "TAP version 13"
# shellcheck disable=SC2086
set -- $TESTS
emit "1..$#"

modules=/lib/modules/$(uname -r)
if [ ! -d "$modules" ] && [ -d /tcmu/modules/"$(uname -r)" ]; then
	cp -a /tcmu/modules/"$(uname -r)" /lib/modules/	# the debug kernel's
	depmod -a
fi
# Keep the stock module for same-boot A/B runs (lib.sh: use_module).
# 6.12's is target_core_user.ko.xz: insmod reads it by its contents.
stock_ko=$(modinfo -n target_core_user)
cp "$stock_ko" /run/tcmu-stock.ko
if [ "$MODULE" = ours ]; then
	# Put ours where modprobe (and rtslib, tcmu-runner) will find it,
	# in place of stock's (the root disk is a snapshot).
	rm -f "$stock_ko"
	cp /tcmu/target_core_user.ko "$modules/kernel/drivers/target/target_core_user.ko"
	depmod -a
fi

modprobe configfs
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
for m in sd_mod sg target_core_mod tcm_loop uio target_core_user; do
	modprobe $m || emit "# guest: note modprobe $m failed"
done
desc=$(cat /sys/module/target_core_user/description 2>/dev/null ||
       modinfo -F description target_core_user)
emit "# guest: note module=$MODULE kernel=$(uname -r) target_core_user: $desc"
# Only ours has the module-wide page counters: a boot for ours that
# loaded stock would pass the tests both pass.  Every test fails then.
if [ "$MODULE" = ours ] &&
   [ ! -e /sys/module/target_core_user/parameters/global_data_pages ]; then
	n=0
	for t in $TESTS; do
		n=$((n + 1))
		emit "not ok $n $t # the guest loaded stock's target_core_user, not ours"
	done
	emit "# guest: done"
	exec 3>&-
	sync
	echo o >/proc/sysrq-trigger
	sleep 60
fi

# vm.sh --shell: no tests, an interactive shell on the console; the
# guest powers off when it exits.
if [ "${VM_SHELL:-0}" = 1 ]; then
	cat >/tmp/shellrc <<'RC'
PS1='tcmu-guest:\w# '
bind 'set enable-bracketed-paste off' 2>/dev/null
poweroff() { sync; echo o >/proc/sysrq-trigger; }
cd /tmp
RC
	cat <<BANNER
tcmu guest: $(uname -r), target_core_user ($MODULE): $desc
  run a test:  bash /tcmu/tests/NAME.sh   (lib.sh helpers: . /tcmu/lib.sh)
  exit or poweroff: power the guest off
BANNER
	export MODULE
	TERM=${VM_TERM:-vt100} setsid -c bash --rcfile /tmp/shellrc -i \
		<>/dev/ttyS0 >&0 2>&1
	sync
	echo o >/proc/sysrq-trigger
	sleep 60
fi

# kmemleak (debug kernel): a leak whose trace names our driver fails
# the test.  Objects must be 5 s old to be reported, hence the sleep.
kmemleak=/sys/kernel/debug/kmemleak
leak_check() {
	[ -w $kmemleak ] || return 1
	sleep 6
	echo scan >$kmemleak
	echo scan >$kmemleak
	cat $kmemleak >/tmp/results/$1.kmemleak
	# say that it ran, and what it found (others' leaks do not fail)
	emit "# guest: note $1: kmemleak: $(grep -c '^unreferenced object' /tmp/results/$1.kmemleak) unreferenced objects, $(grep -Ec 'target_core_user|tcmu_' /tmp/results/$1.kmemleak) trace lines in our driver"
	grep -Eq 'target_core_user|tcmu_' /tmp/results/$1.kmemleak
}

mkdir -p /tmp/results
n=0
for t in $TESTS; do
	n=$((n + 1))
	tvar=TIMEOUT_${t//-/_}
	tmo=${!tvar:-300}
	emit "# guest: begin $t"
	dmesg -C
	[ -w $kmemleak ] && echo clear >$kmemleak
	start=$(date +%s)
	# Output goes to the host as it comes (tail -f), so a hung guest
	# loses none; a file, not a pipe, so that a process the test left
	# behind holding its stdout cannot keep the test from ending.
	(cd /tmp && MODULE=$MODULE TCMU_TEST=$t \
		exec timeout -k 10 "$tmo" bash /tcmu/tests/$t.sh) \
		</dev/null >/tmp/results/$t.log 2>&1 &
	tpid=$!
	tail -n +1 -f --pid=$tpid /tmp/results/$t.log | diag >&3 &
	tailpid=$!
	# A test known to fail here (xfail) ends at its first kernel
	# report: what follows a soft lockup is only waiting.
	xvar=XFAIL_${t//-/_}
	watcher=
	if [ -n "${!xvar:-}" ]; then
		(while sleep 2; do
			if dmesg | kernel_reports | grep -q .; then
				kill $tpid
				break
			fi
		done) &
		watcher=$!
	fi
	wait $tpid
	rc=$?
	[ -n "$watcher" ] && kill $watcher 2>/dev/null
	wait $tailpid
	secs=$(( $(date +%s) - start ))
	reason=
	case $rc in
	0) res=PASS ;;
	4) res=SKIP; reason=$(grep -m1 '^SKIP:' /tmp/results/$t.log | cut -c7-)
	   # a skip says why (lib.sh: skip); a bare exit code 4 is a failure
	   grep -q '^SKIP:' /tmp/results/$t.log || { res=FAIL; reason="exit code 4 with no SKIP: line"; } ;;
	124|137) res=FAIL; reason="timed out after ${tmo}s" ;;
	*) res=FAIL; reason=$(grep '^FAIL:' /tmp/results/$t.log | tail -n1 | cut -c7-)
	   [ -n "$reason" ] || reason="exit code $rc" ;;
	esac
	dmesg >/tmp/results/$t.dmesg
	report=$(kernel_reports /tmp/results/$t.dmesg | head -n1)
	if [ -n "$report" ]; then
		res=FAIL
		reason="kernel report in dmesg: $report"
	fi
	if [ $res != FAIL ] && leak_check "$t"; then
		res=FAIL
		reason="kmemleak: a leak in our driver"
		diag </tmp/results/$t.kmemleak >&3
	fi
	if [ $res = FAIL ]; then
		emit "# ----- dmesg (last 40 lines) -----"
		tail -n 40 /tmp/results/$t.dmesg | diag >&3
	fi
	emit "# guest: end $t $secs"
	case $res in
	PASS) emit "ok $n $t" ;;
	SKIP) emit "ok $n $t # SKIP${reason:+ $reason}" ;;
	*) emit "not ok $n $t${reason:+ # $reason}" ;;
	esac
	# Leave nothing behind for the next test.  Tear LIO down while the
	# handler still runs (device removal waits for its netlink reply),
	# then kill the handlers and fio, then clean up whatever is left,
	# completing netlink requests nobody will answer now.
	pkill -9 -x fio 2>/dev/null
	timeout 60 bash -c ". /tcmu/lib.sh && lio_cleanup" >/dev/null 2>&1
	pkill -9 -x tcmu-runner 2>/dev/null
	pkill -9 -x tcmu-ramd 2>/dev/null
	sleep 0.5
	if [ -n "$(ls -d /sys/kernel/config/target/core/user_* 2>/dev/null)" ]; then
		(while sleep 1; do
			echo 1 >/sys/module/target_core_user/parameters/reset_netlink
		done) 2>/dev/null &
		resetter=$!
		timeout 60 bash -c ". /tcmu/lib.sh && lio_cleanup" >/dev/null 2>&1 ||
			emit "# guest: note cleanup after $t failed or hung"
		kill $resetter
	fi
done
emit "# guest: done"
exec 3>&-
sync
# Power off (minbase has no poweroff(8)); -no-reboot makes QEMU exit.
echo o >/proc/sysrq-trigger
sleep 60
