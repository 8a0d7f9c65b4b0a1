#!/bin/bash
# tcmu-test: tearing down the LUN and backstore leaves nothing; the module unloads and reloads
# timeout: 300
# modules: stock ours
. /tcmu/lib.sh

img=$TCMU_DATA/teardown.qcow2
wwn=naa.5001405000000004
make_qcow "$img" 128M
start_runner
disk=$(qcow_lun t0 128M "$img" "$wwn") || exit 1
fio_verify "$disk" teardown --rw=randwrite --bs=16k --iodepth=8 --size=16M
uio=$(grep -l 'tcm-user/0/t0/' /sys/class/uio/uio*/name) || fail "no uio device for t0"
uio=$(basename "$(dirname "$uio")")
log "uio device: $uio"

qcow_lun_delete t0 "$wwn"
[ -e "$CFS/loopback/$wwn" ] && fail "loopback target still there"
[ -e "$CFS/core/user_0/t0" ] && fail "backstore still there"
wait_for 10 test ! -e "/sys/class/uio/$uio" || fail "/sys/class/uio/$uio still there"
wait_for 10 test ! -e "$disk" || fail "$disk still there"
stop_runner

rmdir "$CFS/core/user_0" 2>/dev/null
run modprobe -r target_core_user
grep -q '^target_core_user ' /proc/modules && fail "target_core_user still loaded"
run modprobe target_core_user
grep -q '^target_core_user ' /proc/modules || fail "target_core_user did not reload"
log "module unloaded and reloaded"
