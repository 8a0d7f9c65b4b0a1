#!/bin/bash
# tcmu-test: reclaim: two devices whose bursts together exceed a small global_max_data_area_mb both verify; ours reclaims for the budget
# timeout: 600
# modules: stock ours
#
# global_max_data_area_mb is lowered to 8 (2048 pages) and two tcmu-ramd
# devices each run 1 MiB writes at iodepth 16 (16 MiB in flight each)
# at the same time: commands wait on the queue-full path for the budget
# and none may fail.  Ours: the module-wide data pages (global_data_pages) stay
# within the budget, sampled while the I/O runs, and pages were reclaimed
# for the budget.  The module parameter is restored at the end.
. /tcmu/lib.sh

param=/sys/module/target_core_user/parameters
old=$(cat $param/global_max_data_area_mb)
trap 'echo "$old" >$param/global_max_data_area_mb' EXIT
echo 8 >$param/global_max_data_area_mb || fail "cannot set global_max_data_area_mb"
budget=2048
job=(--rw=write --bs=1M --iodepth=16 --size=32M)

d1=$(ramd_dev 6 b1 67108864 hw_max_sectors=2048)
d2=$(ramd_dev 6 b2 67108864 hw_max_sectors=2048)
ramd_start b1 64M
p1=$RAMD_PID
ramd_start b2 64M
p2=$RAMD_PID
disk1=$(loop_lun naa.5001405000000061 "$d1") || exit 1
disk2=$(loop_lun naa.5001405000000062 "$d2") || exit 1
log "max_data_area_mb: $(cat "$d1/attrib/max_data_area_mb") $(cat "$d2/attrib/max_data_area_mb")"

fio_verify_bg "$disk1" b1 "${job[@]}"
fio_verify_bg "$disk2" b2 "${job[@]}"
max=0
while fio_running; do
	if ours; then
		n=$(cat $param/global_data_pages)
		[ $n -gt $max ] && max=$n
	fi
	sleep 0.5
done
fio_wait

if ours; then
	for d in "$d1" "$d2"; do
		log "${d##*/}: peak $(cat "$d/attrib/data_pages_peak") allocated $(cat "$d/attrib/data_pages_allocated") reclaimed budget $(cat "$d/attrib/data_pages_reclaimed_budget") idle $(cat "$d/attrib/data_pages_reclaimed_idle") decay $(cat "$d/attrib/data_pages_reclaimed_decay")"
	done
	log "most module-wide data pages seen: $max (budget $budget)"
	[ $max -le $budget ] || fail "$max data pages, over the budget of $budget"
	b=$(($(cat "$d1/attrib/data_pages_reclaimed_budget") + $(cat "$d2/attrib/data_pages_reclaimed_budget")))
	[ $b -gt 0 ] || fail "nothing was reclaimed for the budget"
fi

lio_cleanup
kill $p1 $p2
log "ok"
