#!/bin/bash
# tcmu-test: ring: doorbell moderation (wake_delay_us, wake_batch): a handler that holds nothing is woken at once; one that holds commands is woken after wake_batch entries, by the timer, or by its own completion; 0 wakes it per entry, as stock; bad values are refused; fio verifies with moderation on at QD1 and QD32
# timeout: 360
# modules: stock ours
# tier: debug 6.12 stock
#
# The UIO event count (/sys/class/uio/uioN/event) counts the driver's
# wake-ups of the handler (uio_event_notify()).  In parts 1-3 tcmu-ramd
# is stopped (SIGSTOP) so that it holds whatever enters the ring, and
# single 4 KiB direct writes (dd) go in one at a time: each is in the
# ring once data_pages_in_use has grown by one (stock has no such
# attribute: there, once the block layer counts it in flight and the
# count has moved), and then the count is read.  The handler resumes and
# every write must end.
#  1. wake_delay_us 0 (the default): every write wakes the handler, as
#     on stock.  Stock then runs part 4 without the knobs and ends.
#  2. wake_delay_us 10 s, wake_batch 3: write 1 wakes it (it held
#     nothing), writes 2 and 3 do not, write 4 does (3 waiting).
#  3. wake_delay_us 0.3 s, wake_batch 0: write 1 wakes it; the timer
#     must wake the stopped handler for write 2 (part 2 showed that the
#     wake-up is held back; here it must come).
#  4. wake_delay_us 10 s, wake_batch 0, the handler running: fio at QD32
#     and QD1 verifies 8 MiB and 256 KiB within 120 s (at QD1 every
#     command wakes the handler at once, or the 128 of them take 1280 s).
#  5. ours: a busy handler (tcmu-ramd --delay-ms 5000: it reads
#     cmd_head once, then takes 5 s over each command, then completes
#     and sleeps) is not woken for write 2, which comes while it works on
#     write 1; its completion of write 1 (tcmu_reap()) must wake it for
#     write 2 at once, not the timer 10 s later: without that wake-up it
#     would sleep with write 2 in the ring.
. /tcmu/lib.sh

dev=$(ramd_dev 28 wake 67108864)
reclaim_off "$dev"
ramd_start wake 64M
disk=$(loop_lun naa.5001405000000280 "$dev") || exit 1
uio=$(uio_of 28 wake)
ev() { cat "$uio/event"; }
if ours; then
	[ "$(attr wake_delay_us)" = 0 ] ||
		fail "wake_delay_us defaults to $(attr wake_delay_us)"
	for bad in wake_delay_us=10000001 wake_batch=65536 wake_delay_us=-1 \
		   wake_batch=x; do
		echo "${bad#*=}" >"$dev/attrib/${bad%=*}" 2>/dev/null &&
			fail "${bad%=*} took ${bad#*=}"
	done
fi

# put N: write block N (dd, in the background), wait until it is in the
# ring (ours: N data blocks in use; stock: N writes in flight).
put() {
	dd if=/dev/urandom of="$disk" bs=4k count=1 seek="$1" oflag=direct \
		status=none >/dev/null 2>&1 &
	if ours; then
		wait_for 10 sh -c "[ \$(cat $dev/attrib/data_pages_in_use) = $1 ]" ||
			fail "write $1 did not reach the ring: $(attr data_pages_in_use) blocks in use"
	else
		wait_for 10 sh -c "[ \$(awk '{ print \$2 }' $inflight) = $1 ]" ||
			fail "write $1 is not in flight: $(cat "$inflight")"
	fi
}

# part NAME DELAY BATCH WOKEN...: stop the handler, set the knobs (ours),
# put writes 1..n; after write i, the wake-ups since the start must be
# WOKEN[i] (a value ending in + waits up to 10 s for it).  Then resume
# the handler: every write must end.
part() {
	local name=$1 i e0 e want
	if ours; then
		echo "$2" >"$dev/attrib/wake_delay_us" || fail "wake_delay_us $2"
		echo "$3" >"$dev/attrib/wake_batch" || fail "wake_batch $3"
	fi
	shift 3
	kill -STOP "$RAMD_PID"
	e0=$(ev)
	for ((i = 1; i <= $#; i++)); do
		put $i
		e=$(ev)
		want=${!i}
		if [ "${want%+}" != "$want" ]; then
			want=${want%+}
			wait_for 10 sh -c "[ \$(cat $uio/event) -ge $((e0 + want)) ]"
			e=$(ev)
		fi
		log "$name: write $i in the ring, $((e - e0)) wake-ups"
		[ $((e - e0)) = "$want" ] ||
			fail "$name: $((e - e0)) wake-ups after write $i, not $want"
	done
	kill -CONT "$RAMD_PID"
	wait_for 30 sh -c "! pgrep -x dd >/dev/null" ||
		stuck "$name: writes did not end after the handler resumed"
	[ "$(awk '{ print $1 + $2 }' "$inflight")" = 0 ] ||
		fail "$name: still in flight: $(cat "$inflight")"
}

inflight=/sys/block/${disk#/dev/}/inflight
if ours; then
	part off 0 0 1 2 3
	part batch 10000000 3 1 1 1 2
	part timer 300000 0 1 2+
	echo 10000000 >"$dev/attrib/wake_delay_us" || fail "wake_delay_us"
	echo 0 >"$dev/attrib/wake_batch" || fail "wake_batch"
else
	part off - - 1+ 2+ 3+
fi

# verified QD SIZE: fio writes SIZE at iodepth QD and verifies it, within
# 120 s.
verified() {
	local rc
	bounded 120 fio_verify "$disk" "wake-qd$1" --rw=randwrite --bs=4k \
		--iodepth="$1" --size="$2" >"/tmp/wake-qd$1.log" 2>&1
	rc=$?
	cat "/tmp/wake-qd$1.log"
	[ $rc = 124 ] && stuck "QD$1 did not end in 120 s"
	[ $rc = 0 ] || fail "fio at QD$1"
}

e0=$(ev)
verified 32 8M
log "QD32: $(($(ev) - e0)) wake-ups for 4096 commands"
verified 1 256k

if ours; then
	ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
	ramd_start wake 64M --delay-ms 5000 -v
	out=/tmp/ramd-wake.out
	e0=$(ev)
	n=$(grep -c ': op 2a ' "$out")
	put 1
	wait_for 10 sh -c "[ \$(grep -c ': op 2a ' $out) -gt $n ]" ||
		fail "busy: tcmu-ramd did not take write 1"
	put 2
	t2=$SECONDS
	e=$(ev)
	log "busy: write 2 in the ring while write 1 is served, $((e - e0)) wake-ups"
	[ $((e - e0)) = 1 ] || fail "busy: $((e - e0)) wake-ups, not 1: write 2 woke the busy handler"
	wait_for 10 sh -c "[ \$(cat $dev/attrib/data_pages_in_use) = 1 ]" ||
		fail "busy: write 1 did not complete"
	wait_for 3 sh -c "[ \$(cat $uio/event) -ge $((e0 + 2)) ]"
	e=$(ev)
	log "busy: write 1 completed; $((SECONDS - t2)) s after write 2 came, $((e - e0)) wake-ups"
	[ $((e - e0)) = 2 ] && [ $((SECONDS - t2)) -lt 9 ] ||
		fail "busy: completing write 1 did not wake the handler for write 2 ($((e - e0)) wake-ups $((SECONDS - t2)) s after write 2 came; the timer fires after 10 s)"
	wait_for 20 sh -c "! pgrep -x dd >/dev/null" ||
		stuck "busy: write 2 did not end"
fi

lio_cleanup
ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
log "ok"
