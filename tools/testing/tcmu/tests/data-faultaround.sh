#!/bin/bash
# tcmu-test: data: a handler's fault in the data window maps the present pages around it (fault-around): 1 MiB commands on blocks it never touched cost a fault or two each, not 256, and verify, also after reclaim gave the blocks back
# timeout: 420
# modules: stock ours
# tier: debug 6.12 stock
# xfail: stock maps one page per fault
#
# tcmu-ramd (with data: it reads every WRITE's iovecs, writes every
# READ's) serves a 64 MiB tcm_loop LUN with hw_max_sectors 2048.
#   0. ours: no reclaim until step 3 (data_idle_timeout and
#      data_hwm_half_life 0), so that no page is unmapped while counted;
#   1. 64 KiB writes at iodepth 1 over the whole disk: tcmu-ramd's own
#      RAM disk gets its memory (its faults would hide the ones counted
#      below), while the commands use only 16 data blocks;
#   2. 1 MiB writes at iodepth 16 over 32 MiB, verified (crc32c): about
#      4096 data pages the handler never mapped (at least 1024 must
#      become resident).  The handler's minor
#      faults (/proc/PID/stat) against the pages of its UIO mapping that
#      became resident (smaps): one fault per page is stock's, ours must
#      map at least $min_ratio per fault;
#   3. ours: the device goes idle (data_idle_timeout 1), reclaim gives
#      the blocks back and unmaps them, then the same 1 MiB job again:
#      fresh zeroed pages, fault-around again, and fio verifies the data
#      (a PTE left to a freed page, or one to the wrong page, fails it).
# A wrong page mapped anywhere fails fio's verify; a fault-around that
# does not happen fails the ratio.
. /tcmu/lib.sh

min_ratio=16
job=(--rw=write --bs=1M --iodepth=16 --size=32M)

minflt() { awk '{ print $10 }' "/proc/$RAMD_PID/stat"; }

# pass NAME: the 1 MiB job, then the faults it cost per page mapped.
pass() {
	local f0 r0 faults pages
	f0=$(minflt)
	r0=$(uio_rss)
	fio_verify "$disk" "$1" "${job[@]}"
	faults=$(($(minflt) - f0))
	pages=$(($(uio_rss) - r0))
	log "$1: $pages pages of the UIO mapping became resident, $faults handler faults"
	[ "$pages" -ge 1024 ] || fail "$1: only $pages pages mapped: the job did not reach fresh blocks"
	known_bug "one fault per page"
	[ $((pages / (faults > 0 ? faults : 1))) -ge $min_ratio ] ||
		fail "$1: $faults faults for $pages pages: fewer than $min_ratio pages per fault"
}

dev=$(ramd_dev 27 fa 67108864 hw_max_sectors=2048)
# No reclaim until step 3: it would unmap pages while they are counted.
reclaim_off "$dev"
ramd_start fa 64M
disk=$(loop_lun naa.5001405000000270 "$dev") || exit 1

run fio --name=prefill --filename="$disk" --direct=1 --ioengine=libaio \
	--rw=write --bs=64k --iodepth=1 --size=64M --output=/tmp/fio-prefill.out
pass fresh

if ours; then
	echo 1 >"$dev/attrib/data_idle_timeout"
	wait_for 30 sh -c "[ \$(cat $dev/attrib/data_pages_free) = 0 ]" ||
		fail "$(attr data_pages_free) data pages still kept 30 s after the I/O"
	log "idle: $(attr data_pages_allocated) data pages left, $(uio_rss) pages of the UIO mapping resident"
	echo 0 >"$dev/attrib/data_idle_timeout"
	pass reclaimed
fi

lio_cleanup
ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
log "ok"
