#!/bin/bash
# tcmu-test: targetcli makes a user:qcow LUN on tcm_loop; fio writes and verifies it
# timeout: 420
# modules: stock ours
# tier: 6.12 stock
#
# The path every admin takes: tcmu-runner's qcow handler, a backstore and
# a loopback LUN made with targetcli-fb, then fio with verify=crc32c:
# 4k random writes at iodepth 16 and 1M sequential writes at iodepth 8.
. /tcmu/lib.sh

img=$TCMU_DATA/fio.qcow2
make_qcow "$img" 1G
start_runner
disk=$(qcow_lun q0 1G "$img" naa.5001405000000001) || exit 1
log "disk: $disk"
fio_verify "$disk" rand4k --rw=randwrite --bs=4k --iodepth=16 --size=32M
fio_verify "$disk" seq1m --rw=write --bs=1M --iodepth=8 --size=96M --offset=128M
log "fio verified both jobs"
