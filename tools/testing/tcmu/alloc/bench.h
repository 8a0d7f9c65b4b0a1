/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data area allocator micro-benchmark (bench.c): our XArray-mark search
 * against a bitmap find_first_zero_bit() allocator like the stock driver's.
 */
#ifndef TCMU_ALLOC_BENCH_H
#define TCMU_ALLOC_BENCH_H

#include <stdbool.h>
#include <stdio.h>

struct alloc_bench_opts {
	unsigned int blocks;	/* capacity, blocks (256K: 1 GiB of 4 KiB) */
	unsigned long iters;	/* per cell; 0: calibrate to min_ns */
	unsigned long min_ns;	/* calibration target per repetition */
	unsigned int reps;	/* repetitions per cell, the median is kept */
	unsigned long seed;
	FILE *out;		/* one TSV line per cell; NULL: silent */
};

/*
 * Run every cell (scenario x request size x allocator).  Returns false,
 * with a reason in @why, if the allocators disagree on the blocks they
 * hand out (both take the lowest free blocks) or one fails.
 */
bool alloc_bench(const struct alloc_bench_opts *o, char *why, size_t len);

#endif
