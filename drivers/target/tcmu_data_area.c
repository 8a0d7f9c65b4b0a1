// SPDX-License-Identifier: GPL-2.0
/*
 * TCMU data area: block allocation on an XArray, see tcmu_data_area.h.
 *
 * Every function runs under the caller's lock, one at a time per data
 * area, so the counters need no locking of their own.  The XArray's
 * spinlock is held only around XArray operations; nothing that may sleep
 * (memory allocation with a blocking @gfp, the zap callback) runs under it.
 *
 * Allocation collects the kept-free blocks to reuse first but takes them
 * (clears their mark) only once every new block has its memory and its
 * entry, so the only step that can fail comes before any block changed
 * state and rolling back is erasing what was just inserted.
 *
 * The XArray can search marks upwards only.  Reclaim, which must go
 * highest block first, scans the index space downwards in aligned windows
 * of TCMU_DA_RECLAIM_WIN blocks, from the highest kept-free block at or
 * above the limit, else from the limit: a window's kept-free blocks are
 * gathered into a bitmap by a marked walk (O(log n) plus one step per
 * block found) and released from its highest bit down, adjacent blocks
 * as one run (one zap for the run).  Giving back k blocks costs
 * O((k + s / TCMU_DA_RECLAIM_WIN) * log n), s the distance from that start
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
#include <linux/string.h>
#include <linux/xarray.h>

#include "tcmu_data_area.h"

#define TCMU_DA_RECLAIM_WIN	256

static u32 tcmu_da_blk_pages(const struct tcmu_data_area *da)
{
	return da->blk_size >> PAGE_SHIFT;
}

int tcmu_da_init(struct tcmu_data_area *da, u32 max_blocks, u32 limit_blocks,
		 u32 blk_size)
{
	if (!max_blocks || !limit_blocks || limit_blocks > max_blocks ||
	    !blk_size || !IS_ALIGNED(blk_size, PAGE_SIZE))
		return -EINVAL;

	memset(da, 0, sizeof(*da));
	xa_init_flags(&da->blocks, XA_FLAGS_ALLOC);
	da->max_blocks = max_blocks;
	da->limit_blocks = limit_blocks;
	da->blk_size = blk_size;
	return 0;
}

void tcmu_da_destroy(struct tcmu_data_area *da)
{
	unsigned long blk;
	void *addr;

	WARN_ON_ONCE(da->blocks_in_use);
	xa_for_each(&da->blocks, blk, addr) {
		xa_erase(&da->blocks, blk);
		free_pages_exact(addr, da->blk_size);
		da->reclaimed += tcmu_da_blk_pages(da);
	}
	xa_destroy(&da->blocks);
	da->blocks_present = 0;
	da->blocks_in_use = 0;
	da->in_use_over_limit = 0;
}

int tcmu_da_alloc(struct tcmu_data_area *da, u32 nr, u32 *blks, gfp_t gfp)
{
	XA_STATE(xas, &da->blocks, 0);
	u32 reuse = 0, i;
	void *addr;
	int ret;

	if (nr > tcmu_da_avail(da))
		return -ENOSPC;
	if (!nr)
		return 0;

	/* Kept-free blocks, lowest first: only noted here, taken below. */
	xas_lock(&xas);
	xas_for_each_marked(&xas, addr, da->limit_blocks - 1, TCMU_DA_FREE) {
		blks[reuse++] = xas.xa_index;
		if (reuse == nr)
			break;
	}
	xas_unlock(&xas);

	/* Never-touched blocks, lowest first (XA_FREE_MARK), new memory. */
	for (i = reuse; i < nr; i++) {
		addr = alloc_pages_exact(da->blk_size, gfp | __GFP_ZERO);
		if (!addr) {
			ret = -ENOMEM;
			goto undo;
		}
		/* Node slabs have a constructor: no __GFP_ZERO for them. */
		ret = xa_alloc(&da->blocks, &blks[i], addr,
			       XA_LIMIT(0, da->limit_blocks - 1),
			       gfp & ~__GFP_ZERO);
		if (ret) {
			free_pages_exact(addr, da->blk_size);
			/* tcmu_da_avail() promised room: counters are off. */
			if (WARN_ON_ONCE(ret == -EBUSY))
				ret = -ENOSPC;
			goto undo;
		}
	}

	xas_lock(&xas);
	for (i = 0; i < reuse; i++) {
		xas_set(&xas, blks[i]);
		xas_load(&xas);
		xas_clear_mark(&xas, TCMU_DA_FREE);
	}
	xas_unlock(&xas);

	da->blocks_present += nr - reuse;
	da->blocks_in_use += nr;
	if (da->blocks_in_use > da->peak_in_use)
		da->peak_in_use = da->blocks_in_use;
	da->reused += reuse;
	da->fresh += nr - reuse;
	return 0;

undo:
	while (i-- > reuse)
		free_pages_exact(xa_erase(&da->blocks, blks[i]), da->blk_size);
	return ret;
}

void tcmu_da_free(struct tcmu_data_area *da, const u32 *blks, u32 nr)
{
	XA_STATE(xas, &da->blocks, 0);
	u32 i;

	xas_lock(&xas);
	for (i = 0; i < nr; i++) {
		xas_set(&xas, blks[i]);
		if (WARN_ON_ONCE(!xas_load(&xas) ||
				 xas_get_mark(&xas, TCMU_DA_FREE)))
			continue;
		xas_set_mark(&xas, TCMU_DA_FREE);
		da->blocks_in_use--;
		if (blks[i] >= da->limit_blocks)
			da->in_use_over_limit--;
	}
	xas_unlock(&xas);
}

u32 tcmu_da_avail(const struct tcmu_data_area *da)
{
	return da->limit_blocks - (da->blocks_in_use - da->in_use_over_limit);
}

void *tcmu_da_block_addr(struct tcmu_data_area *da, u32 blk)
{
	return xa_load(&da->blocks, blk);
}

void tcmu_da_set_limit(struct tcmu_data_area *da, u32 limit_blocks)
{
	XA_STATE(xas, &da->blocks, 0);
	u32 over = 0;
	void *addr;

	if (WARN_ON_ONCE(!limit_blocks || limit_blocks > da->max_blocks))
		limit_blocks = clamp(limit_blocks, 1U, da->max_blocks);

	xas_set(&xas, limit_blocks);
	xas_lock(&xas);
	xas_for_each(&xas, addr, da->max_blocks - 1) {
		if (!xas_get_mark(&xas, TCMU_DA_FREE))
			over++;
	}
	xas_unlock(&xas);

	da->limit_blocks = limit_blocks;
	da->in_use_over_limit = over;
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
	void *addr;
	u32 blk;

	if (!nr)
		return 0;
	if (zap)
		zap(priv, first, nr);
	for (blk = first; blk < first + nr; blk++) {
		addr = xa_erase(&da->blocks, blk);
		if (!WARN_ON_ONCE(!addr))
			free_pages_exact(addr, da->blk_size);
	}
	da->blocks_present -= nr;
	da->reclaimed += (u64)nr * tcmu_da_blk_pages(da);
	return (unsigned long)nr * tcmu_da_blk_pages(da);
}

unsigned long tcmu_da_reclaim(struct tcmu_data_area *da, u32 keep_free,
			      void (*zap)(void *priv, u32 first, u32 nr),
			      void *priv)
{
	DECLARE_BITMAP(win, TCMU_DA_RECLAIM_WIN);
	XA_STATE(xas, &da->blocks, 0);
	u32 nfree = da->blocks_present - da->blocks_in_use;
	u32 over = 0, todo = 0, lo, hi, n, bit, blk;
	u32 run_first = 0, run_nr = 0;	/* the run being gathered */
	unsigned long freed = 0;
	void *addr;

	/* Kept-free blocks at or above the limit all go, and they go first. */
	hi = da->limit_blocks - 1;
	xas_set(&xas, da->limit_blocks);
	xas_lock(&xas);
	xas_for_each_marked(&xas, addr, da->max_blocks - 1, TCMU_DA_FREE) {
		over++;
		hi = xas.xa_index;
	}
	xas_unlock(&xas);

	if (nfree > keep_free)
		todo = nfree - keep_free;
	if (todo < over)
		todo = over;

	/*
	 * A run is released once the next block down is not part of it;
	 * it may span windows.
	 */
	while (todo) {
		lo = round_down(hi, TCMU_DA_RECLAIM_WIN);
		bitmap_zero(win, TCMU_DA_RECLAIM_WIN);
		xas_set(&xas, lo);
		xas_lock(&xas);
		xas_for_each_marked(&xas, addr, hi, TCMU_DA_FREE)
			__set_bit(xas.xa_index - lo, win);
		xas_unlock(&xas);

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

void tcmu_da_get_stats(const struct tcmu_data_area *da,
		       struct tcmu_da_stats *st)
{
	u64 pages = tcmu_da_blk_pages(da);

	st->pages_allocated = pages * da->blocks_present;
	st->pages_in_use = pages * da->blocks_in_use;
	st->pages_free = pages * (da->blocks_present - da->blocks_in_use);
	st->pages_peak = pages * da->peak_in_use;
	st->pages_reclaimed = da->reclaimed;
	st->alloc_reused = da->reused;
	st->alloc_new = da->fresh;
}
