#!/bin/bash
# tcmu-test: reclaim: a handler touching a reclaimed block's old address gets SIGBUS (its mapping was zapped), never stale data
# timeout: 400
# modules: ours
#
# After 1 MiB writes through tcmu-ramd (idle reclaim and decay off, so the
# device keeps its pages), the LUN is removed and the handler stopped.
# reclaim-probe then maps the device as a handler would and reads every
# kept block: all have memory, some hold the old data.  Keeping that
# mapping (and its PTEs), idle reclaim is turned on and gives every page
# back; the probe reads the same addresses again and must get SIGBUS for
# every one: the PTEs were zapped before the pages were freed.
. /tcmu/lib.sh

probe=/tcmu/bin/reclaim-probe
[ -x $probe ] || skip "reclaim-probe not built"
wwn=naa.5001405000000090

dev=$(ramd_dev 9 probe 67108864 hw_max_sectors=2048)
reclaim_off "$dev"
ramd_start probe 64M
disk=$(loop_lun $wwn "$dev") || exit 1
fio_verify "$disk" w1m --rw=write --bs=1M --iodepth=8 --size=16M

# Remove the LUN while the handler answers, then stop the handler.
loop_lun_remove "$wwn" || fail "cannot remove the LUN"
kill $RAMD_PID
wait $RAMD_PID 2>/dev/null
sleep 1
kept=$(attr data_pages_allocated)
log "after the I/O: allocated $kept in_use $(attr data_pages_in_use)"
[ "$kept" -ge 256 ] || fail "only $kept pages kept"
[ "$(attr data_pages_in_use)" = 0 ] || fail "pages in use with no LUN"

uio=$(grep -l 'tcm-user/9/probe/' /sys/class/uio/uio*/name) || fail "no uio device"
uio=$(basename "$(dirname "$uio")")
rm -f /tmp/probe.in
mkfifo /tmp/probe.in
$probe /dev/$uio 0 "$kept" 2 </tmp/probe.in >/tmp/probe.out 2>&1 &
ppid=$!
exec 7>/tmp/probe.in
wait_for 120 grep -q ready /tmp/probe.out || { cat /tmp/probe.out; fail "probe did not map"; }
cat /tmp/probe.out
grep -q "round 1: mapped $kept sigbus 0 " /tmp/probe.out || fail "kept blocks were not all readable"
nz=$(sed -n 's/^round 1: .* nonzero \([0-9]*\)$/\1/p' /tmp/probe.out)
[ "$nz" -gt 0 ] || fail "no kept block held the old data"

echo 1 >"$dev/attrib/data_idle_timeout"
wait_for 60 sh -c "[ \$(cat $dev/attrib/data_pages_allocated) = 0 ]" ||
	fail "$(attr data_pages_allocated) pages still allocated with idle reclaim on"
log "reclaimed for idle: $(attr data_pages_reclaimed_idle) pages"
echo go >&7
exec 7>&-
wait $ppid || fail "probe exited with $?"
cat /tmp/probe.out
grep -q "round 2: mapped 0 sigbus $kept " /tmp/probe.out ||
	fail "reclaimed blocks were still mapped: $(grep 'round 2' /tmp/probe.out)"
lio_cleanup
log "ok"
