#!/bin/bash
# tcmu-test: reliability (debug kernel): slab and page allocation failures injected while the data area grows: no command fails, each allocation failure makes its command wait and retry
# timeout: 300
# modules: ours
# tier: debug
#
# Needs the debug kernel's fault injection (vm.sh -k debug); on Debian's
# kernel it skips.  Not run on stock: it is about our allocation paths.
#
# No command may fail for a transient allocation failure: a command
# whose data pages or id cannot be had waits on the queue-full path and is
# retried from a kworker (data_nomem_waits, cmd_id_nomem_waits count
# them), and requests come from a mempool.  So every phase runs fio
# write+verify under injection, and it must pass.
#
# tcm_loop submits commands from kworkers, so a task filter cannot reach
# the first placement of a command; what it can reach is the handler:
# with a 2 MiB data area (max_data_area_mb) and 256 KiB writes at iodepth
# 16 most commands wait (QFULL) and get their blocks from the handler's
# completion kick (tcmu_reap -> tcmu_run_qfull -> data area allocation),
# and the shrinker (drop_caches every 2 s) and the 1 s idle timeout make
# the area give its pages back and grow again, over and over.
#  1. failslab + fail_page_alloc, task-filter=Y, make-it-fail=1 on the
#     tcmu-ramd process only (it logs to /dev/null, its disk is populated
#     first), probability 20 %, GFP_NOIO/sleeping and order-0 allocations
#     included, verbose=2: a stack dump per failure (rate-limited by the
#     kernel), which tells whether it hit our driver (the runner's
#     kernel-report check leaves these dumps out, see guest/init.sh).
#     Data page allocations fail: data_nomem_waits must grow.
#  2. failslab alone on the handler, 90 %, 128 KiB writes at iodepth 32
#     (more commands, more of them queued): command ids need a new XArray
#     node every 64 ids, and the commands placed from the handler's kick
#     get theirs from the slab: cmd_id_nomem_waits must grow.
#  3. our request cache tcmu_req, in every context (the submission
#     kworkers too): failslab with cache-filter=Y.  A cache takes part
#     only if it carries SLAB_FAILSLAB; its sysfs "failslab" is read-only
#     on 6.1, so vm.sh boots the debug kernel with slub_debug=A,tcmu_req
#     (which also keeps the cache from being merged).  The mempool's
#     reserve keeps commands going.
#  verbose=1 in phases 2 and 3: no stack dumps (see phase 3).
# Each phase runs fio write+verify for 20 s; afterwards, with injection
# off, fio write+verify must pass again and the device must go.  The
# injected failures are counted from debugfs "times" (set to a large
# budget, read back) and logged.
. /tcmu/lib.sh

DBG=/sys/kernel/debug
[ -d $DBG/failslab ] && [ -d $DBG/fail_page_alloc ] ||
	skip "no failslab/fail_page_alloc in debugfs (not the debug kernel)"
BUDGET=1000000

fi_set() {	# fi_set DIR KEY=VALUE...
	local d=$DBG/$1 kv
	shift
	for kv in "$@"; do
		echo "${kv#*=}" >"$d/${kv%%=*}" || fail "$d/${kv%%=*} = ${kv#*=}"
	done
}
fi_off() {
	fi_set failslab probability=0 times=1 task-filter=N cache-filter=N
	fi_set fail_page_alloc probability=0 times=1 task-filter=N
}
trap 'fi_off 2>/dev/null' EXIT
fi_used() { echo $((BUDGET - $(cat $DBG/$1/times))); }

dev=$(ramd_dev 25 fa0 16777216 max_data_area_mb=2) || exit 1
echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
echo 1 >"$dev/attrib/data_hwm_half_life" || fail "data_hwm_half_life"
$RAMD --config ramd/fa0 --size 16M >/dev/null 2>&1 &
hpid=$!
sleep 0.5
kill -0 $hpid || fail "tcmu-ramd did not start"
disk=$(loop_lun naa.5001405000000250 "$dev") || exit 1
echo 30 >/sys/block/"${disk#/dev/}"/device/timeout
# populate the handler's disk before its page faults can fail
fio_verify "$disk" populate --rw=write --bs=256k --iodepth=4 --size=16M >/dev/null

st() { for a in data_pages_allocated data_pages_peak data_pages_reclaimed_idle data_pages_reclaimed_pressure data_nomem_waits cmd_id_nomem_waits; do
	printf '%s %s ' "${a#data_pages_}" "$(cat "$dev/attrib/$a")"; done; }

# inject PHASE [FIO ARGS]: fio write+verify under injection for 20 s
# (verified as it goes: verify_backlog; 256 KiB at iodepth 16 unless
# other args are given), the shrinker every 2 s; any I/O error fails the
# test.
inject() {
	local fpid i name=$1 args=${*:2}
	# shellcheck disable=SC2086
	fio --name="$name" --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=randwrite ${args:---bs=256k --iodepth=16} --size=16M --time_based \
		--runtime=20 --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
		--verify_state_save=0 >/tmp/fio-"$name".out 2>&1 &
	fpid=$!
	for ((i = 0; i < 60; i++)); do
		kill -0 $fpid 2>/dev/null || break
		((i % 4)) || echo 2 >/proc/sys/vm/drop_caches
		sleep 0.5
	done
	timeout 120 tail --pid=$fpid -f /dev/null || fail "$name: fio hung under injection"
	wait $fpid
	local rc=$?
	log "$name: fio $(grep -o 'err=[^:]*' /tmp/fio-"$name".out | head -n1); $(st)"
	if [ $rc != 0 ] || ! grep -q 'err= 0' /tmp/fio-"$name".out; then
		cat /tmp/fio-"$name".out
		fail "$name: I/O failed under injection"
	fi
}

# waits NAME: a nomem_waits counter
waits() { cat "$dev/attrib/$1_nomem_waits"; }

# Of the failures the kernel dumped (phase 1), how many were in our
# driver, and where.
where() {
	dmesg | awk '/FAULT_INJECTION: forcing a failure/ { on = 1; m++; f = ""; next }
		on && f == "" && match($0, /tcmu_[a-z_]+/) { f = substr($0, RSTART, RLENGTH) }
		on && /<\/TASK>/ { on = 0; if (f != "") { n++; at[f]++ } }
		END { printf "stacks dumped: %d, through target_core_user: %d:", m, n;
		      for (f in at) printf " %s %d", f, at[f]; print "" }'
}

log "before: $(st)"
data0=$(waits data)
# --- 1: the handler's allocations ---
# the filters first: with probability > 0 and no filter, every task fails
fi_set failslab task-filter=Y cache-filter=N interval=1 times=$BUDGET space=0 \
	verbose=2 ignore-gfp-wait=N probability=20
fi_set fail_page_alloc task-filter=Y interval=1 times=$BUDGET space=0 \
	verbose=2 ignore-gfp-wait=N ignore-gfp-highmem=N min-order=0 \
	probability=20
echo 1 >/proc/$hpid/make-it-fail || fail "make-it-fail"
inject handler
slab1=$(fi_used failslab) page1=$(fi_used fail_page_alloc)
echo 0 >/proc/$hpid/make-it-fail
fi_off
log "phase 1 (handler task): injected failures: failslab $slab1, fail_page_alloc $page1"
log "phase 1 $(where)"
kill -0 $hpid || fail "tcmu-ramd died under injection"
[ $((slab1 + page1)) -gt 0 ] || fail "no failure was injected in phase 1"
[ "$(waits data)" -gt "$data0" ] ||
	fail "phase 1: no command waited for data memory (data_nomem_waits $(waits data))"

# --- 2: slab allocations in the handler: command ids ---
id0=$(waits cmd_id)
fi_set failslab cache-filter=N task-filter=Y interval=1 times=$BUDGET \
	space=0 verbose=1 ignore-gfp-wait=N probability=90
echo 1 >/proc/$hpid/make-it-fail || fail "make-it-fail"
# 128 KiB at iodepth 32: twice the commands, half of them queued
inject nodes --bs=128k --iodepth=32
slab2=$(fi_used failslab)
echo 0 >/proc/$hpid/make-it-fail
fi_off
log "phase 2 (slab, handler task): injected failures: failslab $slab2"
[ "$slab2" -gt 0 ] || fail "no failure was injected in phase 2"
[ "$(waits cmd_id)" -gt "$id0" ] ||
	fail "phase 2: no command waited for an id (cmd_id_nomem_waits $(waits cmd_id))"

# --- 3: our request cache, every context ---
# verbose=1, no stack dumps: with every context failing, two CPUs dump
# at once and their lines interleave, which the runner's filter for
# injected-failure dumps cannot take apart.  Only tcmu_req can fail here
# (cache-filter), so the count says where the failures hit.
s=/sys/kernel/slab/tcmu_req
[ "$(cat $s/failslab 2>/dev/null)" = 1 ] ||
	fail "phase 3: $s/failslab is not 1 (booted without slub_debug=A,tcmu_req?)"
fi_set failslab cache-filter=Y task-filter=N interval=1 \
	times=$BUDGET space=0 verbose=1 ignore-gfp-wait=N probability=20
inject cache
slab3=$(fi_used failslab)
fi_off
log "phase 3 (tcmu_req cache): injected failures: failslab $slab3"
[ "$slab3" -gt 0 ] || fail "no failure was injected in phase 3"

# --- injection off: the device works ---
sdev_running "$disk"
fio_verify "$disk" after --rw=randwrite --bssplit=4k/50:256k/50 --iodepth=16 --size=16M
log "after: $(st)"
log "injected failures: $((slab1 + page1 + slab2 + slab3)) (phase 1 failslab $slab1 fail_page_alloc $page1; phase 2 failslab $slab2; phase 3 failslab $slab3); commands that waited for memory: data $(waits data), id $(waits cmd_id); kernel FAULT_INJECTION lines: $(dmesg | grep -c 'FAULT_INJECTION: forcing a failure')"
timeout 120 bash -c ". /tcmu/lib.sh; lio_cleanup" || fail "removal hung"
kill $hpid
log "ok"
