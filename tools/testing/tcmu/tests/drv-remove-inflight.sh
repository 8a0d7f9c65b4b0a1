#!/bin/bash
# tcmu-test: removing a LUN and its backstore with commands in flight, and restarting a handler that had commands in flight
# timeout: 300
# modules: stock ours
#
# 1. fio runs against a tcmu-ramd LUN; the handler is SIGKILLed with
#    commands in the ring, and a new one takes the device over: the old
#    commands fail or are retried, new I/O verifies.
# 2. fio runs again; the handler is stopped (SIGSTOP) so commands stay in
#    the ring, and the LUN and backstore are removed: the commands time
#    out (cmd_time_out 5 s), removal finishes, nothing hangs, and the
#    module unloads afterwards.
. /tcmu/lib.sh

wwn=naa.5001405000000060
dev=$(ramd_dev 6 rm0 67108864) || exit 1
echo 5 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
ramd_start rm0 64M
disk=$(loop_lun "$wwn" "$dev") || exit 1
# Unverified load in the background (its writes may fail): pid in fpid.
load() {
	fio --name="$1" --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=64k --iodepth=32 --size=32M --time_based \
		--runtime=60 >/tmp/fio-"$1".out 2>&1 &
	fpid=$!
}

fio_verify "$disk" before --rw=randwrite --bs=4k --iodepth=16 --size=8M

log "killing the handler under I/O"
load killed
sleep 3
kill -9 $RAMD_PID
wait $RAMD_PID 2>/dev/null
ramd_start rm0 64M
timeout 120 tail --pid=$fpid -f /dev/null || fail "fio did not end after the handler restart"
log "fio with the killed handler: $(grep -o 'err=[^:]*' /tmp/fio-killed.out | head -n1)"
fio_verify "$disk" after-restart --rw=randwrite --bs=4k --iodepth=16 --size=8M

log "removing the LUN and backstore with commands in flight"
load stopped
sleep 3
kill -STOP $RAMD_PID
sleep 1
timeout 120 bash -c ". /tcmu/lib.sh; lio_cleanup" || fail "removal with commands in flight hung"
[ -e "$dev" ] && fail "backstore still there after removal"
timeout 60 tail --pid=$fpid -f /dev/null || fail "fio did not end after the LUN went away"
kill -9 $RAMD_PID
kill -CONT $RAMD_PID
wait $RAMD_PID 2>/dev/null
rmdir "$CFS/core/user_6" 2>/dev/null
run modprobe -r target_core_user
run modprobe target_core_user
log "ok"
