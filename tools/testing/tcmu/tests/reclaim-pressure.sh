#!/bin/bash
# tcmu-test: reclaim: memory pressure in the guest makes the shrinker take kept data pages, never pages in use; the next burst verifies
# timeout: 600
# modules: ours
# tier: 6.12
#
# Idle reclaim and decay are turned off on the device (data_idle_timeout
# and data_hwm_half_life 0), so after a 1 MiB iodepth-64 write burst it
# keeps its pages.  A Python process then allocates and touches memory in
# 8 MiB chunks up to MemAvailable plus most of the kept pages, stopping as
# soon as the shrinker has taken some (data_pages_reclaimed_pressure);
# pages in use are untouched.  Then drop_caches=2 (which runs every
# shrinker; up to 5 rounds) must leave about no kept pages, and the next
# burst verifies.
# An OOM kill would fail the test (its report is in dmesg).
. /tcmu/lib.sh

job=(--rw=write --bs=1M --iodepth=64 --size=64M)

dev=$(ramd_dev 8 pres 67108864 hw_max_sectors=2048)
reclaim_off "$dev"
ramd_start pres 64M
disk=$(loop_lun naa.5001405000000080 "$dev") || exit 1

fio_verify "$disk" burst1 "${job[@]}"
sleep 3
da_state "after burst"
kept=$(attr data_pages_free)
[ "$kept" -ge 1024 ] || fail "only $kept pages kept after the burst"

cat >/tmp/hog.py <<'PY'
import sys
attr, kept = sys.argv[1], int(sys.argv[2])
avail = [int(l.split()[1]) for l in open('/proc/meminfo')
         if l.startswith('MemAvailable:')][0] * 1024
target = avail + kept * 4096 * 3 // 4
chunk = 8 << 20
hog = []
while len(hog) * chunk < target:
    hog.append(b'\1' * chunk)
    if int(open(attr).read()) > 0:
        break
print('allocated %d MiB of a target of %d MiB' % (len(hog) * chunk >> 20, target >> 20))
PY
log "+ memory hog"
python3 /tmp/hog.py "$dev/attrib/data_pages_reclaimed_pressure" "$kept" ||
	fail "memory hog failed"
da_state "after the memory hog"
p=$(attr data_pages_reclaimed_pressure)
[ "$p" -gt 0 ] || fail "memory pressure took no kept pages"
[ "$(attr data_pages_in_use)" = 0 ] || fail "pages in use after the burst"
[ "$(attr data_pages_reclaimed_idle)" = 0 ] || fail "idle reclaim although turned off"
[ "$(attr data_pages_reclaimed_decay)" = 0 ] || fail "decay reclaim although turned off"

# The shrinker only trylocks: a round may skip a device the reclaim work
# holds at that moment, so a few rounds are allowed.
for ((i = 1; i <= 5; i++)); do
	echo 2 >/proc/sys/vm/drop_caches
	da_state "after drop_caches=2 (round $i)"
	[ "$(attr data_pages_free)" -le 8 ] && break
done
[ "$(attr data_pages_free)" -le 8 ] || fail "$(attr data_pages_free) pages still kept after drop_caches=2"

fio_verify "$disk" burst2 "${job[@]}"
da_state "after the second burst"
lio_cleanup
kill $RAMD_PID
log "ok"
