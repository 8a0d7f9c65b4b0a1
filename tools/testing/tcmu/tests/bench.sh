#!/bin/bash
# tcmu-test: benchmark (make bench): stock vs ours in one boot, ABBA: fio on tcmu-ramd and tcmu-runner qcow, memory per device, many devices, where the time goes
# timeout: 3300
# modules: ours
# default: no
#
# Run by tools/testing/tcmu/bench/bench.sh (make bench), not by make
# check; tests/bench-smoke.sh runs a tiny version of it in the suite.
# Nothing here asserts speed: every figure goes to the host as one line
# "@@BENCH <json>" in this test's log, which bench/report.py turns into
# tables and plots.
#
# One boot, the same handler and LUN setup for both modules; use_module
# swaps target_core_user between rounds, in the reverse order every
# other round (stock ours rd_mcp | rd_mcp ours stock | ...: ABBA), and a
# third module, "base" (our module at an earlier revision, make bench
# BENCH_BASE=...), joins the fio, small and mem1 rounds when vm.sh
# brought one.  fio runs on vCPU 0, the handler on vCPU 1 (taskset).
#   fio   per round and module: tcmu-ramd (RAM disk, raw ABI: the kernel
#         path isolated) and tcmu-runner's qcow handler, both exported
#         through tcm_loop with hw_max_sectors 2048 (1 MiB commands):
#         4k randread/randwrite at iodepth 1 and 32, 64k randrw 50/50 at
#         iodepth 16, 1M sequential write at iodepth 64 (--output-format
#         json, reduced in the guest to IOPS, bandwidth, clat p50/p99);
#         the ring's round trip alone: 512 B randread at iodepth 1 and
#         32 on tcmu-ramd --no-data ("floor");
#         and once per round, as a fourth "module", the same ramd and
#         floor jobs on an in-kernel rd_mcp LUN through the same
#         tcm_loop path: no ring, no handler, the ceiling.
#         Beside each job, the work it cost (the "cnt" of its record):
#         commands completed (/sys/block), context switches, RES/CAL/TLB
#         IPIs, lock contention events (lock:contention_begin, in a
#         trace instance of our own), the handler's minor faults and CPU
#         time, the guest's user/system CPU time;
#   small the 1M iodepth-64 job on tcmu-ramd with max_data_area_mb 1, 4
#         (the first $mem_rounds rounds);
#   mem1  the first $mem_rounds rounds, per module: one tcmu-ramd device (--no-data: its RAM
#         disk stays empty) on a LUN, /proc/meminfo
#         (MemFree, VmallocUsed) deltas and our counters (data and
#         ring pages) right after
#         creation, after a 64 MiB write burst of 1M at iodepth 64, after idle
#         (data_idle_timeout, 10 s, plus slack);
#   devs  per module, once: idle devices made through configfs only (no
#         handler, no LUN), meminfo deltas at 1, 16, 64, 256, 1024, 4096
#         devices, then more until MemAvailable would drop below
#         $floor_mb MiB, a creation fails or the cap ($devs_cap): "the
#         most devices" and what stopped them;
#   burst per module, once (ours twice: reclaim as configured, and
#         data_keep_pages=1, reclaim off): the price of the reclaim
#         heuristic.  One tcmu-ramd device (--no-data) on a LUN; every
#         $burst_period s a burst of $burst_io_mb MiB of 1M writes at
#         iodepth 64, $burst_cycles times; each burst's MiB/s, and
#         MemFree sampled every second over the whole time (its drop
#         from before the device was made), with our data pages;
#   trace per module, once: tcmu-ramd --stats at 4k randread/randwrite
#         iodepth 32, with data and with --no-data (the floor), then
#         ftrace function_graph on the module's functions during the run.
#
# Knobs (environment; vm.sh passes TCMU_BENCH_* into the guest):
#   TCMU_BENCH_ROUNDS (10)  TCMU_BENCH_RUNTIME (3 s)  TCMU_BENCH_RAMP (1 s)
#   TCMU_BENCH_PARTS ("fio small mem1 burst devs trace")  TCMU_BENCH_SMOKE (0)
#   TCMU_BENCH_DEVS (4096: the devs part's cap)
. /tcmu/lib.sh

rounds=${TCMU_BENCH_ROUNDS:-10}
runtime=${TCMU_BENCH_RUNTIME:-3}
ramp=${TCMU_BENCH_RAMP:-1}
mem_rounds=3			# small and mem1 run in the first rounds only
parts=${TCMU_BENCH_PARTS:-fio small mem1 burst devs trace}
smoke=${TCMU_BENCH_SMOKE:-0}
size_mb=128			# each LUN
idle_wait=15			# data_idle_timeout (10 s) + reclaim period + slack
devs_at=(1 16 64 256 1024 4096)
# ~20x stock's 208.  Memory would allow far more of ours, but under TCG a
# device takes ~0.15 s to make: the cap keeps make bench within its time.
devs_cap=${TCMU_BENCH_DEVS:-4096}
floor_mb=160
jobs=(
	"rr4k-qd1 --rw=randread --bs=4k --iodepth=1"
	"rr4k-qd32 --rw=randread --bs=4k --iodepth=32"
	"rw4k-qd1 --rw=randwrite --bs=4k --iodepth=1"
	"rw4k-qd32 --rw=randwrite --bs=4k --iodepth=32"
	"rrw64k-qd16 --rw=randrw --rwmixread=50 --bs=64k --iodepth=16"
	"sw1m-qd64 --rw=write --bs=1M --iodepth=64"
)
floor_jobs=(
	"fl512-qd1 --rw=randread --bs=512 --iodepth=1"
	"fl512-qd32 --rw=randread --bs=512 --iodepth=32"
)
qcow_jobs=("${jobs[@]}")
all_jobs=("${jobs[@]}")
fio_cpu=0			# fio's vCPU; the handler gets the other one
handler_cpu=1
small_mb=(1 4)
trace_jobs=(rr4k-qd32 rw4k-qd32 sw1m-qd64)
trace_modes=(data nodata ftrace)
trace_win=1
trace_modules="stock ours"
burst_mb=64
burst_io_mb=256 burst_period=20 burst_cycles=5
if [ "$smoke" = 1 ]; then
	burst_io_mb=16 burst_period=2 burst_cycles=1
	rounds=1 runtime=1 ramp=0 idle_wait=0 size_mb=32
	qcow_jobs=("${jobs[0]}")
	jobs=("${jobs[5]}")
	floor_jobs=("${floor_jobs[1]}")
	burst_mb=16
	trace_modules=ours
	small_mb=(1)
	devs_at=(1 4)
	devs_cap=4
	trace_jobs=(rr4k-qd32)
	trace_modes=(ftrace)
	trace_win=0.5
fi
has() { [[ " $parts " == *" $1 "* ]]; }

# --- output ---------------------------------------------------------------
# Our module, as built now or at an earlier revision: the counters.
ourish() { [ "$MODULE" != stock ]; }

# record JSON: one record for the host.
record() { echo "@@BENCH $1"; }

# fio's JSON reduced to what the report uses, one line.
cat >/tmp/fio-reduce.py <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
j = d["jobs"][0]
out = {"error": j.get("error", 0), "usr_cpu": j.get("usr_cpu"),
       "sys_cpu": j.get("sys_cpu")}
for k in ("read", "write"):
    s = j[k]
    if not s.get("total_ios"):
        continue
    pct = s.get("clat_ns", {}).get("percentile", {})
    out[k] = {"iops": s["iops"], "bw_kib": s["bw"], "ios": s["total_ios"],
              "clat_mean_ns": s["clat_ns"]["mean"],
              "clat_p50_ns": pct.get("50.000000"),
              "clat_p99_ns": pct.get("99.000000")}
out["fio_version"] = d.get("fio version")
print(json.dumps(out, separators=(",", ":")))
EOF

meminfo() {	# prints "memfree vmalloc memavail" in KiB
	awk '/^MemFree:/ { f = $2 } /^VmallocUsed:/ { v = $2 }
	     /^MemAvailable:/ { a = $2 } END { print f, v, a }' /proc/meminfo
}
# Page cache only: "3" would run the shrinkers, ours among them, and
# give back the very pages being measured.
settle() { sync; echo 1 >/proc/sys/vm/drop_caches; sleep 1; }

# Our data-area counters (JSON), to tell reclaim during a run: the
# pages given back (by cause) and made.
da_counters() {
	local a=$dev/attrib k s=
	ourish && [ -e "$a/data_pages_reclaimed" ] || { echo null; return; }
	for k in allocated peak reclaimed reclaimed_decay reclaimed_idle \
		reclaimed_budget reclaimed_pressure; do
		s="$s${s:+,}\"$k\":$(cat "$a/data_pages_$k")"
	done
	for k in ring_pages_allocated ring_pages_reclaimed; do
		[ -e "$a/$k" ] && s="$s,\"$k\":$(cat "$a/$k")"
	done
	echo "{$s}"
}

# The work a job costs, counted by the kernel rather than timed.  Mutex
# contention: lock:contention_begin events with LCB_F_MUTEX, in a trace
# instance of our own (part_trace's function_graph uses the main one);
# a contended mutex that spins then sleeps gives two.
T=/sys/kernel/debug/tracing
[ -d $T ] || T=/sys/kernel/tracing
LI=$T/instances/tcmubench
if mkdir -p $LI 2>/dev/null && [ -d $LI/events/lock/contention_begin ]; then
	echo 4096 >$LI/buffer_size_kb
	echo 'flags & 32' >$LI/events/lock/contention_begin/filter
	echo 1 >$LI/events/lock/contention_begin/enable
else
	log "no lock:contention_begin: no contention counts"
	LI=
fi

# work_snap: "ios ctxt usr_ticks sys_ticks res cal tlb h_minflt
# h_ticks mutex_contended" now, each file read once (the snapshots'
# own processes count in the job's figures); ios from $disk, h_* from
# the handler $HPID (0 0 without one).  mutex_contended counts since
# the last work_reset.
work_snap() {
	awk '{ printf "%d ", $1 + $5 }' "/sys/block/${disk#/dev/}/stat"
	awk '/^ctxt / { c = $2 } /^cpu / { u = $2 + $3; s = $4 + $7 + $8 }
	     END { printf "%d %d %d ", c, u, s }' /proc/stat
	awk '$1 == "RES:" || $1 == "CAL:" || $1 == "TLB:" {
		n[$1] = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n[$1] += $i }
	     END { printf "%d %d %d ", n["RES:"], n["CAL:"], n["TLB:"] }' /proc/interrupts
	if [ -n "${HPID:-}" ] && [ -r "/proc/$HPID/stat" ]; then
		# the fields after "(comm) ", which may hold spaces
		awk '{ sub(/.*\) /, ""); printf "%d %d ", $8, $12 + $13 }' \
			"/proc/$HPID/stat"
	else
		printf '0 0 '
	fi
	if [ -n "$LI" ]; then
		awk '/^(entries|overrun):/ { n += $2 } END { print n }' \
			$LI/per_cpu/cpu*/stats
	else
		echo 0
	fi
}
work_reset() { [ -z "$LI" ] || : >$LI/trace; }

# work_json BEFORE AFTER: the differences, as JSON; CPU times in ticks
# of 1/USER_HZ s.
work_json() {
	echo "$1 $2" | awk -v hz="$(getconf CLK_TCK)" '{
		split("ios ctxt usr_ticks sys_ticks ipi_res ipi_cal ipi_tlb handler_minflt handler_ticks mutex_contended", k)
		s = "\"hz\":" hz
		for (i = 1; i <= 10; i++)
			s = s ",\"" k[i] "\":" (i == 10 ? $(i + 10) : $(i + 10) - $i)
		print "{" s "}" }'
}

# mark [fine]: ask make bench's QEMU plugin (bench/insn-count.c) for a
# snapshot of its instruction counters (fine: per 16-byte slot too);
# $MARK is the snapshot's number, as the plugin numbers them ("null"
# when no plugin is loaded).
MARK_SEQ=0
MARK=null
marks() { [ "${TCMU_BENCH_MARKS:-0}" = 1 ] && [ -x /tcmu/bin/tcmu-mark ]; }
mark() {
	if marks; then
		/tcmu/bin/tcmu-mark "$@" || fail "tcmu-mark failed"
		MARK_SEQ=$((MARK_SEQ + 1))
		MARK=$MARK_SEQ
	fi
}

# syms_record: where target_core_user's functions are, for the fine
# snapshots, once per load of the module: {"kind":"syms","base":...,
# "syms":[[address,name],...]}.  Keyed by the module as well as the
# address: ours and base (BENCH_BASE) load at the same address, and base
# would be read with ours' symbols.
SYMS_KEY=
syms_record() {
	local base
	base=$(awk '$1 == "target_core_user" { print $6 }' /proc/modules)
	[ -n "$base" ] && [ "$MODULE@$base" != "$SYMS_KEY" ] || return 0
	SYMS_KEY=$MODULE@$base
	record "{\"kind\":\"syms\",\"module\":\"$MODULE\",\"base\":\"$base\",\"syms\":[$(awk '$4 == "[target_core_user]" && $2 ~ /^[tT]$/ {
		s = s (s ? "," : "") "[\"0x" $1 "\",\"" $3 "\"]" } END { print s }' /proc/kallsyms)]}"
}

# The modules on the I/O path, where their text is: {"name":[base,size]}.
mods_json() {
	awk 'BEGIN { split("target_core_user target_core_mod tcm_loop uio", w)
		     for (i in w) want[w[i]] = 1 }
	     $1 in want { s = s (s ? "," : "") "\"" $1 "\":[\"" $6 "\"," $2 "]" }
	     END { print "{" s "}" }' /proc/modules
}

# pin_handler PID: PID is the handler whose work work_snap counts
# ($HPID); it and its threads, now and later, run on $handler_cpu.
pin_handler() {
	HPID=$1
	taskset -a -p -c "$handler_cpu" "$1" >/dev/null ||
		fail "taskset of handler $1 failed"
}

# fio_json HANDLER ROUND DISK NAME ARGS...: run one job on $fio_cpu, emit
# its record (with our counters before and after it, and the work it
# cost: work_snap).
fio_json() {
	local handler=$1 round=$2 disk=$3 name=$4 extra=${EXTRA:-} res c0 w0 m0
	local fine=	# the first round: where the instructions go, per function
	shift 4
	c0=$(da_counters)
	log "fio $handler/$MODULE round $round: $name $*${extra:+ ($extra)}"
	if [ "$round" = 1 ] && marks; then
		fine=fine
		syms_record
	fi
	rm -f /tmp/fio.json
	work_reset
	w0=$(work_snap)
	mark $fine
	m0=$MARK
	# shellcheck disable=SC2086
	if ! fio --name="$name" --filename="$disk" --direct=1 --ioengine=libaio \
		--cpus_allowed="$fio_cpu" \
		--time_based --runtime="$runtime" --ramp_time="$ramp" \
		--size=$((size_mb))M --randrepeat=1 --norandommap \
		--group_reporting --output-format=json --output=/tmp/fio.json \
		"$@" >/tmp/fio.err 2>&1; then
		cat /tmp/fio.err /tmp/fio.json 2>/dev/null | tail -n 20
		fail "fio $name failed on $handler/$MODULE"
	fi
	mark $fine
	w0=$(work_json "$w0" "$(work_snap)")
	res=$(python3 /tmp/fio-reduce.py /tmp/fio.json) ||
		fail "fio $name: no JSON result"
	record "{\"kind\":\"fio\",\"handler\":\"$handler\",\"module\":\"$MODULE\",\"round\":$round,\"job\":\"$name\",\"extra\":\"$extra\",\"res\":$res,\"cnt\":$w0,\"marks\":[$m0,$MARK],\"fine\":$([ -n "$fine" ] && echo true || echo false),\"mods\":$(mods_json),\"da_before\":$c0,\"da_after\":$(da_counters)}"
}

# --- devices ----------------------------------------------------------------
n_wwn=0
lun() {		# lun DEV: a fresh tcm_loop target with DEV as LUN 0; prints the disk
	n_wwn=$((n_wwn + 1))
	loop_lun "$(printf 'naa.50014050000b%04x' $n_wwn)" "$1"
}

ramd_up() {	# ramd_up NAME [CONTROL...] [-- RAMD-ARGS...]: sets $dev $disk
	local name=$1 ctl=() rargs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do ctl+=("$1"); shift; done
	[ $# -gt 0 ] && shift && rargs=("$@")
	dev=$(ramd_dev 7 "$name" $((size_mb << 20)) hw_max_sectors=2048 "${ctl[@]}") || exit 1
	ramd_start "$name" "${size_mb}M" "${rargs[@]}"
	pin_handler "$RAMD_PID"
	disk=$(lun "$dev") || exit 1
}

ramd_down() {
	lio_cleanup
	kill "$RAMD_PID" 2>/dev/null
	wait "$RAMD_PID" 2>/dev/null
	rmdir "$CFS"/core/user_7 2>/dev/null
	HPID=
}

qcow_img=$TCMU_DATA/bench.qcow2
qcow_up() {	# sets $dev $disk; tcmu-runner must be running
	dev=$(qcow_dev 9 qb0 "$qcow_img" $((size_mb << 20)) hw_max_sectors=2048) ||
		exit 1
	disk=$(lun "$dev") || exit 1
}

qcow_down() {
	lio_cleanup
	rmdir "$CFS"/core/user_9 2>/dev/null
}

# --- parts ------------------------------------------------------------------
run_jobs() {	# HANDLER ROUND JOB...
	local handler=$1 round=$2 j
	shift 2
	for j in "$@"; do
		# shellcheck disable=SC2086
		fio_json "$handler" "$round" "$disk" $j
	done
}

part_fio() {	# ROUND
	ramd_up bench
	log "ramd disk $disk"
	run_jobs ramd "$1" "${jobs[@]}"
	ramd_down
	ramd_up floor -- --no-data
	run_jobs floor "$1" "${floor_jobs[@]}"
	ramd_down

	start_runner
	pin_handler "$TCMU_RUNNER_PID"
	qcow_up
	log "qcow disk $disk"
	# The image keeps its data across rounds: written whole once, so no
	# round reads holes the others do not.
	if [ "$smoke" = 0 ] && [ ! -e /tmp/qcow-prefilled ]; then
		fio --name=prefill --filename="$disk" --direct=1 --ioengine=libaio \
			--rw=write --bs=1M --iodepth=16 >/tmp/fio-prefill.out 2>&1 ||
			{ cat /tmp/fio-prefill.out; fail "qcow prefill failed"; }
		touch /tmp/qcow-prefilled
	fi
	run_jobs qcow "$1" "${qcow_jobs[@]}"
	qcow_down
	stop_runner
	HPID=
}

# The ceiling: the same jobs on an in-kernel RAM disk (rd_mcp) through
# the same tcm_loop path, with no ring and no handler.  Its records say
# module "rd_mcp", handler "ramd" or "floor" as the jobs they stand
# beside.
part_rd() {	# ROUND
	local MODULE=rd_mcp
	dev=$CFS/core/rd_mcp_1/rd0
	mkdir -p "$dev" || fail "mkdir $dev"
	echo -n "rd_pages=$((size_mb << 8))" >"$dev/control" ||
		fail "rd_mcp control rejected"
	echo 1 >"$dev/enable" || fail "enabling $dev failed"
	# the serial wait_disk finds the disk by
	echo -n rd0 >"$dev/wwn/vpd_unit_serial" || fail "cannot set rd0's serial"
	disk=$(lun "$dev") || exit 1
	run_jobs ramd "$1" "${jobs[@]}"
	run_jobs floor "$1" "${floor_jobs[@]}"
	lio_cleanup	# the LUN, the device and its HBA
}

part_small() {	# ROUND
	local mb
	for mb in "${small_mb[@]}"; do
		ramd_up "small$mb" "max_data_area_mb=$mb"
		EXTRA="max_data_area_mb=$mb" fio_json ramd "$1" "$disk" \
			"sw1m-qd64-mda$mb" --rw=write --bs=1M --iodepth=64
		ramd_down
	done
}

mem_point() {	# ROUND PHASE BASE-MEMINFO
	local f v a bf bv ba dp=null rp=null
	settle
	read -r f v a <<<"$(meminfo)"
	read -r bf bv ba <<<"$3"
	if ourish; then
		dp=$(cat "$dev/attrib/data_pages_allocated")
		rp=$(cat "$dev/attrib/ring_pages_allocated" 2>/dev/null || echo null)
	fi
	log "mem1 $MODULE $2: MemFree -$((bf - f)) KiB, VmallocUsed +$((v - bv)) KiB, data pages $dp, ring pages $rp, handler uio rss $(uio_rss)"
	record "{\"kind\":\"mem1\",\"module\":\"$MODULE\",\"round\":$1,\"phase\":\"$2\",\"memfree_drop_kib\":$((bf - f)),\"vmalloc_kib\":$((v - bv)),\"data_pages\":$dp,\"ring_pages\":$rp,\"uio_rss_pages\":$(uio_rss)}"
}

part_mem1() {	# ROUND
	local base
	settle
	base=$(meminfo)
	# --no-data: the handler's RAM disk stays untouched, so MemFree
	# moves with the kernel's memory only (ring, data pages, LUN).
	ramd_up mem -- --no-data
	mem_point "$1" created "$base"
	fio --name=burst --filename="$disk" --direct=1 --ioengine=libaio \
		--rw=write --bs=1M --iodepth=64 --size=${burst_mb}M >/tmp/fio-burst.out 2>&1 ||
		{ cat /tmp/fio-burst.out; fail "burst failed"; }
	mem_point "$1" burst "$base"
	if [ "$idle_wait" -gt 0 ]; then
		sleep "$idle_wait"
		mem_point "$1" idle "$base"
	fi
	ramd_down
}

# burst_sampler BASE-MEMFREE: every second until killed, "MemFree drop
# (KiB) data pages" (pages: ours only, else 0) on /tmp/burst.samples.
burst_sampler() {
	local f pages
	while :; do
		read -r f _ <<<"$(meminfo)"
		pages=0
		ourish && pages=$(cat "$dev/attrib/data_pages_allocated")
		echo "$(($1 - f)) $pages" >>/tmp/burst.samples
		sleep 1
	done
}

part_burst() {	# VARIANT (reclaim or keep)
	local base i t0 t1 spid res
	settle
	read -r base _ <<<"$(meminfo)"
	ramd_up burst -- --no-data
	[ "$1" = keep ] && { echo 1 >"$dev/attrib/data_keep_pages" ||
		fail "data_keep_pages rejected"; }
	: >/tmp/burst.samples
	burst_sampler "$base" &
	spid=$!
	for ((i = 1; i <= burst_cycles; i++)); do
		t0=$(date +%s.%N)
		fio --name=burst --filename="$disk" --direct=1 --ioengine=libaio \
			--cpus_allowed="$fio_cpu" --rw=write --bs=1M --iodepth=64 \
			--size=${size_mb}M --io_size=${burst_io_mb}M \
			--output-format=json --output=/tmp/fio.json >/tmp/fio.err 2>&1 ||
			{ cat /tmp/fio.err; kill $spid; fail "burst $i failed"; }
		t1=$(date +%s.%N)
		res=$(python3 /tmp/fio-reduce.py /tmp/fio.json) ||
			{ kill $spid; fail "burst $i: no JSON result"; }
		record "{\"kind\":\"burst\",\"module\":\"$MODULE\",\"variant\":\"$1\",\"cycle\":$i,\"secs\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'),\"res\":$res}"
		# the rest of the period idle ("print (x)": a bare ">" would
		# redirect awk's output to a file)
		sleep "$(awk -v a="$t0" -v p="$burst_period" \
			'BEGIN { "date +%s.%N" | getline n; d = a + p - n; print (d > 0 ? d : 0) }')"
	done
	kill $spid
	wait $spid 2>/dev/null
	# one sample a second over the whole time, or the averages are not
	# time averages
	[ "$(wc -l </tmp/burst.samples)" -ge $((burst_period * burst_cycles / 2)) ] ||
		fail "burst: $(wc -l </tmp/burst.samples) samples in $((burst_period * burst_cycles)) s"
	record "{\"kind\":\"burstmem\",\"module\":\"$MODULE\",\"variant\":\"$1\",\"period_s\":$burst_period,\"cycles\":$burst_cycles,$(awk '{ n++; m += $1; p += $2; if ($1 > mx) mx = $1; if ($2 > px) px = $2 }
		END { printf "\"samples\":%d,\"avg_memfree_drop_kib\":%d,\"max_memfree_drop_kib\":%d,\"avg_data_pages\":%.1f,\"max_data_pages\":%d", n, n ? m / n : 0, mx, n ? p / n : 0, px }' /tmp/burst.samples)}"
	ramd_down
}

part_devs() {
	local base f v a bf bv ba n=0 reason=cap next=0 d t0=$SECONDS
	settle
	base=$(meminfo)
	read -r bf bv ba <<<"$base"
	mkdir -p "$CFS/core/user_10" || fail "mkdir user_10"
	while [ $n -lt $devs_cap ]; do
		read -r f v a <<<"$(meminfo)"
		if [ $((a / 1024)) -lt $floor_mb ]; then
			reason="MemAvailable below ${floor_mb} MiB"
			break
		fi
		d=$CFS/core/user_10/idle$n
		if ! { mkdir "$d" &&
		       echo -n "dev_config=ramd/idle$n,dev_size=1048576,nl_reply_supported=-1" >"$d/control" &&
		       echo 1 >"$d/enable"; } 2>/tmp/devs.err; then
			reason="creation failed: $(head -c 200 /tmp/devs.err)"
			rmdir "$d" 2>/dev/null
			break
		fi
		n=$((n + 1))
		if [ $n = "${devs_at[$next]:-0}" ]; then
			settle
			read -r f v a <<<"$(meminfo)"
			log "devs $MODULE $n: MemFree -$((bf - f)) KiB VmallocUsed +$((v - bv)) KiB MemAvailable $((a / 1024)) MiB"
			record "{\"kind\":\"devs\",\"module\":\"$MODULE\",\"n\":$n,\"memfree_drop_kib\":$((bf - f)),\"vmalloc_kib\":$((v - bv)),\"memavail_kib\":$a}"
			next=$((next + 1))
		fi
		[ $((n % 256)) = 0 ] && log "devs $MODULE: $n devices, MemAvailable $((a / 1024)) MiB, $((SECONDS - t0)) s"
	done
	read -r f v a <<<"$(meminfo)"
	log "devs $MODULE: most devices $n ($reason) in $((SECONDS - t0)) s"
	record "{\"kind\":\"maxdevs\",\"module\":\"$MODULE\",\"n\":$n,\"reason\":\"$reason\",\"floor_mib\":$floor_mb,\"cap\":$devs_cap,\"guest_mem_kib\":$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo),\"memfree_drop_kib\":$((bf - f)),\"vmalloc_kib\":$((v - bv))}"
	for d in "$CFS"/core/user_10/idle*; do
		[ -d "$d" ] && rmdir "$d"
	done
	rmdir "$CFS/core/user_10"
}

# --- where the time goes ------------------------------------------------------

ramd_stats() {	# the "stats:" line tcmu-ramd printed on exit, as JSON
	sed -n 's/.*stats: //p' "/tmp/ramd-$1.out" | tail -n1 |
		awk '{ s = ""; for (i = 1; i < NF; i += 2)
			s = s (s ? "," : "") "\"" $i "\":" $(i + 1); print "{" s "}" }'
}

# function_graph on the module's functions (and the uio kick), aggregated:
# per function, calls and total microseconds (children included).
trace_agg() {
	awk -F'|' '
	NF >= 2 && $1 ~ /us/ {
		d = $1; sub(/.*\)/, "", d); gsub(/[^0-9.]/, "", d)
		f = $2
		if (f ~ /\(\);/) { sub(/\(\);.*/, "", f) }
		else if (f ~ /\/\*/) { sub(/.*\/\* */, "", f); sub(/ *\*\/.*/, "", f) }
		else next
		gsub(/[ \t{}]/, "", f)
		if (f == "" || d == "") next
		n[f]++; t[f] += d
	}
	END { s = ""; for (f in n) s = s (s ? "," : "") "\"" f "\":[" n[f] "," t[f] "]"
	      print "{" s "}" }' "$@"
}

part_trace() {
	local j name args mode rargs res
	for j in "${trace_jobs[@]}"; do
		for mode in "${trace_modes[@]}"; do
			rargs=(--stats)
			[ $mode = nodata ] && rargs+=(--no-data)
			ramd_up "t$mode" -- "${rargs[@]}"
			for name in "${all_jobs[@]}"; do
				[ "${name%% *}" = "$j" ] && args=${name#* }
			done
			# ramd_up's probe I/O is in the counters: restart the
			# handler so they cover the fio run alone.
			kill "$RAMD_PID"; wait "$RAMD_PID" 2>/dev/null
			: >"/tmp/ramd-t$mode.out"
			ramd_start "t$mode" "${size_mb}M" "${rargs[@]}"
			pin_handler "$RAMD_PID"
			if [ $mode = ftrace ]; then
				echo 0 >$T/tracing_on
				# The filter first: function_graph with an empty
				# filter patches every kernel function, which
				# under TCG took minutes (soft lockup).
				{ echo ':mod:target_core_user'; echo uio_event_notify
				  echo target_complete_cmd; } >$T/set_ftrace_filter
				echo 16384 >$T/buffer_size_kb
				echo function_graph >$T/current_tracer
				echo 1 >$T/options/funcgraph-tail 2>/dev/null
				echo 0 >$T/options/funcgraph-irqs 2>/dev/null
				: >$T/trace
				# A window in the middle of the measured run: fio
				# takes seconds to start here, so wait for its I/O.
				(st=/sys/block/${disk#/dev/}/stat
				 n0=$(awk '{ print $1 + $5 }' "$st")
				 for ((i = 0; i < 600; i++)); do
					[ "$(awk '{ print $1 + $5 }' "$st")" -gt $((n0 + 20)) ] && break
					sleep 0.1
				 done
				 sleep "$(awk -v r="$ramp" -v t="$runtime" -v w="$trace_win" \
					'BEGIN { print r + (t - w) / 2 }')"
				 echo 1 >$T/tracing_on; sleep "$trace_win"
				 echo 0 >$T/tracing_on) &
			fi
			# shellcheck disable=SC2086
			EXTRA="$mode" fio_json ramd 0 "$disk" "$j" $args
			kill "$RAMD_PID"; wait "$RAMD_PID" 2>/dev/null
			res=$(ramd_stats "t$mode")
			record "{\"kind\":\"ramdstats\",\"module\":\"$MODULE\",\"job\":\"$j\",\"mode\":\"$mode\",\"stats\":${res:-{\}}}"
			if [ $mode = ftrace ]; then
				wait
				echo 0 >$T/tracing_on
				log "trace: $(grep -vc '^#' $T/trace) lines; a sample:"
				grep -v '^#' $T/trace | head -n 40
				res=$(trace_agg $T/trace)
				record "{\"kind\":\"ftrace\",\"module\":\"$MODULE\",\"job\":\"$j\",\"window_s\":$trace_win,\"funcs\":$res}"
				echo nop >$T/current_tracer
				: >$T/set_ftrace_filter	# after: see above
				echo 1408 >$T/buffer_size_kb
			fi
			# restart was a new handler: take the LUN down with it
			ramd_start "t$mode" "${size_mb}M"
			ramd_down
		done
	done
}

# --- the run ------------------------------------------------------------------
record "{\"kind\":\"info\",\"kernel\":\"$(uname -r)\",\"cpus\":$(nproc),\"mem_kib\":$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo),\"rounds\":$rounds,\"runtime_s\":$runtime,\"ramp_s\":$ramp,\"smoke\":$smoke,\"cpu\":\"$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1)\",\"erms\":$(grep -qw erms /proc/cpuinfo && echo true || echo false),\"fio\":\"$(fio --version)\",\"runner\":\"$(dpkg-query -W -f '${Version}' tcmu-runner 2>/dev/null)\",\"parts\":\"$parts\"}"
make_qcow "$qcow_img" "${size_mb}M"
modules="stock ours"
[ -e /tcmu/base.ko ] && modules="stock ours base"
modules="$modules rd_mcp"
for r in $(seq 1 "$rounds"); do
	order=$modules
	if [ $((r % 2)) = 0 ]; then
		order=
		for m in $modules; do order="$m $order"; done
	fi
	for m in $order; do
		if [ $m = rd_mcp ]; then
			has fio && part_rd "$r"
			continue
		fi
		use_module $m
		has fio && part_fio "$r"
		[ "$r" -le $mem_rounds ] || continue
		has small && part_small "$r"
		has mem1 && part_mem1 "$r"
	done
done
for m in stock ours; do
	use_module $m
	has burst && part_burst reclaim
	has burst && [ $m = ours ] && part_burst keep
	has trace && [[ " $trace_modules " == *" $m "* ]] && part_trace
	has devs && part_devs
done
use_module "$BOOT_MODULE"
if [ -n "$LI" ]; then
	echo 0 >$LI/events/lock/contention_begin/enable
	rmdir $LI
fi
record '{"kind":"done"}'
log "bench done"
