#!/bin/bash
# tcmu-test: data survives deleting and re-creating the LUN, and restarting tcmu-runner
# timeout: 420
# modules: stock ours
#
# Writes through a user:qcow LUN, then checks the data is still there
# (fio --verify_only over fio's own checksummed blocks, plus a random
# blob compared byte for byte) after the LUN and backstore are deleted
# and re-created on the same image, and after tcmu-runner restarts.
. /tcmu/lib.sh

img=$TCMU_DATA/persist.qcow2
wwn=naa.5001405000000003
make_qcow "$img" 256M
head -c 8M /dev/urandom >/tmp/blob

create() {
	disk=$(qcow_lun p0 256M "$img" "$wwn") || exit 1
	log "disk: $disk"
}

job=(--rw=write --bs=64k --iodepth=8 --size=64M --offset=0)

check() {
	log "checking data ($1)"
	fio_verify "$disk" persist "${job[@]}" --verify_only
	run dd if="$disk" of=/tmp/readback bs=1M skip=128 count=8 iflag=direct status=none
	cmp /tmp/blob /tmp/readback || fail "blob differs $1"
}

start_runner
create
fio_verify "$disk" persist "${job[@]}"
run dd if=/tmp/blob of="$disk" bs=1M seek=128 oflag=direct conv=fsync status=none
check "right after writing"

qcow_lun_delete p0 "$wwn"
[ -e "$CFS/core/user_0/p0" ] && fail "backstore still in configfs after delete"
create
check "after deleting and re-creating the LUN"

stop_runner
start_runner
wait_for 30 test -b "$disk" || fail "$disk is gone after the restart"
check "after restarting tcmu-runner"
