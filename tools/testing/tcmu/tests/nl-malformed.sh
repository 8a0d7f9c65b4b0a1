#!/bin/bash
# tcmu-test: netlink: malformed, truncated, duplicate and unsolicited daemon replies get an error and wake nobody; a writer left waiting is released by reset_netlink or SIGKILL
# timeout: 300
# modules: stock ours
# tier: debug stock
# xfail: stock a configfs writer waiting for a reply that never comes cannot be killed
# xfail-timeout: 120
#
# tools/testing/tcmu/tcmu-nl.c plays the daemon: it asks for replies
# (SET_FEATURES), first sends replies nobody asked for, then answers each
# device event in turn with
#   m1-m7 enable  a bad reply (CMD_STATUS of 1 byte, DEVICE_ID of 2 bytes,
#                 the message cut inside DEVICE_ID, 64 bytes of garbage,
#                 no CMD_STATUS, no DEVICE_ID, another device's id), each
#                 followed by the good one: the bad one gets an error
#                 and the good one enables the device
#   m8 enable     the good reply twice: the second finds nobody (ENODEV)
#   m9 enable     no reply: block_netlink + reset_netlink end the wait
#   m10 enable    no reply: SIGKILL ends the wait (stock: it cannot)
#   removals      the good reply
# m1 then serves fio verify through tcmu-ramd.
. /tcmu/lib.sh

NL=/tcmu/bin/tcmu-nl
P=/sys/module/target_core_user/parameters
wwn=naa.50014050000000c2
[ -x $NL ] || skip "tcmu-nl not built"
nlpid=
cleanup() {
	# Nobody may stay asleep in a configfs write.
	echo 1 >$P/block_netlink
	echo 1 >$P/reset_netlink
	echo 0 >$P/block_netlink
	[ -n "$nlpid" ] && kill "$nlpid" 2>/dev/null
	# Later devices must not wait for replies nobody sends.
	$NL --features 0 --timeout 1 >/dev/null 2>&1
	echo "--- tcmu-nl"
	cat /tmp/nlm.out
}
trap cleanup EXIT
$NL --unsolicited --features 1 --reply short-status+ok,short-devid+ok,truncated+ok,garbage+ok,no-status+ok,no-devid+ok,wrong-dev+ok,twice,none,none,ok \
	>/tmp/nlm.out 2>&1 &
nlpid=$!
wait_for 10 grep -q '^ready' /tmp/nlm.out || fail "tcmu-nl did not start"

n=$(grep -c '^unsolicited .* -> err=-19$' /tmp/nlm.out)
[ "$n" = 9 ] || fail "$n of 9 unsolicited replies got ENODEV: $(grep unsolicited /tmp/nlm.out)"

for i in 1 2 3 4 5 6 7 8; do
	bg_write "$(user_dev 15 m$i 67108864)/enable" 1
	bg_ended 20 || fail "enabling m$i hangs"
	[ $WRC = 0 ] || fail "m$i: enable failed: $(cat /tmp/bg-write.err)"
done
# Each bad reply got an error, the good one after it none.
for m in short-status short-devid truncated garbage no-status no-devid wrong-dev; do
	grep -Eq "^reply $m .* -> err=-[0-9]+ -> err=0$" /tmp/nlm.out ||
		fail "reply $m: $(grep "^reply $m " /tmp/nlm.out)"
done
grep -Eq '^reply twice .* -> err=0 -> err=-19$' /tmp/nlm.out ||
	fail "reply twice: $(grep '^reply twice' /tmp/nlm.out)"

d9=$(user_dev 15 m9 67108864)
bg_write "$d9/enable" 1
bg_ended 3 && fail "m9: enable ended ($WRC) with no reply"
echo 1 >$P/block_netlink || fail "block_netlink"
echo 1 >$P/reset_netlink || fail "reset_netlink"
echo 0 >$P/block_netlink
bg_ended 10 || fail "m9: enable still waits after reset_netlink"
[ $WRC != 0 ] || fail "m9: enable succeeded with no reply"
log "m9: enable ended by reset_netlink: $(cat /tmp/bg-write.err)"

log "m1 serves fio verify"
d1=$CFS/core/user_15/m1
ramd_start m1 67108864
disk=$(loop_lun $wwn "$d1") || exit 1
fio_verify "$disk" nlm --rw=randrw --bs=16k --iodepth=8 --size=32m
loop_lun_remove $wwn || fail "cannot remove the LUN"
ramd_stop || fail "tcmu-ramd ended $RAMD_ENDED"

d10=$(user_dev 15 m10 67108864)
bg_write "$d10/enable" 1
bg_ended 3 && fail "m10: enable ended ($WRC) with no reply"
known_bug "a writer waiting for a reply cannot be killed"
kill -9 $WPID
bg_ended 10 || fail "m10: the writer waiting for a reply does not die of SIGKILL"
log "m10: the waiting writer died of SIGKILL ($WRC)"
[ "$(cat "$d10/enable")" = 0 ] || fail "m10 is enabled after the killed wait"

for i in 1 2 3 4 5 6 7 8 9 10; do
	timeout 30 rmdir "$CFS/core/user_15/m$i" || fail "removing m$i failed or hung"
done
rmdir "$CFS/core/user_15"
log "ok"
