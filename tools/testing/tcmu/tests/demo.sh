#!/bin/bash
# tcmu-test: demo for "make run": a user:qcow LUN, its data area before and after fio
# timeout: 420
# modules: stock ours
# default: no
#
# Not part of the suite (make check runs the same path in data-qcow-fio); this
# is what "make run" shows a newcomer.
. /tcmu/lib.sh

img=$TCMU_DATA/demo.qcow2
make_qcow "$img" 1G
start_runner
disk=$(qcow_lun demo 1G "$img" naa.5001405000000009) || exit 1
bs=$CFS/core/user_0/demo

# What the device's data area holds: our driver's counters, or the
# kernel's vmalloc total for the stock driver (which has none).
show_memory() {
	local a
	echo "== data area $1 =="
	for a in "$bs"/attrib/data_pages_*; do
		[ -e "$a" ] && printf '  %-24s %s\n' "${a##*/}" "$(cat "$a")"
	done
	grep -E '^(VmallocUsed|MemFree)' /proc/meminfo | sed 's/^/  /'
}

echo "== target_core_user: $(modinfo -F description target_core_user) =="
echo "== LUN: $disk -> user:qcow backstore on $img =="
lsblk -o NAME,SIZE,VENDOR,MODEL "$disk" 2>/dev/null
show_memory "before I/O"
fio_verify "$disk" demo-4k-randwrite --rw=randwrite --bs=4k --iodepth=16 --size=32M
fio_verify "$disk" demo-1m-write --rw=write --bs=1M --iodepth=8 --size=128M --offset=256M
show_memory "after I/O"
