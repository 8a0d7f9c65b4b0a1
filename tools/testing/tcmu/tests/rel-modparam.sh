#!/bin/bash
# tcmu-test: reliability: writing global_max_data_area_mb while the module is unloaded and loaded again, over and over, leaves no work behind
# timeout: 300
# modules: stock ours
# tier: debug stock
# xfail: stock a write of the parameter while the module loads flushes its uninitialized work (WARNING in __flush_work)
# xfail-timeout: 120
#
# A write of global_max_data_area_mb makes the reclaim work run at once.
# One that lands while the module exits, after it cancelled the work and
# before its parameters are gone, must not queue the work again: it would
# run in freed module text.  A writer loop hammers the parameter while the
# module is unloaded and loaded 20 times (no device exists); any kernel
# report fails the test.  A race, so the test can only fail sometimes; on
# the debug kernel KASAN and the page allocator's checks make it likelier
# to show.  Stock has a race of its own there: a write while the module
# loads, before its init ran, cancels its not yet initialized work
# (WARNING in __flush_work, seen in 20 rounds): on stock it runs up to
# 100 rounds, as a known failure that ends at its first report.
. /tcmu/lib.sh

p=/sys/module/target_core_user/parameters/global_max_data_area_mb
rounds=$(soak_rounds 100 40 20 10)
ours || rounds=100
(while :; do
	echo 100 >$p 2>/dev/null
	echo 2048 >$p 2>/dev/null
done) &
wpid=$!
trap 'kill $wpid 2>/dev/null' EXIT
known_bug "the parameter written while the module loads"
for ((i = 0; i < rounds; i++)); do
	use_module "$MODULE" >/dev/null
	sleep 0.1
done
kill $wpid
wait $wpid 2>/dev/null
trap - EXIT
sleep 2
echo 2048 >$p
log "$rounds unloads and loads with the parameter written all along"
log "ok"
