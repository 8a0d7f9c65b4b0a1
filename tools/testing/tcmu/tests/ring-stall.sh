#!/bin/bash
# tcmu-test: ring: a stalled handler (SIGSTOP): new commands still fail within cmd_time_out, whether the ring has room (the span kept twice its load) or is wrapped and full (behind the idle PAD); the span does not shrink under them; the handler resumes and fio verifies; the LUN goes away while it is stopped
# timeout: 420
# modules: stock ours
#
# A handler that stops consuming keeps its commands in the ring; they
# time out after cmd_time_out (3 s here) with CHECK CONDITION.  Stock's
# fixed 8 MiB ring has room for thousands more.  Ours: a command that
# only waits for room would end with TASK SET FULL, which the SCSI
# midlayer retries for minutes (sd_remove()'s SYNCHRONIZE CACHE hung
# that way, tests/rel-remove-rounds.sh on the debug kernel).  Each part
# uses a new device (data_idle_timeout 1 s), stops tcmu-ramd and sends
# N 4 KiB writes at once: all must fail within 60 s; ours: the span must
# not shrink under them.  The handler goes on, fio verifies, the handler
# is stopped again and the LUN and backstore are removed within 60 s.
#  1. Room: 40 writes and 40 verify reads at QD1 leave the ring empty,
#     its head inside the one-page span; 64 writes at once do not fit in
#     one page, so the span must grow for them (ours: 2 pages at least).
#  2. Wrapped and full: tcmu-ramd --lazy-pad leaves the PAD the kernel
#     writes when the device goes idle with its head beyond the first
#     page (as tcmu-runner does), so the ring is wrapped with room only
#     below that PAD, less than a two-page span; 128 writes at once
#     cannot all enter it and wait behind it, and must fail as if they
#     had timed out in the ring.  After a reset_ring recovery (head at
#     0), 16 writes held by the stopped handler grow the span to 2 pages
#     and fio at QD1 puts the head on the second page.
. /tcmu/lib.sh

# stall_setup N NAME [RAMD ARGS...]: device NAME on user_26, LUN
# naa.5001405000000e0N, tcmu-ramd serving it; sets dev and disk.
stall_setup() {
	dev=$(ramd_dev 26 "$2" 67108864) || exit 1
	echo 3 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
	if ours; then
		echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	fi
	ramd_start "$2" 64M "${@:3}"
	disk=$(loop_lun "naa.5001405000000e0$1" "$dev") || exit 1
}

# stalled_writes N WHAT: stop the handler, N writes at once must fail
# within 60 s; ours: the span must not shrink under them in 4 idle
# seconds (its size then in stalled_pages).  Then the handler goes on
# and fio verifies.
stalled_writes() {
	local fpid
	kill -STOP "$RAMD_PID"
	log "$2: handler stopped, $1 writes at once"
	fio --name=stalled --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=4k --iodepth="$1" --size=$(($1 * 4))k \
		>/tmp/fio-stalled.out 2>&1 &
	fpid=$!
	bounded 60 tail --pid=$fpid -f /dev/null || {
		cat /tmp/fio-stalled.out
		stuck "$2: the writes did not fail within 60 s"
	}
	wait $fpid && fail "$2: fio succeeded with the handler stopped"
	log "$2: fio $(grep -o 'err=[^:]*' /tmp/fio-stalled.out | head -n1)"
	if ours; then
		stalled_pages=$(attr ring_pages_allocated)
		log "$2: span $stalled_pages pages with the handler stopped"
		sleep 4		# idle ticks
		[ "$(attr ring_pages_allocated)" -ge "$stalled_pages" ] ||
			fail "$2: the span shrank from $stalled_pages to $(attr ring_pages_allocated) pages under stalled commands"
	fi
	kill -CONT "$RAMD_PID"
	sdev_running "$disk" || fail "$disk did not come back"
	fio_verify "$disk" "$2-resumed" --rw=randwrite --bs=4k --iodepth=8 \
		--size=1M
}

# stalled_removal WHAT: stop the handler, remove LUN and backstore.
stalled_removal() {
	local t0=$SECONDS
	kill -STOP "$RAMD_PID"
	bounded 60 bash -c ". /tcmu/lib.sh; lio_cleanup"
	case $? in
	0) ;;
	124) stuck "$1: removal with the handler stopped hung" ;;
	*) fail "$1: removal with the handler stopped failed" ;;
	esac
	[ -e "$dev" ] && fail "$1: backstore still there"
	log "$1: removed in $((SECONDS - t0)) s with the handler stopped"
	kill -9 "$RAMD_PID"
	kill -CONT "$RAMD_PID"
	bounded 30 tail --pid="$RAMD_PID" -f /dev/null ||
		stuck "$1: the handler does not exit"
	wait "$RAMD_PID" 2>/dev/null
}

stall_setup 1 room
fio_verify "$disk" room-qd1 --rw=randwrite --bs=4k --iodepth=1 --size=160k
ours && log "room: span $(attr ring_pages_allocated) pages before the stall"
stalled_writes 64 room
# 64 entries of 128 bytes do not fit in one page.
if ours && [ "$stalled_pages" -lt 2 ]; then
	fail "room: the span did not grow for the stalled commands"
fi
stalled_removal room

stall_setup 2 wrapped --lazy-pad
out=/tmp/ramd-wrapped.out
ours && { echo 0 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"; }
# Head and tail back to 0, as tcmu-runner's restart does.
ramd_stop || fail "tcmu-ramd did not stop: $RAMD_ENDED"
ring_recover "$dev" || fail "recovery"
ramd_start wrapped 64M --lazy-pad
# 16 writes held by the stopped handler, 2 KiB of entries from 0, grow
# the span to 2 pages (the handler goes on before cmd_time_out); with
# their verify reads the head is at 32 * 128 = 4096.  8 writes and 8
# reads at QD1 then take it to 6144, on the second page.  The span keeps
# its pages while data_idle_timeout is 0.
kill -STOP "$RAMD_PID"
fio_verify_bg "$disk" wrapped-qd16 --rw=randwrite --bs=4k --iodepth=16 --size=64k
if ours; then
	wait_for 10 sh -c "[ \$(cat $dev/attrib/ring_pages_allocated) -ge 2 ]"
else
	sleep 1
fi
kill -CONT "$RAMD_PID"
fio_wait
fio_verify "$disk" wrapped-qd1 --rw=randwrite --bs=4k --iodepth=1 --size=32k
if ours; then
	pads=$(grep -c 'PAD at' "$out")
	echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	wait_for 10 sh -c "[ \$(grep -c 'PAD at' $out) -gt $pads ]" ||
		fail "wrapped: no idle PAD (span $(attr ring_pages_allocated) pages)"
	log "wrapped: $(grep 'PAD at' "$out" | tail -n1), span $(attr ring_pages_allocated) pages"
	[ "$(attr ring_pages_allocated)" = 2 ] ||
		fail "wrapped: span $(attr ring_pages_allocated) pages, not 2"
fi
stalled_writes 128 wrapped
stalled_removal wrapped
log "ok"
