#!/bin/bash
# tcmu-test: a new command on a broken ring gets CHECK CONDITION (LOGICAL UNIT COMMUNICATION FAILURE) at once, even with commands queued for room
# timeout: 300
# modules: stock ours
#
# Stock checks block_dev and a broken ring before it looks at its queue,
# so a new command is answered (BUSY, or CHECK CONDITION) at once, also
# while earlier commands wait for room.  A 1 MiB data area and 256 KiB
# reads at iodepth 16 keep all but 4 commands waiting (QFULL), with a
# long qfull_time_out and cmd_time_out (120 s); the handler then
# completes a command with an unknown cmd_id (tcmu-ramd --misbehave
# bad-cmd-id), which breaks the ring.  A READ sent through sg_raw, with a
# 60 s timeout, must come back with CHECK CONDITION and the sense LOGICAL
# UNIT COMMUNICATION FAILURE: a command queued behind the others would be
# answered only when they time out, after sg_raw has given up.
. /tcmu/lib.sh

dev=$(ramd_dev 15 brk 16777216 max_data_area_mb=1 hw_max_sectors=2048)
echo 120 >"$dev/attrib/qfull_time_out" || fail "qfull_time_out"
echo 120 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
ramd_start brk 16M --misbehave bad-cmd-id --arm-usr1 --after 20
disk=$(loop_lun naa.5001405000000150 "$dev") || exit 1
echo 100 >/sys/block/"${disk#/dev/}"/device/timeout
sg=$(ls /sys/block/"${disk#/dev/}"/device/scsi_generic/) || fail "no sg device"

fio --name=load --filename="$disk" --direct=1 --ioengine=libaio \
	--rw=randread --bs=256k --iodepth=16 --size=16M --time_based \
	--runtime=100 >/tmp/fio-load.out 2>&1 &
fpid=$!
infl=/sys/block/"${disk#/dev/}"/inflight
# More commands out than the data area holds: some wait for room.
wait_for 30 sh -c "[ \$(awk '{ print \$1 + \$2 }' $infl) -ge 10 ]" ||
	fail "fio did not get 10 commands out: $(cat $infl)"
log "commands in flight at the disk before the break: $(cat $infl)"
kill -USR1 "$RAMD_PID"
wait_for 20 sh -c 'dmesg | grep -q "ring is broken"' || {
	dmesg | tail -n 20
	fail "the ring did not break"
}
log "ring broken: $(dmesg | grep -m1 'ring is broken')"
log "commands in flight at the disk after the break: $(cat $infl)"
log "+ sg_raw READ(10) of 8 blocks on /dev/$sg"
t0=$(date +%s)
sg_raw -t 60 -r 4096 /dev/"$sg" 28 00 00 00 00 00 00 00 08 00 >/tmp/sg_raw.out 2>&1
log "sg_raw took $(($(date +%s) - t0)) s"
cat /tmp/sg_raw.out
grep -qi 'Check Condition' /tmp/sg_raw.out || fail "no CHECK CONDITION for a command on a broken ring"
grep -qi 'communication failure' /tmp/sg_raw.out || fail "not LOGICAL UNIT COMMUNICATION FAILURE"
# Recover as tcmu-runner would, so that nothing waits 120 s: the queued
# commands fail (block_dev), the ring's too (reset_ring), a new handler.
kill $fpid 2>/dev/null
echo 1 >"$dev/action/block_dev"
echo 2 >"$dev/action/reset_ring"
kill "$RAMD_PID"
wait "$RAMD_PID"
ramd_start brk 16M
echo 0 >"$dev/action/block_dev"
wait $fpid
lio_cleanup
log "ok"
