#!/bin/bash
# tcmu-test: reclaim: blocks of commands the handler holds are never taken by idle reclaim, decay or the shrinker
# timeout: 400
# modules: ours
#
# tcmu-ramd serves a few 1 MiB writes, which leaves kept-free pages, then
# (armed by SIGUSR1) takes two more 1 MiB commands and never completes
# them: their 512 pages are in use.  With data_idle_timeout and
# data_hwm_half_life at 1 s and drop_caches=2 running the shrinker, every
# kept-free page must go and every page in use must stay.  The held
# commands then time out (cmd_time_out 5) once the handler is stopped.
. /tcmu/lib.sh


dev=$(ramd_dev 11 inuse 67108864 hw_max_sectors=2048)
echo 5 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"
ramd_start inuse 64M --misbehave never-complete --count 0 --arm-usr1
disk=$(loop_lun naa.5001405000000110 "$dev") || exit 1
fio_verify "$disk" warm --rw=write --bs=1M --iodepth=16 --size=16M
da_state "after warm-up"
[ "$(attr data_pages_free)" -ge 256 ] || fail "no kept pages after the warm-up"

kill -USR1 $RAMD_PID
fio --name=held --filename="$disk" --direct=1 --ioengine=libaio --rw=write \
	--bs=1M --iodepth=2 --size=2M --offset=32M </dev/null >/tmp/held.out 2>&1 &
fpid=$!
wait_for 60 sh -c "[ \$(cat $dev/attrib/data_pages_in_use) -ge 512 ]" ||
	fail "the held commands are not in use: $(attr data_pages_in_use) pages"
inuse=$(attr data_pages_in_use)
da_state "commands held"
[ "$(attr data_pages_free)" -gt 0 ] || fail "no kept pages left beside the held commands"

echo 1 >"$dev/attrib/data_idle_timeout"
echo 1 >"$dev/attrib/data_hwm_half_life"
echo 2 >/proc/sys/vm/drop_caches
wait_for 30 sh -c "[ \$(cat $dev/attrib/data_pages_free) = 0 ]" ||
	fail "$(attr data_pages_free) kept pages left"
sleep 3
echo 2 >/proc/sys/vm/drop_caches
da_state "after idle reclaim and the shrinker"
[ "$(attr data_pages_in_use)" = "$inuse" ] || fail "pages in use went from $inuse to $(attr data_pages_in_use)"
[ "$(attr data_pages_allocated)" = "$inuse" ] || fail "allocated $(attr data_pages_allocated), in use $inuse"
[ $(($(attr data_pages_reclaimed_idle) + $(attr data_pages_reclaimed_decay) + $(attr data_pages_reclaimed_pressure))) -gt 0 ] ||
	fail "nothing was reclaimed"

kill $RAMD_PID
wait $RAMD_PID 2>/dev/null
# The held commands time out; sd may retry them a few times.
for ((i = 0; i < 600; i++)); do
	kill -0 $fpid 2>/dev/null || break
	sleep 0.2
done
kill -9 $fpid 2>/dev/null
da_state "after the timeouts"
lio_cleanup
log "ok"
