#!/bin/bash
# tcmu-test: driver: a hostile handler (unknown or repeated cmd_ids, bad status, sense, read_len, lost completions) never hurts the kernel; reset_ring recovers
# timeout: 900
# modules: stock ours
#
# For each misbehaviour of tcmu-ramd: serve some good I/O, misbehave,
# let the I/O fail or time out (cmd_time_out 5 s), then the recovery
# tcmu-runner does on restart (block_dev, reset_ring, unblock) with a
# well-behaved handler, which must serve verified I/O again.  The guest
# runner fails the test on any WARNING, BUG or hung task in the log.
. /tcmu/lib.sh

wwn=naa.5001405000000080
ramd=/tcmu/bin/tcmu-ramd
[ -x $ramd ] || skip "tcmu-ramd not built"
trap 'echo "--- tcmu-ramd output"; tail -n 30 /tmp/ramd.out 2>/dev/null' EXIT

dev=$(ramd_dev 8 h0 67108864) || exit 1
echo 5 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
echo 5 >"$dev/attrib/qfull_time_out" || fail "qfull_time_out"

start_ramd() {
	$ramd --config ramd/h0 --size 64M "$@" >>/tmp/ramd.out 2>&1 &
	rpid=$!
	sleep 0.5
}
stop_ramd() {
	kill "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
}
recover() {
	echo 1 >"$dev/action/block_dev" || fail "block_dev"
	echo 1 >"$dev/action/reset_ring" || fail "reset_ring"
	echo 0 >"$dev/action/block_dev" || fail "unblock"
}

start_ramd
disk=$(loop_lun "$wwn" "$dev") || exit 1
log "disk: $disk"
stop_ramd

# drv-ramd-hostile-ring.sh runs this script with the modes that corrupt
# the ring's structure (cmd_tail, entry lengths and opcodes).
modes=${HOSTILE_MODES:-bad-cmd-id double-complete bad-status bad-sense \
	bad-sense:zero bad-read-len never-complete}
for mode in $modes; do
	log "=== $mode"
	recover
	start_ramd --misbehave "$mode" --after 8
	timeout 90 dd if=/dev/urandom of="$disk" bs=4k count=64 oflag=direct \
		>/dev/null 2>&1
	log "write rc $?"
	timeout 90 dd if="$disk" of=/dev/null bs=4k count=64 iflag=direct \
		>/dev/null 2>&1
	log "read rc $?"
	stop_ramd
	recover
	start_ramd
	fio_verify "$disk" "after-$mode" --rw=randwrite --bs=4k \
		--iodepth=8 --size=2M
	stop_ramd
done
start_ramd
lio_cleanup
stop_ramd
log "ok"
