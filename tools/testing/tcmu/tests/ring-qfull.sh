#!/bin/bash
# tcmu-test: deep queues of 1 MiB commands verify, with the whole data area and with max_data_area_mb=1 (queue-full path)
# timeout: 600
# modules: stock ours
#
# fio writes and verifies 1 MiB blocks at iodepth 64 through tcmu-ramd,
# with hw_max_sectors raised so that each fio I/O is one 1 MiB command.
# First with the default data area: it must not stall, and (ours)
# the device keeps the pages afterwards for reuse.  Then on a device
# whose data area is 1 MiB: every command needs all of it, so commands
# wait on the queue-full path and go through one at a time; the data
# must still verify and nothing may fail for lack of room.
. /tcmu/lib.sh

job=(--rw=write --bs=1M --iodepth=64 --size=128M)

dev=$(ramd_dev 3 big 268435456 hw_max_sectors=2048)
ramd_start big 256M
disk=$(loop_lun naa.5001405000000030 "$dev") || exit 1
fio_verify "$disk" deep "${job[@]}"
if ours; then
	kept=$(cat "$dev/attrib/data_pages_free")
	peak=$(cat "$dev/attrib/data_pages_peak")
	log "after the deep queue: kept free $kept, peak in use $peak"
	[ "$kept" -ge 256 ] || fail "only $kept pages kept after 1 MiB I/O"
	[ "$(cat "$dev/attrib/data_pages_in_use")" = 0 ] || fail "pages still in use"
fi
lio_cleanup
kill $RAMD_PID

dev=$(ramd_dev 4 small 268435456 hw_max_sectors=2048 max_data_area_mb=1)
[ "$(cat "$dev/attrib/max_data_area_mb")" = 1 ] || fail "max_data_area_mb is not 1"
ramd_start small 256M
disk=$(loop_lun naa.5001405000000040 "$dev") || exit 1
fio_verify "$disk" qfull "${job[@]}"
if ours; then
	peak=$(cat "$dev/attrib/data_pages_peak")
	log "1 MiB data area: peak in use $peak pages"
	[ "$peak" -le 256 ] || fail "peak $peak pages is over the 1 MiB data area"
fi
lio_cleanup
kill $RAMD_PID
log "ok"
