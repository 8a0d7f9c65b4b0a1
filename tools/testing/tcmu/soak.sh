#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh - make soak: the reliability tests with their full round counts
# (TCMU_SOAK=1, see guest/lib.sh), then one table of what ran.
#
# Usage: soak.sh [LEG...]   LEG: ours (Debian's kernel), debug (ours on
#                           the debug kernel), stock; default: all three
#
#   ours    rel-kill-restart (100 tcmu-ramd and 100 tcmu-runner
#           kill-restart rounds), rel-remove-rounds (60 via configfs, 40
#           via targetcli), rel-devloop (100 devices), rel-fuzz (16)
#   debug   rel-fuzz (100 rounds), rel-devloop, rel-kill-restart,
#           rel-remove-rounds, rel-faults with their debug-kernel counts
#   stock   the ours leg's tests on the stock module
# Results go to results/soak/LEG; the table is results/soak/summary.
# Exits 1 if any test failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=$top/results/soak
legs=("$@")
[ ${#legs[@]} = 0 ] && legs=(ours debug stock)
main_tests=(rel-kill-restart rel-remove-rounds rel-devloop rel-fuzz)
export TCMU_SOAK=1
rc=0

for leg in "${legs[@]}"; do
	case $leg in
	ours) args=(--module ours "${main_tests[@]}") ;;
	stock) args=(--module stock "${main_tests[@]}") ;;
	debug) args=(--kernel debug --module ours "${main_tests[@]}" rel-faults) ;;
	*) echo "soak.sh: unknown leg $leg" >&2; exit 2 ;;
	esac
	rm -rf "${out:?}/$leg"
	"$here/vm.sh" -r "$out/$leg" "${args[@]}" || rc=1
done

# The totals each test logs, per leg.
{
	for leg in "${legs[@]}"; do
		d=$out/$leg
		echo "== $leg: $(tail -n1 "$d/ktap" 2>/dev/null | sed 's/^# //')"
		cat "$d"/rel-*.log 2>/dev/null | grep -Eo \
			'(ramd|runner) kill-restart rounds: .*|removal rounds: .*|devices cycled: .*|fuzz rounds: [0-9]+ .*|corruptions by kind: .*|kernel: .*reports' |
			sed 's/^/   /'
		grep -h '^not ok' "$d/ktap" 2>/dev/null | sed 's/^/   FAILED: /'
	done
} | tee "$out/summary"
exit $rc
