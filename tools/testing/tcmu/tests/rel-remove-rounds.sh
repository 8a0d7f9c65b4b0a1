#!/bin/bash
# tcmu-test: reliability: removing LUN and backstore with I/O in flight, many rounds, through configfs and targetcli, with the handler running or stopped (SIGSTOP)
# timeout: 600
# soak-timeout: 4800
# modules: stock ours
#
# Each round: a new tcmu-ramd device (cmd_time_out 3 s) and tcm_loop LUN,
# fio 64 KiB random writes at iodepth 32 (unverified: they may fail),
# then, with the handler alive or SIGSTOPped (its commands stay in the
# ring), the LUN and backstore are removed: by rmdir/unlink in configfs,
# or by targetcli (clearconfig).  Removal must finish, fio must end and
# the backstore be gone, within bounds; the next round's device must
# work (fio verify before the load).  At the end the module unloads.
. /tcmu/lib.sh

CFS_ROUNDS=$(soak_rounds 60 4 4 2)
TCLI_ROUNDS=$(soak_rounds 40 2 2 1)
HBA=$CFS/core/user_23
start_dbus	# targetcli asks the bus for tcmu-runner's handlers

# removal_round N VIA STATE: VIA configfs|targetcli, STATE alive|stopped
removal_round() {
	local n=$1 via=$2 state=$3 name=rr$1 wwn dev disk fpid t0
	wwn=$(printf 'naa.50014050000023%02x' "$n")
	dev=$(ramd_dev 23 $name 67108864) || exit 1
	echo 3 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
	ramd_start $name 64M
	disk=$(loop_lun "$wwn" "$dev") || exit 1
	log "round $n: $disk"
	bounded 120 fio_verify "$disk" before$n --rw=randwrite --bs=64k --iodepth=8 --size=1M >/dev/null ||
		stuck "round $n: fio verify before the load failed or hung"
	fio --name=load$n --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=64k --iodepth=32 --size=32M --time_based \
		--runtime=60 >/tmp/fio-load.out 2>&1 &
	fpid=$!
	sleep 1.5
	log "round $n: removing via $via with the handler $state"
	[ "$state" = stopped ] && kill -STOP $RAMD_PID
	sleep 0.5
	t0=$SECONDS
	case $via in
	configfs)
		bounded 120 bash -c ". /tcmu/lib.sh; lio_cleanup"
		case $? in
		0) ;;
		124) stuck "round $n: configfs removal ($state handler) hung" ;;
		*) fail "round $n: configfs removal ($state handler) failed" ;;
		esac ;;
	targetcli)
		# targetcli_batch fails the test itself on errors
		bounded 150 bash -c ". /tcmu/lib.sh; targetcli_batch <<<'clearconfig confirm=True'" \
			>/tmp/tcli.out 2>&1
		case $? in
		0) ;;
		124) cat /tmp/tcli.out; stuck "round $n: targetcli removal ($state handler) hung" ;;
		*) cat /tmp/tcli.out; fail "round $n: targetcli removal ($state handler) failed" ;;
		esac ;;
	esac
	[ -e "$dev" ] && fail "round $n: backstore still there"
	[ -e "$CFS/loopback/$wwn" ] && fail "round $n: loopback target still there"
	bounded 60 tail --pid=$fpid -f /dev/null ||
		stuck "round $n: fio did not end after the LUN went away"
	wait $fpid
	log "round $n via $via, handler $state: removed in $((SECONDS - t0)) s, fio $(grep -o 'err=[^:]*' /tmp/fio-load.out | head -n1)"
	kill -9 $RAMD_PID 2>/dev/null
	kill -CONT $RAMD_PID 2>/dev/null
	bounded 60 tail --pid=$RAMD_PID -f /dev/null ||
		stuck "round $n: the handler does not exit after SIGKILL"
	wait $RAMD_PID 2>/dev/null
	log "round $n: handler gone"
}

n=0 alive=0 stopped=0
for ((i = 0; i < CFS_ROUNDS; i++)); do
	n=$((n + 1))
	if ((i % 2)); then st=stopped stopped=$((stopped + 1)); else st=alive alive=$((alive + 1)); fi
	removal_round $n configfs $st
done
for ((i = 0; i < TCLI_ROUNDS; i++)); do
	n=$((n + 1))
	if ((i % 2)); then st=stopped stopped=$((stopped + 1)); else st=alive alive=$((alive + 1)); fi
	removal_round $n targetcli $st
done
log "removal rounds: $n (configfs $CFS_ROUNDS, targetcli $TCLI_ROUNDS; handler alive $alive, stopped $stopped)"
rmdir "$HBA" 2>/dev/null
run modprobe -r target_core_user
grep -q '^target_core_user ' /proc/modules && fail "target_core_user still loaded"
run modprobe target_core_user
log "ok"
