#!/bin/bash
# tcmu-test: benchmark (by hand): tcmu-runner's qcow handler on stock and ours in one boot, with the handler's page faults and context switches per I/O
# timeout: 1800
# modules: ours
# default: no
#
# Not in make check or make bench: a diagnostic for "is tcmu-runner doing
# more work per I/O with one module than with the other?".  One boot;
# use_module swaps the module between visits (stock, ours, stock, ours).
# Each visit: tcmu-runner, a qcow LUN (configfs, hw_max_sectors 2048), and
# fio 4k randwrite/randread QD1, 4k randwrite QD32 and 1M write QD64
# twice (the first run makes the data pages, the second reuses them).
# Per job one line "RES module job iops p50 p90 | runner/io: ..." with
# tcmu-runner's minor/major faults and voluntary/involuntary context
# switches (all threads) per I/O, and the system's page faults per I/O.
# The counters cover fio's 1 s ramp too; fio's I/O count does not.
#   TCMU_BENCH_RUNTIME=8 tools/testing/tcmu/vm.sh bench-runner
. /tcmu/lib.sh

rt=${TCMU_BENCH_RUNTIME:-8}
img=$TCMU_DATA/runner.qcow2
n_wwn=0

# "minflt majflt voluntary involuntary" of tcmu-runner, threads summed
runner_counts() {
	local p
	p=$(pgrep -x tcmu-runner) || fail "tcmu-runner is gone"
	awk '{ printf "%s %s ", $10, $12 }' /proc/"$p"/stat
	cat /proc/"$p"/task/*/status | awk '/^voluntary_ctxt/ { v += $2 }
		/^nonvoluntary_ctxt/ { n += $2 } END { print v, n }'
}
pgfaults() { awk '/^pgfault / { print $2 }' /proc/vmstat; }

job() {	# NAME FIO-ARGS...
	local name=$1 a b f0 f1
	shift
	a=$(runner_counts) f0=$(pgfaults)
	fio --name="$name" --filename="$disk" --direct=1 --ioengine=libaio \
		--time_based --runtime="$rt" --ramp_time=1 --size=128M \
		--randrepeat=1 --norandommap --output-format=json \
		--output=/tmp/fio.json "$@" >/tmp/fio.err 2>&1 ||
		{ cat /tmp/fio.err; fail "fio $name failed on $MODULE"; }
	b=$(runner_counts) f1=$(pgfaults)
	python3 - "$MODULE" "$name" "$a" "$b" $((f1 - f0)) <<'PY' || fail "no fio result"
import json, sys
j = json.load(open("/tmp/fio.json"))["jobs"][0]
s = j["read"] if j["read"]["total_ios"] else j["write"]
pct = s["clat_ns"]["percentile"]
a = [int(x) for x in sys.argv[3].split()]
b = [int(x) for x in sys.argv[4].split()]
n = s["total_ios"] or 1
print("RES %s %s iops=%.0f p50=%.0fus p90=%.0fus | runner/io: minflt=%.3f "
      "majflt=%d vcsw=%.2f ivcsw=%.2f | system pgfault/io=%.2f"
      % (sys.argv[1], sys.argv[2], s["iops"], pct["50.000000"] / 1000,
         pct["90.000000"] / 1000, (b[0] - a[0]) / n, b[1] - a[1],
         (b[2] - a[2]) / n, (b[3] - a[3]) / n, int(sys.argv[5]) / n))
PY
}

mkdir -p "$TCMU_DATA"
make_qcow "$img" 128M
for m in stock ours stock ours; do
	use_module $m
	start_runner
	dev=$(qcow_dev 9 qr0 "$img" $((128 << 20)) hw_max_sectors=2048) || exit 1
	n_wwn=$((n_wwn + 1))
	disk=$(loop_lun "$(printf 'naa.50014050000c%04x' $n_wwn)" "$dev") || exit 1
	if [ ! -e /tmp/runner-prefilled ]; then
		fio --name=prefill --filename="$disk" --direct=1 --ioengine=libaio \
			--rw=write --bs=1M --iodepth=16 >/tmp/fio.err 2>&1 ||
			{ cat /tmp/fio.err; fail "prefill failed"; }
		touch /tmp/runner-prefilled
	fi
	job rw4k-qd1 --rw=randwrite --bs=4k --iodepth=1
	job rr4k-qd1 --rw=randread --bs=4k --iodepth=1
	job rw4k-qd32 --rw=randwrite --bs=4k --iodepth=32
	job sw1m-qd64 --rw=write --bs=1M --iodepth=64
	job sw1m-qd64-again --rw=write --bs=1M --iodepth=64
	lio_cleanup
	rmdir "$CFS"/core/user_9 2>/dev/null
	stop_runner
done
use_module "$BOOT_MODULE"
log "ok"
