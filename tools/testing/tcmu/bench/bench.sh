#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh - "make bench": our target_core_user against Debian's stock one,
# side by side, and the data-area allocator against a bitmap one.
#
#   1. the allocator micro-benchmark (tools/testing/tcmu/alloc, make bench):
#      ns per allocate+free natively, then instruction counts of the same
#      cells under valgrind --tool=callgrind;
#   2. one VM boot running tests/bench.sh: stock and ours alternately
#      (ABBA, TCMU_BENCH_ROUNDS rounds), fio through tcmu-ramd and
#      tcmu-runner's qcow handler, memory per device, many devices, where
#      the time goes.  The guest CPU is "max,-erms": with ERMS the
#      kernel's memcpy and clear_page run as rep movsb/stosb, which QEMU
#      7.2's TCG runs 5-8x slower than rep movsq/stosq, so copies would
#      weigh far more than on hardware.  QEMU loads bench/insn-count.c, a
#      TCG plugin counting the guest kernel's instructions per module
#      page, snapshotted around every fio job (tcmu-mark): instructions
#      per I/O in each module;
#   3. bench/report.py: results/bench/RESULTS.md, summary.json, *.png.
#
# Usage: bench.sh [--quick] [--no-vm] [--no-alloc]
#   --quick     one round, 2 s runs, fewer cells (checks the pipeline)
# BENCH_BASE=<git revision> (make bench BENCH_BASE=...): also build our
# module as it was at that revision, and run it as a third module,
# "base", in the same boot's fio, small and mem1 rounds: the report
# then gives ours/base beside ours/stock (a change's before and after).
# Env: TCMU_BENCH_ROUNDS (10), TCMU_BENCH_RUNTIME (3), TCMU_BENCH_RAMP (1),
#      TCMU_BENCH_INSNS (1; 0: no instruction counts, no plugin),
#      TCMU_BENCH_PARTS ("fio small mem1 burst devs trace"),
#      TCMU_BENCH_DEVS (4096: the most devices the devs part makes),
#      TCMU_BENCH_MEM (2048 MiB of guest RAM), BENCH_OUT (results/bench).
# Host packages beyond make check's: valgrind (instruction counts) and
# gnuplot-nox (plots); installed with apt-get if missing and we are root,
# else that part is skipped with a note.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tcmu=$(cd "$here/.." && pwd)
top=$(cd "$tcmu/../../.." && pwd)
export TCMU_CACHE=${TCMU_CACHE:-$top/.cache}
out=${BENCH_OUT:-$top/results/bench}
quick=0 vm=1 alloc=1
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--no-vm) vm=0 ;;
	--no-alloc) alloc=0 ;;
	*) echo "usage: bench.sh [--quick] [--no-vm] [--no-alloc]" >&2; exit 2 ;;
	esac
done
say() { echo "bench: $*" >&2; }
start=$(date +%s)
mkdir -p "$out"

need() {	# need COMMAND PACKAGE: true if COMMAND is (or could be made) there
	command -v "$1" >/dev/null && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing $2"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends "$2" >/dev/null 2>&1 || true
	fi
	command -v "$1" >/dev/null && return 0
	say "no $1 (apt-get install $2): skipped"
	return 1
}

if [ $quick = 1 ]; then
	export TCMU_BENCH_ROUNDS=${TCMU_BENCH_ROUNDS:-1}
	export TCMU_BENCH_RUNTIME=${TCMU_BENCH_RUNTIME:-2}
	export TCMU_BENCH_RAMP=${TCMU_BENCH_RAMP:-1}
fi
rounds=${TCMU_BENCH_ROUNDS:-10}
export TCMU_BENCH_ROUNDS=$rounds
mem=${TCMU_BENCH_MEM:-2048}
cpu=max,-erms

# 1. the allocator
kernel_dir=$("$top/scripts/fetch-kernel.sh" --source | tail -n1)
ksrc=$kernel_dir/source
if [ $alloc = 1 ]; then
	say "allocator micro-benchmark (native)"
	bargs=()
	[ $quick = 1 ] && bargs=(-r 3 -t 5000000)
	make -s -C "$tcmu/alloc" KSRC="$ksrc" bench BENCH_ARGS="${bargs[*]}" \
		>"$out/alloc-bench.tsv"
	bin=$top/tools/testing/tcmu/build/alloc/bench/tcmu-alloc-bench
	rm -rf "$out/callgrind"
	if need valgrind valgrind; then
		say "allocator micro-benchmark (callgrind instruction counts)"
		mkdir -p "$out/callgrind"
		valgrind --tool=callgrind --instr-atstart=no \
			--callgrind-out-file="$out/callgrind/callgrind.out" \
			"$bin" -i "$([ $quick = 1 ] && echo 5 || echo 20)" \
			>"$out/alloc-callgrind.tsv" 2>"$out/callgrind/valgrind.log" ||
			{ tail -n 20 "$out/callgrind/valgrind.log" >&2; exit 1; }
	fi
fi

# 2. the VM
if [ $vm = 1 ] && [ -n "${BENCH_BASE:-}" ]; then
	base_dir=$out/base-module
	rm -rf "$base_dir"
	mkdir -p "$base_dir"
	say "base module: drivers/target/tcmu at $BENCH_BASE"
	git -C "$top" archive "$BENCH_BASE" drivers/target/tcmu |
		tar -x -C "$base_dir"
	make -s -C "${KDIR:?KDIR not set: run make bench}" \
		M="$base_dir/drivers/target/tcmu" modules >&2
	export TCMU_BASE_KO=$base_dir/drivers/target/tcmu/target_core_user.ko
	base_rev=$(git -C "$top" rev-parse --short "$BENCH_BASE")
fi
vmargs=()
rm -f "$out/insns.txt"
if [ $vm = 1 ] && [ "${TCMU_BENCH_INSNS:-1}" = 1 ]; then
	if api=$("$top/scripts/fetch-qemu-plugin-api.sh" | tail -n1); then
		mkdir -p "$tcmu/build"
		gcc -shared -fPIC -O2 -Wall -Wextra -Werror -I"$api" \
			-o "$tcmu/build/insn-count.so" "$here/insn-count.c"
		vmargs=(--plugin "$tcmu/build/insn-count.so,out=$out/insns.txt")
		export TCMU_BENCH_MARKS=1
	else
		say "no qemu-plugin.h: no instruction counts"
	fi
fi
if [ $vm = 1 ]; then
	say "VM: $rounds rounds of stock and ours${BENCH_BASE:+ and base} (ABBA), ${mem} MiB guest, -cpu $cpu"
	set +e
	"$tcmu/vm.sh" --module ours --mem "$mem" --cpu "$cpu" "${vmargs[@]}" \
		-r "$out/vm" bench
	rc=$?
	set -e
	[ $rc = 0 ] || say "the VM run failed ($rc): the report covers what it got"
fi

# 3. the report
need gnuplot gnuplot-nox || true
secs=$(( $(date +%s) - start ))
cmd="make bench"
[ $quick = 1 ] && cmd="tools/testing/tcmu/bench/bench.sh --quick"
[ -n "${TCMU_BENCH_ROUNDS:-}" ] && [ "$rounds" != 10 ] && cmd="TCMU_BENCH_ROUNDS=$rounds $cmd"
python3 "$here/report.py" --vm "$out/vm/bench.log" --insns "$out/insns.txt" \
	--alloc "$out/alloc-bench.tsv" --callgrind "$out/callgrind" --out "$out" \
	--meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
	--meta "command=$cmd" \
	--meta "host=$(nproc) CPUs, $(awk '/^MemTotal:/ { print int($2 / 1048576) }' /proc/meminfo) GiB, load $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
	--meta "guest=$mem MiB, 2 vCPUs, QEMU $(dpkg-query -W -f '${Version}' qemu-system-x86 2>/dev/null) TCG (no KVM), -cpu $cpu" \
	--meta "handlers=tcmu-ramd (tools/testing/tcmu/handler), tcmu-runner qcow (Debian)" \
	--meta "runtime=${secs} s" \
	${base_rev:+--meta "base=our module at $base_rev ($(git -C "$top" log -1 --format=%s "$base_rev"))"}
say "done in ${secs} s: $out/RESULTS.md"
