// SPDX-License-Identifier: GPL-2.0
/*
 * TCMU data area: block allocation on an XArray, see data_area.h.
 *
 * Every function runs under the caller's lock, one at a time per data
 * area, so the counters need no locking of their own.  The XArray's
 * spinlock is held only around XArray operations; nothing that may sleep
 * (memory allocation with a blocking @gfp, the zap callback) runs under it.
 *
 * A block's pages are order-0 pages: its first page is its entry in
 * da->blocks, the others (blocks of more than one page) are in da->pages.
 * A block of one page, the default, costs one page and its share of an
 * XArray node; a larger one also its pages' share of da->pages' nodes, and
 * never a physically contiguous allocation.
 *
 * Allocation collects the marked kept-free blocks to reuse first but takes
 * them (clears their mark) only once every new block has its memory and
 * its entry, so the only step that can fail comes before any marked block
 * changed state and rolling back is erasing what was just inserted and
 * setting back the bits of the low blocks taken (a word at a time, while
 * finding them).  When the kept-free blocks suffice, nothing can fail:
 * their marks are cleared during the walk that finds them.  Blocks of one
 * command are mostly adjacent, so freeing steps from one to the next
 * inside a node (xas_next()) rather than walking from the root for each.
 *
 * Below TCMU_DA_LOW_BLOCKS a block's state is in the low bitmaps (see
 * data_area.h): a device whose commands fit there never walks or locks
 * the XArray to take or give back a block, only to give memory to a
 * never-touched one and to reclaim.
 *
 * The XArray can search marks upwards only.  Reclaim, which must go
 * highest block first, scans the index space downwards in aligned windows
 * of TCMU_DA_RECLAIM_WIN blocks, from the limit down: a window's
 * kept-free blocks are gathered into a bitmap by a marked walk (O(log n)
 * plus one step per block found, and the low bitmap's bits in the window)
 * and released from its highest bit down, adjacent blocks as one run (one
 * zap for the run).  Giving back k blocks costs
 * O((k + s / TCMU_DA_RECLAIM_WIN) * log n), s the distance from the limit
 * down to the lowest block given back: at most 1024 windows for a 1 GiB
 * window of 4 KiB blocks, most of them cut short by marks clear high in
 * the tree.
 */

#include <linux/align.h>
#include <linux/bitmap.h>
#include <linux/bug.h>
#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "data_area.h"

#define TCMU_DA_RECLAIM_WIN	256

/**
 * tcmu_da_init() - set up an empty data area: no block has memory.
 * @da: the data area
 * @max_blocks: size of the window in blocks (>= 1)
 * @limit_blocks: how many of them may be used (1 .. max_blocks)
 * @blk_size: block size in bytes, a non-zero multiple of PAGE_SIZE
 *
 * Allocates the low bitmaps: two bits per block below both
 * TCMU_DA_LOW_BLOCKS and @limit_blocks, at most 4 KiB.
 *
 * Context: Process context; may sleep (GFP_KERNEL).
 * Return: 0, -EINVAL or -ENOMEM.
 */
int tcmu_da_init(struct tcmu_data_area *da, u32 max_blocks, u32 limit_blocks,
		 u32 blk_size)
{
	u32 nwords;

	if (!max_blocks || !limit_blocks || limit_blocks > max_blocks ||
	    !blk_size || !IS_ALIGNED(blk_size, PAGE_SIZE))
		return -EINVAL;

	memset(da, 0, sizeof(*da));
	nwords = BITS_TO_LONGS(min_t(u32, limit_blocks, TCMU_DA_LOW_BLOCKS));
	da->low_present = kzalloc(2 * nwords * sizeof(long), GFP_KERNEL);
	if (!da->low_present)
		return -ENOMEM;
	da->low_free = da->low_present + nwords;
	da->low_nwords = nwords;
	xa_init_flags(&da->blocks, XA_FLAGS_ALLOC);
	xa_init(&da->pages);
	da->max_blocks = max_blocks;
	da->limit_blocks = limit_blocks;
	da->blk_size = blk_size;
	da->blk_pages = blk_size >> PAGE_SHIFT;
	return 0;
}

/* Is @blk's state in the low bitmaps rather than in the marks? */
static bool tcmu_da_is_low(u32 blk)
{
	return blk < TCMU_DA_LOW_BLOCKS;
}

/*
 * Take up to @nr kept-free low blocks, lowest first, into @blks: their
 * bits are cleared a word at a time.  Moves low_hint up to the first word
 * that was not zero.  Blocks are only ever handed out below limit_blocks,
 * which does not change, so no bit at or above it is set.
 * Return: how many.
 */
static u32 tcmu_da_low_take(struct tcmu_data_area *da, u32 nr, u32 *blks)
{
	u32 w = da->low_hint, n = 0;
	unsigned long bits;

	while (w < da->low_nwords && !da->low_free[w])
		w++;
	da->low_hint = w;
	for (; n < nr && w < da->low_nwords; w++) {
		bits = da->low_free[w];
		if (!bits)
			continue;
		do {
			blks[n++] = w * BITS_PER_LONG + __ffs(bits);
			bits &= bits - 1;
		} while (bits && n < nr);
		da->low_free[w] = bits;
	}
	return n;
}

/*
 * Put back the low blocks @blks[0 .. @n - 1] tcmu_da_low_take() took;
 * low_hint is still at the word of the first.
 */
static void tcmu_da_low_untake(struct tcmu_data_area *da, const u32 *blks,
			       u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		__set_bit(blks[i], da->low_free);
}

/* Index in da->pages of page @idx (>= 1) of block @blk. */
static unsigned long tcmu_da_pgoff(const struct tcmu_data_area *da, u32 blk,
				   u32 idx)
{
	return (unsigned long)blk * da->blk_pages + idx;
}

/* Free pages 1 .. @n - 1 of block @blk (page 0 is the caller's). */
static void tcmu_da_put_pages(struct tcmu_data_area *da, u32 blk, u32 n)
{
	u32 i;

	for (i = 1; i < n; i++)
		__free_page(xa_erase(&da->pages, tcmu_da_pgoff(da, blk, i)));
}

/*
 * Pages 1 .. blk_pages - 1 of the new block @blk, zeroed.  Return: 0 or
 * -ENOMEM, with none of them left behind.
 */
static int tcmu_da_get_pages(struct tcmu_data_area *da, u32 blk, gfp_t gfp)
{
	struct page *page;
	void *old;
	u32 i;

	for (i = 1; i < da->blk_pages; i++) {
		page = alloc_page(gfp | __GFP_ZERO);
		if (!page)
			goto fail;
		old = xa_store(&da->pages, tcmu_da_pgoff(da, blk, i), page, gfp);
		if (xa_is_err(old)) {
			__free_page(page);
			goto fail;
		}
		/* A page left behind: the counters and entries disagree. */
		WARN_ON_ONCE(old);
	}
	return 0;
fail:
	tcmu_da_put_pages(da, blk, i);
	return -ENOMEM;
}

/* Set (@free) or clear the TCMU_DA_FREE mark of blocks @blks[0 .. @n - 1]. */
static void tcmu_da_mark_free(struct tcmu_data_area *da, const u32 *blks,
			      u32 n, bool free)
{
	XA_STATE(xas, &da->blocks, 0);
	u32 i;

	xas_lock(&xas);
	for (i = 0; i < n; i++) {
		xas_set(&xas, blks[i]);
		xas_load(&xas);
		if (free)
			xas_set_mark(&xas, TCMU_DA_FREE);
		else
			xas_clear_mark(&xas, TCMU_DA_FREE);
	}
	xas_unlock(&xas);
}

/* Erase block @blk's entry and free all its pages. */
static void tcmu_da_put_block(struct tcmu_data_area *da, u32 blk)
{
	struct page *first = xa_erase(&da->blocks, blk);

	if (WARN_ON_ONCE(!first))
		return;
	if (tcmu_da_is_low(blk)) {
		__clear_bit(blk, da->low_present);
		__clear_bit(blk, da->low_free);
	}
	tcmu_da_put_pages(da, blk, da->blk_pages);
	__free_page(first);
}

/**
 * tcmu_da_destroy() - free every block's memory, and the low bitmaps.
 * @da: the data area
 *
 * No block may be in use, and no user mapping of the data window may
 * remain (no zap is done).  The data area may be set up again with
 * tcmu_da_init().
 *
 * Context: Process context, under the caller's lock.  Takes the XArray locks.
 */
void tcmu_da_destroy(struct tcmu_data_area *da)
{
	unsigned long blk;
	struct page *first;

	WARN_ON_ONCE(da->blocks_in_use);
	xa_for_each(&da->blocks, blk, first) {
		tcmu_da_put_block(da, blk);
		da->reclaimed += da->blk_pages;
	}
	xa_destroy(&da->blocks);
	xa_destroy(&da->pages);
	kfree(da->low_present);
	da->low_present = NULL;
	da->low_free = NULL;
	da->low_nwords = 0;
	da->blocks_present = 0;
	da->blocks_in_use = 0;
}

/* @nr blocks were taken, @fresh of them new: the counters follow. */
static void tcmu_da_taken(struct tcmu_data_area *da, u32 nr, u32 fresh)
{
	da->blocks_present += fresh;
	da->blocks_in_use += nr;
	if (da->blocks_in_use > da->peak_in_use)
		da->peak_in_use = da->blocks_in_use;
}

/*
 * tcmu_da_alloc() beyond the low bitmap: @blks[0 .. nlow - 1] are the
 * kept-free low blocks it took, put back on failure; find the rest among
 * the marked blocks, then in never-touched ones with new memory.  Out of
 * line, so that the common case (tcmu_da_alloc()'s bitmap alone) sets up
 * no XArray walk.
 */
static noinline int tcmu_da_alloc_more(struct tcmu_data_area *da, u32 nr,
				       u32 *blks, u32 nlow, gfp_t gfp)
{
	XA_STATE(xas, &da->blocks, TCMU_DA_LOW_BLOCKS);
	/* Node slabs have a constructor: no __GFP_ZERO for them. */
	gfp_t xa_gfp = gfp & ~__GFP_ZERO;
	/* No new memory needed, so nothing can fail: take while finding. */
	bool take = nr <= da->blocks_present - da->blocks_in_use;
	u32 reuse = nlow, i;
	struct page *page;
	int ret;

	if (xa_marked(&da->blocks, TCMU_DA_FREE)) {
		xas_lock(&xas);
		xas_for_each_marked(&xas, page, da->limit_blocks - 1,
				    TCMU_DA_FREE) {
			if (take)
				xas_clear_mark(&xas, TCMU_DA_FREE);
			blks[reuse++] = xas.xa_index;
			if (reuse == nr)
				break;
		}
		xas_unlock(&xas);
	}
	/* Only if the counters disagree with the marks: put them back. */
	if (WARN_ON_ONCE(take && reuse < nr)) {
		tcmu_da_mark_free(da, blks + nlow, reuse - nlow, true);
		tcmu_da_low_untake(da, blks, nlow);
		return -ENOSPC;
	}

	/* Never-touched blocks, lowest first (XA_FREE_MARK), new memory. */
	for (i = reuse; i < nr; i++) {
		page = alloc_page(gfp | __GFP_ZERO);
		if (!page) {
			ret = -ENOMEM;
			goto undo;
		}
		ret = xa_alloc(&da->blocks, &blks[i], page,
			       XA_LIMIT(0, da->limit_blocks - 1), xa_gfp);
		if (ret) {
			__free_page(page);
			/* tcmu_da_avail() promised room: counters are off. */
			if (WARN_ON_ONCE(ret == -EBUSY))
				ret = -ENOSPC;
			goto undo;
		}
		ret = tcmu_da_get_pages(da, blks[i], xa_gfp);
		if (ret) {
			__free_page(xa_erase(&da->blocks, blks[i]));
			goto undo;
		}
		if (tcmu_da_is_low(blks[i]))
			__set_bit(blks[i], da->low_present);
	}

	if (reuse > nlow && !take)
		tcmu_da_mark_free(da, blks + nlow, reuse - nlow, false);
	tcmu_da_taken(da, nr, nr - reuse);
	return 0;

undo:
	while (i-- > reuse)
		tcmu_da_put_block(da, blks[i]);
	tcmu_da_low_untake(da, blks, nlow);
	return ret;
}

/**
 * tcmu_da_alloc() - take @nr blocks for a command, all or nothing.
 * @da: the data area
 * @nr: how many blocks
 * @blks: receives the block numbers, @nr entries
 * @gfp: allocation flags for new block memory and XArray nodes
 *
 * Kept-free blocks (they have memory) are taken first, lowest number first
 * (those below TCMU_DA_LOW_BLOCKS from the low bitmap, then the marked
 * ones); then never-touched blocks, lowest number first, get new order-0 pages
 * (@gfp, __GFP_ZERO is added for the pages and never passed to the XArray).
 * Block numbers are written to the first @nr entries of @blks, in the
 * order taken.
 *
 * Context: Process context, under the caller's lock.  Takes the XArray
 * lock unless every block comes from the low bitmap; allocates with @gfp
 * outside it, so it may sleep if @gfp allows.
 * Return: 0, -ENOSPC if fewer than @nr blocks are available below
 * limit_blocks, or -ENOMEM if memory for a new block (or for the XArray)
 * could not be had.  On error no block changed state (@blks holds junk).
 */
int tcmu_da_alloc(struct tcmu_data_area *da, u32 nr, u32 *blks, gfp_t gfp)
{
	u32 nlow;

	if (nr > tcmu_da_avail(da))
		return -ENOSPC;
	if (!nr)
		return 0;

	nlow = tcmu_da_low_take(da, nr, blks);
	if (nlow < nr)
		return tcmu_da_alloc_more(da, nr, blks, nlow, gfp);

	tcmu_da_taken(da, nr, 0);
	return 0;
}

/*
 * tcmu_da_free() of the blocks of @blks at or above TCMU_DA_LOW_BLOCKS:
 * set their mark.  Out of line, as tcmu_da_alloc_more().
 */
static noinline void tcmu_da_free_high(struct tcmu_data_area *da,
				       const u32 *blks, u32 nr)
{
	XA_STATE(xas, &da->blocks, 0);
	u32 i, next = 0;
	void *entry;

	xas_lock(&xas);
	for (i = 0; i < nr; i++) {
		if (tcmu_da_is_low(blks[i]))
			continue;
		/* next is 0 (a low block) until a high block was looked up. */
		if (blks[i] == next) {
			entry = xas_next(&xas);
		} else {
			xas_set(&xas, blks[i]);
			entry = xas_load(&xas);
		}
		next = blks[i] + 1;
		if (WARN_ON_ONCE(!entry || xas_get_mark(&xas, TCMU_DA_FREE)))
			continue;
		xas_set_mark(&xas, TCMU_DA_FREE);
		da->blocks_in_use--;
	}
	xas_unlock(&xas);
}

/**
 * tcmu_da_free() - a command is done with the first @nr blocks of @blks
 * @da: the data area
 * @blks: the block numbers
 * @nr: how many
 *
 * Their memory is kept for reuse.  Each block must be in use; a block that
 * is not (double free, never allocated, past the limit) is skipped with a
 * warning, and so is the second entry of a block that is twice in @blks.
 *
 * Context: Any context, under the caller's lock.  Takes the XArray lock
 * for blocks from TCMU_DA_LOW_BLOCKS up.
 */
void tcmu_da_free(struct tcmu_data_area *da, const u32 *blks, u32 nr)
{
	u32 i, w, high = 0;
	unsigned long bit;

	for (i = 0; i < nr; i++) {
		if (!tcmu_da_is_low(blks[i])) {
			high++;
			continue;
		}
		w = BIT_WORD(blks[i]);
		bit = BIT_MASK(blks[i]);
		/* Past limit_blocks (no word), not in use, or free already. */
		if (WARN_ON_ONCE(w >= da->low_nwords ||
				 !(da->low_present[w] & bit) ||
				 (da->low_free[w] & bit)))
			continue;
		da->low_free[w] |= bit;
		da->blocks_in_use--;
		if (w < da->low_hint)
			da->low_hint = w;
	}
	if (high)
		tcmu_da_free_high(da, blks, nr);
}

/**
 * tcmu_da_avail() - how many blocks tcmu_da_alloc() could hand out now.
 * @da: the data area
 *
 * Context: Any context, under the caller's lock.
 * Return: free or never-touched blocks below limit_blocks.  O(1).
 */
u32 tcmu_da_avail(const struct tcmu_data_area *da)
{
	return da->limit_blocks - da->blocks_in_use;
}

/**
 * tcmu_da_page() - page @idx of block @blk, or NULL if the block has none.
 * @da: the data area
 * @blk: block number
 * @idx: page of the block, 0 .. blk_pages - 1
 *
 * Under the caller's lock: pages are freed at once when a block is
 * released, so a page found without it may already be gone.
 *
 * Context: Any context, under the caller's lock.
 * Return: the page, or NULL.
 */
struct page *tcmu_da_page(struct tcmu_data_area *da, u32 blk, u32 idx)
{
	if (!idx)
		return xa_load(&da->blocks, blk);
	if (WARN_ON_ONCE(idx >= da->blk_pages))
		return NULL;
	return xa_load(&da->pages, tcmu_da_pgoff(da, blk, idx));
}

/*
 * Zap the kept-free blocks @first .. @first + @nr - 1 once, then erase
 * and free each; returns the pages freed.
 */
static unsigned long tcmu_da_release_run(struct tcmu_data_area *da,
					 u32 first, u32 nr,
					 void (*zap)(void *priv, u32 first,
						     u32 nr),
					 void *priv)
{
	u32 blk;

	if (!nr)
		return 0;
	if (zap)
		zap(priv, first, nr);
	for (blk = first; blk < first + nr; blk++)
		tcmu_da_put_block(da, blk);
	da->blocks_present -= nr;
	da->reclaimed += (u64)nr * da->blk_pages;
	return (unsigned long)nr * da->blk_pages;
}

/**
 * tcmu_da_reclaim() - give back memory of kept-free blocks.
 * @da: the data area
 * @keep_free: how many kept-free blocks may stay
 * @zap: called for each run of adjacent blocks, @first to @first + @nr - 1,
 *       before their memory is freed, so the caller can remove the
 *       handler's mappings of them at once (may be NULL); it runs without
 *       XArray locks and may sleep
 * @priv: passed to @zap
 *
 * Highest block number first, until at most @keep_free blocks are kept
 * free.  Blocks in use are never touched.  Adjacent blocks given back go to @zap as one run.
 *
 * Context: Process context, under the caller's lock.  Takes the XArray
 * lock; calls @zap without it, and @zap may sleep.
 * Return: the number of pages freed.
 */
unsigned long tcmu_da_reclaim(struct tcmu_data_area *da, u32 keep_free,
			      void (*zap)(void *priv, u32 first, u32 nr),
			      void *priv)
{
	DECLARE_BITMAP(win, TCMU_DA_RECLAIM_WIN);
	XA_STATE(xas, &da->blocks, 0);
	u32 nfree = da->blocks_present - da->blocks_in_use;
	u32 todo = 0, lo, hi, n, bit, blk;
	u32 run_first = 0, run_nr = 0;	/* the run being gathered */
	unsigned long freed = 0;
	void *entry;

	/* Blocks are only ever handed out below the limit. */
	hi = da->limit_blocks - 1;
	if (nfree > keep_free)
		todo = nfree - keep_free;

	/*
	 * A run is released once the next block down is not part of it;
	 * it may span windows.
	 */
	while (todo) {
		lo = round_down(hi, TCMU_DA_RECLAIM_WIN);
		bitmap_zero(win, TCMU_DA_RECLAIM_WIN);
		if (hi >= TCMU_DA_LOW_BLOCKS) {
			xas_set(&xas, max_t(u32, lo, TCMU_DA_LOW_BLOCKS));
			xas_lock(&xas);
			xas_for_each_marked(&xas, entry, hi, TCMU_DA_FREE)
				__set_bit(xas.xa_index - lo, win);
			xas_unlock(&xas);
		}
		bit = lo;
		for_each_set_bit_from(bit, da->low_free,
				      min_t(u32, hi + 1, TCMU_DA_LOW_BLOCKS))
			__set_bit(bit - lo, win);

		for (n = hi - lo + 1; todo; n = bit) {
			bit = find_last_bit(win, n);
			if (bit >= n)
				break;
			blk = lo + bit;
			if (run_nr && blk + 1 != run_first) {
				freed += tcmu_da_release_run(da, run_first,
							     run_nr, zap,
							     priv);
				run_nr = 0;
			}
			run_first = blk;
			run_nr++;
			todo--;
		}
		if (!lo)
			break;
		hi = lo - 1;
	}
	freed += tcmu_da_release_run(da, run_first, run_nr, zap, priv);
	/* Only if the counters disagree with the marks. */
	WARN_ON_ONCE(todo);
	return freed;
}

/**
 * tcmu_da_get_stats() - a snapshot of the counters.
 * @da: the data area
 * @st: filled in
 *
 * Context: Any context, under the caller's lock.
 */
void tcmu_da_get_stats(const struct tcmu_data_area *da,
		       struct tcmu_da_stats *st)
{
	u64 pages = da->blk_pages;

	st->pages_allocated = pages * da->blocks_present;
	st->pages_in_use = pages * da->blocks_in_use;
	st->pages_free = pages * (da->blocks_present - da->blocks_in_use);
	st->pages_peak = pages * da->peak_in_use;
	st->pages_reclaimed = da->reclaimed;
}
