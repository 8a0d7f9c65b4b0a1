#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for guest test scripts (tests/*.sh source this file).
#
# Conventions for a test script:
#   - first lines: "# tcmu-test: <one line description>",
#     "# timeout: <seconds>" and "# modules: stock ours" (which modules
#     the test runs against; a module not listed reports SKIP);
#   - optional: "# xfail: stock <why>" when the stock module is known to
#     fail it (see vm.sh), and then a call of known_bug where that known
#     failure may start; "# default: no" keeps it out of the suite;
#     "# tier: debug 6.12 stock" puts it in make check's debug-kernel
#     subset, its 6.12 subset and the subset it runs on stock (any of
#     the words, in any order; make check-all runs every test on all);
#     "# cmdline: <parameters>" adds them to the guest kernel's command
#     line in every boot that runs the test; "# rootfs: dkms" boots it
#     alone on the image with the kernels installed as packages and our
#     DKMS package in /tcmu (vm.sh);
#   - pass: exit 0; fail: call fail "why" (prints "FAIL: why", exits 1);
#     skip: call skip "why" (prints "SKIP: why", exits 4, kselftest's
#     KSFT_SKIP);
#   - $MODULE is "stock" or "ours"; scratch files go under /tmp or
#     $TCMU_DATA (on the root disk, for images).
# The runner tears down all LIO configuration and kills handlers after
# every test, so a test may fail anywhere without poisoning the next one.

CFS=/sys/kernel/config/target
TCMU_DATA=/var/lib/tcmu-test
mkdir -p "$TCMU_DATA"

log() { echo "[$(date +%T)] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 4; }

# run CMD...: log and run a command, failing the test if it fails.
run() {
	log "+ $*"
	"$@" || fail "'$*' exited with $?"
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

ours() { [ "$MODULE" = ours ]; }

# known_bug WHAT: from here on, a module whose header line says
# "# xfail: MODULE why" may fail the known way; vm.sh reports a failure
# after this line as XFAIL, and one before it (the set-up, the parts
# that must work on every module) as a failure.
known_bug() { echo "KNOWN-BUG: from here on: $*"; }

# Kernel messages that fail a test (KREPORT_HEAD, KREPORT_RE): see
# kreport.sh.  The runner (guest/init.sh) checks each test's kernel log
# with them; a test may check a part of it on its own (kernel_reports).
# shellcheck source=tools/testing/tcmu/guest/kreport.sh
. /tcmu/kreport.sh

# kernel_reports [FILE]: the report lines of a kernel log (default:
# stdin).  Fault injection (tests/rel-faults.sh, debugfs verbose=1 or 2)
# prints a "FAULT_INJECTION: forcing a failure" line for each failure it
# forces, and with verbose=2 the stack: from that line to the end of its
# trace (at most 60 lines), nothing is a report, unless a report's first
# line comes in between.  Nothing else is left out.
kernel_reports() {
	awk -v head="$KREPORT_HEAD" -v re="$KREPORT_RE" '
	     /FAULT_INJECTION: forcing a failure/ { skip = 60; next }
	     skip && $0 ~ head { skip = 0 }
	     skip && /<\/TASK>/ { skip = 0; next }
	     skip { skip--; next }
	     $0 ~ re' "${1:--}"
}

# MemFree in 4 KiB pages.
memfree() { awk '/^MemFree:/ { print int($2 / 4) }' /proc/meminfo; }

# attr NAME [DEV]: attribute NAME of backstore DEV (default: $dev, the
# test's device).
attr() { cat "${2:-$dev}/attrib/$1"; }

# da_state LABEL: log MemAvailable and $dev's data-area counters (ours).
da_state() {
	log "$1: MemAvailable $(awk '/^MemAvailable:/ { print int($2 / 4) }' /proc/meminfo) pages; data pages allocated $(attr data_pages_allocated) in_use $(attr data_pages_in_use) kept $(attr data_pages_free) reclaimed idle $(attr data_pages_reclaimed_idle) decay $(attr data_pages_reclaimed_decay) pressure $(attr data_pages_reclaimed_pressure)"
}

# bounded SECS CMD...: run CMD (stdin /dev/null) and wait at most SECS
# for it, or until the kernel reports a soft lockup or a hung task (in
# the dmesg lines after the last kmsg_mark): then stop waiting, kill it
# (it may sit in the kernel for good) and return 124; else CMD's status.
# Redirect the call's output to a file: a process left behind must not
# hold the test's stdout, which the runner reads to its end.
KMSG_MARK=0
kmsg_mark() { KMSG_MARK=$(dmesg | wc -l); }
bounded() {
	local end=$((SECONDS + $1)) pid n=0
	shift
	"$@" </dev/null &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		if [ $SECONDS -ge $end ] || { [ $((++n % 25)) = 0 ] &&
		   dmesg | tail -n +$((KMSG_MARK + 1)) |
		   grep -Eq 'soft lockup|blocked for more than'; }; then
			kill -9 $pid 2>/dev/null
			disown $pid 2>/dev/null	# no "Killed" job report
			return 124
		fi
		sleep 0.2
	done
	wait $pid
}

# stuck WHAT: a step did not end in time: show the blocked tasks (and
# the handler, fio, rmdir) and, ours, each user backstore's span, then
# fail.
stuck() {
	local p
	echo "--- tasks"
	ps -eo pid,stat,wchan:30,args | grep -v '\[.*\]$'
	for p in $(ps -eo pid,stat,args | awk '$2 ~ /D/ || /tcmu-ramd|fio|rmdir/ { print $1 }'); do
		echo "--- $p: $(cat /proc/$p/comm)"; cat /proc/$p/stack
	done
	echo w >/proc/sysrq-trigger
	for p in "$CFS"/core/user_*/*/attrib/ring_span_bytes; do
		[ -e "$p" ] || continue
		echo "--- ${p%/attrib/*}: ring_span_bytes $(cat "$p")," \
			"data_pages_in_use $(cat "${p%/*}/data_pages_in_use")"
	done
	fail "$1"
}

# Resident 4 KiB pages of tcmu-ramd's (ramd_start's) mappings of /dev/uio*.
uio_rss() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { uio = ($6 ~ /^\/dev\/uio/) }
	     uio && /^Rss:/ { kb += $2 } END { print int(kb / 4) }' \
		"/proc/$RAMD_PID/smaps"
}

# soak_rounds FULL FULL_DEBUG QUICK QUICK_DEBUG: how many rounds a
# reliability test runs: the full counts under TCMU_SOAK=1 (make soak),
# the quick ones otherwise (make check); the debug kernel (kmemleak
# present; ~4x slower) has counts of its own.  A test whose full counts
# need longer says so with "# soak-timeout: S" (used under TCMU_SOAK=1).
soak_rounds() {
	[ "${TCMU_SOAK:-0}" = 1 ] || shift 2
	[ -e /sys/kernel/debug/kmemleak ] && shift
	echo "$1"
}

# Load the stock target_core_user or ours in place of the one loaded, for
# A/B comparisons in one boot; no LIO device or handler may be left.  A
# test that calls it ends with "use_module $BOOT_MODULE" so the next test
# finds the boot's module.
BOOT_MODULE=$MODULE
use_module() {
	local ko=/tcmu/target_core_user.ko
	[ "$1" = stock ] && ko=/run/tcmu-stock.ko
	# our module at an earlier revision (make bench BENCH_BASE=...)
	[ "$1" = base ] && ko=/tcmu/base.ko
	[ -e "$ko" ] || skip "no $1 module in this boot"
	# rmmod, not modprobe -r: that would unload uio with it.
	rmmod target_core_user || fail "cannot unload target_core_user"
	insmod "$ko" || fail "insmod $ko failed"
	MODULE=$1
	# Only ours (and base) has the module-wide page counters.
	if [ -e /sys/module/target_core_user/parameters/global_data_pages ]
	then [ "$1" != stock ]; else [ "$1" = stock ]; fi ||
		fail "the module loaded is not $1"
	log "target_core_user is now $1"
}

# The system bus (tcmu-runner offers its handlers there) and tcmu-runner.
start_dbus() {
	[ -S /run/dbus/system_bus_socket ] && return 0
	mkdir -p /run/dbus
	dbus-daemon --system --fork || fail "dbus-daemon did not start"
	wait_for 10 test -S /run/dbus/system_bus_socket || fail "no system bus"
}

runner_on_bus() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
		string:org.kernel.TCMUService1 2>/dev/null | grep -q 'boolean true'
}

start_runner() {
	start_dbus
	log "starting tcmu-runner"
	tcmu-runner >>/tmp/tcmu-runner.out 2>&1 &
	TCMU_RUNNER_PID=$!
	wait_for 60 runner_on_bus || {
		tail -n 20 /tmp/tcmu-runner.out /var/log/tcmu-runner.log 2>/dev/null
		fail "tcmu-runner did not register on the system bus"
	}
}

stop_runner() {
	log "stopping tcmu-runner"
	pkill -TERM -x tcmu-runner
	wait_for 30 sh -c '! pgrep -x tcmu-runner' || pkill -9 -x tcmu-runner
	wait_for 10 sh -c '! pgrep -x tcmu-runner'
}

# targetcli_batch: run targetcli once on the commands given on stdin
# (one Python start-up: each costs ~10 s under emulation).
targetcli_batch() {
	local cmds
	cmds=$(cat)
	printf '%s\n' "$cmds" | sed 's/^/targetcli> /'
	printf 'set global auto_save_on_exit=false\n%s\nexit\n' "$cmds" |
		targetcli >/tmp/targetcli.out 2>&1
	local rc=$?
	cat /tmp/targetcli.out
	# targetcli keeps going after a failing command in batch mode.
	if [ $rc != 0 ] || grep -Eq '(^|> )(Error|No such path)|Traceback|Unknown command' /tmp/targetcli.out; then
		fail "targetcli failed"
	fi
}

# The unit serial LIO gives a backstore (what VPD page 0x80 reports).
backstore_serial() {	# $1 = configfs path of the backstore
	sed -n 's/^T10 VPD Unit Serial Number: //p' "$1/wwn/vpd_unit_serial"
}

# disk_of_backstore PATH: the /dev/sdX exported for a backstore, found
# by its unit serial (VPD page 0x80): LIO's, which tcmu-runner reports,
# or the backstore's name, which tcmu-ramd reports.
disk_of_backstore() {
	local serial d sn
	serial=$(backstore_serial "$1")	# empty unless someone set one
	for d in /sys/block/sd*; do
		[ -e "$d/device/vpd_pg80" ] || continue
		sn=$(tail -c +5 "$d/device/vpd_pg80" | tr -d '\0')
		[ -n "$sn" ] || continue
		if [ "$sn" = "$serial" ] || [ "$sn" = "${1##*/}" ]; then
			echo "/dev/${d##*/}"
			return 0
		fi
	done
	return 1
}

wait_disk() {	# $1 = configfs path of the backstore; prints /dev/sdX
	local i disk
	for ((i = 0; i < 150; i++)); do
		disk=$(disk_of_backstore "$1") && [ -b "$disk" ] && {
			echo "$disk"
			return 0
		}
		sleep 0.2
	done
	echo "FAIL: no disk appeared for $1" >&2
	exit 1
}

# make_qcow FILE SIZE: a qcow2 image; preallocated metadata because
# tcmu-runner's qcow handler fails writes to unallocated clusters.
make_qcow() {
	rm -f "$1"
	run qemu-img create -q -f qcow2 -o preallocation=metadata "$1" "$2"
}

# qcow_lun NAME SIZE IMAGE WWN [OPTION=VALUE...]: a user:qcow backstore
# made by targetcli, on a tcm_loop LUN; prints its /dev/sdX.
qcow_lun() {
	targetcli_batch >&2 <<CMDS
/backstores/user:qcow create name=$1 size=$2 cfgstring=$3 ${*:5}
/loopback create $4
/loopback/$4/luns create /backstores/user:qcow/$1
CMDS
	wait_disk "$CFS/core/user_0/$1"
}

# qcow_lun_delete NAME WWN: undo qcow_lun with targetcli.
qcow_lun_delete() {
	targetcli_batch <<CMDS
/loopback delete $2
/backstores/user:qcow delete $1
CMDS
}

# fio_verify DISK NAME ARGS...: a write+verify job; fails the test on
# any error or verification mismatch.
fio_verify() {
	local disk=$1 name=$2
	shift 2
	log "+ fio $name on $disk: $*"
	fio --name="$name" --filename="$disk" --direct=1 --ioengine=libaio \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0 --group_reporting "$@" \
		>/tmp/fio-"$name".out 2>&1
	local rc=$?
	cat /tmp/fio-"$name".out
	[ $rc = 0 ] || fail "fio $name exited with $rc"
	grep -q 'err= 0' /tmp/fio-"$name".out || fail "fio $name reported errors"
}

# Teardown of everything LIO has: loopback and iSCSI fabrics, then all
# backstores; used by the runner between tests and by tests themselves.
# fio_verify in the background, output kept for fio_wait; while any
# runs, fio_running is true.
declare -A FIO_BG
fio_verify_bg() {
	(fio_verify "$@") >/tmp/bg-"$2".log 2>&1 &
	FIO_BG[$2]=$!
}

fio_running() {
	local n
	for n in "${!FIO_BG[@]}"; do
		kill -0 "${FIO_BG[$n]}" 2>/dev/null && return 0
	done
	return 1
}

# Wait for every fio_verify_bg run, print its output; fail if one failed.
fio_wait() {
	local n bad=
	for n in "${!FIO_BG[@]}"; do
		wait "${FIO_BG[$n]}" || bad="$bad $n"
		cat /tmp/bg-"$n".log
	done
	FIO_BG=()
	[ -z "$bad" ] || fail "fio failed:$bad"
}

lio_cleanup() {
	local f t l n b hba
	for f in "$CFS"/loopback/naa.* "$CFS"/iscsi/iqn.*; do
		[ -d "$f" ] || continue
		for t in "$f"/tpgt_*; do
			[ -d "$t" ] || continue
			[ -e "$t/enable" ] && echo 0 2>/dev/null >"$t/enable"
			for n in "$t"/acls/*; do
				[ -d "$n" ] || continue
				for l in "$n"/lun_*; do
					[ -d "$l" ] || continue
					find "$l" -maxdepth 1 -type l -delete
					rmdir "$l"
				done
				rmdir "$n"
			done
			for l in "$t"/lun/lun_*; do
				[ -d "$l" ] || continue
				find "$l" -maxdepth 1 -type l -delete
				rmdir "$l"
			done
			[ -e "$t/nexus" ] && [ -n "$(cat "$t/nexus" 2>/dev/null)" ] &&
				echo NULL 2>/dev/null >"$t/nexus"
			rmdir "$t"/np/* 2>/dev/null
			rmdir "$t"
		done
		rmdir "$f"
	done
	for hba in "$CFS"/core/*_*; do
		[ -d "$hba" ] || continue
		for b in "$hba"/*/; do
			b=${b%/}
			[ -e "$b/enable" ] || continue
			rmdir "$b"
		done
		rmdir "$hba" 2>/dev/null
	done
	return 0
}

# --- user backstores served by tcmu-ramd (our raw-ABI test handler) ---
RAMD=/tcmu/bin/tcmu-ramd

# user_dev HBA NAME SIZE: make user_HBA/NAME with dev_config ramd/NAME
# and SIZE bytes, not enabled (netlink replies as the daemon says);
# prints its configfs path.
user_dev() {
	local d=$CFS/core/user_$1/$2
	mkdir -p "$d" || fail "mkdir $d"
	echo -n "dev_config=ramd/$2,dev_size=$3" >"$d/control" ||
		fail "control of $2"
	echo "$d"
}

# bg_write FILE VALUE: write VALUE to FILE in the background (a write
# that waits for a netlink reply); its pid in $WPID, its stderr in
# /tmp/bg-write.err.  bg_ended SECS: did it end within SECS?  Its exit
# status then in $WRC.
bg_write() {
	(echo -n "$2" >"$1") 2>/tmp/bg-write.err &
	WPID=$!
}
bg_ended() {
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		if ! kill -0 "$WPID" 2>/dev/null; then
			wait "$WPID"
			WRC=$?
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# reclaim_off DEV: from now on ours gives back none of DEV's kept pages
# by itself (data_idle_timeout and data_hwm_half_life 0; the global
# budget and the shrinker still can); stock has neither knob.
reclaim_off() {
	ours || return 0
	echo 0 >"$1/attrib/data_idle_timeout" || fail "data_idle_timeout"
	echo 0 >"$1/attrib/data_hwm_half_life" || fail "data_hwm_half_life"
}

# ramd_dev HBA NAME SIZE [CONTROL...]: make and enable user_HBA/NAME with
# dev_config ramd/NAME (no netlink replies: nobody listens); prints its
# configfs path.  Extra control parameters (key=value) go in before
# enabling.
ramd_dev() {
	local dev=$CFS/core/user_$1/$2 p
	mkdir -p "$dev" || fail "mkdir $dev"
	for p in "dev_config=ramd/$2" "dev_size=$3" nl_reply_supported=-1 "${@:4}"; do
		echo -n "$p" >"$dev/control" || fail "control $p rejected"
	done
	echo 1 >"$dev/enable" || fail "enabling $dev failed"
	echo "$dev"
}

# qcow_dev HBA NAME IMAGE SIZE [CONTROL...]: make and enable user_HBA/NAME
# served by tcmu-runner's qcow handler from IMAGE (tcmu-runner must be
# running), with the unit serial NAME-MODULE; prints its configfs path.
qcow_dev() {
	local dev=$CFS/core/user_$1/$2 p
	mkdir -p "$dev" || fail "mkdir $dev"
	for p in "dev_config=qcow/$3" "dev_size=$4" "${@:5}"; do
		echo -n "$p" >"$dev/control" || fail "control $p rejected"
	done
	echo 1 >"$dev/enable" || fail "enabling $dev failed"
	echo -n "$2-$MODULE" >"$dev/wwn/vpd_unit_serial" ||
		fail "cannot set the unit serial"
	echo "$dev"
}

# uio_of HBA NAME: the sysfs directory (/sys/class/uio/uioN) of
# user_HBA/NAME's UIO device.
uio_of() {
	local n
	n=$(grep -l "^tcm-user/$1/$2/" /sys/class/uio/uio*/name) ||
		fail "no uio device for user_$1/$2"
	dirname "$n"
}

# ramd_start NAME SIZE [ARGS...]: serve backstore NAME (ramd_dev) with
# tcmu-ramd in the background, until it says it serves; its pid in
# $RAMD_PID, its output appended to /tmp/ramd-NAME.out.
ramd_start() {
	local out=/tmp/ramd-$1.out n i
	[ -x $RAMD ] || skip "tcmu-ramd not built"
	touch "$out"
	n=$(wc -l <"$out")
	$RAMD --dev "$1" --size "$2" "${@:3}" </dev/null >>"$out" 2>&1 &
	RAMD_PID=$!
	for ((i = 0; i < 50; i++)); do
		tail -n +$((n + 1)) "$out" | grep -q "serving $1 " && return 0
		kill -0 $RAMD_PID 2>/dev/null || break
		sleep 0.2
	done
	tail -n +$((n + 1)) "$out"
	fail "tcmu-ramd did not start on $1"
}

# ramd_stop: stop $RAMD_PID (SIGTERM; SIGKILL after 10 s) and set
# RAMD_ENDED to how it ended: exited(N) before the signal, term(N),
# killed or unkillable (in the kernel for good).  True if it exited 0
# on SIGTERM, as a handler must.
ramd_stop() {
	local i
	if ! kill -0 "$RAMD_PID" 2>/dev/null; then
		wait "$RAMD_PID"
		RAMD_ENDED="exited($?)"
		return 1
	fi
	kill -TERM "$RAMD_PID"
	for ((i = 0; i < 50; i++)); do
		if ! kill -0 "$RAMD_PID" 2>/dev/null; then
			wait "$RAMD_PID"
			RAMD_ENDED="term($?)"
			[ "$RAMD_ENDED" = "term(0)" ]
			return
		fi
		sleep 0.2
	done
	kill -9 "$RAMD_PID"
	RAMD_ENDED=unkillable
	for ((i = 0; i < 25; i++)); do
		kill -0 "$RAMD_PID" 2>/dev/null || { RAMD_ENDED=killed; break; }
		sleep 0.2
	done
	return 1
}

# loop_lun WWN DEV: export backstore DEV as LUN 0 of a tcm_loop target;
# prints the disk (found by the unit serial LIO gives the backstore).
loop_lun() {
	local t=$CFS/loopback/$1/tpgt_1
	mkdir -p "$t/lun/lun_0" || fail "mkdir $t"
	echo -n "${1%?}f" >"$t/nexus" || fail "nexus for $1"
	ln -s "$2" "$t/lun/lun_0/${2##*/}" || fail "LUN link for $2"
	wait_disk "$2"
}

# ring_recover DEV: recover DEV's ring as tcmu-runner does when it
# reopens a device: block it (its queued commands fail), reset the ring,
# unblock.  A new handler is the caller's.
ring_recover() {
	echo 1 >"$1/action/block_dev" &&
		echo 1 >"$1/action/reset_ring" &&
		echo 0 >"$1/action/block_dev"
}

# sdev_running DISK: bring DISK back if the SCSI error handler took it
# offline (it does after repeated errors or timeouts), wait until it
# runs (up to 10 s).
sdev_running() {
	local st=/sys/block/${1#/dev/}/device/state i
	for ((i = 0; i < 50; i++)); do
		case $(cat "$st") in
		running) return 0 ;;
		offline) log "$1 was offline: set running"; echo running >"$st" ;;
		esac
		sleep 0.2
	done
	log "$1 stays $(cat "$st")"
	return 1
}

# loop_lun_remove WWN: undo loop_lun, while the handler still answers
# (sd sends SYNCHRONIZE CACHE as the disk goes).
loop_lun_remove() {
	local t=$CFS/loopback/$1/tpgt_1
	find "$t/lun/lun_0" -maxdepth 1 -type l -delete &&
		rmdir "$t/lun/lun_0" && echo NULL >"$t/nexus" &&
		rmdir "$t" "$CFS/loopback/$1"
}
