#!/bin/bash
# tcmu-test: tcmu-ramd (raw-ABI RAM disk handler, no tcmu-runner) on tcm_loop passes fio verify=crc32c, in and out of order
# timeout: 480
# modules: stock ours
# tier: stock
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

HBA=$CFS/core/user_1
NAME=ramdfio0
SIZE=$((64 << 20))
WWN=naa.5001405000000a10
[ -x $RAMD ] || fail "$RAMD missing: tools/testing/tcmu/handler was not built"

dev=$(ramd_dev 1 "$NAME" "$SIZE") || exit 1
ramd_start $NAME $SIZE
disk=$(loop_lun "$WWN" "$dev") || exit 1
log "disk: $disk"

run sg_inq "$disk" >/tmp/inq.out
grep -q 'Vendor identification: TCMUTEST' /tmp/inq.out || { cat /tmp/inq.out; fail "INQUIRY vendor is not TCMUTEST"; }
run sg_readcap --long "$disk" >/tmp/cap.out
grep -Eq "Last (logical block address|LBA)=$((SIZE / 512 - 1))" /tmp/cap.out ||
	{ cat /tmp/cap.out; fail "READ CAPACITY(16) is not $SIZE bytes"; }
[ "$(blockdev --getsize64 "$disk")" = $SIZE ] || fail "blockdev size is not $SIZE"

fio_verify "$disk" rand4k --rw=randwrite --bs=4k --iodepth=16 --size=32M
fio_verify "$disk" seq1m --rw=write --bs=1M --iodepth=4 --size=32M --offset=32M
ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"

# The same uio device, a new handler: out-of-order completions.
ramd_start $NAME $SIZE --reorder 8
fio_verify "$disk" rand4k-ooo --rw=randwrite --bs=4k --iodepth=16 --size=16M
fio_verify "$disk" seq1m-ooo --rw=write --bs=1M --iodepth=8 --size=32M --offset=32M
ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
grep -q 'CAP_OOOC: --reorder ignored' /tmp/ramd-$NAME.out &&
	log "NOTE: the module does not offer out-of-order completion"
reordered=$(sed -n 's/.*(\([0-9]*\) completed out of order.*/\1/p' /tmp/ramd-$NAME.out | tail -n1)
flags=$(sed -n 's/.* flags \(0x[0-9a-f]*\)).*/\1/p' /tmp/ramd-$NAME.out | tail -n1)
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
loop_lun_remove "$WWN" || fail "cannot remove the LUN"
ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
rmdir "$HBA/$NAME" "$HBA" || fail "cannot remove the backstore"
if grep -E 'ring corrupt|outside|do not fit|internal error' /tmp/ramd-$NAME.out; then
	fail "tcmu-ramd saw bad ring input from the kernel"
fi
log "tcmu-ramd passed fio verify in order and out of order"
