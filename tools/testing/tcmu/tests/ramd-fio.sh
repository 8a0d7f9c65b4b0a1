#!/bin/bash
# tcmu-test: tcmu-ramd (raw-ABI RAM disk handler, no tcmu-runner) on tcm_loop passes fio verify=crc32c, in and out of order
# timeout: 480
# modules: stock ours
#
# A user: backstore made through configfs alone (no tcmu-runner, no
# netlink listener), served by tools/testing/tcmu/handler/tcmu-ramd and
# exported through tcm_loop.  Checks:
#   - INQUIRY/READ CAPACITY answers reach the initiator (sg_inq, blockdev);
#   - fio verify=crc32c: 4k random writes at iodepth 16, 1M sequential;
#   - the handler restarted on the same uio device with --reorder 8
#     (out-of-order completion, CAP_OOOC) passes the 4k job again;
#   - negative control: a handler that flips a byte of READ data makes fio
#     fail, so a verify failure cannot go unnoticed here;
#   - the handler saw no ring corruption and exits 0 on SIGTERM.
. /tcmu/lib.sh

RAMD=/tcmu/bin/tcmu-ramd
HBA=$CFS/core/user_1
NAME=ramdfio0
SIZE=$((64 << 20))
WWN=naa.5001405000000a10
IWWN=naa.5001405000000b10
[ -x $RAMD ] || fail "$RAMD missing: tools/testing/tcmu/handler was not built"

cfs() {	# cfs VALUE FILE: write a configfs attribute
	printf '%s' "$1" >"$2" 2>/dev/null || fail "cannot write '$1' to $2"
}

ramd_dev() {	# NAME SIZE: a user: backstore with dev_config=ramd/NAME
	local dev=$HBA/$1
	mkdir -p "$dev" || fail "mkdir $dev"
	cfs "dev_config=ramd/$1" "$dev/control"
	cfs "dev_size=$2" "$dev/control"
	cfs 1 "$dev/enable"
}

ramd_start() {	# NAME SIZE ARGS...: run tcmu-ramd on it; sets RAMD_PID
	local name=$1 size=$2 log=/tmp/ramd-$1.log
	shift 2
	: >"$log"
	log "+ tcmu-ramd --dev $name --size $size $*"
	$RAMD --dev "$name" --size "$size" "$@" </dev/null >>"$log" 2>&1 &
	RAMD_PID=$!
	wait_for 10 grep -q "serving $name" "$log" || {
		cat "$log"
		fail "tcmu-ramd did not start on $name"
	}
	grep "serving" "$log"
}

ramd_stop() {	# stop the handler (SIGTERM), which must exit 0
	local i rc
	kill -TERM "$RAMD_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$RAMD_PID" 2>/dev/null || break
		sleep 0.2
	done
	kill -0 "$RAMD_PID" 2>/dev/null && fail "tcmu-ramd ignores SIGTERM"
	wait "$RAMD_PID"
	rc=$?
	[ $rc = 0 ] || fail "tcmu-ramd exited with $rc"
}

lun_add() {	# BACKSTORE: tcm_loop target WWN with it as LUN 0; prints /dev/sdX
	local tpg=$CFS/loopback/$WWN/tpgt_1 addr i d
	mkdir -p "$tpg" || fail "mkdir $tpg"
	cfs "$IWWN" "$tpg/nexus"
	mkdir "$tpg/lun/lun_0" || fail "mkdir lun_0"
	ln -s "$HBA/$1" "$tpg/lun/lun_0/$1" || fail "cannot link $1 to lun_0"
	addr=$(cat "$tpg/address") || fail "no tcm_loop address"
	for ((i = 0; i < 150; i++)); do
		for d in /sys/class/scsi_device/"$addr":0/device/block/sd*; do
			[ -b "/dev/${d##*/}" ] && { echo "/dev/${d##*/}"; return 0; }
		done
		sleep 0.2
	done
	fail "no disk appeared for $1 at $addr:0"
}

lun_del() {
	local tpg=$CFS/loopback/$WWN/tpgt_1
	find "$tpg/lun/lun_0" -maxdepth 1 -type l -delete
	rmdir "$tpg/lun/lun_0" || fail "cannot remove lun_0"
	cfs NULL "$tpg/nexus"
	rmdir "$tpg" "$CFS/loopback/$WWN" || fail "cannot remove $WWN"
}

ramd_dev $NAME $SIZE
ramd_start $NAME $SIZE
disk=$(lun_add $NAME) || exit 1
log "disk: $disk"

run sg_inq "$disk" >/tmp/inq.out
grep -q 'Vendor identification: TCMUTEST' /tmp/inq.out || { cat /tmp/inq.out; fail "INQUIRY vendor is not TCMUTEST"; }
run sg_readcap --long "$disk" >/tmp/cap.out
grep -Eq "Last (logical block address|LBA)=$((SIZE / 512 - 1))" /tmp/cap.out ||
	{ cat /tmp/cap.out; fail "READ CAPACITY(16) is not $SIZE bytes"; }
[ "$(blockdev --getsize64 "$disk")" = $SIZE ] || fail "blockdev size is not $SIZE"

fio_verify "$disk" rand4k --rw=randwrite --bs=4k --iodepth=16 --size=32M
fio_verify "$disk" seq1m --rw=write --bs=1M --iodepth=4 --size=32M --offset=32M
ramd_stop

# The same uio device, a new handler: out-of-order completions.
ramd_start $NAME $SIZE --reorder 8
fio_verify "$disk" rand4k-ooo --rw=randwrite --bs=4k --iodepth=16 --size=16M
fio_verify "$disk" seq1m-ooo --rw=write --bs=1M --iodepth=8 --size=32M --offset=32M
ramd_stop
grep -q 'CAP_OOOC: --reorder ignored' /tmp/ramd-$NAME.log &&
	log "NOTE: the module does not offer out-of-order completion"
reordered=$(sed -n 's/.*(\([0-9]*\) completed out of order.*/\1/p' /tmp/ramd-$NAME.log | tail -n1)
flags=$(sed -n 's/.* flags \(0x[0-9a-f]*\)).*/\1/p' /tmp/ramd-$NAME.log | tail -n1)
log "mailbox flags ${flags:-?}, completed out of order: ${reordered:-?}"
if (( ${flags:-0} & 1 )) && [ "${reordered:-0}" = 0 ]; then
	fail "the module offers CAP_OOOC, but nothing was completed out of order"
fi

# Negative control: corrupted READ data must fail the verify.
ramd_start $NAME $SIZE --misbehave bad-data --count 0
log "+ fio against a handler that corrupts reads (must fail)"
if fio --name=control --filename="$disk" --direct=1 --ioengine=libaio \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
	--rw=randwrite --bs=4k --iodepth=4 --size=1M >/tmp/fio-control.out 2>&1; then
	cat /tmp/fio-control.out
	fail "fio verify did not catch corrupted read data"
fi
grep -Eq 'verify|crc32c' /tmp/fio-control.out || { cat /tmp/fio-control.out; fail "fio failed, but not on verification"; }
log "fio caught the corruption: $(grep -m1 -i 'verify' /tmp/fio-control.out)"

# The LUN goes first: sd's SYNCHRONIZE CACHE on removal needs the handler.
lun_del
ramd_stop
rmdir "$HBA/$NAME" "$HBA" || fail "cannot remove the backstore"
if grep -E 'ring corrupt|outside|do not fit|internal error' /tmp/ramd-$NAME.log; then
	fail "tcmu-ramd saw bad ring input from the kernel"
fi
log "tcmu-ramd passed fio verify in order and out of order"
