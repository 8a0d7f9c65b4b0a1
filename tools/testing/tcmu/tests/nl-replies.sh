#!/bin/bash
# tcmu-test: netlink: a daemon that replies with the wrong command or a bad status fails the configfs write that waits for it, never hangs it
# timeout: 240
# modules: stock ours
# tier: 6.12 stock
# xfail: stock a reply for the wrong command leaves the configfs writer asleep for ever
# xfail-timeout: 90
#
# tools/testing/tcmu/tcmu-nl.c answers the kernel's device events the way
# tcmu-runner does, here on purpose wrongly: it announces reply support
# (SET_FEATURES), so each enable waits for ADDED_DEVICE_DONE and each
# dev_config write for RECONFIG_DEVICE_DONE.  The replies, in order:
#   nlA enable      REMOVED_DEVICE_DONE (wrong command): the enable fails
#   nlB enable      ADDED_DEVICE_DONE with status 5 (not an errno): fails
#   nlC enable      ADDED_DEVICE_DONE, status 0: succeeds
#   nlC dev_config  RECONFIG_DEVICE_DONE, status -5: the write fails with
#                   EIO and dev_config keeps its old value
#   nlC removal     REMOVED_DEVICE_DONE, status 0
# Each write must end within 20 s.  Stock never wakes the first writer.
. /tcmu/lib.sh

NL=/tcmu/bin/tcmu-nl
[ -x $NL ] || skip "tcmu-nl not built"
nlpid=
stop_nl() {
	[ -n "$nlpid" ] && kill "$nlpid" 2>/dev/null
	# Later devices must not wait for replies nobody sends.
	$NL --features 0 --timeout 1 >/dev/null 2>&1
}
trap stop_nl EXIT
$NL --features 1 --reply wrong-cmd,status:5,ok,status:-5,ok >/tmp/nl.out 2>&1 &
nlpid=$!
wait_for 10 grep -q '^ready' /tmp/nl.out || { cat /tmp/nl.out; fail "tcmu-nl did not start"; }

# bounded_write FILE VALUE: write VALUE, wait at most 20 s for the write
# to end; its exit status in $WRC; fails the test if it hangs.
bounded_write() {
	bg_write "$1" "$2"
	bg_ended 20 || fail "writing '$2' to $1 hangs (no wake-up after the reply)"
}

dA=$(user_dev 14 nlA 16777216)
known_bug "a reply for the wrong command"
bounded_write "$dA/enable" 1
[ $WRC != 0 ] || fail "nlA: enable succeeded after a reply for the wrong command"
log "nlA: enable failed: $(cat /tmp/bg-write.err)"
dB=$(user_dev 14 nlB 16777216)
bounded_write "$dB/enable" 1
[ $WRC != 0 ] || fail "nlB: enable succeeded after status 5"
log "nlB: enable failed: $(cat /tmp/bg-write.err)"
dC=$(user_dev 14 nlC 16777216)
bounded_write "$dC/enable" 1
[ $WRC = 0 ] || fail "nlC: enable failed after a good reply: $(cat /tmp/bg-write.err)"
cfg=$(cat "$dC/attrib/dev_config")
bounded_write "$dC/attrib/dev_config" ramd/other
[ $WRC != 0 ] || fail "nlC: dev_config write succeeded after status -5"
grep -q 'Input/output error' /tmp/bg-write.err || fail "nlC: dev_config: $(cat /tmp/bg-write.err), not EIO"
[ "$(cat "$dC/attrib/dev_config")" = "$cfg" ] || fail "nlC: dev_config changed to $(cat "$dC/attrib/dev_config") although the daemon refused"
rmdir "$dA" "$dB" || fail "cannot remove nlA, nlB"
timeout 30 rmdir "$dC" || fail "removing nlC failed or hung"
rmdir "$CFS/core/user_14"
wait_for 5 sh -c '[ $(grep -c "^reply" /tmp/nl.out) -ge 5 ]'
cat /tmp/nl.out
[ "$(grep -c '^event' /tmp/nl.out)" = 5 ] || fail "expected 5 events"
log "ok"
