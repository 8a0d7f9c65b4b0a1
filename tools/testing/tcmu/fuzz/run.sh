#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh check|fuzz BIN COV_BIN O RESULTS RUNS SECONDS: the Makefile's
# check and fuzz targets.
#
# check: replays seeds/ and regress/, then fuzzes from them alone (a fresh
# corpus, libFuzzer seed FUZZ_SEED, default 1: every check run tries the
# same inputs) for RUNS executions or SECONDS, whichever ends first; fuzz:
# only the latter, from the corpus earlier fuzz runs grew, with a random
# seed and no bound on executions.  Both then replay the corpus through the coverage
# build and print the decoder's coverage (llvm-cov, ring_decode.h).  A
# crash's input lands in RESULTS; the last line is "N passed, N failed".
set -uo pipefail

mode=$1 bin=$2 cov=$3 o=$4 results=$5 runs=$6 secs=$7
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../../../drivers/target/tcmu" && pwd)/ring_decode.h
profdata=${LLVM_PROFDATA:-llvm-profdata-14}
llvmcov=${LLVM_COV:-llvm-cov-14}
corpus=$o/corpus
seed=()
if [ "$mode" = check ]; then
	corpus=$o/check-corpus
	rm -rf "$corpus"
	seed=(-seed="${FUZZ_SEED:-1}")
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
limit=(-max_total_time="$secs" "${seed[@]}")
[ "$runs" != 0 ] && limit+=(-runs="$runs")
"$bin" "${limit[@]}" -artifact_prefix="$results/" -print_final_stats=1 \
	-timeout=10 -rss_limit_mb=2048 -max_len=4096 "$corpus" >"$o/fuzz.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$o/fuzz.log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$o/fuzz.log")
took=$(sed -n 's/^stat::.*//; s/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$o/fuzz.log")
what="${execs:-?} executions in ${took:-?} s, ${rate:-?}/s, corpus $(ls "$corpus" | wc -l)"
if [ $rc = 0 ]; then
	fz_result PASS "fuzz/run ($what)"
	[ "$mode" = check ] && [ "${execs:-0}" -lt "$runs" ] &&
		echo "NOTE: fewer than $runs executions in $secs s: a slow machine"
else
	fz_result FAIL "fuzz/run ($what; input in $results)" "$o/fuzz.log"
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
