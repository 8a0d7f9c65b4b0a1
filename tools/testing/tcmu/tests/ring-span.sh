#!/bin/bash
# tcmu-test: ring: the command ring's active span wraps at each size in and out of order, grows while commands wait, survives kill-restart and reset_ring at each size, shrinks when idle under tcmu-ramd and tcmu-runner, SIGBUS beyond it
# timeout: 900
# modules: stock ours
#
# Part 1, tcmu-ramd on a tcm_loop LUN, completing in order, then in
# reverse batches of 8 (--reorder 8).  fio write+verify: 4k at QD1 (a
# one-page span wraps every 31 commands); then, three times, the handler
# is stopped (SIGSTOP) while fio sends 32, 64, 128 commands, which wait
# for room: ours must grow the span to 2, 4, 8 pages; the handler goes
# on, fio verifies, and 4k at QD8 wraps the ring at that size; last a
# bssplit mix up to 1M at QD128.  At each size (1, 2, 4, 8 pages) the
# handler is also killed with commands in the ring and recovered as
# tcmu-runner does (block_dev, reset_ring, unblock, a new handler): fio
# verifies.  Ours: the span starts at one page, and ring_pages_allocated
# always matches ring_span_bytes.  Then,
# with the handler attached and data_idle_timeout 2 s, the span must go
# back to one page (the kernel wraps the head with a PAD, shrinks to it,
# tcmu-ramd consumes it, the span shrinks to one page) and
# ring_pages_reclaimed grow; fio again verifies.
# Part 2, ours: the ring grown again, the LUN removed and the handler
# stopped, reclaim-probe maps the device as a handler and touches the
# span's pages and 4 more: the span's pages read, the 4 beyond SIGBUS.
# After the idle shrink, every page but the mailbox's SIGBUSes: the
# probe's PTEs were zapped before the pages went.
# Part 3: tcmu-runner's qcow handler: fio grows the span; idle, with the
# runner attached, it must shrink to one page (the runner passes the
# kernel's PAD when it completes its next command: one read); fio again.
# No kernel report anywhere (the runner checks after each test).
. /tcmu/lib.sh

wwn=naa.5001405000000d01
qwwn=naa.5001405000000d02
page=$(getconf PAGESIZE)
mbox=128	# sizeof(struct tcmu_mailbox): the span's first bytes

# span_ok WHAT: log the span; ours: pages and bytes must agree.
span_ok() {
	ours || return 0
	local pages bytes
	pages=$(attr ring_pages_allocated)
	bytes=$(attr ring_span_bytes)
	log "$1: span $pages pages ($bytes bytes), reclaimed $(attr ring_pages_reclaimed)"
	[ "$bytes" = $((pages * page - mbox)) ] ||
		fail "ring_span_bytes $bytes does not match $pages pages"
}

# shrink_idle: with the handler attached, idle reclaim takes the span
# back to one page.
shrink_idle() {
	ours || return 0
	local before
	before=$(attr ring_pages_reclaimed)
	echo 2 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	wait_for 60 sh -c "[ \$(cat $dev/attrib/ring_pages_allocated) = 1 ]" ||
		fail "span still $(attr ring_pages_allocated) pages after idling"
	span_ok "idle"
	[ "$(attr ring_pages_reclaimed)" -gt "$before" ] ||
		fail "ring_pages_reclaimed did not grow"
	echo 0 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
}

# grow_to QD PAGES: with the handler stopped, QD 4k commands pile up in
# the ring, so they wait for room; ours: the span must reach PAGES pages
# (QD entries of 128 bytes do not fit in half as many).  Then the handler
# goes on and fio verifies.
grow_to() {
	kill -STOP "$RAMD_PID"
	fio_verify_bg "$disk" "grow$1" --rw=randwrite --bs=4k --iodepth="$1" \
		--size=2M
	if ours; then
		wait_for 60 sh -c "[ \$(cat $dev/attrib/ring_pages_allocated) -ge $2 ]" ||
			{ kill -CONT "$RAMD_PID"; fail "QD$1: span $(attr ring_pages_allocated) pages, not $2"; }
	else
		sleep 3
	fi
	kill -CONT "$RAMD_PID"
	fio_wait
}

# restart: at the span's current size, the handler is killed with
# commands in the ring, and recovery goes as tcmu-runner's on restart
# (block_dev, reset_ring, unblock) with a new handler: fio verifies, and
# the span keeps its size.
restart() {
	local before fpid
	ours && before=$(attr ring_pages_allocated)
	kill -STOP "$RAMD_PID"
	fio --name=lost --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=4k --iodepth=16 --size=1M \
		>/tmp/fio-lost.out 2>&1 &
	fpid=$!
	sleep 2
	kill -KILL "$RAMD_PID"
	wait "$RAMD_PID" 2>/dev/null
	ring_recover "$dev" || fail "recovery after kill"
	# shellcheck disable=SC2086
	ramd_start span 64M $ramd_args
	wait $fpid	# its commands failed with BUSY and were retried, or not
	sdev_running "$disk" || fail "$disk did not come back"
	fio_verify "$disk" "restart$before" --rw=randwrite --bs=4k \
		--iodepth=16 --size=2M
	if ours && [ "$(attr ring_pages_allocated)" -lt "$before" ]; then
		fail "the span shrank from $before pages across the restart"
	fi
	span_ok "restarted"
}

# load TAG: the ring wraps at one page (4k at QD1: 1024 entries of 128
# bytes), then the span grows to 2, 4 and 8 pages and the ring wraps at
# each; a bssplit mix up to 1M at QD128 last.
load() {
	local qd pages=1
	fio_verify "$disk" "$1-qd1" --rw=randwrite --bs=4k --iodepth=1 --size=4M
	span_ok "$1 4k QD1"
	restart
	for qd in 32 64 128; do
		pages=$((pages * 2))
		grow_to $qd $pages
		fio_verify "$disk" "$1-wrap$qd" --rw=randwrite --bs=4k \
			--iodepth=8 --size=4M
		span_ok "$1 after QD$qd"
		restart
	done
	fio_verify "$disk" "$1-mix" --rw=randrw --bssplit=4k/50:64k/30:1m/20 \
		--iodepth=128 --size=32M
	span_ok "$1 mix QD128"
}

# Part 1
dev=$(ramd_dev 13 span 67108864 hw_max_sectors=2048) || exit 1
if ours; then
	echo 0 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	[ "$(attr ring_pages_allocated)" = 1 ] || fail "a new device's span is not one page"
fi
span_ok "new device"
ramd_args=
ramd_start span 64M
disk=$(loop_lun $wwn "$dev") || exit 1
load inorder
shrink_idle
fio_verify "$disk" after-idle --rw=randwrite --bs=4k --iodepth=32 --size=8M
ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"

ramd_args="--reorder 8"
# shellcheck disable=SC2086
ramd_start span 64M $ramd_args
load reorder
shrink_idle
fio_verify "$disk" after-idle-ooo --rw=randwrite --bs=4k --iodepth=32 --size=8M
span_ok "reorder, after the idle shrink"

# Part 2
if ours; then
	probe=/tcmu/bin/reclaim-probe
	[ -x $probe ] || fail "reclaim-probe not built"
	grow_to 32 2
	grow_to 64 4
	loop_lun_remove "$wwn" || fail "cannot remove the LUN"
	ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
	pages=$(attr ring_pages_allocated)
	span_ok "grown, no handler"
	uio=$(basename "$(uio_of 13 span)")
	rm -f /tmp/span-probe.in
	mkfifo /tmp/span-probe.in
	$probe -c /dev/$uio 0 $((pages + 4)) 3 </tmp/span-probe.in \
		>/tmp/span-probe.out 2>&1 &
	ppid=$!
	exec 7>/tmp/span-probe.in
	wait_for 60 grep -q ready /tmp/span-probe.out ||
		{ cat /tmp/span-probe.out; fail "probe did not map"; }
	cat /tmp/span-probe.out
	grep -q "round 1: mapped $pages sigbus 4 " /tmp/span-probe.out ||
		fail "expected $pages pages mapped and 4 SIGBUS"
	# Idle: the kernel wraps the head with a PAD unless it already lies
	# in the first page; round 2 consumes it, as a handler would, and
	# touches the pages again; then the span shrinks.
	echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	sleep 4
	echo go >&7
	wait_for 60 sh -c "[ \$(cat $dev/attrib/ring_pages_allocated) = 1 ]" ||
		{ cat /tmp/span-probe.out; fail "span still $(attr ring_pages_allocated) pages with no handler"; }
	span_ok "shrunk, probe mapped"
	echo go >&7
	exec 7>&-
	wait $ppid || fail "probe exited with $?"
	cat /tmp/span-probe.out
	grep -q "round 3: mapped 1 sigbus $((pages + 3)) " /tmp/span-probe.out ||
		fail "pages beyond the shrunk span were still mapped"
	echo 0 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
else
	ramd_stop || fail "tcmu-ramd did not exit 0 on SIGTERM: $RAMD_ENDED"
fi
lio_cleanup

# Part 3
img=$TCMU_DATA/span.qcow2
make_qcow "$img" 1G
start_runner
disk=$(qcow_lun s0 1G "$img" $qwwn) || exit 1
dev=$CFS/core/user_0/s0
ours && { echo 0 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"; }
fio_verify "$disk" runner --rw=randwrite --bssplit=4k/60:64k/30:1m/10 \
	--iodepth=64 --size=32M
span_ok "tcmu-runner"
# tcmu-runner moves cmd_tail past a PAD only when it completes the next
# command: idle, the span shrinks to the kernel's PAD at the head; one
# read lets the runner pass it; idle again, the span is one page.
if ours; then
	echo 2 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	for i in 1 2 3 4 5; do
		sleep 4
		span_ok "tcmu-runner idle $i"
		dd if="$disk" of=/dev/null bs=4k count=1 skip=$i iflag=direct \
			2>/dev/null || fail "read $i failed"
		sleep 4
		[ "$(attr ring_pages_allocated)" = 1 ] && break
	done
	span_ok "tcmu-runner, idle"
	[ "$(attr ring_pages_allocated)" = 1 ] ||
		fail "the span stays $(attr ring_pages_allocated) pages under tcmu-runner"
	echo 0 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
fi
fio_verify "$disk" runner-after --rw=randwrite --bs=4k --iodepth=32 --size=8M
span_ok "tcmu-runner, after the idle shrink"
qcow_lun_delete s0 $qwwn
log "ok"
