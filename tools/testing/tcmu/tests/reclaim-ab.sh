#!/bin/bash
# tcmu-test: reclaim: memory of a device before a 1 MiB iodepth-64 burst, after it and after idle, stock and ours in one boot
# timeout: 600
# modules: ours
#
# The same tcmu-ramd device and tcm_loop LUN is set up first on the stock
# module, then on ours (use_module swaps them in this boot), and each gets
# a 64 MiB write burst of 1 MiB commands at iodepth 64, then
# data_idle_timeout (10 s) plus $slack s of idle.  Logged for both:
# MemFree and the handler's resident pages of the /dev/uio mapping (the
# data-area pages it can still reach); for ours also the data-area
# counters.  Asserted for ours only: the handler's mapping and the data
# area shrink back to about nothing after idle, and the second burst on
# each module verifies.  The figures are the A/B comparison quoted in
# the notes; stock is expected to keep its pages (not asserted).
. /tcmu/lib.sh

job=(--rw=write --bs=1M --iodepth=64 --size=64M)
slack=10

ab_figures() {	# label
	local s="$MODULE $1: MemFree $(memfree) handler uio rss $(uio_rss)"

	if ours; then
		s="$s; data pages allocated $(cat "$dev/attrib/data_pages_allocated") kept $(cat "$dev/attrib/data_pages_free")"
	fi
	log "$s"
	echo "$s" >>/tmp/ab-figures
}

: >/tmp/ab-figures
for m in stock ours; do
	use_module $m
	dev=$(ramd_dev 5 ab 67108864 hw_max_sectors=2048)
	ramd_start ab 64M
	disk=$(loop_lun naa.5001405000000055 "$dev") || exit 1
	echo 1 >/proc/sys/vm/drop_caches
	ab_figures "before burst"
	fio_verify "$disk" "burst-$m" "${job[@]}"
	ab_figures "after burst"
	burst_rss=$(uio_rss)
	sleep $((10 + slack))
	ab_figures "after idle"
	if ours; then
		[ "$burst_rss" -ge 4096 ] ||
			fail "handler mapped only $burst_rss pages after the burst"
		[ "$(uio_rss)" -le 64 ] ||
			fail "handler still maps $(uio_rss) pages after idle"
		[ "$(cat "$dev/attrib/data_pages_allocated")" -le 8 ] ||
			fail "$(cat "$dev/attrib/data_pages_allocated") data pages after idle"
	fi
	fio_verify "$disk" "again-$m" "${job[@]}"
	lio_cleanup
	kill $RAMD_PID
	wait $RAMD_PID 2>/dev/null
	rmdir "$CFS/core/user_5" 2>/dev/null
done
use_module "$BOOT_MODULE"
log "figures (4 KiB pages):"
cat /tmp/ab-figures
log "ok"
