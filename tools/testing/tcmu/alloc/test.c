// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the TCMU data area allocator (drivers/target/tcmu/data_area.c)
 * in userspace, against the kernel's own lib/xarray.c built with
 * XA_CHUNK_SHIFT 3 (8 slots a node: a few dozen blocks already make a tree
 * of several levels), XA_DEBUG, ASan and UBSan.  See the Makefile.
 *
 * Tests:
 *  init_args        tcmu_da_init() argument checks; an empty area has no
 *                   memory, no entries and everything available.
 *  alloc_empty      blocks come lowest first from an empty area, with new
 *                   zeroed pages (the page shim poisons unzeroed memory).
 *  reuse_order      freed blocks keep their memory and are taken again
 *                   before never-touched ones, lowest number first.
 *  enospc           asking for more than is available below the limit
 *                   fails with -ENOSPC, allocates nothing, changes nothing.
 *  enomem_page      -ENOMEM on the k-th page allocation, for every k,
 *                   rolls back completely (entries, marks, counters,
 *                   pages); the same request then succeeds as if the
 *                   failure never happened.
 *  enomem_node      the same with an XArray node allocation failing.
 *  reclaim_order    reclaim goes highest block first, keeps @keep_free,
 *                   never touches blocks in use, calls zap once for
 *                   each run of adjacent blocks while their memory
 *                   still exists.
 *  reclaim_windows  the same across many reclaim scan windows.
 *  stats            page counters with multi-page blocks; a kept-free
 *                   block keeps the data of all its pages.
 *  bad_free         freeing a block not in use (again, never allocated,
 *                   past the limit or past max) warns and changes
 *                   nothing; a block twice in one call is freed once.
 *  mark_propagation in a large sparse array (5 node levels), a block freed
 *                   deep in it is found by a marked search from 0, and
 *                   alloc reuses it rather than touching block 0.
 *  multipage_pages  blocks of 8 pages: every page of a block is there
 *                   through tcmu_da_page(), zeroed, page aligned, distinct
 *                   from every other page of the area; an index past the
 *                   block gives NULL and one warning; reclaim frees all 8
 *                   pages of each block it gives back, none of the others.
 *  enomem_midblock  -ENOMEM on each page allocation of 3 new 4-page blocks
 *                   (a block's later pages too), then on each XArray node
 *                   allocation (new nodes in da.blocks and da.pages),
 *                   rolls back completely (both arrays, counters, pages)
 *                   and makes no page allocation after the failing one.
 *  big_block        blocks of 1024 pages (4 MiB, the old alloc_pages_exact()
 *                   cap) and of 4096 (16 MiB) are allocated, reused,
 *                   reclaimed, every page of them zeroed and distinct.
 *  random           a long seeded random sequence of alloc (some with an
 *                   injected failure of any page of a new block or of a
 *                   node allocation), free and reclaim, with a random
 *                   limit, for blocks of 1, 3 and 8 pages, checked after every
 *                   op against a plain array model: the set of entries,
 *                   their first pages, the low bitmaps below
 *                   TCMU_DA_LOW_BLOCKS and the free mark of each block
 *                   above, marked walks, xa_marked() and xa_find(), the
 *                   blocks each
 *                   alloc returns and every page of them (zeroed when new,
 *                   the same pages and data when reused), the zap order
 *                   of each reclaim, one zap call per run of adjacent
 *                   blocks, every page still there in zap and gone after,
 *                   every counter and the number of live pages; every
 *                   entry of da.pages after each failed alloc and every
 *                   64 ops.
 *  bench_smoke      the allocator micro-benchmark (bench.c, "make bench")
 *                   with tiny counts on a small area, so it cannot rot:
 *                   every cell runs, our allocator and the bitmap one
 *                   hand out the same blocks, all memory comes back.
 *                   Nothing about speed is checked.
 *
 * Every test ends by destroying its data area and checking that no page
 * is left; ASan's leak check at exit covers the XArray nodes.  Any
 * warning a test does not expect, and any misuse the shim sees
 * (__free_page() of NULL or of a page not from alloc_page(), __GFP_ZERO on
 * the node slab), fails the test.
 *
 * Usage: tcmu-alloc-test [TEST...] runs the named tests (default: all).
 * Output: "PASS: name" or "FAIL: name: why" per test, then
 * "N passed, N failed"; the exit status is non-zero on any failure.
 * Environment: TCMU_ALLOC_SEED (default: from the clock, always printed)
 * and TCMU_ALLOC_OPS (default 100000 per block size) for the random test.
 */
#include <errno.h>
#include <setjmp.h>
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

#define GFP_IO	(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN)
#define PG	PAGE_SIZE

/* ---- test framework ------------------------------------------------ */

static char why[512];
static bool failed;
static jmp_buf fail_jmp;	/* where run() resumes after a failed check */
static unsigned long expected_warnings;

static struct tcmu_data_area da;
static bool da_live;

/* A check failed: the test ends, run() resumes. */
static __noreturn void test_fail(void)
{
	failed = true;
	longjmp(fail_jmp, 1);
}

/* On failure, keeps the first failure's line and reason and ends the test. */
#define CHECK(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		if (!failed)						\
			snprintf(why, sizeof(why), "line %d: " fmt,	\
				 __LINE__, ##__VA_ARGS__);		\
		test_fail();						\
	}								\
} while (0)

/* The low bitmaps have a bit for @blk. */
static bool in_low(u32 blk)
{
	return blk < TCMU_DA_LOW_BLOCKS && BIT_WORD(blk) < da.low_nwords;
}

/* Kept free: its low bitmap bit below TCMU_DA_LOW_BLOCKS, else its mark. */
static bool is_free(u32 blk)
{
	if (blk < TCMU_DA_LOW_BLOCKS)
		return in_low(blk) && test_bit(blk, da.low_free);
	return xa_get_mark(&da.blocks, blk, TCMU_DA_FREE);
}

/* Some block is kept free. */
static bool any_free(void)
{
	unsigned long bits = da.low_nwords * BITS_PER_LONG;

	return find_first_bit(da.low_free, bits) < bits ||
	       xa_marked(&da.blocks, TCMU_DA_FREE);
}

static void init(u32 max, u32 limit, u32 blk_size)
{
	int ret = tcmu_da_init(&da, max, limit, blk_size);

	CHECK(!ret, "tcmu_da_init(%u, %u, %u) = %d", max, limit, blk_size,
	      ret);
	da_live = true;
}

/* Free whatever is still in use, destroy, check all memory came back. */
static void teardown(void)
{
	unsigned long idx;
	void *entry;
	u32 blk;

	if (!da_live)
		return;
	xa_for_each(&da.blocks, idx, entry) {
		if (!is_free(idx)) {
			blk = idx;
			tcmu_da_free(&da, &blk, 1);
		}
	}
	tcmu_da_destroy(&da);
	da_live = false;
	CHECK(xa_empty(&da.blocks) && xa_empty(&da.pages),
	      "entries left after destroy");
	CHECK(shim.pages_live == 0, "%ld pages leaked", shim.pages_live);
	CHECK(!shim.kmallocs_live, "%ld kmalloc()s leaked", shim.kmallocs_live);
}

static int npass, nfail;

static void run(const char *name, void (*fn)(void))
{
	unsigned long warn0 = shim_warnings, err0 = shim.errors;
	bool ok;

	failed = false;
	why[0] = 0;
	expected_warnings = 0;
	shim_no_failures();
	if (!setjmp(fail_jmp))
		fn();
	if (!setjmp(fail_jmp))
		teardown();
	ok = !failed;
	if (ok && shim.errors != err0) {
		snprintf(why, sizeof(why), "shim saw %lu misuse(s)",
			 shim.errors - err0);
		ok = false;
	}
	if (ok && shim_warnings - warn0 != expected_warnings) {
		snprintf(why, sizeof(why), "%lu warning(s), expected %lu",
			 shim_warnings - warn0, expected_warnings);
		ok = false;
	}
	if (ok) {
		printf("PASS: %s\n", name);
		npass++;
	} else {
		printf("FAIL: %s: %s\n", name, why);
		nfail++;
	}
	fflush(stdout);
}

/* ---- helpers ------------------------------------------------------- */

/* Every one of the @n bytes at @p is @c (@n >= 1). */
static bool all_bytes(const void *p, int c, size_t n)
{
	const unsigned char *b = p;

	/* Each byte equals the next and the first is @c: memcmp() is fast. */
	return b[0] == (unsigned char)c && !memcmp(b, b + 1, n - 1);
}

/* Pages per block of the area under test. */
static u32 ppb(void)
{
	return da.blk_size / PG;
}

/* Memory of page @idx of block @blk, or NULL if the block has none. */
static void *blk_addr(u32 blk, u32 idx)
{
	struct page *page = tcmu_da_page(&da, blk, idx);

	return page ? page_address(page) : NULL;
}

/* Every page of @blk is there. */
static bool blk_present(u32 blk)
{
	u32 i;

	for (i = 0; i < ppb(); i++)
		if (!tcmu_da_page(&da, blk, i))
			return false;
	return true;
}

/* No page of @blk is there. */
static bool blk_absent(u32 blk)
{
	u32 i;

	for (i = 0; i < ppb(); i++)
		if (tcmu_da_page(&da, blk, i))
			return false;
	return true;
}

/* Every page of @blk is there and holds only @c. */
static bool blk_all_bytes(u32 blk, int c)
{
	void *p;
	u32 i;

	for (i = 0; i < ppb(); i++) {
		p = blk_addr(blk, i);
		if (!p || !all_bytes(p, c, PG))
			return false;
	}
	return true;
}

/* Fill every page of @blk (all there) with @c. */
static void blk_fill(u32 blk, int c)
{
	u32 i;

	for (i = 0; i < ppb(); i++)
		memset(blk_addr(blk, i), c, PG);
}

static unsigned long xa_count(struct xarray *xa)
{
	unsigned long idx, n = 0;
	void *entry;

	xa_for_each(xa, idx, entry)
		n++;
	return n;
}

static void alloc_expect(u32 nr, const u32 *want)
{
	u32 got[64];
	u32 i;
	int ret;

	ret = tcmu_da_alloc(&da, nr, got, GFP_IO);
	CHECK(!ret, "alloc(%u) = %d", nr, ret);
	for (i = 0; i < nr; i++)
		CHECK(got[i] == want[i], "alloc(%u): blks[%u] = %u, want %u",
		      nr, i, got[i], want[i]);
	for (i = 0; i < nr; i++)
		CHECK(blk_present(got[i]) && !is_free(got[i]),
		      "block %u not in use after alloc", got[i]);
}

static void alloc_range(u32 first, u32 nr)
{
	u32 want[64], i;

	for (i = 0; i < nr; i++)
		want[i] = first + i;
	alloc_expect(nr, want);
}

static void free_list(const u32 *blks, u32 nr)
{
	tcmu_da_free(&da, blks, nr);
}

static void free_range(u32 first, u32 nr)
{
	while (nr--) {
		tcmu_da_free(&da, &first, 1);
		first++;
	}
}

static void stats_expect(unsigned long long alloc,
			 unsigned long long in_use, unsigned long long free,
			 unsigned long long peak, unsigned long long reclaimed)
{
	struct tcmu_da_stats st;

	tcmu_da_get_stats(&da, &st);
	CHECK(st.pages_allocated == alloc && st.pages_in_use == in_use &&
	      st.pages_free == free && st.pages_peak == peak &&
	      st.pages_reclaimed == reclaimed,
	      "stats alloc %llu use %llu free %llu peak %llu recl %llu, want %llu %llu %llu %llu %llu",
	      (unsigned long long)st.pages_allocated,
	      (unsigned long long)st.pages_in_use,
	      (unsigned long long)st.pages_free,
	      (unsigned long long)st.pages_peak,
	      (unsigned long long)st.pages_reclaimed,
	      alloc, in_use, free, peak, reclaimed);
	CHECK((u64)shim.pages_live == st.pages_allocated,
	      "%ld pages live in the page shim, stats say %llu",
	      shim.pages_live, (unsigned long long)st.pages_allocated);
}

/*
 * A full picture of the data area, to prove an operation changed nothing:
 * the entries of da.blocks (first pages) with their marks, the entries of
 * da.pages (the other pages), counters.
 */
struct snap {
	u32 n, np;
	unsigned long idx[512];
	void *addr[512];
	bool free[512];
	unsigned long pidx[2048];
	void *page[2048];
	struct tcmu_da_stats st;
	u32 avail;
	long pages_live;
};

static void take_snap(struct snap *s)
{
	unsigned long idx;
	void *entry;

	s->n = 0;
	xa_for_each(&da.blocks, idx, entry) {
		CHECK(s->n < 512, "snapshot too large");
		s->idx[s->n] = idx;
		s->addr[s->n] = entry;
		s->free[s->n] = is_free(idx);
		s->n++;
	}
	s->np = 0;
	xa_for_each(&da.pages, idx, entry) {
		CHECK(s->np < 2048, "snapshot too large");
		s->pidx[s->np] = idx;
		s->page[s->np] = entry;
		s->np++;
	}
	tcmu_da_get_stats(&da, &s->st);
	s->avail = tcmu_da_avail(&da);
	s->pages_live = shim.pages_live;
}

static void same_snap(const struct snap *a)
{
	static struct snap b;
	u32 i;

	take_snap(&b);
	CHECK(a->n == b.n, "%u entries, were %u", b.n, a->n);
	for (i = 0; i < a->n; i++)
		CHECK(a->idx[i] == b.idx[i] && a->addr[i] == b.addr[i] &&
		      a->free[i] == b.free[i],
		      "entry %lu/%lu changed (free %d, was %d)", b.idx[i],
		      a->idx[i], b.free[i], a->free[i]);
	CHECK(a->np == b.np, "%u entries in da.pages, were %u", b.np, a->np);
	for (i = 0; i < a->np; i++)
		CHECK(a->pidx[i] == b.pidx[i] && a->page[i] == b.page[i],
		      "da.pages entry %lu/%lu changed", b.pidx[i],
		      a->pidx[i]);
	CHECK(!memcmp(&a->st, &b.st, sizeof(a->st)), "stats changed");
	CHECK(a->avail == b.avail, "avail %u, was %u", b.avail, a->avail);
	CHECK(a->pages_live == b.pages_live, "%ld pages live, were %ld",
	      b.pages_live, a->pages_live);
}

/*
 * zap callback of the directed tests: records each block of the run,
 * highest first (reclaim's order), and checks the memory of every page.
 */
static struct {
	u32 n;
	u32 blk[2048];
	u32 runs;	/* zap calls */
	bool bad;
	unsigned long sum;
} zaps;

static void zap_rec(void *priv, u32 first, u32 nr)
{
	u32 blk, i;
	void *addr;

	(void)priv;
	zaps.runs++;
	if (!nr)
		zaps.bad = true;
	for (blk = first + nr; blk-- > first; ) {
		/* Still an entry, still kept free. */
		if (!is_free(blk) || zaps.n >= 2048) {
			zaps.bad = true;
			return;
		}
		for (i = 0; i < ppb(); i++) {
			addr = blk_addr(blk, i);
			if (!addr) {
				zaps.bad = true;
				return;
			}
			/* Still there: ASan reports a use after free else. */
			zaps.sum += READ_ONCE(*(unsigned char *)addr);
		}
		zaps.blk[zaps.n++] = blk;
	}
}

/* How many maximal runs of adjacent blocks the descending list @b has. */
static u32 runs_of(const u32 *b, u32 n)
{
	u32 i, runs = 0;

	for (i = 0; i < n; i++)
		if (!i || b[i] + 1 != b[i - 1])
			runs++;
	return runs;
}

static void zaps_expect(const u32 *want, u32 n)
{
	u32 i;

	CHECK(!zaps.bad, "zap called for a block without memory or in use");
	CHECK(zaps.n == n, "%u blocks zapped, want %u", zaps.n, n);
	for (i = 0; i < n; i++)
		CHECK(zaps.blk[i] == want[i], "zap %u: block %u, want %u",
		      i, zaps.blk[i], want[i]);
	CHECK(zaps.runs == runs_of(want, n),
	      "%u zap calls for %u runs of adjacent blocks", zaps.runs,
	      runs_of(want, n));
	zaps.n = 0;
	zaps.runs = 0;
}

/* ---- directed tests ------------------------------------------------ */

static void t_init_args(void)
{
	static const u32 bad[][3] = {
		{ 0, 0, PG }, { 1, 0, PG }, { 4, 5, PG }, { 4, 4, 0 },
		{ 4, 4, 1000 }, { 4, 4, PG + 512 },
	};
	unsigned long calls = shim.page_calls;
	u32 i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(tcmu_da_init(&da, bad[i][0], bad[i][1], bad[i][2]) ==
		      -EINVAL, "init(%u, %u, %u) accepted", bad[i][0],
		      bad[i][1], bad[i][2]);
	CHECK(!shim.kmallocs_live, "a refused init kept its bitmaps");
	shim.kmalloc_fails = true;
	CHECK(tcmu_da_init(&da, 4, 4, PG) == -ENOMEM, "init without memory");
	shim.kmalloc_fails = false;
	init(4, 3, 2 * PG);
	CHECK(tcmu_da_avail(&da) == 3, "avail %u", tcmu_da_avail(&da));
	CHECK(xa_empty(&da.blocks) && xa_empty(&da.pages),
	      "entries in a new area");
	CHECK(blk_absent(0), "block 0 has memory");
	CHECK(shim.page_calls == calls, "init allocated block memory");
	stats_expect(0, 0, 0, 0, 0);
	CHECK(tcmu_da_reclaim(&da, 0, zap_rec, NULL) == 0 && !zaps.n,
	      "reclaim of an empty area did something");
}

static void t_alloc_empty(void)
{
	unsigned long calls;
	void *addr[8];
	u32 i, j;

	init(64, 64, PG);
	alloc_range(0, 5);
	for (i = 0; i < 5; i++) {
		addr[i] = blk_addr(i, 0);
		CHECK(!((unsigned long)addr[i] & ~PAGE_MASK),
		      "block %u memory not page aligned", i);
		CHECK(all_bytes(addr[i], 0, PG), "block %u not zeroed", i);
		for (j = 0; j < i; j++)
			CHECK(addr[i] != addr[j], "blocks %u, %u share memory",
			      i, j);
	}
	CHECK(blk_absent(5), "block 5 has memory");
	CHECK(xa_empty(&da.pages), "pages of one-page blocks in da.pages");
	CHECK(!any_free(), "free mark set");
	CHECK(tcmu_da_avail(&da) == 59, "avail %u", tcmu_da_avail(&da));
	stats_expect(5, 5, 0, 5, 0);

	calls = shim.page_calls;
	CHECK(tcmu_da_alloc(&da, 0, NULL, GFP_IO) == 0, "alloc(0) failed");
	CHECK(shim.page_calls == calls, "alloc(0) allocated memory");
	alloc_range(5, 3);
	stats_expect(8, 8, 0, 8, 0);
}

static void t_reuse_order(void)
{
	static const u32 fr[] = { 7, 3, 5 };
	static const u32 w1[] = { 3, 5, 7, 10, 11 };
	static const u32 w2[] = { 0, 1 };
	static const u32 w3[] = { 2, 10, 12 };
	void *addr[16];
	u32 i;

	init(64, 64, PG);
	alloc_range(0, 10);
	for (i = 0; i < 10; i++) {
		addr[i] = blk_addr(i, 0);
		memset(addr[i], 'a' + i, PG);
	}
	free_list(fr, 3);
	for (i = 0; i < 10; i++)
		CHECK(is_free(i) == (i == 3 || i == 5 || i == 7),
		      "block %u free mark %d", i, is_free(i));
	stats_expect(10, 7, 3, 10, 0);
	CHECK(tcmu_da_avail(&da) == 57, "avail %u", tcmu_da_avail(&da));

	alloc_expect(5, w1);
	for (i = 3; i <= 7; i += 2) {
		CHECK(blk_addr(i, 0) == addr[i],
		      "reused block %u got new memory", i);
		CHECK(all_bytes(addr[i], 'a' + i, PG),
		      "reused block %u lost its data", i);
	}
	CHECK(blk_all_bytes(10, 0), "new block 10 not zeroed");
	stats_expect(12, 12, 0, 12, 0);

	free_range(0, 3);
	free_range(10, 1);
	alloc_expect(2, w2);
	alloc_expect(3, w3);
	stats_expect(13, 13, 0, 13, 0);
}

static void t_enospc(void)
{
	static const u32 fr[] = { 2, 4 };
	static const u32 w[] = { 2, 4, 10, 11 };
	static struct snap s;
	unsigned long calls;
	u32 blks[8];

	init(16, 12, PG);
	alloc_range(0, 10);
	free_list(fr, 2);
	CHECK(tcmu_da_avail(&da) == 4, "avail %u", tcmu_da_avail(&da));
	take_snap(&s);
	calls = shim.page_calls;
	CHECK(tcmu_da_alloc(&da, 5, blks, GFP_IO) == -ENOSPC,
	      "alloc(5) with 4 available did not fail with -ENOSPC");
	CHECK(shim.page_calls == calls, "-ENOSPC alloc allocated memory");
	same_snap(&s);
	alloc_expect(4, w);
	CHECK(tcmu_da_avail(&da) == 0, "avail %u", tcmu_da_avail(&da));
	take_snap(&s);
	CHECK(tcmu_da_alloc(&da, 1, blks, GFP_IO) == -ENOSPC,
	      "alloc(1) of a full area did not fail with -ENOSPC");
	same_snap(&s);
}

static void t_enomem_page(void)
{
	static const u32 fr[] = { 1, 3 };
	static const u32 w[] = { 1, 3, 6, 7, 8, 9 };
	static struct snap s;
	u32 blks[8], k;
	int ret;

	/* 2 blocks reused + 4 new: page allocation 1..4 fails in turn. */
	for (k = 1; k <= 4; k++) {
		init(64, 64, PG);
		alloc_range(0, 6);
		free_list(fr, 2);
		take_snap(&s);
		shim_fail_page_in(k);
		ret = tcmu_da_alloc(&da, 6, blks, GFP_IO);
		shim_no_failures();
		CHECK(ret == -ENOMEM, "page %u failing: alloc = %d", k, ret);
		same_snap(&s);
		alloc_expect(6, w);
		stats_expect(10, 10, 0, 10, 0);
		teardown();
	}
}

static void t_enomem_node(void)
{
	static struct snap s;
	const u32 base = XA_CHUNK_SIZE - 2;
	u32 blks[8], want[4], i, k, n = 0;
	unsigned long calls;
	int ret;

	/*
	 * Blocks 0..base-1 fit in one node; base+2 needs a new root and a
	 * new leaf.  Non-blocking node allocations fail, so each node costs
	 * one blocking allocation: fail the k-th of those.
	 */
	for (i = 0; i < 4; i++)
		want[i] = base + i;
	for (k = 1; ; k++) {
		init(4 * XA_CHUNK_SIZE, 4 * XA_CHUNK_SIZE, PG);
		for (i = 0; i < base; i += 32)
			alloc_range(i, base - i < 32 ? base - i : 32);
		take_snap(&s);
		calls = shim.node_calls;
		shim.nowait_fails = true;
		shim_fail_node_in(k);
		ret = tcmu_da_alloc(&da, 4, blks, GFP_IO);
		shim_no_failures();
		if (!ret) {
			/* k is past the last node allocation: done. */
			CHECK(!memcmp(blks, want, sizeof(want)), "wrong blocks");
			break;
		}
		CHECK(ret == -ENOMEM, "node %u failing: alloc = %d", k, ret);
		CHECK(shim.node_calls > calls, "no node allocation seen");
		same_snap(&s);
		alloc_expect(4, want);
		teardown();
		n++;
	}
	CHECK(n >= 2, "only %u node allocation(s) could be failed", n);
}

static void t_reclaim_order(void)
{
	static const u32 z1[] = { 18, 16, 14, 12, 10, 8, 6 };
	static const u32 z2[] = { 4, 2, 0 };
	struct page *odd[10];
	u32 i;

	init(64, 64, PG);
	alloc_range(0, 20);
	for (i = 0; i < 10; i++) {
		odd[i] = tcmu_da_page(&da, 2 * i + 1, 0);
		free_range(2 * i, 1);
	}
	CHECK(tcmu_da_reclaim(&da, 3, zap_rec, NULL) == 7, "reclaim(3)");
	zaps_expect(z1, 7);
	for (i = 0; i < 20; i++) {
		if (i & 1)
			CHECK(tcmu_da_page(&da, i, 0) == odd[i / 2] &&
			      !is_free(i), "in-use block %u touched", i);
		else if (i < 6)
			CHECK(blk_present(i) && is_free(i),
			      "kept-free block %u reclaimed", i);
		else
			CHECK(blk_absent(i), "block %u not reclaimed", i);
	}
	stats_expect(13, 10, 3, 20, 7);
	CHECK(tcmu_da_reclaim(&da, 3, zap_rec, NULL) == 0 && !zaps.n,
	      "second reclaim(3) did something");
	CHECK(tcmu_da_reclaim(&da, 0, zap_rec, NULL) == 3, "reclaim(0)");
	zaps_expect(z2, 3);
	CHECK(!any_free(), "free mark left");
	CHECK(tcmu_da_reclaim(&da, 0, NULL, NULL) == 0, "reclaim, all in use");
	stats_expect(10, 10, 0, 20, 10);
}

static void t_reclaim_windows(void)
{
	static u32 want[2048];
	u32 i, n = 0, nfree = 0, blks[64];

	init(4096, 4096, PG);
	for (i = 0; i < 1500; i += 50)
		alloc_range(i, 50);
	/* Free all but every 7th block: 1285 free, spread over windows. */
	for (i = 0; i < 1500; i++) {
		if (i % 7) {
			free_range(i, 1);
			nfree++;
		}
	}
	for (i = 1500; i-- > 0 && n < nfree - 10; )
		if (i % 7)
			want[n++] = i;
	CHECK(tcmu_da_reclaim(&da, 10, zap_rec, NULL) == n, "reclaim(10)");
	zaps_expect(want, n);
	/* The 10 kept are the lowest free ones and are reused first. */
	CHECK(tcmu_da_alloc(&da, 12, blks, GFP_IO) == 0, "alloc");
	for (i = 0, n = 1; i < 10; i++, n++) {
		if (!(n % 7))
			n++;
		CHECK(blks[i] == n, "blks[%u] = %u, want %u", i, blks[i], n);
	}
	CHECK(blks[10] == 12 && blks[11] == 13, "new blocks %u %u",
	      blks[10], blks[11]);
}

static void t_stats(void)
{
	static const u32 one = 1;

	init(16, 16, 4 * PG);
	alloc_range(0, 3);
	stats_expect(12, 12, 0, 12, 0);
	blk_fill(1, 'x');
	free_range(1, 2);
	stats_expect(12, 4, 8, 12, 0);
	alloc_range(1, 1);
	CHECK(blk_all_bytes(1, 'x'), "reused block 1 lost its data");
	stats_expect(12, 8, 4, 12, 0);
	CHECK(tcmu_da_reclaim(&da, 0, NULL, NULL) == 4, "reclaim pages");
	stats_expect(8, 8, 0, 12, 4);
	free_list(&one, 1);
	alloc_range(1, 1);
	alloc_range(2, 1);
	alloc_range(3, 1);
	stats_expect(16, 16, 0, 16, 4);
	CHECK(blk_all_bytes(3, 0), "multi-page block not zeroed");
	CHECK(xa_count(&da.pages) == 4 * 3, "%lu entries in da.pages",
	      xa_count(&da.pages));
}

static void t_bad_free(void)
{
	static const u32 bad[] = { 1, 5, 65, 100 };
	static const u32 dup[] = { 0, 0 };
	static struct snap s;
	static const u32 one = 1;
	u32 i;

	init(8, 8, PG);
	alloc_range(0, 2);
	free_list(&one, 1);
	take_snap(&s);
	expected_warnings = 5;
	shim.quiet_warnings = true;
	/*
	 * Double free, never allocated, past max, and past the limit in a
	 * word the low bitmaps do not have (TCMU_DA_LOW_BLOCKS is above
	 * 65).  Read unchecked, low_present's word 1 would be low_free's
	 * word 0, where block 1, bit 1 as 65 is, is free.  One call each.
	 */
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		free_list(&bad[i], 1);
	same_snap(&s);
	/* Twice in one call: given back once. */
	free_list(dup, 2);
	CHECK(!da.blocks_in_use && is_free(0), "%u blocks in use, 0 free: %d",
	      da.blocks_in_use, is_free(0));
}

static void t_mark_propagation(void)
{
	static const u32 keep[] = { 5, 700, 4096 };
	unsigned long idx;
	u32 i, j, blk;

	/* 4097 blocks: index 4096 is 13 bits, 5 levels of 8-slot nodes. */
	init(1 << 16, 1 << 16, PG);
	for (i = 0; i < 4097; i += 64)
		alloc_range(i, i + 64 > 4097 ? 4097 - i : 64);
	for (i = 0, j = 0; i < 4097; i++) {
		if (j < 3 && i == keep[j])
			j++;
		else
			free_range(i, 1);
	}
	CHECK(tcmu_da_reclaim(&da, 0, NULL, NULL) == 4094, "reclaim");
	CHECK(!any_free(), "stray free mark");

	blk = 4096;
	free_list(&blk, 1);
	CHECK(xa_marked(&da.blocks, TCMU_DA_FREE), "mark not at the root");
	idx = 0;
	CHECK(xa_find(&da.blocks, &idx, ULONG_MAX, TCMU_DA_FREE) &&
	      idx == 4096, "marked search from 0 found %lu", idx);
	/* Reuse is found through the marks, before never-touched 0. */
	alloc_range(4096, 1);
	CHECK(!any_free(), "mark not cleared up");

	blk = 700;
	free_list(&blk, 1);
	idx = 0;
	CHECK(xa_find(&da.blocks, &idx, ULONG_MAX, TCMU_DA_FREE) &&
	      idx == 700, "marked search from 0 found %lu", idx);
	idx = 701;
	CHECK(!xa_find(&da.blocks, &idx, ULONG_MAX, TCMU_DA_FREE),
	      "marked search from 701 found %lu", idx);

	free_range(5, 1);
	free_range(4096, 1);
	CHECK(tcmu_da_reclaim(&da, 0, NULL, NULL) == 3, "final reclaim");
	CHECK(xa_empty(&da.blocks), "tree not empty");
	alloc_range(0, 2);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* The @n pointers of @p (sorted in place) are all different. */
static bool all_distinct(uintptr_t *p, size_t n)
{
	size_t i;

	qsort(p, n, sizeof(*p), cmp_ptr);
	for (i = 1; i < n; i++)
		if (p[i] == p[i - 1])
			return false;
	return true;
}

/* tcmu_da_page(@blk, @idx) past the block: NULL, and one warning. */
static void page_out_of_range(u32 blk, u32 idx)
{
	unsigned long warn = shim_warnings;
	struct page *page;

	shim.quiet_warnings = true;
	page = tcmu_da_page(&da, blk, idx);
	shim.quiet_warnings = false;
	CHECK(!page, "tcmu_da_page(%u, %u) past the block is not NULL", blk,
	      idx);
	CHECK(shim_warnings - warn == 1, "tcmu_da_page(%u, %u): %lu warnings",
	      blk, idx, shim_warnings - warn);
	expected_warnings++;
}

static void t_multipage_pages(void)
{
	static const u32 z1[] = { 2 }, z2[] = { 1 };
	static uintptr_t ptrs[2 * 24];
	struct page *pg[3][8];
	u32 b, i, n = 0;
	long live;
	void *p;

	init(16, 16, 8 * PG);
	alloc_range(0, 3);
	CHECK(shim.pages_live == 24, "%ld pages live", shim.pages_live);
	CHECK(xa_count(&da.pages) == 3 * 7, "%lu entries in da.pages",
	      xa_count(&da.pages));
	for (b = 0; b < 3; b++) {
		for (i = 0; i < 8; i++) {
			pg[b][i] = tcmu_da_page(&da, b, i);
			CHECK(pg[b][i], "block %u page %u missing", b, i);
			p = page_address(pg[b][i]);
			CHECK(!((unsigned long)p & ~PAGE_MASK),
			      "block %u page %u not page aligned", b, i);
			CHECK(all_bytes(p, 0, PG),
			      "block %u page %u not zeroed", b, i);
			ptrs[n++] = (uintptr_t)pg[b][i];
			ptrs[n++] = (uintptr_t)p;
			memset(p, 1 + b * 8 + i, PG);
		}
		CHECK(xa_load(&da.blocks, b) == pg[b][0],
		      "block %u's entry is not its first page", b);
	}
	CHECK(all_distinct(ptrs, n), "two pages of the area are one");
	/* A page written through one block index is not another's. */
	for (b = 0; b < 3; b++)
		for (i = 0; i < 8; i++)
			CHECK(all_bytes(blk_addr(b, i), 1 + b * 8 + i, PG),
			      "block %u page %u overwritten", b, i);

	/* Past the block: NULL, even where a later block's page is. */
	page_out_of_range(0, 8);
	page_out_of_range(1, 9);
	page_out_of_range(2, 8);
	CHECK(blk_absent(3) && blk_absent(15), "untouched block has pages");

	/* Kept free: the same pages. */
	free_range(1, 2);
	for (b = 1; b < 3; b++)
		for (i = 0; i < 8; i++)
			CHECK(tcmu_da_page(&da, b, i) == pg[b][i],
			      "free block %u page %u changed", b, i);

	/* Reclaimed, highest first: 8 pages of each go, all of them. */
	live = shim.pages_live;
	CHECK(tcmu_da_reclaim(&da, 1, zap_rec, NULL) == 8, "reclaim(1)");
	zaps_expect(z1, 1);
	CHECK(shim.pages_live == live - 8, "%ld pages live, want %ld",
	      shim.pages_live, live - 8);
	CHECK(blk_absent(2), "reclaimed block 2 has pages");
	for (i = 0; i < 8; i++)
		CHECK(tcmu_da_page(&da, 1, i) == pg[1][i] &&
		      all_bytes(blk_addr(1, i), 1 + 8 + i, PG),
		      "kept-free block 1 page %u touched by reclaim", i);
	CHECK(tcmu_da_reclaim(&da, 0, zap_rec, NULL) == 8, "reclaim(0)");
	zaps_expect(z2, 1);
	CHECK(shim.pages_live == live - 16, "%ld pages live, want %ld",
	      shim.pages_live, live - 16);
	CHECK(blk_absent(1), "reclaimed block 1 has pages");
	CHECK(xa_count(&da.pages) == 7, "%lu entries in da.pages",
	      xa_count(&da.pages));
	for (i = 0; i < 8; i++)
		CHECK(tcmu_da_page(&da, 0, i) == pg[0][i] &&
		      all_bytes(blk_addr(0, i), 1 + i, PG),
		      "in-use block 0 page %u touched by reclaim", i);
	stats_expect(8, 8, 0, 24, 16);

	/* Taken again: new zeroed pages. */
	alloc_range(1, 2);
	CHECK(blk_all_bytes(1, 0) && blk_all_bytes(2, 0),
	      "blocks 1, 2 not zeroed after reclaim and realloc");
	stats_expect(24, 24, 0, 24, 16);
}

static void t_enomem_midblock(void)
{
	static const u32 fr[] = { 1, 3 };
	const u32 base = XA_CHUNK_SIZE - 2;
	const u32 w[] = { 1, 3, base, base + 1, base + 2 };
	static struct snap s;
	u32 blks[8], k, n = 0;
	unsigned long calls;
	int ret;

	/*
	 * Blocks of 4 pages, 0..base-1 there, 1 and 3 kept free: the alloc
	 * reuses those and takes 3 new blocks, whose pages go into a new
	 * leaf of da.pages and whose last block needs a new root and leaf
	 * in da.blocks.  Page allocation 1..12 fails in turn (6: page 1 of
	 * the second new block), then, non-blocking node allocations
	 * failing, the k-th blocking one, until none is left to fail.
	 */
	for (k = 1; ; k++) {
		init(4 * XA_CHUNK_SIZE, 4 * XA_CHUNK_SIZE, 4 * PG);
		alloc_range(0, base);
		free_list(fr, 2);
		take_snap(&s);
		calls = shim.page_calls;
		if (k <= 13) {
			shim_fail_page_in(k);
		} else {
			shim.nowait_fails = true;
			shim_fail_node_in(k - 13);
		}
		ret = tcmu_da_alloc(&da, 5, blks, GFP_IO);
		shim_no_failures();
		if (k == 13) {
			/* Past the last page allocation. */
			CHECK(!ret, "alloc with no page failing = %d", ret);
			CHECK(shim.page_calls - calls == 12,
			      "%lu page allocations for 3 blocks of 4",
			      shim.page_calls - calls);
			CHECK(!memcmp(blks, w, sizeof(w)), "wrong blocks");
			teardown();
			continue;
		}
		if (k > 13 && !ret) {
			/* Past the last node allocation: done. */
			CHECK(!memcmp(blks, w, sizeof(w)), "wrong blocks");
			break;
		}
		CHECK(ret == -ENOMEM, "%s %u failing: alloc = %d",
		      k < 13 ? "page" : "node", k < 13 ? k : k - 13, ret);
		if (k < 13)
			CHECK(shim.page_calls - calls == k,
			      "page %u failing: %lu page allocations", k,
			      shim.page_calls - calls);
		else
			n++;
		same_snap(&s);
		alloc_expect(5, w);
		CHECK(blk_all_bytes(base, 0) && blk_all_bytes(base + 1, 0) &&
		      blk_all_bytes(base + 2, 0),
		      "new blocks not zeroed after a failed alloc");
		stats_expect(4 * (base + 3), 4 * (base + 3), 0,
			     4 * (base + 3), 0);
		teardown();
	}
	CHECK(n >= 3, "only %u node allocation(s) could be failed", n);
}

static void t_big_block(void)
{
	static const u32 sizes[] = { 1024, 4096 };
	static const u32 z1[] = { 1 }, z2[] = { 0 };
	static uintptr_t ptrs[2 * 4096];
	u32 s, np, b, i, n;
	struct page *page;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		np = sizes[s];
		init(4, 4, np * PG);
		alloc_range(0, 2);
		CHECK(shim.pages_live == 2 * np, "%ld pages live, want %u",
		      shim.pages_live, 2 * np);
		n = 0;
		for (b = 0; b < 2; b++) {
			for (i = 0; i < np; i++) {
				page = tcmu_da_page(&da, b, i);
				CHECK(page && all_bytes(page_address(page), 0,
							PG),
				      "%u-page block %u: page %u missing or not zeroed",
				      np, b, i);
				ptrs[n++] = (uintptr_t)page;
			}
		}
		CHECK(all_distinct(ptrs, n), "%u-page blocks share a page",
		      np);
		blk_fill(0, 'b');
		free_range(0, 2);
		alloc_range(0, 1);
		CHECK(blk_all_bytes(0, 'b'), "reused block 0 lost its data");
		free_range(0, 1);
		CHECK(tcmu_da_reclaim(&da, 1, zap_rec, NULL) == np,
		      "reclaim(1) of %u-page blocks", np);
		zaps_expect(z1, 1);
		CHECK(shim.pages_live == np, "%ld pages live, want %u",
		      shim.pages_live, np);
		CHECK(blk_absent(1), "reclaimed block 1 has pages");
		CHECK(tcmu_da_reclaim(&da, 0, zap_rec, NULL) == np,
		      "reclaim(0) of %u-page blocks", np);
		zaps_expect(z2, 1);
		CHECK(shim.pages_live == 0, "%ld pages live", shim.pages_live);
		CHECK(blk_absent(0) && xa_empty(&da.blocks) &&
		      xa_empty(&da.pages), "pages left after reclaim");
		stats_expect(0, 0, 0, 2 * np, 2 * np);
		teardown();
	}
}

/* ---- random sequence against a model ------------------------------- */

enum { M_ABSENT, M_FREE, M_USED };

#define R_MAX	600		/* blocks: spans 3 reclaim windows */
#define R_CMDS	128
#define R_PPB	8		/* pages of the largest block size run */
#define R_FULL	64		/* all of da.pages checked every N ops */

static struct {
	u32 limit;
	u8 st[R_MAX];
	struct page *pg[R_MAX][R_PPB];	/* the pages of each block */
	u32 present, used, peak;
	u64 reused, fresh, reclaimed;
	u32 ppb;		/* pages per block */
	bool full;		/* check all of da.pages after this op */
} m;

static struct {
	u32 nr;
	u32 blk[64];
} cmds[R_CMDS];
static u32 ncmds;

static u64 rng;
static unsigned long op, warn0, err0;

/* What the sequence exercised, printed at the end. */
static struct {
	unsigned long allocs, enospc, enomem, enomem_later, reclaims,
		      reclaimed;
} cov;

static u32 rnd(u32 n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (u32)((rng * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static u32 m_free(void)
{
	return m.present - m.used;
}

static u32 m_avail(void)
{
	u32 i, n = 0;

	for (i = 0; i < m.limit; i++)
		n += m.st[i] != M_USED;
	return n;
}

/* Each page's first word: its block, its index and a tag, checked on reuse. */
static u64 sig(u32 blk, u32 idx)
{
	return 0x7463000000000000ULL | (u64)idx << 32 | blk;
}

#define RCHECK(cond, fmt, ...) \
	CHECK(cond, "%u-page blocks, op %lu: " fmt, m.ppb, op, ##__VA_ARGS__)

/*
 * Every entry of da.pages is a page the model has, at its place: with as
 * many entries as the model has pages past the first, all of them are
 * there.
 */
static void m_check_pages(void)
{
	XA_STATE(xas, &da.pages, 0);
	unsigned long idx = 0, n = 0;
	struct page *page;
	u32 b = 0, i = 0;
	bool bad = false;

	rcu_read_lock();
	xas_for_each(&xas, page, ULONG_MAX) {
		idx = xas.xa_index;
		b = idx / m.ppb;
		i = idx % m.ppb;
		if (!i || b >= R_MAX || m.st[b] == M_ABSENT ||
		    page != m.pg[b][i]) {
			bad = true;
			break;
		}
		n++;
	}
	rcu_read_unlock();
	RCHECK(!bad, "da.pages entry %lu (block %u page %u) disagrees with the model",
	       idx, b, i);
	RCHECK(n == (unsigned long)m.present * (m.ppb - 1),
	       "%lu entries in da.pages, model %u", n,
	       m.present * (m.ppb - 1));
}

/*
 * Below TCMU_DA_LOW_BLOCKS, the low bitmaps hold each block's state and
 * no mark is set, and the words of low_free below low_hint are zero;
 * above, the marks.  Counts the model's free blocks above.
 */
static void m_check_low(u32 *free_high)
{
	u32 i;
	u8 st;

	*free_high = 0;
	for (i = 0; i < TCMU_DA_LOW_BLOCKS || i < R_MAX; i++) {
		st = i < R_MAX ? m.st[i] : M_ABSENT;
		if (i >= TCMU_DA_LOW_BLOCKS) {
			*free_high += st == M_FREE;
			continue;
		}
		/* At or past the limit: no bitmap, and never handed out. */
		if (!in_low(i)) {
			RCHECK(st == M_ABSENT, "block %u past the low bitmaps in state %d",
			       i, st);
			continue;
		}
		RCHECK(test_bit(i, da.low_present) == (st != M_ABSENT) &&
		       test_bit(i, da.low_free) == (st == M_FREE) &&
		       !xa_get_mark(&da.blocks, i, TCMU_DA_FREE),
		       "low block %u: present %d free %d marked %d, model state %d",
		       i, test_bit(i, da.low_present),
		       test_bit(i, da.low_free),
		       xa_get_mark(&da.blocks, i, TCMU_DA_FREE), st);
	}
	for (i = 0; i < da.low_hint && i < da.low_nwords; i++)
		RCHECK(!da.low_free[i], "low_free word %u is %#lx, below low_hint %u",
		       i, da.low_free[i], da.low_hint);
}

/*
 * tcmu_da_cursor_page() agrees with the model along a walk of the
 * window that mostly steps to the next block, sometimes stays on the
 * same one or jumps, each lookup at a random page of its block; then
 * along a command's own blocks.
 */
static void m_check_cursor(void)
{
	struct tcmu_da_cursor cur;
	struct page *want, *got;
	u32 n, b = rnd(R_MAX), i, r, c;

	rcu_read_lock();
	tcmu_da_cursor_init(&cur, &da);
	for (n = 0; n < 16; n++) {
		r = rnd(100);
		if (r < 60)
			b = (b + 1) % R_MAX;
		else if (r >= 75)
			b = rnd(R_MAX);
		i = rnd(4) ? 0 : rnd(m.ppb);
		want = m.st[b] == M_ABSENT ? NULL : m.pg[b][i];
		got = tcmu_da_cursor_page(&cur, b, i);
		if (got != want)
			break;
	}
	rcu_read_unlock();
	RCHECK(n == 16, "cursor lookup %u: block %u page %u: %p, model %p",
	       n, b, i, (void *)got, (void *)want);
	if (!ncmds)
		return;
	c = rnd(ncmds);
	rcu_read_lock();
	tcmu_da_cursor_init(&cur, &da);
	for (n = 0; n < cmds[c].nr; n++) {
		b = cmds[c].blk[n];
		got = tcmu_da_cursor_page(&cur, b, 0);
		if (!got || got != m.pg[b][0])
			break;
	}
	rcu_read_unlock();
	RCHECK(n == cmds[c].nr,
	       "cursor along command %u: block %u: %p, model %p", c, b,
	       (void *)got, (void *)m.pg[b][0]);
}

static void m_check(void)
{
	XA_STATE(xas, &da.blocks, 0);
	struct tcmu_da_stats st;
	u32 n = 0, nm = 0, low = R_MAX, free_high, i;
	unsigned long idx;
	void *entry;
	bool bad = false;

	/* The lowest marked block the model expects. */
	for (i = TCMU_DA_LOW_BLOCKS; i < R_MAX && low == R_MAX; i++)
		if (m.st[i] == M_FREE)
			low = i;

	rcu_read_lock();
	xas_for_each(&xas, entry, ULONG_MAX) {
		idx = xas.xa_index;
		bad = idx >= R_MAX || m.st[idx] == M_ABSENT ||
		      entry != m.pg[idx][0] ||
		      is_free(idx) != (m.st[idx] == M_FREE);
		if (bad)
			break;
		n++;
	}
	rcu_read_unlock();
	RCHECK(!bad, "entry %lu disagrees with the model (state %d)", idx,
	       idx < R_MAX ? m.st[idx] : -1);
	RCHECK(n == m.present, "%u entries, model %u", n, m.present);
	m_check_low(&free_high);

	xas_set(&xas, 0);
	rcu_read_lock();
	xas_for_each_marked(&xas, entry, ULONG_MAX, TCMU_DA_FREE) {
		idx = xas.xa_index;
		if (idx < TCMU_DA_LOW_BLOCKS || idx >= R_MAX ||
		    m.st[idx] != M_FREE) {
			bad = true;
			break;
		}
		nm++;
	}
	rcu_read_unlock();
	RCHECK(!bad, "marked walk found %lu", idx);
	RCHECK(nm == free_high, "%u marked, model %u", nm, free_high);
	RCHECK(xa_marked(&da.blocks, TCMU_DA_FREE) == (nm > 0),
	       "xa_marked() disagrees");
	idx = 0;
	entry = xa_find(&da.blocks, &idx, ULONG_MAX, TCMU_DA_FREE);
	RCHECK(low == R_MAX ? !entry : (entry && idx == low),
	       "xa_find(free) got %lu, model %u", entry ? idx : ULONG_MAX,
	       low);
	if (m.full || !(op % R_FULL))
		m_check_pages();
	m.full = false;
	m_check_cursor();

	RCHECK(tcmu_da_avail(&da) == m_avail(), "avail %u, model %u",
	       tcmu_da_avail(&da), m_avail());
	tcmu_da_get_stats(&da, &st);
	RCHECK(st.pages_allocated == (u64)m.present * m.ppb &&
	       st.pages_in_use == (u64)m.used * m.ppb &&
	       st.pages_free == (u64)m_free() * m.ppb &&
	       st.pages_peak == (u64)m.peak * m.ppb &&
	       st.pages_reclaimed == m.reclaimed,
	       "stats disagree with the model");
	RCHECK(shim.pages_live == (long)m.present * m.ppb,
	       "%ld pages live, model %u", shim.pages_live,
	       m.present * m.ppb);
	RCHECK(shim.errors == err0 && shim_warnings == warn0,
	       "shim misuse or warning");
}

static void r_alloc(void)
{
	u32 nr = 1 + rnd(rnd(8) ? 8 : 64), want[64], got[64];
	u32 i, j, n = 0, nnew, fail = 0, inject = rnd(12);
	struct page *pg;
	int ret;

	for (i = 0; i < m.limit && n < nr; i++)
		if (m.st[i] == M_FREE)
			want[n++] = i;
	nnew = nr - n;
	for (i = 0; i < m.limit && n < nr; i++)
		if (m.st[i] == M_ABSENT)
			want[n++] = i;

	/* Any page of any new block, not only a block's first. */
	if (inject == 0 && nnew) {
		fail = 1 + rnd(nnew * m.ppb);
		shim_fail_page_in(fail);
	} else if (inject == 1) {
		shim_fail_node_in(1 + rnd(3));
	}
	memset(got, 0xff, sizeof(got));
	ret = tcmu_da_alloc(&da, nr, got, rnd(2) ? GFP_IO : GFP_KERNEL);
	shim_fail_page_in(0);
	shim_fail_node_in(0);

	if (n < nr) {
		RCHECK(ret == -ENOSPC, "alloc(%u), %u avail: %d", nr, n, ret);
		cov.enospc++;
		return;
	}
	if (fail) {
		RCHECK(ret == -ENOMEM, "alloc(%u), page %u failing: %d", nr,
		       fail, ret);
		cov.enomem++;
		cov.enomem_later += (fail - 1) % m.ppb != 0;
		m.full = true;
		return;
	}
	if (ret == -ENOMEM && inject == 1) {
		cov.enomem++;	/* a node allocation failed: rolled back */
		m.full = true;
		return;
	}
	cov.allocs++;
	RCHECK(!ret, "alloc(%u) = %d", nr, ret);
	for (i = 0; i < nr; i++)
		RCHECK(got[i] == want[i], "alloc(%u): blks[%u] = %u, model %u",
		       nr, i, got[i], want[i]);

	for (i = 0; i < nr; i++) {
		u32 b = got[i];

		for (j = 0; j < m.ppb; j++) {
			pg = tcmu_da_page(&da, b, j);
			RCHECK(pg, "block %u page %u missing", b, j);
			if (m.st[b] == M_FREE) {
				RCHECK(pg == m.pg[b][j] &&
				       *(u64 *)page_address(pg) == sig(b, j),
				       "reused block %u lost its page %u", b,
				       j);
			} else {
				RCHECK(all_bytes(page_address(pg), 0, PG),
				       "new block %u page %u not zeroed", b,
				       j);
				*(u64 *)page_address(pg) = sig(b, j);
				m.pg[b][j] = pg;
			}
		}
		if (m.st[b] == M_FREE) {
			m.reused++;
		} else {
			m.present++;
			m.fresh++;
		}
		m.st[b] = M_USED;
	}
	m.used += nr;
	if (m.used > m.peak)
		m.peak = m.used;
	cmds[ncmds].nr = nr;
	memcpy(cmds[ncmds].blk, got, nr * sizeof(u32));
	ncmds++;
}

static void r_free(u32 c)
{
	u32 i;

	tcmu_da_free(&da, cmds[c].blk, cmds[c].nr);
	for (i = 0; i < cmds[c].nr; i++)
		m.st[cmds[c].blk[i]] = M_FREE;
	m.used -= cmds[c].nr;
	cmds[c] = cmds[--ncmds];
}

static struct {
	u32 n, blk[R_MAX], runs;
	bool bad;
} rz;

/*
 * Records a run's blocks highest first, as the model lists them; every
 * page of each must still be there with its signature.
 */
static void r_zap(void *priv, u32 first, u32 nr)
{
	u32 blk, i;
	void *p;

	(void)priv;
	rz.runs++;
	for (blk = first + nr; blk-- > first; ) {
		if (blk >= R_MAX || !is_free(blk) || rz.n >= R_MAX) {
			rz.bad = true;
			return;
		}
		for (i = 0; i < m.ppb; i++) {
			p = blk_addr(blk, i);
			if (!p || *(u64 *)p != sig(blk, i)) {
				rz.bad = true;
				return;
			}
		}
		rz.blk[rz.n++] = blk;
	}
}

static void r_reclaim(void)
{
	u32 keep = rnd(4) ? rnd(m_free() + 2) : 0;
	u32 over = 0, todo = 0, n = 0, i;
	unsigned long pages;

	for (i = m.limit; i < R_MAX; i++)
		over += m.st[i] == M_FREE;
	if (m_free() > keep)
		todo = m_free() - keep;
	if (todo < over)
		todo = over;

	rz.n = 0;
	rz.runs = 0;
	rz.bad = false;
	pages = tcmu_da_reclaim(&da, keep, r_zap, NULL);
	cov.reclaims++;
	cov.reclaimed += rz.n;
	RCHECK(!rz.bad, "zap for a block not kept free or without memory");
	RCHECK(rz.n == todo, "reclaim(%u): %u zaps, model %u", keep, rz.n,
	       todo);
	RCHECK(pages == (unsigned long)todo * m.ppb, "reclaim(%u) = %lu",
	       keep, pages);
	for (i = R_MAX; i-- > 0 && n < todo; ) {
		if (m.st[i] != M_FREE)
			continue;
		RCHECK(rz.blk[n] == i, "reclaim zap %u: %u, model %u", n,
		       rz.blk[n], i);
		RCHECK(blk_absent(i), "reclaimed block %u has pages", i);
		m.st[i] = M_ABSENT;
		m.present--;
		m.reclaimed += m.ppb;
		n++;
	}
	RCHECK(rz.runs == runs_of(rz.blk, rz.n),
	       "reclaim(%u): %u zap calls for %u runs", keep, rz.runs,
	       runs_of(rz.blk, rz.n));
}

/* One sequence of @nops ops on an area of @ppb-page blocks. */
static void r_run(u32 ppb, u64 seed, unsigned long nops)
{
	u32 r;

	rng = seed * 2 + 1;
	memset(&m, 0, sizeof(m));
	memset(&cov, 0, sizeof(cov));
	ncmds = 0;
	m.ppb = ppb;
	/* Single-page blocks use the whole window, the others a part. */
	m.limit = ppb == 1 ? R_MAX : R_MAX / 4 + rnd(R_MAX / 4);
	init(R_MAX, m.limit, m.ppb * PG);
	warn0 = shim_warnings;
	err0 = shim.errors;

	for (op = 0; op < nops; op++) {
		r = rnd(100);
		if (r < 45 && ncmds < R_CMDS) {
			r_alloc();
		} else if (r < 85 && ncmds) {
			r_free(rnd(ncmds));
		} else if (r < 92) {
			r_reclaim();
		} else if (r < 97) {
			shim.nowait_fails = !shim.nowait_fails;
		} else {
			while (ncmds)
				r_free(rnd(ncmds));
		}
		m_check();
	}
	while (ncmds)
		r_free(0);
	r_reclaim();
	m.full = true;
	m_check();
	shim.nowait_fails = false;
	printf("random: %u-page blocks: %lu allocs (%llu blocks reused, %llu new), ",
	       m.ppb, cov.allocs, (unsigned long long)m.reused,
	       (unsigned long long)m.fresh);
	printf("%lu -ENOSPC, %lu -ENOMEM (%lu on a block's later page), ",
	       cov.enospc, cov.enomem, cov.enomem_later);
	printf("%lu reclaims (%lu blocks), limit %u of %u\n",
	       cov.reclaims, cov.reclaimed, m.limit, R_MAX);
	fflush(stdout);
	teardown();
}

static void t_random(void)
{
	static const u32 sizes[] = { 1, 3, R_PPB };
	unsigned long nops = 100000;
	unsigned long long seed;
	const char *env;
	u32 i;

	env = getenv("TCMU_ALLOC_OPS");
	if (env)
		nops = strtoul(env, NULL, 0);
	env = getenv("TCMU_ALLOC_SEED");
	seed = env ? strtoull(env, NULL, 0) :
		     (u64)time(NULL) * 1000003 ^ (u64)getpid();
	printf("random: seed %llu, %lu ops per block size ", seed, nops);
	printf("(TCMU_ALLOC_SEED=%llu TCMU_ALLOC_OPS=%lu to repeat)\n",
	       seed, nops);
	fflush(stdout);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		r_run(sizes[i], seed, nops);
}

static void t_bench_smoke(void)
{
	struct alloc_bench_opts o = {
		.blocks = 2048, .iters = 20, .reps = 3, .seed = 7,
	};
	char msg[256] = "";

	CHECK(alloc_bench(&o, msg, sizeof(msg)), "%s", msg);
	CHECK(shim.pages_live == 0, "%ld pages leaked", shim.pages_live);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "init_args", t_init_args },
		{ "alloc_empty", t_alloc_empty },
		{ "reuse_order", t_reuse_order },
		{ "enospc", t_enospc },
		{ "enomem_page", t_enomem_page },
		{ "enomem_node", t_enomem_node },
		{ "reclaim_order", t_reclaim_order },
		{ "reclaim_windows", t_reclaim_windows },
		{ "stats", t_stats },
		{ "bad_free", t_bad_free },
		{ "mark_propagation", t_mark_propagation },
		{ "multipage_pages", t_multipage_pages },
		{ "enomem_midblock", t_enomem_midblock },
		{ "big_block", t_big_block },
		{ "random", t_random },
		{ "bench_smoke", t_bench_smoke },
	};
	unsigned int i;
	int a;

	for (a = 1; a < argc; a++) {
		for (i = 0; i < ARRAY_SIZE(tests); i++)
			if (!strcmp(argv[a], tests[i].name))
				break;
		if (i == ARRAY_SIZE(tests)) {
			fprintf(stderr, "no test %s\n", argv[a]);
			return 2;
		}
	}
	shim_init();
	printf("tcmu data area tests: XA_CHUNK_SHIFT %d\n", XA_CHUNK_SHIFT);
	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		for (a = 1; a < argc; a++)
			if (!strcmp(argv[a], tests[i].name))
				break;
		if (argc == 1 || a < argc)
			run(tests[i].name, tests[i].fn);
	}
	shim_exit();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
