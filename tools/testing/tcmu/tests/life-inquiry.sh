#!/bin/bash
# tcmu-test: sg_inq and sg_readcap report what the user:qcow backstore was made with
# timeout: 300
# modules: stock ours
. /tcmu/lib.sh

img=$TCMU_DATA/inq.qcow2
make_qcow "$img" 512M
start_runner
disk=$(qcow_lun inq0 512M "$img" naa.5001405000000002 \
	wwn=6ad7a04e-1c2b-4c8e-9f2a-3b6f1a2c9d10) || exit 1
bs=$CFS/core/user_0/inq0
log "disk: $disk"

run sg_inq "$disk" >/tmp/inq.out
cat /tmp/inq.out
grep -q 'Vendor identification: LIO-ORG' /tmp/inq.out || fail "vendor is not LIO-ORG"
grep -q 'Product identification: TCMU device' /tmp/inq.out || fail "product is not 'TCMU device'"

run sg_inq --page=0x80 "$disk" >/tmp/vpd80.out
cat /tmp/vpd80.out
grep -q '6ad7a04e-1c2b-4c8e-9f2a-3b6f1a2c9d10' /tmp/vpd80.out ||
	fail "unit serial is not the wwn the backstore was made with"

run sg_readcap --long "$disk" >/tmp/cap.out
cat /tmp/cap.out
# 512 MiB in 512-byte blocks: last LBA 1048575.
grep -Eq 'Last (logical block address|LBA)=1048575' /tmp/cap.out ||
	fail "capacity is not 512 MiB"
grep -q 'Logical block length=512 bytes' /tmp/cap.out || fail "block size is not 512"
[ "$(blockdev --getsize64 "$disk")" = 536870912 ] || fail "blockdev size is not 512 MiB"
log "inquiry and capacity match the backstore"
