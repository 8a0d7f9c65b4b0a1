#!/bin/bash
# tcmu-test: reclaim: data_keep_pages=1 keeps every data page through idle, decay, global limit and shrinker reclaim; 0 lets them go
# timeout: 300
# modules: ours
#
# For handlers that pin the data window (io_uring fixed buffers, RDMA
# registrations, vmsplice), whose pinned pages a reclaimed and refilled
# block would no longer be.  A device with data_keep_pages=1, idle
# timeout and half-life 1 s, keeps the pages of a 16 MiB burst through
# 4 s of idleness, drop_caches=2 and global_max_data_area_mb lowered to 1;
# no reclaim counter moves.  Then data_keep_pages=0: idle reclaim gives
# them back.  Bad values are refused.
. /tcmu/lib.sh

param=/sys/module/target_core_user/parameters
old=$(cat $param/global_max_data_area_mb)
trap 'echo "$old" >$param/global_max_data_area_mb' EXIT

dev=$(ramd_dev 13 keep 33554432 hw_max_sectors=2048)
[ "$(attr data_keep_pages)" = 0 ] || fail "data_keep_pages defaults to $(attr data_keep_pages)"
for v in 2 -1 x; do
	echo "$v" >"$dev/attrib/data_keep_pages" 2>/dev/null &&
		fail "data_keep_pages accepted $v"
done
echo 1 >"$dev/attrib/data_keep_pages" || fail "data_keep_pages=1 refused"
echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
echo 1 >"$dev/attrib/data_hwm_half_life" || fail "data_hwm_half_life"
ramd_start keep 32M
disk=$(loop_lun naa.5001405000000130 "$dev") || exit 1
fio_verify "$disk" burst --rw=write --bs=1M --iodepth=16 --size=16M
kept=$(attr data_pages_free)
log "after the burst: $kept pages kept"
[ "$kept" -ge 1024 ] || fail "only $kept pages kept after the burst"

reclaimed() { echo $(($(attr data_pages_reclaimed_idle) + $(attr data_pages_reclaimed_decay) + $(attr data_pages_reclaimed_budget) + $(attr data_pages_reclaimed_pressure))); }
sleep 4
echo 2 >/proc/sys/vm/drop_caches
echo 1 >$param/global_max_data_area_mb
sleep 3
log "kept $(attr data_pages_free), reclaimed idle $(attr data_pages_reclaimed_idle) decay $(attr data_pages_reclaimed_decay) budget $(attr data_pages_reclaimed_budget) pressure $(attr data_pages_reclaimed_pressure)"
[ "$(attr data_pages_free)" = "$kept" ] || fail "kept pages went from $kept to $(attr data_pages_free)"
[ "$(reclaimed)" = 0 ] || fail "$(reclaimed) pages reclaimed with data_keep_pages=1"
echo "$old" >$param/global_max_data_area_mb

echo 0 >"$dev/attrib/data_keep_pages" || fail "data_keep_pages=0 refused"
wait_for 20 sh -c "[ \$(cat $dev/attrib/data_pages_free) = 0 ]" ||
	fail "$(attr data_pages_free) pages still kept with data_keep_pages=0"
log "data_keep_pages=0: kept $(attr data_pages_free), reclaimed idle $(attr data_pages_reclaimed_idle)"
fio_verify "$disk" again --rw=write --bs=1M --iodepth=16 --size=16M
lio_cleanup
log "ok"
