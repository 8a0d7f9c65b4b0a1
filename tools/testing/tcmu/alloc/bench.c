// SPDX-License-Identifier: GPL-2.0
/*
 * Micro-benchmark of the data area allocator (drivers/target/tcmu/data_area.c)
 * against a bitmap allocator like the stock 6.1 driver's, in userspace on the
 * kernel's own lib/xarray.c (see the Makefile: "make bench" builds it -O2
 * with XA_CHUNK_SHIFT 6 as in the kernel, without sanitizers or XA_DEBUG).
 *
 * Allocators, each over the same capacity (default 256K blocks: a 1 GiB data
 * window of 4 KiB blocks):
 *   ours       tcmu_da_alloc()/tcmu_da_free(): a walk down the XArray's
 *              TCMU_DA_FREE marks to the lowest kept-free blocks, then
 *              clearing (setting) the mark of each, which propagates up;
 *   bitmap     one find_first_zero_bit() over the whole bitmap from bit 0
 *              per block, then __set_bit(); free is __clear_bit() (what
 *              stock's tcmu_get_empty_block() does, word-at-a-time scan as
 *              in lib/find_bit.c);
 *   bitmap+xa  the same plus stock's xa_load() of each block's page from
 *              its data_pages XArray (a page is "allocated", i.e. a dummy
 *              entry stored, the first time a block is used).
 *
 * Scenarios (which blocks are in use while the measured command comes
 * and goes; every block of the frag/full areas has memory):
 *   empty      nothing in use; only the blocks the loop takes have memory;
 *   frag       half the blocks in use, chosen at random (seeded);
 *   full-rand  all but 256 blocks in use, the free ones at random;
 *   full-top   all but the top 256 blocks in use (a long-lived workload
 *              that filled the area from the bottom: the bitmap's worst
 *              case, ours is unaffected).
 * Request sizes: 1, 16 and 256 blocks (4 KiB, 64 KiB, 1 MiB commands).
 * A cell is one allocate + free of one request, repeated; the result is
 * ns per allocate+free, median of the repetitions.  Under valgrind
 * (callgrind, --instr-atstart=no), each cell's loop is the only code
 * instrumented and its counts are dumped as "cell:<name>": bench/report.py
 * divides them by the iterations.
 *
 * Both allocators take the lowest free blocks, so they must hand out the
 * same block numbers: checked on each cell's first request (the alloc
 * harness's bench_smoke test runs all of this with tiny counts).
 *
 * Usage: tcmu-alloc-bench [-b BLOCKS] [-i ITERS] [-r REPS] [-t MIN_NS] [-s SEED]
 * Output: "cell<TAB>scenario<TAB>blocks<TAB>alloc<TAB>iters<TAB>ns_per_op".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/xarray.h>

#include "data_area.h"
#include "shim.h"
#include "bench.h"

#if defined(__has_include)
#if __has_include("valgrind/callgrind.h")
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#define CALLGRIND_ZERO_STATS do { } while (0)
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

enum { A_OURS, A_BITMAP, A_BITMAP_XA, A_N };
enum { S_EMPTY, S_FRAG, S_FULL_RAND, S_FULL_TOP, S_N };
static const char *const alg_name[A_N] = { "ours", "bitmap", "bitmap+xa" };
static const char *const scen_name[S_N] = {
	"empty", "frag", "full-rand", "full-top"
};

static const u32 req_sizes[] = { 1, 16, 256 };
#define NFREE_FULL	256
#define MAX_REQ		256

/* ---- the bitmap allocator ------------------------------------------ */

struct bm {
	unsigned long *w;
	u32 nbits;
	bool lookup;		/* bitmap+xa */
	struct xarray pages;	/* block -> dummy page, for bitmap+xa */
};

static uintptr_t sink;

/* First zero bit, a word at a time from bit 0; nbits if none. */
static u32 bm_ffz(const unsigned long *w, u32 nbits)
{
	u32 i, nw = (nbits + BITS_PER_LONG - 1) / BITS_PER_LONG, b;

	for (i = 0; i < nw; i++) {
		if (~w[i]) {
			b = i * BITS_PER_LONG + __builtin_ctzl(~w[i]);
			return b < nbits ? b : nbits;
		}
	}
	return nbits;
}

static void *dummy_page(u32 blk)
{
	return (void *)(((uintptr_t)blk + 1) << 12);
}

static int bm_alloc(struct bm *b, u32 nr, u32 *blks)
{
	u32 i, blk;
	void *p;

	for (i = 0; i < nr; i++) {
		blk = bm_ffz(b->w, b->nbits);
		if (blk >= b->nbits) {
			while (i--)
				__clear_bit(blks[i], b->w);
			return -ENOSPC;
		}
		__set_bit(blk, b->w);
		if (b->lookup) {
			p = xa_load(&b->pages, blk);
			if (!p) {
				p = dummy_page(blk);
				if (xa_err(xa_store(&b->pages, blk, p,
						    GFP_KERNEL)))
					return -ENOMEM;
			}
			sink ^= (uintptr_t)p;
		}
		blks[i] = blk;
	}
	return 0;
}

static void bm_free(struct bm *b, const u32 *blks, u32 nr)
{
	u32 i;

	for (i = 0; i < nr; i++)
		__clear_bit(blks[i], b->w);
}

/* ---- scenarios ----------------------------------------------------- */

static u64 rng;

static u32 rnd(u32 n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (u32)(rng >> 33) % n;
}

/* used[b]: block b is in use during the scenario's measurements. */
static void make_pattern(int s, bool *used, u32 n)
{
	u32 i, k;

	memset(used, 0, n);
	switch (s) {
	case S_EMPTY:
		return;
	case S_FRAG:
		for (i = 0; i < n; i++)
			used[i] = rnd(2);
		return;
	case S_FULL_RAND:
		memset(used, 1, n);
		for (k = 0; k < NFREE_FULL && k < n; ) {
			i = rnd(n);
			if (used[i]) {
				used[i] = false;
				k++;
			}
		}
		return;
	case S_FULL_TOP:
		memset(used, 1, n);
		for (i = n > NFREE_FULL ? n - NFREE_FULL : 0; i < n; i++)
			used[i] = false;
		return;
	}
}

struct cell_state {
	int alg;
	struct tcmu_data_area da;
	struct bm bm;
};

static int cell_alloc(struct cell_state *c, u32 nr, u32 *blks)
{
	if (c->alg == A_OURS)
		return tcmu_da_alloc(&c->da, nr, blks, GFP_KERNEL);
	return bm_alloc(&c->bm, nr, blks);
}

static void cell_free(struct cell_state *c, const u32 *blks, u32 nr)
{
	if (c->alg == A_OURS)
		tcmu_da_free(&c->da, blks, nr);
	else
		bm_free(&c->bm, blks, nr);
}

/* Set up the area of scenario s: every block given memory, then used[]. */
static int cell_setup(struct cell_state *c, int alg, int s, const bool *used,
		      u32 n)
{
	u32 i, chunk, *blks;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->alg = alg;
	if (alg == A_OURS) {
		ret = tcmu_da_init(&c->da, n, n, PAGE_SIZE);
		if (ret || s == S_EMPTY)
			return ret;
		blks = malloc(n * sizeof(*blks));
		if (!blks)
			return -ENOMEM;
		/* all blocks, lowest first: block i is blks[i] */
		for (i = 0; i < n && !ret; i += chunk) {
			chunk = n - i < 4096 ? n - i : 4096;
			ret = tcmu_da_alloc(&c->da, chunk, blks + i, GFP_KERNEL);
		}
		for (i = 0; i < n && !ret; i++) {
			if (blks[i] != i)
				ret = -EINVAL;
			else if (!used[i])
				tcmu_da_free(&c->da, &i, 1);
		}
		free(blks);
		return ret;
	}
	c->bm.nbits = n;
	c->bm.lookup = alg == A_BITMAP_XA;
	c->bm.w = calloc((n + BITS_PER_LONG - 1) / BITS_PER_LONG,
			 sizeof(unsigned long));
	if (!c->bm.w)
		return -ENOMEM;
	xa_init(&c->bm.pages);
	for (i = 0; i < n; i++) {
		if (used[i])
			__set_bit(i, c->bm.w);
		if (c->bm.lookup && s != S_EMPTY &&
		    xa_err(xa_store(&c->bm.pages, i, dummy_page(i), GFP_KERNEL)))
			return -ENOMEM;
	}
	return 0;
}

static void cell_teardown(struct cell_state *c, const bool *used, u32 n)
{
	u32 i;

	if (c->alg == A_OURS) {
		for (i = 0; i < n; i++)
			if (used[i])
				tcmu_da_free(&c->da, &i, 1);
		tcmu_da_destroy(&c->da);
		return;
	}
	xa_destroy(&c->bm.pages);
	free(c->bm.w);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The measured loop: kept out of line, so a profile names it. */
static noinline int cell_loop(struct cell_state *c, u32 nr,
			      u32 *blks, unsigned long iters)
{
	unsigned long k;
	int ret;

	for (k = 0; k < iters; k++) {
		ret = cell_alloc(c, nr, blks);
		if (ret)
			return ret;
		cell_free(c, blks, nr);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * One cell: @nr-block requests on the area @c, set up for scenario @s.
 * The first request's blocks go to @first and must be @ours (for ours,
 * the same array).  Prints the cell's line.  Returns 0 or a negative
 * errno, -EDOM if the blocks differ from ours.
 */
static int cell_run(const struct alloc_bench_opts *o, unsigned int reps,
		    struct cell_state *c, int s, u32 nr, u32 *first,
		    const u32 *ours)
{
	const char *alg = alg_name[c->alg];
	unsigned long iters, k;
	u32 blks[MAX_REQ];
	unsigned int r;
	char name[96];
	u64 t[16], t0;
	int ret;

	/*
	 * The first request: also the warm-up.  now_ns() too: its first
	 * call binds clock_gettime() lazily (~700 instructions in ld.so),
	 * which must not land in the first cell's count under callgrind.
	 */
	now_ns();
	ret = cell_alloc(c, nr, first);
	if (!ret)
		cell_free(c, first, nr);
	if (!ret && memcmp(first, ours, nr * sizeof(u32)))
		ret = -EDOM;
	if (!ret)
		ret = cell_loop(c, nr, blks, 1);
	iters = o->iters;
	if (RUNNING_ON_VALGRIND && !iters)
		iters = 20;
	/* calibrate: double until one run takes min_ns */
	for (k = 1; !ret && !iters; k *= 2) {
		t0 = now_ns();
		ret = cell_loop(c, nr, blks, k);
		if (now_ns() - t0 >= o->min_ns || k >= 1UL << 30)
			iters = k;
	}
	for (r = 0; r < reps && !ret; r++) {
		snprintf(name, sizeof(name), "cell:%s:%u:%s:%lu",
			 scen_name[s], nr, alg, iters);
		if (RUNNING_ON_VALGRIND) {
			CALLGRIND_ZERO_STATS;
			CALLGRIND_START_INSTRUMENTATION;
		}
		t0 = now_ns();
		ret = cell_loop(c, nr, blks, iters);
		t[r] = now_ns() - t0;
		if (RUNNING_ON_VALGRIND) {
			CALLGRIND_STOP_INSTRUMENTATION;
			if (!r)
				CALLGRIND_DUMP_STATS_AT(name);
		}
	}
	if (ret)
		return ret;
	qsort(t, reps, sizeof(t[0]), cmp_u64);
	if (o->out)
		fprintf(o->out, "cell\t%s\t%u\t%s\t%lu\t%.1f\n", scen_name[s],
			nr, alg, iters, (double)t[reps / 2] / iters);
	return 0;
}

bool alloc_bench(const struct alloc_bench_opts *o, char *why, size_t len)
{
	u32 n = o->blocks, nr, first[A_N][MAX_REQ];
	/* under valgrind the counts are exact: one repetition will do */
	unsigned int reps = o->reps && !RUNNING_ON_VALGRIND ? o->reps : 1;
	unsigned int zi;
	bool *used = malloc(n), ok = true;
	struct cell_state c;
	int s, a, ret;

	if (!used || reps > 16) {
		snprintf(why, len, "bad options or no memory");
		free(used);
		return false;
	}
	for (s = 0; s < S_N && ok; s++) {
		rng = o->seed * 2 + 1 + s;
		make_pattern(s, used, n);
		for (a = 0; a < A_N && ok; a++) {
			ret = cell_setup(&c, a, s, used, n);
			if (ret) {
				snprintf(why, len, "%s/%s: setup failed: %d",
					 scen_name[s], alg_name[a], ret);
				ok = false;
				cell_teardown(&c, used, n);
				break;
			}
			for (zi = 0; zi < ARRAY_SIZE(req_sizes) && ok; zi++) {
				nr = req_sizes[zi];
				ret = cell_run(o, reps, &c, s, nr, first[a],
					       first[0]);
				if (ret) {
					snprintf(why, len, "%s/%s/%u: %s (%d)",
						 scen_name[s], alg_name[a], nr,
						 ret == -EDOM ?
						 "blocks differ from ours" :
						 "allocation failed", ret);
					ok = false;
				}
			}
			cell_teardown(&c, used, n);
		}
	}
	free(used);
	if (o->out)
		fflush(o->out);
	return ok;
}

#ifndef ALLOC_BENCH_LIB
int main(int argc, char **argv)
{
	struct alloc_bench_opts o = {
		.blocks = 256 * 1024, .min_ns = 50 * 1000 * 1000, .reps = 5,
		.seed = 1, .out = stdout,
	};
	char why[256];
	bool ok;
	int c;

	while ((c = getopt(argc, argv, "b:i:r:t:s:")) != -1) {
		switch (c) {
		case 'b':
			o.blocks = strtoul(optarg, NULL, 0);
			break;
		case 'i':
			o.iters = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o.reps = strtoul(optarg, NULL, 0);
			break;
		case 't':
			o.min_ns = strtoul(optarg, NULL, 0);
			break;
		case 's':
			o.seed = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-b BLOCKS] [-i ITERS] [-r REPS] [-t MIN_NS] [-s SEED]\n",
				argv[0]);
			return 2;
		}
	}
	if (o.blocks < MAX_REQ + NFREE_FULL) {
		fprintf(stderr, "at least %d blocks\n", MAX_REQ + NFREE_FULL);
		return 2;
	}
	shim_init();
	printf("# tcmu data area allocator bench: %u blocks, XA_CHUNK_SHIFT %d, %s\n",
	       o.blocks, XA_CHUNK_SHIFT,
	       RUNNING_ON_VALGRIND ? "under valgrind" : "native");
	printf("# cell\tscenario\tblocks\talloc\titers\tns_per_op\n");
	ok = alloc_bench(&o, why, sizeof(why));
	shim_exit();
	if (!ok)
		fprintf(stderr, "FAIL: %s\n", why);
	return ok ? 0 : 1;
}
#endif
