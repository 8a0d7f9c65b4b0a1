#!/bin/bash
# tcmu-test: a misbehaving tcmu-ramd (bad tail, bad ids, bad lengths, lost completions, ...) breaks only its own device
# timeout: 1500
# modules: stock ours
#
# For each misbehaviour of tools/testing/tcmu/handler/tcmu-ramd: a fresh
# user: backstore (cmd_time_out=5) and tcm_loop LUN, a handler that lets the
# initiator's probe through, is armed (SIGUSR1) and misbehaves after 2 more
# good commands, while fio writes 512 KiB in 64 KiB commands at iodepth 4
# (double-complete: 1 MiB in 4 KiB commands at iodepth 16, see try_mode)
# and verifies it (crc32c); then one 4 KiB read tells whether the device
# still serves.  A mode passes when:
#   - nothing hangs: every I/O and teardown step ends within its bound;
#   - the kernel log gained no BUG/WARNING/Oops/soft lockup/hung task;
#   - the initiator saw an error, where the mode leaves a command without
#     a valid completion ("error" modes), or else read back exactly what
#     it wrote (a driver may tolerate a harmless misbehaviour; it may not
#     corrupt data silently);
#   - the next device (the next mode's, and a last clean one) works.
# One line per mode, "MODE <mode> ...", summarises what the initiator, the
# handler and the kernel did.  A hang stops the test: a wedged kernel would
# take the remaining modes (and the result report) down with it.
#
# The stock driver trusts the ring: the modes marked "stock-bug" below make
# it WARN or spin forever in tcmu_handle_completions() (soft lockup, the
# handler unkillable; see handler/README).  With MODULE=stock they are
# listed, not run, so that the stock run stays a baseline for the rest.
# By hand: RAMD_MODES="spec expect[ stock-bug]..." picks the modes,
# RAMD_ALL=1 runs the stock-bug ones on stock too (drv-ramd-hostile-ring.sh
# does, as an expected failure).
. /tcmu/lib.sh

RAMD=/tcmu/bin/tcmu-ramd
HBA=$CFS/core/user_1
SIZE=$((16 << 20))
[ -x $RAMD ] || fail "$RAMD missing: tools/testing/tcmu/handler was not built"

# mode[,extra handler args]  expectation  [stock-bug]
MODES=${RAMD_MODES:-"
bad-status,--count=0		error
bad-sense,--count=0		error
bad-sense:zero,--count=0	error
bad-read-len			any
bad-read-len:0x7ffffff8		any
bad-cmd-id			error
double-complete			error
never-complete			error
close-in-flight			error
bad-op:2			error
oversized-entry			any
truncated-entry:0		any
bad-op				any	stock-bug
truncated-entry			any	stock-bug
zero-pad			error	stock-bug
bad-tail			any	stock-bug
bad-tail:unaligned		any	stock-bug
bad-tail:back			any	stock-bug
oversized-entry:+64		any	stock-bug
"}

cfs() {	# cfs VALUE FILE: write a configfs attribute (status only)
	printf '%s' "$1" >"$2" 2>/dev/null
}

# bounded SECS OUT CMD...: run CMD, output to file OUT; if it is still
# running after SECS, or the kernel reports a lockup or hung task meanwhile
# (since dmesg line $D0), stop waiting for it (it may sit in the kernel for
# good): return 124.  Nothing left behind may hold the test's stdout, a
# pipe the runner reads to its end.
D0=0
bounded() {
	local end=$((SECONDS + $1)) out=$2 pid n=0
	shift 2
	"$@" </dev/null >"$out" 2>&1 &
	pid=$!
	while kill -0 $pid 2>/dev/null; do
		if [ $SECONDS -ge $end ] || { [ $((++n % 25)) = 0 ] &&
		   dmesg | tail -n +$((D0 + 1)) | grep -Eq 'soft lockup|blocked for more than'; }; then
			kill -9 $pid 2>/dev/null
			disown $pid 2>/dev/null	# no "Killed" job report
			return 124
		fi
		sleep 0.2
	done
	wait $pid
}

dev_make() {	# NAME: backstore with dev_config=ramd/NAME, cmd_time_out=5
	local dev=$HBA/$1
	mkdir -p "$dev" &&
	cfs "dev_config=ramd/$1" "$dev/control" &&
	cfs "dev_size=$SIZE" "$dev/control" &&
	cfs 5 "$dev/attrib/cmd_time_out" &&
	cfs 1 "$dev/enable"
}

handler_start() {	# NAME LOG ARGS...: sets HPID
	local name=$1 hlog=$2
	shift 2
	$RAMD --dev "$name" --size $SIZE "$@" </dev/null >>"$hlog" 2>&1 &
	HPID=$!
	wait_for 10 grep -q "serving $name" "$hlog"
}

handler_stop() {	# sets ENDED to how the handler ended
	local i
	if ! kill -0 "$HPID" 2>/dev/null; then
		wait "$HPID"
		ENDED="exited($?)"
		return
	fi
	kill -TERM "$HPID"
	for ((i = 0; i < 25; i++)); do
		kill -0 "$HPID" 2>/dev/null || { wait "$HPID"; ENDED="term($?)"; return; }
		sleep 0.2
	done
	kill -9 "$HPID"
	for ((i = 0; i < 25; i++)); do
		kill -0 "$HPID" 2>/dev/null || { ENDED=killed; return; }
		sleep 0.2
	done
	ENDED=unkillable
}

lun_make() {	# NAME WWN: LUN 0 of a new tcm_loop target; prints /dev/sdX
	local tpg=$CFS/loopback/$2/tpgt_1 addr i d
	mkdir -p "$tpg" && cfs "${2%??}ff" "$tpg/nexus" &&
	mkdir "$tpg/lun/lun_0" && ln -s "$HBA/$1" "$tpg/lun/lun_0/$1" || return 1
	addr=$(cat "$tpg/address") || return 1
	for ((i = 0; i < 150; i++)); do
		for d in /sys/class/scsi_device/"$addr":0/device/block/sd*; do
			[ -b "/dev/${d##*/}" ] && { echo "/dev/${d##*/}"; return 0; }
		done
		sleep 0.2
	done
	return 1
}

lun_remove() {	# WWN
	local tpg=$CFS/loopback/$1/tpgt_1
	find "$tpg/lun/lun_0" -maxdepth 1 -type l -delete && rmdir "$tpg/lun/lun_0" &&
	cfs NULL "$tpg/nexus" && rmdir "$tpg" "$CFS/loopback/$1"
}

head -c 256K /dev/urandom >/tmp/pattern
dmesg_at() { dmesg | wc -l; }
failed=0 n=0 wedged=

# try_mode SPEC EXPECT: one misbehaviour on a device of its own.
try_mode() {
	local spec=$1 expect=$2 mode args name wwn hlog disk d0 frc arc
	local io data after teardown ended kmsg reopen=- verdict=ok why=
	local load=(--bs=64k --size=512k --iodepth=4)
	mode=${spec%%,*}
	args=$(echo "${spec#"$mode"}" | tr ',' ' ')
	# double-complete acts on a completion with another after it in the
	# same batch.  On a quiet machine a handler can see each of the 16
	# commands of the QD4 load alone, so none of them acted.  Many small
	# commands at a higher depth make such a batch a near certainty.
	[ "$mode" = double-complete ] && load=(--bs=4k --size=1M --iodepth=16)
	n=$((n + 1))
	name=ramdmb$n
	wwn=$(printf 'naa.5001405000000c%02x' $n)
	hlog=/tmp/ramd-$name.log
	: >"$hlog"
	log "=== $mode $args (expect: $expect) on $name"
	d0=$(dmesg_at)
	D0=$d0

	dev_make $name || fail "cannot create backstore $name (after ${prev:-nothing})"
	# shellcheck disable=SC2086
	handler_start $name "$hlog" --arm-usr1 --after 2 --misbehave $mode $args ||
		{ cat "$hlog"; fail "tcmu-ramd did not start on $name"; }
	disk=$(lun_make $name "$wwn") ||
		fail "no working disk for $name (the device after ${prev:-nothing})"
	echo 20 >/sys/block/"${disk#/dev/}"/device/timeout
	kill -USR1 "$HPID"
	sleep 0.5

	bounded 120 /tmp/fio-mb.out fio --name=mb --filename="$disk" --direct=1 \
		--ioengine=libaio --rw=write "${load[@]}" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0
	frc=$?
	data=-
	if [ $frc = 124 ]; then
		io=hung
		wedged="I/O hung in mode $mode"
	elif grep -Eq 'verify: bad|bad magic|crc32c.*(wanted|mismatch)' /tmp/fio-mb.out; then
		io="verify-failed"
		data=CORRUPT
	elif [ $frc = 0 ] && grep -q 'err= 0' /tmp/fio-mb.out; then
		io=ok
		data=intact
	else
		io="error($frc)"
	fi
	grep -E 'fio: (io_u error|pid=.*err=)|verify:' /tmp/fio-mb.out | head -n 2 >/tmp/dd.err
	# Is the device broken now, or still serving?
	after=-
	if [ -z "$wedged" ]; then
		bounded 60 /dev/null dd if="$disk" of=/dev/null bs=4k count=1 iflag=direct status=none
		arc=$?
		case $arc in 0) after=works ;; 124) after=hung; wedged="I/O hung in mode $mode" ;; *) after=broken ;; esac
	fi
	if [ "$mode" = close-in-flight ] && [ -z "$wedged" ]; then
		# A new handler on the same device: does it serve again?
		handler_stop
		if handler_start $name "$hlog"; then
			bounded 60 /dev/null dd if="$disk" of=/dev/null bs=4k count=1 iflag=direct status=none
			case $? in 0) reopen=works ;; 124) reopen=hung; wedged="I/O hung after reopen" ;; *) reopen=fails ;; esac
		else
			reopen=cannot-open
		fi
	fi

	teardown=ok
	if [ -z "$wedged" ]; then
		bounded 90 /tmp/teardown.out lun_remove "$wwn"
		case $? in 0) ;; 124) teardown=hung; wedged="LUN removal hung in mode $mode" ;; *) teardown=failed ;; esac
	fi
	handler_stop
	ended=$ENDED
	if [ -z "$wedged" ]; then
		bounded 60 /tmp/teardown.out rmdir "$HBA/$name"
		case $? in 0) ;; 124) teardown=hung; wedged="backstore removal hung in mode $mode" ;; *) teardown=failed ;; esac
	fi

	kmsg=$(dmesg | tail -n +$((d0 + 1)))
	report=$(echo "$kmsg" | kernel_reports | head -n1)
	if [ -n "$report" ]; then
		verdict=FAIL why="kernel report: $report"
	elif [ -n "$wedged" ]; then
		verdict=FAIL why=$wedged
	elif [ "$data" = CORRUPT ]; then
		verdict=FAIL why="silent data corruption"
	elif [ "$expect" = error ] && [ "$io" = ok ]; then
		verdict=FAIL why="the initiator saw no error"
	elif [ "$teardown" != ok ]; then
		verdict=FAIL why="teardown $teardown"
	fi
	echo "MODE $mode${args:+ $args}: io=$io data=$data after=$after reopen=$reopen teardown=$teardown handler=$ended -> $verdict${why:+ ($why)}"
	echo "  handler: $(grep -m1 -E 'misbehave|corrupt' "$hlog")"
	sed 's/^/  initiator: /' /tmp/dd.err | sort | uniq -c | head -n 3
	echo "$kmsg" | grep -E 'tcmu|TCMU|ring|cmd_id|sd [0-9]|Buffer I/O|I/O error|blk_update|'"$KREPORT_RE" |
		sed 's/^/  kernel: /' | sort -k3 | uniq | head -n 8
	[ $verdict = ok ] || failed=$((failed + 1))
	prev=$mode
	return 0
}

while read -r spec expect bug; do
	[ -n "$spec" ] || continue
	if [ "$MODULE" = stock ] && [ "$bug" = stock-bug ] && [ -z "${RAMD_ALL:-}" ]; then
		echo "MODE ${spec//,/ }: not run on stock (known stock bug: WARN or endless loop)"
		continue
	fi
	try_mode "$spec" "${expect:-any}"
	if [ -n "$wedged" ]; then
		log "kernel wedged ($wedged): the remaining modes are not run"
		break
	fi
done <<<"$MODES"

# The last, clean device must work whatever happened before.
if [ -z "$wedged" ]; then
	name=ramdmbok
	wwn=naa.5001405000000cff
	dev_make $name || fail "cannot create the last backstore"
	handler_start $name /tmp/ramd-$name.log || fail "tcmu-ramd did not start on $name"
	disk=$(lun_make $name "$wwn") || fail "no working disk after the misbehaving ones"
	if ! bounded 100 /tmp/dd.out dd if=/tmp/pattern of="$disk" bs=64k oflag=direct status=none ||
	   ! bounded 100 /tmp/dd.out dd if="$disk" of=/tmp/readback bs=64k count=4 iflag=direct status=none ||
	   ! cmp -s /tmp/pattern /tmp/readback; then
		fail "the device after the misbehaving ones does not work"
	fi
	bounded 90 /tmp/teardown.out lun_remove "$wwn" || fail "cannot remove the last LUN"
	handler_stop
	[ "$ENDED" = "term(0)" ] || fail "the last tcmu-ramd did not exit cleanly ($ENDED)"
	rmdir "$HBA/$name" "$HBA" || fail "cannot remove the last backstore"
	log "a clean device works after the misbehaving ones"
fi
[ -n "$wedged" ] && fail "$wedged"
[ $failed = 0 ] || fail "$failed misbehaviour mode(s) failed (see the MODE lines)"
log "every misbehaviour ended cleanly"
