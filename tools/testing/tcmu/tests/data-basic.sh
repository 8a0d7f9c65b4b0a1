#!/bin/bash
# tcmu-test: map layout, default attributes, data-area stats and fio verify through tcmu-ramd
# timeout: 300
# modules: ours
# tier: 6.12
#
# A user backstore made by hand in configfs (no netlink replies), served
# by tcmu-ramd on a tcm_loop LUN.  Checks the 1.5 GiB map, the defaults
# of the new driver (a 512 MiB ring cap with a one-page span, 1 GiB data
# area), that the data-area counters move the way the design says (pages
# allocated on demand, all back to "free" once idle, nothing reclaimed),
# and data integrity.  The reclaim heuristic is switched off once its
# defaults are checked: its 5 s half-life may give pages back while a slow
# machine runs the two fio jobs (reclaim-*.sh test it).
. /tcmu/lib.sh

wwn=naa.5001405000000070
trap 'echo "--- tcmu-ramd output"; tail -n 30 /tmp/ramd-r0.out 2>/dev/null' EXIT

expect() {	# name value
	local v
	v=$(attr "$1")
	[ "$v" = "$2" ] || fail "attrib/$1 is '$v', expected '$2'"
}

dev=$(ramd_dev 7 r0 67108864) || exit 1

expect cmd_ring_size_mb 512
expect ring_pages_allocated 1
expect ring_span_bytes $(($(getconf PAGESIZE) - 128))	# the mailbox is 128 bytes
expect ring_pages_reclaimed 0
expect ring_nomem_waits 0
expect max_data_area_mb 1024
expect data_pages_per_blk 1
expect data_keep_pages 0
for s in allocated in_use free peak reclaimed; do
	expect data_pages_$s 0
done
expect data_nomem_waits 0
expect cmd_id_nomem_waits 0
expect data_idle_timeout 10
expect data_hwm_half_life 5
reclaim_off "$dev"

name=$(grep -l 'tcm-user/7/r0/ramd/r0' /sys/class/uio/uio*/name) ||
	fail "no uio device named tcm-user/7/r0/ramd/r0"
uio=$(dirname "$name")
[ "$(cat "$uio/version")" = 2 ] || fail "uio version $(cat "$uio/version")"
size=$(cat "$uio/maps/map0/size")
[ $((size)) = $((0x60000000)) ] || fail "map0 size $size, expected 0x60000000"
log "uio: $uio map0 size $size"

ramd_start r0 64M

disk=$(loop_lun "$wwn" "$dev") || exit 1
log "disk: $disk"

fio_verify "$disk" rand4k --rw=randwrite --bs=4k --iodepth=16 --size=16M
fio_verify "$disk" seq1m --rw=write --bs=1M --iodepth=8 --size=32M --offset=16M

sleep 1
alloc=$(attr data_pages_allocated)
inuse=$(attr data_pages_in_use)
free=$(attr data_pages_free)
peak=$(attr data_pages_peak)
recl=$(attr data_pages_reclaimed)
log "pages: allocated $alloc in_use $inuse free $free peak $peak reclaimed $recl"
[ "$alloc" -gt 0 ] || fail "no data pages were allocated"
[ "$inuse" = 0 ] || fail "$inuse pages still in use when idle"
[ "$free" = "$alloc" ] || fail "free $free != allocated $alloc when idle"
[ "$peak" -gt 0 ] && [ "$peak" -le "$alloc" ] || fail "peak $peak out of range"
[ "$recl" = 0 ] || fail "reclaimed $recl, expected 0"
# 1M writes at iodepth 8 need ~2K pages; the 4k job 16; allow slack.
[ "$alloc" -le 8192 ] || fail "$alloc pages allocated: more than the I/O needed"

kill -0 $RAMD_PID 2>/dev/null || fail "tcmu-ramd died during I/O"
lio_cleanup	# while the handler still answers sd's SYNCHRONIZE CACHE
kill $RAMD_PID
wait $RAMD_PID
[ -e "$dev" ] && fail "backstore still there"
log "ok"
