#!/bin/bash
# tcmu-test: reclaim: fio verify on two devices while idle reclaim, budget reclaim and the shrinker fire repeatedly loses nothing
# timeout: 900
# modules: ours
# tier: debug
#
# Two tcmu-ramd devices with data_idle_timeout 1 and data_hwm_half_life 1
# and global_max_data_area_mb 12 run fio write+verify with mixed block
# sizes (4k to 1M) at iodepth 32, pausing 1.5 s every 25 I/Os so that the
# devices go idle while their buffers are still mapped by the handler.
# Meanwhile a bounded loop runs every shrinker (drop_caches=2) every
# 1.5 s and moves the budget between 12 and 4 MiB (at 8, the shrinker
# and idle reclaim once took every kept page before the budget did).  Both fio runs must verify, each cause
# of reclaim must have fired, and dmesg must stay clean (the runner fails
# the test on any kernel report).
. /tcmu/lib.sh

param=/sys/module/target_core_user/parameters
old=$(cat $param/global_max_data_area_mb)
trap 'echo "$old" >$param/global_max_data_area_mb' EXIT
echo 12 >$param/global_max_data_area_mb || fail "global_max_data_area_mb"
job=(--rw=randwrite --bssplit=4k/40:64k/30:1M/30 --iodepth=32 --size=48M
     --thinktime=1500000 --thinktime_blocks=25)

devs=() pids=() disks=()
for i in 1 2; do
	d=$(ramd_dev 10 s$i 67108864 hw_max_sectors=2048)
	echo 1 >"$d/attrib/data_idle_timeout" || fail "data_idle_timeout"
	echo 1 >"$d/attrib/data_hwm_half_life" || fail "data_hwm_half_life"
	ramd_start s$i 64M
	devs+=("$d") pids+=($RAMD_PID)
	disks+=("$(loop_lun naa.500140500000010$i "$d")") || exit 1
done

fio_verify_bg "${disks[0]}" s1 "${job[@]}"
fio_verify_bg "${disks[1]}" s2 "${job[@]}"
for ((i = 1; i <= 200; i++)); do
	fio_running || break
	# Not every round: idle reclaim needs kept pages to find.
	((i % 3)) || echo 2 >/proc/sys/vm/drop_caches
	((i % 5)) || echo $((i % 10 ? 4 : 12)) >$param/global_max_data_area_mb
	sleep 0.5
done
log "stress loop: $i rounds"
echo 12 >$param/global_max_data_area_mb
fio_wait
sleep 3
tot() { echo $(($(cat "${devs[0]}/attrib/$1") + $(cat "${devs[1]}/attrib/$1"))); }
for d in "${devs[@]}"; do
	log "${d##*/}: peak $(cat "$d/attrib/data_pages_peak") allocated $(cat "$d/attrib/data_pages_allocated") in_use $(cat "$d/attrib/data_pages_in_use") reclaimed idle $(cat "$d/attrib/data_pages_reclaimed_idle") decay $(cat "$d/attrib/data_pages_reclaimed_decay") budget $(cat "$d/attrib/data_pages_reclaimed_budget") pressure $(cat "$d/attrib/data_pages_reclaimed_pressure")"
done
for c in idle budget pressure; do
	[ "$(tot data_pages_reclaimed_$c)" -gt 0 ] || fail "no reclaim for $c happened"
done
[ "$(tot data_pages_in_use)" = 0 ] || fail "pages in use after the I/O"

lio_cleanup
kill "${pids[@]}"
log "ok"
