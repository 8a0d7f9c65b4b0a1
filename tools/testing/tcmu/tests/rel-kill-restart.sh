#!/bin/bash
# tcmu-test: reliability: the handler (tcmu-ramd, then tcmu-runner qcow) SIGKILLed under I/O and restarted, many rounds: every acknowledged write reads back intact, nothing hangs
# timeout: 600
# soak-timeout: 5400
# modules: stock ours
#
# Each round: build/ackwrite (8 processes, O_DIRECT 4 KiB writes of
# unique patterns, each logged only after the write returned success)
# runs ~3 s; ~1 s in, the handler is SIGKILLed with commands in flight
# and restarted: tcmu-ramd on a shared-memory backing file (so the disk
# outlives the process) picks up the ring where the old one stopped;
# tcmu-runner reopens the device (block_dev, reset_ring, unblock: the
# commands in the ring fail BUSY and are retried).  The writer must
# finish in time and every block whose last logged write was
# acknowledged, in this round or any before, must read back exactly.
. /tcmu/lib.sh

ACK=/tcmu/bin/ackwrite
[ -x $ACK ] || skip "ackwrite not built"
RAMD_ROUNDS=$(soak_rounds 100 8 5 3)
RUNNER_ROUNDS=$(soak_rounds 100 3 2 1)
JOBS=8 BLOCKS=1024	# the first 4 MiB

# rounds NAME DISK COUNT KILL RESTART: the kill/restart rounds; KILL and
# RESTART are functions.  Logs "NAME: N rounds ..." totals.
rounds() {
	local name=$1 disk=$2 count=$3 kill=$4 restart=$5 i wpid acked=0 failed=0 out
	local dir=/tmp/ack-$name
	rm -rf "$dir"
	mkdir -p "$dir"
	for ((i = 1; i <= count; i++)); do
		$ACK write "$disk" "$dir" 3 $i $JOBS $BLOCKS >/tmp/ack.out 2>&1 &
		wpid=$!
		sleep 0.$((5 + RANDOM % 5))
		$kill
		$restart
		timeout 120 tail --pid=$wpid -f /dev/null ||
			fail "$name round $i: the writer did not finish after the restart"
		wait $wpid || { cat /tmp/ack.out; fail "$name round $i: ackwrite failed"; }
		read -r _ a _ f _ _ <<<"$(tail -n1 /tmp/ack.out)"
		acked=$((acked + a)) failed=$((failed + f))
		out=$(timeout 120 $ACK verify "$disk" "$dir" $JOBS $BLOCKS 2>&1) ||
			{ echo "$out"; fail "$name round $i: acknowledged writes lost or corrupt"; }
		log "$name round $i: $(tail -n1 /tmp/ack.out); $out"
	done
	log "$name kill-restart rounds: $count, acknowledged writes: $acked, failed (retried) writes: $failed, all verified"
}

# --- tcmu-ramd, disk in /dev/shm ---
back=/dev/shm/kr0.img
rm -f $back
dev=$(ramd_dev 22 kr0 67108864) || exit 1
echo 5 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
ramd_start kr0 64M --backing $back
disk=$(loop_lun naa.5001405000000220 "$dev") || exit 1
echo 30 >/sys/block/"${disk#/dev/}"/device/timeout
ramd_kill() { kill -9 $RAMD_PID; wait $RAMD_PID 2>/dev/null; }
ramd_restart() { ramd_start kr0 64M --backing $back; }
rounds ramd "$disk" $RAMD_ROUNDS ramd_kill ramd_restart
kill $RAMD_PID
timeout 120 bash -c ". /tcmu/lib.sh; lio_cleanup" || fail "teardown of the tcmu-ramd device"
rm -f $back

# --- tcmu-runner, qcow ---
img=$TCMU_DATA/kr.qcow2
wwn=naa.5001405000000221
make_qcow "$img" 64M
# disown: no "Killed" job reports from bash
runner_restart() { start_runner >/dev/null; disown "$TCMU_RUNNER_PID"; }
runner_restart
targetcli_batch <<CMDS
/backstores/user:qcow create name=kq0 size=64M cfgstring=$img
/loopback create $wwn
/loopback/$wwn/luns create /backstores/user:qcow/kq0
CMDS
disk=$(wait_disk "$CFS/core/user_0/kq0") || exit 1
echo 30 >/sys/block/"${disk#/dev/}"/device/timeout
runner_kill() {
	pkill -9 -x tcmu-runner
	wait_for 20 sh -c '! pgrep -x tcmu-runner' || fail "tcmu-runner did not die"
	wait_for 20 sh -c '! dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.kernel.TCMUService1 | grep -q true'
}
rounds runner "$disk" $RUNNER_ROUNDS runner_kill runner_restart
timeout 180 bash -c ". /tcmu/lib.sh; lio_cleanup" || fail "teardown of the qcow device"
stop_runner
log "ok"
