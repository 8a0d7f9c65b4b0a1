#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh check|fuzz BIN COV_BIN O RESULTS RUNS SECONDS: the Makefile's
# check and fuzz targets.
#
# check: replays seeds/ and regress/, then fuzzes from them alone (a fresh
# corpus, libFuzzer seeds from FUZZ_SEED, default 1) for RUNS executions
# or SECONDS, whichever ends first; fuzz: only the latter, from the corpus
# earlier fuzz runs grew, with random seeds and no bound on executions.
# Both run FUZZ_JOBS libFuzzer processes (default: one per CPU) on the
# one corpus.  Both then replay the corpus through the coverage
# build and print the decoder's coverage (llvm-cov, ring_decode.h).  A
# crash's input lands in RESULTS; the last line is "N passed, N failed".
set -uo pipefail

mode=$1 bin=$2 cov=$3 o=$4 results=$5 runs=$6 secs=$7
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../../../drivers/target/tcmu" && pwd)/ring_decode.h
profdata=${LLVM_PROFDATA:-llvm-profdata-14}
llvmcov=${LLVM_COV:-llvm-cov-14}
corpus=$o/corpus
if [ "$mode" = check ]; then
	corpus=$o/check-corpus
	rm -rf "$corpus"
fi
mkdir -p "$results" "$corpus"

pass=0 failed=0
fz_result() {	# PASS|FAIL name [log]
	echo "$1 $2"
	if [ "$1" = PASS ]; then
		pass=$((pass + 1))
	else
		failed=$((failed + 1))
		[ -n "${3:-}" ] &&
			grep -E 'invariant|ERROR|SUMMARY|WARNING|artifact|runtime error' "$3" |
			head -n 20 | sed 's/^/    | /'
	fi
}

inputs=$(ls "$here"/seeds/* "$here"/regress/* 2>/dev/null)
if [ "$mode" = check ]; then
	# shellcheck disable=SC2086
	if "$bin" $inputs >"$o/replay.log" 2>&1; then
		fz_result PASS "fuzz/replay ($(echo "$inputs" | wc -w) seed and regression inputs)"
	else
		fz_result FAIL "fuzz/replay" "$o/replay.log"
	fi
fi

# shellcheck disable=SC2086
cp -n $inputs "$corpus"/ 2>/dev/null
# One libFuzzer per CPU (FUZZ_JOBS), all on the one corpus directory,
# which each rereads for the others' finds; each gets its share of RUNS
# and its own seed (check: FUZZ_SEED, FUZZ_SEED+1, ...: the same inputs
# every run, but not the same inputs twice).
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
first=${FUZZ_SEED:-1}
rm -f "$o"/fuzz.*.log
pids=()
for ((j = 0; j < jobs; j++)); do
	limit=(-max_total_time="$secs")
	[ "$runs" != 0 ] && limit+=(-runs=$(((runs + jobs - 1) / jobs)))
	[ "$mode" = check ] && limit+=(-seed=$((first + j)))
	"$bin" "${limit[@]}" -artifact_prefix="$results/" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -max_len=4096 "$corpus" \
		>"$o/fuzz.$j.log" 2>&1 &
	pids+=($!)
done
# The first worker to fail (a crash) stops the others.
rc=0
for _ in "${pids[@]}"; do
	wait -n && continue
	rc=1
	kill "${pids[@]}" 2>/dev/null
	wait
	break
done
# sum_stat NAME: a final statistic summed over the workers' logs.
sum_stat() {
	cat "$o"/fuzz.*.log | sed -n "s/^stat::$1: *//p" | awk '{ s += $1 } END { print s + 0 }'
}
execs=$(sum_stat number_of_executed_units)
rate=$(sum_stat average_exec_per_sec)
took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$o"/fuzz.*.log |
	sort -n | tail -n1)
what="$execs executions in ${took:-?} s by $jobs workers, $rate/s, corpus $(ls "$corpus" | wc -l)"
if [ $rc = 0 ]; then
	fz_result PASS "fuzz/run ($what)"
	[ "$mode" = check ] && [ "$execs" -lt "$runs" ] &&
		echo "NOTE: fewer than $runs executions in $secs s: a slow machine"
else
	bad=$(grep -l -E 'ERROR|invariant|runtime error|artifact' "$o"/fuzz.*.log | head -n1)
	fz_result FAIL "fuzz/run ($what; input in $results)" "${bad:-$o/fuzz.0.log}"
fi

# The decoder's coverage by the corpus, from the coverage build: one
# result line with the totals of llvm-cov's report for ring_decode.h.
rm -f "$o"/cov/*.profraw
LLVM_PROFILE_FILE="$o/cov/%p.profraw" "$cov" -runs=0 "$corpus" >"$o/cov.log" 2>&1
if "$profdata" merge -sparse "$o"/cov/*.profraw -o "$o/cov/fuzz.profdata" 2>>"$o/cov.log" &&
   "$llvmcov" report "$cov" -instr-profile="$o/cov/fuzz.profdata" "$src" \
	>"$o/cov-report.txt" 2>>"$o/cov.log"; then
	# TOTAL regions missed % functions missed % lines missed % branches missed %
	read -r reg lin bra < <(awk '/^TOTAL/ { print $4, $10, $13 }' "$o/cov-report.txt")
	fz_result PASS "fuzz/coverage (ring_decode.h: lines $lin, branches $bra, regions $reg)"
else
	fz_result FAIL "fuzz/coverage (no llvm-cov report)" "$o/cov.log"
fi

echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
