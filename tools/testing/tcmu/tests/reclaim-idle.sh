#!/bin/bash
# tcmu-test: reclaim: after a 1 MiB iodepth-64 write burst the kept data pages go back once the device is idle; the next burst verifies
# timeout: 600
# modules: stock ours
#
# tcmu-ramd serves a tcm_loop LUN with hw_max_sectors raised so that each
# fio I/O is one 1 MiB command.  The figures (data-area counters for ours,
# MemFree in 4 KiB pages for both modules) are logged before the burst,
# after it and after waiting for data_idle_timeout (default 10 s) plus
# $slack s of slack.  Ours must keep the burst's pages right after it (for
# reuse) and then give them back (kept pages about zero); the stock module
# keeps them (no assertion there, the figures are for comparison).  The
# second burst must verify on both.  Before the bursts, a 4k write job:
# the module-wide pages in use must be back to 0 once it ends.
. /tcmu/lib.sh

job=(--rw=write --bs=1M --iodepth=64 --size=64M)
slack=20
param=/sys/module/target_core_user/parameters

idle_figures() {	# label
	echo 1 >/proc/sys/vm/drop_caches	# page cache only, no shrinkers
	if ours; then
		log "$1: MemFree $(memfree) pages; data pages allocated $(attr data_pages_allocated) in_use $(attr data_pages_in_use) kept $(attr data_pages_free); reclaimed idle $(attr data_pages_reclaimed_idle) decay $(attr data_pages_reclaimed_decay); module-wide in use $(cat $param/global_data_pages_in_use) kept $(cat $param/global_data_pages_kept)"
	else
		log "$1: MemFree $(memfree) pages"
	fi
}

dev=$(ramd_dev 5 idle 67108864 hw_max_sectors=2048)
ramd_start idle 64M
disk=$(loop_lun naa.5001405000000050 "$dev") || exit 1

# Pages in use reach the module-wide count in batches (TCMU_ACCT_BATCH):
# once the I/O has ended, none may be left there.  4k writes, so that
# each command moves the count by one page.
fio_verify "$disk" small --rw=randwrite --bs=4k --iodepth=8 --size=4M
if ours; then
	n=$(cat $param/global_data_pages_in_use)
	[ "$n" = 0 ] || fail "module-wide $n pages in use after the 4k writes ended"
fi
idle_figures "before burst"
m0=$(memfree)
fio_verify "$disk" burst1 "${job[@]}"
idle_figures "after burst"
m1=$(memfree)
if ours; then
	kept=$(attr data_pages_free)
	[ "$kept" -ge 256 ] || fail "only $kept pages kept right after the burst"
	idle=$(attr data_idle_timeout)
	[ "$idle" = 10 ] || fail "data_idle_timeout default is $idle, expected 10"
	[ "$(attr data_hwm_half_life)" = 5 ] || fail "data_hwm_half_life default is not 5"
	start=$(date +%s)
	wait_for $((idle + slack)) sh -c "[ \$(cat $dev/attrib/data_pages_free) -le 8 ]" ||
		fail "still $(attr data_pages_free) pages kept $((idle + slack)) s after the burst"
	log "kept pages dropped to $(attr data_pages_free) after $(($(date +%s) - start)) s"
	[ "$(attr data_pages_in_use)" = 0 ] || fail "pages in use on an idle device"
	[ $(($(attr data_pages_reclaimed_idle) + $(attr data_pages_reclaimed_decay))) -gt 0 ] ||
		fail "nothing counted as reclaimed for idle or decay"
	[ "$(cat $param/global_data_pages_kept)" -le 8 ] ||
		fail "module-wide kept pages: $(cat $param/global_data_pages_kept)"
else
	sleep $((10 + 5))
fi
idle_figures "after idle"
m2=$(memfree)
log "summary ($MODULE): burst took $((m0 - m1)) pages of MemFree, $((m2 - m1)) came back after idle"
fio_verify "$disk" burst2 "${job[@]}"
idle_figures "after second burst"

lio_cleanup
kill $RAMD_PID
log "ok"
