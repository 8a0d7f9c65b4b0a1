#!/bin/bash
# tcmu-test: reclaim: after the handler exits and its device node (mknod on a tmpfs) is unlinked, idle, budget and shrinker reclaim never touch the freed inode
# timeout: 300
# modules: stock ours
# tier: debug
#
# Reclaim unmaps the handler's mappings of the data window through the
# inode of its open UIO file.  A node made with mknod on a tmpfs (a
# container's own /dev) is freed with its inode once the handler has
# closed it and the node is unlinked; reclaim after that must not reach
# the inode.  Each round: tcmu-ramd opens a fresh node, 8 MiB of 1 MiB
# writes verify, the handler exits, the node is unlinked, then one reclaim
# path runs and must give the kept pages back: idle (data_idle_timeout
# 1), budget (global_max_data_area_mb lowered to 1 MiB: down to that) and
# the shrinker (drop_caches=2).  Stock has only the budget path (its unmap
# work reclaims over global_max_data_area_mb), and no counters: there the
# other rounds only exercise the node.  On the debug kernel a use of the
# freed inode is a KASAN report, which fails the test.
. /tcmu/lib.sh

param=/sys/module/target_core_user/parameters
old=$(cat $param/global_max_data_area_mb)
nodes=/tmp/uio-nodes
mkdir -p $nodes
mount -t tmpfs tmpfs $nodes || fail "cannot mount a tmpfs"
trap 'echo "$old" >$param/global_max_data_area_mb; umount $nodes' EXIT

dev=$(ramd_dev 9 node 16777216 hw_max_sectors=2048)
reclaim_off "$dev"
uio=$(uio_of 9 node)
majmin=$(cat "$uio/dev")
disk=

# node_round PATH: I/O through a handler on a fresh node, then reclaim by PATH.
node_round() {
	local n=$nodes/uio-$1 i left=0
	mknod "$n" c "${majmin%:*}" "${majmin#*:}" || fail "mknod $n"
	ramd_start node 16M --node "$n"
	[ -n "$disk" ] || disk=$(loop_lun naa.5001405000000090 "$dev") || exit 1
	fio_verify "$disk" "$1" --rw=write --bs=1M --iodepth=8 --size=8M
	kill "$RAMD_PID"
	wait "$RAMD_PID"
	rm "$n" || fail "rm $n"
	if ours; then
		log "$1: handler gone, node unlinked, $(attr data_pages_free) pages kept"
		[ "$(attr data_pages_free)" -ge 256 ] || fail "$1: nothing kept to reclaim"
	fi
	case $1 in
	idle)
		ours || return 0
		echo 1 >"$dev/attrib/data_idle_timeout"
		wait_for 20 sh -c "[ \$(cat $dev/attrib/data_pages_free) = 0 ]"
		echo 0 >"$dev/attrib/data_idle_timeout" ;;
	budget)
		echo 1 >$param/global_max_data_area_mb ||
			fail "cannot lower global_max_data_area_mb"
		if ours; then
			# down to the limit: 1 MiB, 256 pages
			wait_for 20 sh -c "[ \$(cat $param/global_data_pages) -le 256 ]"
		else
			sleep 5
		fi
		echo "$old" >$param/global_max_data_area_mb
		left=256 ;;
	shrinker)
		ours || return 0
		for ((i = 0; i < 5; i++)); do
			echo 2 >/proc/sys/vm/drop_caches
			[ "$(attr data_pages_free)" = 0 ] && break
			sleep 1
		done ;;
	esac
	if ours; then
		log "$1: $(attr data_pages_free) pages kept after reclaim; reclaimed idle $(attr data_pages_reclaimed_idle) budget $(attr data_pages_reclaimed_budget) pressure $(attr data_pages_reclaimed_pressure)"
		[ "$(attr data_pages_free)" -le $left ] || fail "$1: the kept pages did not go back"
	fi
}

node_round idle
node_round budget
node_round shrinker
if ours; then
	[ "$(attr data_pages_reclaimed_idle)" -gt 0 ] || fail "no idle reclaim"
	[ "$(attr data_pages_reclaimed_budget)" -gt 0 ] || fail "no budget reclaim"
	[ "$(attr data_pages_reclaimed_pressure)" -gt 0 ] || fail "no shrinker reclaim"
fi
# A handler again, for sd's SYNCHRONIZE CACHE when the LUN goes.
ramd_start node 16M
lio_cleanup
kill "$RAMD_PID"
log "ok"
