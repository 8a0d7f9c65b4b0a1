#!/bin/bash
# tcmu-test: ring: a stalled handler (SIGSTOP): 64 new commands still enter the ring and time out there (none waits for room), the idle reclaim leaves the span alone, the handler resumes and fio verifies, the LUN goes away while it is stopped
# timeout: 300
# modules: stock ours
#
# A handler that stops consuming keeps its commands in the ring; they
# time out after cmd_time_out (3 s here) with CHECK CONDITION.  Stock's
# fixed 8 MiB ring has room for thousands more, and so must ours: a
# command that only waits for room ends with TASK SET FULL, which the
# SCSI midlayer retries for minutes (sd_remove()'s SYNCHRONIZE CACHE hung
# that way, tests/rel-remove-rounds.sh on the debug kernel).
# 40 writes and 40 verify reads at QD1 first leave the ring empty with
# its head inside the one-page span, so that a span which did not grow
# ahead of its load wraps: 64 writes at once then do not fit.  They must
# all fail within 60 s; ours: the span has grown past one page and a
# data_idle_timeout of 1 s does not shrink it under the stalled
# commands.  Then the handler goes on, consumes the stale entries, and
# fio verifies; last the handler is stopped again and the LUN and
# backstore are removed, within 60 s.
. /tcmu/lib.sh

wwn=naa.5001405000000e01
dev=$(ramd_dev 26 stall 67108864) || exit 1
echo 3 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
ours && { echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"; }
ramd_start stall 64M
disk=$(loop_lun "$wwn" "$dev") || exit 1

fio_verify "$disk" qd1 --rw=randwrite --bs=4k --iodepth=1 --size=160k
ours && log "span $(attr ring_pages_allocated) pages before the stall"

kill -STOP "$RAMD_PID"
log "handler stopped: 64 writes at once"
fio --name=stalled --filename="$disk" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=4k --iodepth=64 --size=256k \
	>/tmp/fio-stalled.out 2>&1 &
fpid=$!
bounded 60 tail --pid=$fpid -f /dev/null ||
	{ cat /tmp/fio-stalled.out; stuck "the stalled handler's writes did not fail within 60 s"; }
wait $fpid && fail "fio succeeded with the handler stopped"
log "fio: $(grep -o 'err=[^:]*' /tmp/fio-stalled.out | head -n1)"
if ours; then
	pages=$(attr ring_pages_allocated)
	log "span $pages pages with the handler stopped"
	# 64 entries of 128 bytes do not fit in one page.
	[ "$pages" -ge 2 ] || fail "the span did not grow for the stalled commands"
	sleep 4		# idle ticks, data_idle_timeout 1 s
	[ "$(attr ring_pages_allocated)" -ge "$pages" ] ||
		fail "the span shrank from $pages to $(attr ring_pages_allocated) pages under stalled commands"
fi

kill -CONT "$RAMD_PID"
sdev_running "$disk" || fail "$disk did not come back"
fio_verify "$disk" resumed --rw=randwrite --bs=4k --iodepth=8 --size=1M
ours && log "span $(attr ring_pages_allocated) pages after resuming"

kill -STOP "$RAMD_PID"
log "handler stopped: removing LUN and backstore"
t0=$SECONDS
bounded 60 bash -c ". /tcmu/lib.sh; lio_cleanup"
case $? in
0) ;;
124) stuck "removal with the handler stopped hung" ;;
*) fail "removal with the handler stopped failed" ;;
esac
[ -e "$dev" ] && fail "backstore still there"
log "removed in $((SECONDS - t0)) s"
kill -9 "$RAMD_PID"
kill -CONT "$RAMD_PID"
bounded 30 tail --pid="$RAMD_PID" -f /dev/null || stuck "the handler does not exit"
log "ok"
