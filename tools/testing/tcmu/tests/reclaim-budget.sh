#!/bin/bash
# tcmu-test: reclaim: global_max_data_area_mb is a reclaim target as in stock: three devices at 1 MiB QD64 far over it verify, and a block bigger than it is used
# timeout: 600
# modules: stock ours
#
# In stock, going over global_max_data_area_mb makes kept pages go back
# (its unmap work); the allocation goes ahead.  Three tcmu-ramd devices
# are made first (so each has the default max_data_area_mb), then the
# limit is lowered to 8 MiB and each device runs 32 MiB of 1 MiB writes
# at iodepth 64, all at once: 192 MiB in flight against 8 MiB.  Every
# verify must pass on both modules, with no SCSI error in the kernel log.
# Ours: the data pages went over the limit while the I/O ran (nothing
# held commands back), idle reclaim and decay are off on the devices, and
# after the I/O the kept pages above the limit go back for the budget.
# Then a fourth device whose one data block (data_pages_per_blk 512: 2
# MiB) is bigger than the whole limit, lowered to 1 MiB: 4 KiB writes
# must verify (a limit that held commands back would never place one).
# The module parameter is restored at the end.
. /tcmu/lib.sh

param=/sys/module/target_core_user/parameters
old=$(cat $param/global_max_data_area_mb)
trap 'echo "$old" >$param/global_max_data_area_mb' EXIT
limit=8
budget=$((limit * 256))
job=(--rw=write --bs=1M --iodepth=64 --size=32M)

devs=() disks=()
for i in 1 2 3; do
	d=$(ramd_dev 6 b$i 67108864 hw_max_sectors=2048)
	reclaim_off "$d"
	ramd_start b$i 64M
	devs+=("$d")
	disks+=("$(loop_lun naa.500140500000006$i "$d")") || exit 1
done
log "max_data_area_mb: $(cat "${devs[0]}/attrib/max_data_area_mb")"
echo $limit >$param/global_max_data_area_mb || fail "cannot set global_max_data_area_mb"

m0=$(memfree)
for i in 0 1 2; do
	fio_verify_bg "${disks[$i]}" b$i "${job[@]}"
done
max=0
while fio_running; do
	if ours; then
		n=$(cat $param/global_data_pages)
		[ "$n" -gt $max ] && max=$n
	fi
	sleep 0.2
done
fio_wait
log "MemFree: $m0 pages before the I/O, $(memfree) after"

if ours; then
	log "most module-wide data pages seen while the I/O ran: $max (limit $budget)"
	[ $max -gt $budget ] || fail "the data areas never went over the limit: commands were held back"
	wait_for 10 sh -c "[ \$(cat $param/global_data_pages) -le $budget ]" ||
		fail "$(cat $param/global_data_pages) data pages stay over the limit of $budget"
	b=0
	for d in "${devs[@]}"; do
		log "${d##*/}: peak $(cat "$d/attrib/data_pages_peak") allocated $(cat "$d/attrib/data_pages_allocated") reclaimed budget $(cat "$d/attrib/data_pages_reclaimed_budget")"
		b=$((b + $(cat "$d/attrib/data_pages_reclaimed_budget")))
	done
	[ $b -gt 0 ] || fail "nothing was reclaimed for the limit"
	log "after the I/O: $(cat $param/global_data_pages) data pages (limit $budget)"
fi

# A block bigger than the whole limit, on a device made after it was
# lowered: a limit that held commands back would never place one (not
# even the SCSI scan's INQUIRY: no disk would appear).
echo 1 >$param/global_max_data_area_mb || fail "cannot set global_max_data_area_mb"
d=$(ramd_dev 6 b4 16777216 data_pages_per_blk=512)
ramd_start b4 16M
disk=$(loop_lun naa.5001405000000064 "$d") || exit 1
fio_verify "$disk" big-block --rw=randwrite --bs=4k --iodepth=4 --size=1M

dmesg | grep -E 'I/O error|FAILED Result' && fail "SCSI errors in the kernel log"
lio_cleanup
log "ok"
