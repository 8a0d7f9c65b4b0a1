#!/bin/bash
# tcmu-test: data: 1 MiB writes with data_pages_per_blk=64 verify while the guest's free memory is fragmented into single pages, and while no order-6 allocation succeeds
# timeout: 600
# modules: stock ours
# tier: debug
#
# A GFP_NOIO allocation never compacts memory, so a block backed by one
# physically contiguous allocation (64 pages: order 6) cannot be had once
# free memory is all single pages, and its command would wait for ever.
# Blocks backed by order-0 pages, as in stock, do not care.  Fio writes
# and verifies 1 MiB commands on a device with data_pages_per_blk=64
# (256 KiB blocks), whose data area is empty then (the RAM disk's own
# pages were made before), while:
#  - Debian's kernel: tools/testing/tcmu/fragment.c has filled the
#    guest's memory, freed every other page, and taken what was left of
#    order 6 and more in kernel buffers (AF_PACKET rings of 256 KiB
#    blocks) until no such block is free; compaction is off meanwhile
#    (vm.compaction_proactiveness 0, vm.extfrag_threshold 1000);
#  - the debug kernel (which has no madvise() for fragment.c, but fault
#    injection): every allocation of order 6 or more fails
#    (fail_page_alloc min-order=6, all tasks).
# Ours must never have waited for memory (data_nomem_waits stays 0).  A
# command held back would be failed after qfull_time_out (10 s) and
# retried by the SCSI layer until its timeout: fio reports the error
# within a few minutes.
. /tcmu/lib.sh

# No compaction, in the background or for any allocation of order > 3
# (a kernel built without CONFIG_COMPACTION has neither knob).
pro=/proc/sys/vm/compaction_proactiveness
ext=/proc/sys/vm/extfrag_threshold
old_pro=$(cat $pro 2>/dev/null) old_ext=$(cat $ext 2>/dev/null)
fpid=
restore_vm() {
	[ -n "$fpid" ] && kill $fpid
	[ -n "$old_pro" ] && echo "$old_pro" >$pro
	[ -n "$old_ext" ] && echo "$old_ext" >$ext
	echo 0 >/sys/kernel/debug/fail_page_alloc/probability 2>/dev/null
}
trap restore_vm EXIT
if [ -e $ext ]; then
	echo 0 >$pro || fail "cannot turn background compaction off"
	echo 1000 >$ext || fail "cannot turn compaction off"
fi

dev=$(ramd_dev 11 frag 33554432 hw_max_sectors=2048 data_pages_per_blk=64)
echo 10 >"$dev/attrib/qfull_time_out" || fail "qfull_time_out"
ramd_start frag 32M
disk=$(loop_lun naa.5001405000000110 "$dev") || exit 1
echo 30 >/sys/block/"${disk#/dev/}"/device/timeout
# The RAM disk's pages exist before memory is fragmented; then the data
# area gives its blocks back (idle), so the I/O below needs new ones.
fio_verify "$disk" prefill --rw=write --bs=1M --iodepth=4 --size=32M
if ours; then
	echo 1 >"$dev/attrib/data_idle_timeout"
	wait_for 20 sh -c "[ \$(cat $dev/attrib/data_pages_allocated) = 0 ]" ||
		fail "the data area kept its pages"
fi

nomem_check() {
	ours || return 0
	log "$1: data pages allocated $(cat "$dev/attrib/data_pages_allocated"), commands that waited for memory: $(cat "$dev/attrib/data_nomem_waits")"
	[ "$(cat "$dev/attrib/data_nomem_waits")" = 0 ] ||
		fail "$1: commands waited for memory"
}

F=/sys/kernel/debug/fail_page_alloc
if [ ! -d $F ]; then
	/tcmu/bin/fragment --order 6 >/tmp/fragment.out 2>&1 &
	fpid=$!
	wait_for 300 grep -q '^ready' /tmp/fragment.out || {
		cat /tmp/fragment.out
		fail "fragment did not get ready"
	}
	cat /tmp/fragment.out
	grep -q '^fragmented: yes' /tmp/fragment.out ||
		fail "free memory could not be fragmented: nothing to test"
	fio_verify "$disk" fragmented --rw=randwrite --bs=1M --iodepth=8 --size=32M
	log "buddyinfo after the I/O:"
	cat /proc/buddyinfo
	nomem_check fragmented
	kill $fpid
	fpid=
else
	for kv in task-filter=N min-order=6 ignore-gfp-wait=N ignore-gfp-highmem=N \
		  interval=1 times=1000000 space=0 verbose=0 probability=100; do
		echo "${kv#*=}" >$F/"${kv%%=*}" || fail "$F/${kv%%=*}"
	done
	fio_verify "$disk" no-order6 --rw=randwrite --bs=1M --iodepth=8 --size=32M
	log "order >= 6 allocations failed: $((1000000 - $(cat $F/times)))"
	echo 0 >$F/probability
	echo 1 >$F/times
	nomem_check no-order6
fi
lio_cleanup
log "ok"
