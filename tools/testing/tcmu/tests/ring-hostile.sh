#!/bin/bash
# tcmu-test: ring: a hostile handler (bad tail, ids, lengths, opcodes, status, sense, lost completions, ...) fails only its own commands; after each mode the device recovers (reset_ring) and verifies I/O, and goes away cleanly
# timeout: 1500
# modules: stock ours
# xfail: stock its completion loop trusts the ring: the modes marked stock-bug spin forever in the kernel (soft lockup) or WARN
# xfail-timeout: 900
#
# One table of tcmu-ramd misbehaviours (tools/testing/tcmu/handler), one
# fixture for every mode:
#   1. a fresh user: backstore (cmd_time_out and qfull_time_out 5 s) on a
#      tcm_loop LUN, served by a handler that lets the initiator's probe
#      through, is armed (SIGUSR1) and misbehaves after 2 more good
#      commands;
#   2. fio writes 512 KiB in 64 KiB commands at iodepth 4 and verifies
#      it (crc32c); double-complete: 1 MiB in 4 KiB commands at iodepth
#      16 (see try_mode); then one 4 KiB read tells whether the device
#      still serves; close-in-flight: a new handler on the device must
#      serve again;
#   3. recovery, as tcmu-runner does it on restart: the handler goes,
#      block_dev, reset_ring, unblock, a well-behaved handler; fio
#      write+verify through the same disk must pass;
#   4. teardown: LUN, handler (which must exit 0 on SIGTERM), backstore.
# A mode passes when:
#   - nothing hangs: every I/O and teardown step ends within its bound;
#   - the kernel log gained no report (lib.sh: KREPORT_RE) in the mode;
#   - the initiator saw an error where the mode leaves a command without
#     a valid completion ("error"), or else read back exactly what it
#     wrote ("any": a driver may tolerate a harmless misbehaviour; it may
#     not corrupt data silently);
#   - the device recovered and verified I/O, and the teardown worked.
# After the last mode a new device must work.  One line per mode,
# "MODE <mode> ...", says what the initiator, the handler and the kernel
# did.  A hang stops the test: a wedged kernel would take the remaining
# modes (and the result report) down with it.
#
# The stock driver trusts the ring: the modes marked stock-bug make it
# WARN or spin forever in tcmu_handle_completions() (soft lockup, the
# handler unkillable; see handler/README.md).  They come last: on stock
# the others must pass, then known_bug marks where its known failure
# starts, and the first stock-bug mode ends the test there (xfail).
# bad-tail:3968 and oversized-entry:@3968 (an entry length that runs to
# it) aim at the first byte past a one-page ring span (4096 bytes less
# the 128-byte mailbox): the span the load here leaves on ours.
# By hand: TCMU_HOSTILE_MODES="spec expect[ stock-bug]..." (one a line)
# picks the modes, e.g.
#   TCMU_HOSTILE_MODES='bad-status,--count=0 error' vm.sh ring-hostile
. /tcmu/lib.sh

HBA=$CFS/core/user_1
SIZE=$((16 << 20))
[ -x "$RAMD" ] || fail "$RAMD missing: tools/testing/tcmu/handler was not built"

# mode[,extra handler args]  expectation  [stock-bug]
MODES=${TCMU_HOSTILE_MODES:-"
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
truncated-entry:+8		any	stock-bug
zero-pad			error	stock-bug
bad-tail:range			any	stock-bug
bad-tail:unaligned		any	stock-bug
bad-tail:back			any	stock-bug
oversized-entry:+64		any	stock-bug
bad-tail:3968			any	stock-bug
oversized-entry:@3968		any	stock-bug
"}

head -c 256K /dev/urandom >/tmp/pattern
failed=0 n=0 wedged='' prev=''

# io_step SECS WHAT CMD...: bounded CMD; sets $step to ok, hung (and
# $wedged) or failed.
io_step() {
	local secs=$1 what=$2
	shift 2
	bounded "$secs" "$@" >>/tmp/hostile-steps.out 2>&1
	case $? in
	0) step=ok ;;
	124) step=hung; wedged="$what hung in mode $mode" ;;
	*) step=failed ;;
	esac
}

# try_mode SPEC EXPECT: one misbehaviour on a device of its own.
try_mode() {
	local spec=$1 expect=$2 args name wwn dev disk frc report
	local io data after reopen=- recovered=- teardown=ok ended kmsg
	local verdict=ok why='' load=(--bs=64k --size=512k --iodepth=4)
	mode=${spec%%,*}
	args=$(echo "${spec#"$mode"}" | tr ',' ' ')
	# double-complete acts on a completion with another after it in the
	# same batch.  On a quiet machine a handler can see each of the 16
	# commands of the QD4 load alone, so none of them acted.  Many small
	# commands at a higher depth make such a batch a near certainty.
	[ "$mode" = double-complete ] && load=(--bs=4k --size=1M --iodepth=16)
	n=$((n + 1))
	name=hostile$n
	wwn=$(printf 'naa.5001405000000c%02x' $n)
	log "=== $mode $args (expect: $expect) on $name"
	kmsg_mark
	: >/tmp/hostile-steps.out

	dev=$(ramd_dev 1 $name $SIZE) ||
		fail "cannot create backstore $name (after ${prev:-nothing})"
	echo 5 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
	echo 5 >"$dev/attrib/qfull_time_out" || fail "qfull_time_out"
	# shellcheck disable=SC2086
	ramd_start $name $SIZE --arm-usr1 --after 2 --misbehave $mode $args
	disk=$(loop_lun "$wwn" "$dev") ||
		fail "no working disk for $name (the device after ${prev:-nothing})"
	echo 20 >/sys/block/"${disk#/dev/}"/device/timeout
	kill -USR1 "$RAMD_PID"
	sleep 0.5

	bounded 120 fio --name=mb --filename="$disk" --direct=1 \
		--ioengine=libaio --rw=write "${load[@]}" --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		>/tmp/fio-mb.out 2>&1
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
		io_step 60 "I/O" dd if="$disk" of=/dev/null bs=4k count=1 iflag=direct status=none
		case $step in ok) after=works ;; hung) after=hung ;; *) after=broken ;; esac
	fi
	if [ "$mode" = close-in-flight ] && [ -z "$wedged" ]; then
		# A new handler on the same device: does it serve again?
		ramd_stop
		ramd_start $name $SIZE
		io_step 60 "I/O after reopen" dd if="$disk" of=/dev/null bs=4k count=1 iflag=direct status=none
		case $step in ok) reopen=works ;; hung) reopen=hung ;; *) reopen=fails ;; esac
	fi
	ramd_stop
	ended=$RAMD_ENDED

	# Recovery on the same device and disk, as tcmu-runner restarting.
	if [ -z "$wedged" ]; then
		recovered=no
		io_step 30 "recovery" bash -c ". /tcmu/lib.sh; ring_recover '$dev'"
		if [ $step = ok ]; then
			ramd_start $name $SIZE
			# a disk the SCSI error handler took offline comes back
			sdev_running "$disk"
			io_step 120 "I/O after recovery" fio_verify "$disk" "after-$n" \
				--rw=randwrite --bs=4k --iodepth=8 --size=2M
			[ $step = ok ] && recovered=yes
			[ $step = hung ] && recovered=hung
		fi
	fi

	if [ -z "$wedged" ]; then
		io_step 90 "LUN removal" loop_lun_remove "$wwn"
		[ $step = ok ] || teardown=$step
	fi
	# the recovery's handler, if it started: it must exit cleanly
	if kill -0 "$RAMD_PID" 2>/dev/null; then
		ramd_stop || { [ $teardown = ok ] && teardown="handler $RAMD_ENDED"; }
	fi
	if [ -z "$wedged" ]; then
		io_step 60 "backstore removal" rmdir "$dev"
		[ $step = ok ] || [ "$teardown" != ok ] || teardown=$step
	fi

	kmsg=$(dmesg | tail -n +$((KMSG_MARK + 1)))
	report=$(echo "$kmsg" | kernel_reports | head -n1)
	if [ -n "$report" ]; then
		verdict=FAIL why="kernel report: $report"
	elif [ -n "$wedged" ]; then
		verdict=FAIL why=$wedged
	elif [ "$data" = CORRUPT ]; then
		verdict=FAIL why="silent data corruption"
	elif [ "$expect" = error ] && [ "$io" = ok ]; then
		verdict=FAIL why="the initiator saw no error"
	elif [ "$recovered" != yes ]; then
		verdict=FAIL why="no verified I/O after reset_ring and a new handler"
	elif [ "$teardown" != ok ]; then
		verdict=FAIL why="teardown $teardown"
	fi
	echo "MODE $mode${args:+ $args}: io=$io data=$data after=$after reopen=$reopen handler=$ended recovered=$recovered teardown=$teardown -> $verdict${why:+ ($why)}"
	echo "  handler: $(grep -m1 -E 'misbehave|corrupt' /tmp/ramd-$name.out)"
	sed 's/^/  initiator: /' /tmp/dd.err | sort | uniq -c | head -n 3
	echo "$kmsg" | grep -E 'tcmu|TCMU|ring|cmd_id|sd [0-9]|Buffer I/O|I/O error|blk_update|'"$KREPORT_RE" |
		sed 's/^/  kernel: /' | sort -k3 | uniq | head -n 8
	if [ $verdict != ok ]; then
		failed=$((failed + 1))
		sed 's/^/  steps: /' /tmp/hostile-steps.out | tail -n 20
	fi
	prev=$mode
	return 0
}

bugs=0
while read -r spec expect bug; do
	[ -n "$spec" ] || continue
	if [ "$bug" = stock-bug ] && [ $bugs = 0 ]; then
		bugs=1
		ours || [ $failed = 0 ] ||
			fail "$failed misbehaviour mode(s) failed (see the MODE lines)"
		known_bug "the modes that make stock spin or WARN"
	fi
	try_mode "$spec" "${expect:-any}"
	if [ -n "$wedged" ]; then
		log "kernel wedged ($wedged): the remaining modes are not run"
		break
	fi
done <<<"$MODES"
[ -n "$wedged" ] && fail "$wedged"
[ $failed = 0 ] || fail "$failed misbehaviour mode(s) failed (see the MODE lines)"

# A new, clean device must work whatever happened before.
dev=$(ramd_dev 1 hostileok $SIZE) || fail "cannot create the last backstore"
ramd_start hostileok $SIZE
wwn=naa.5001405000000cff
disk=$(loop_lun $wwn "$dev") || fail "no working disk after the misbehaving ones"
if ! bounded 100 dd if=/tmp/pattern of="$disk" bs=64k oflag=direct status=none ||
   ! bounded 100 dd if="$disk" of=/tmp/readback bs=64k count=4 iflag=direct status=none ||
   ! cmp -s /tmp/pattern /tmp/readback; then
	fail "the device after the misbehaving ones does not work"
fi
bounded 90 loop_lun_remove $wwn || fail "cannot remove the last LUN"
ramd_stop || fail "the last tcmu-ramd did not exit cleanly ($RAMD_ENDED)"
rmdir "$dev" "$HBA" || fail "cannot remove the last backstore"
log "every misbehaviour ended cleanly and the device recovered after each"
