/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCMU data area: a lazily filled window of data blocks tracked in an XArray.
 *
 * The data window userspace maps is divided into fixed-size blocks
 * (blk_size bytes, a multiple of PAGE_SIZE).  Block b lives at offset
 * b * blk_size of the window.  The XArray @blocks is indexed by block
 * number:
 *
 *   - no entry:                the block was never used, it has no memory;
 *   - entry, TCMU_DA_FREE set: the block has memory and is free (kept);
 *   - entry, mark clear:       the block has memory and is in use
 *                              (below TCMU_DA_LOW_BLOCKS: see below).
 *
 * Every page of a block is an order-0 page of its own, as in the stock
 * driver: a block of many pages never needs physically contiguous memory,
 * which a GFP_NOIO allocation cannot get by compaction.  The entry of a
 * block in @blocks is its first page (struct page *); the other pages of
 * a block of blk_pages > 1 are in @pages, indexed by page number in the
 * window (block * blk_pages + i).  New memory is always zeroed: a block
 * userspace sees never holds stale kernel data.
 *
 * The XArray propagates marks to interior nodes, so finding the lowest
 * free block is a walk down marked slots.  The array is allocating
 * (XA_FLAGS_ALLOC), so the lowest never-touched block is found through
 * the XArray's own free-slot tracking the same way.
 *
 * Blocks below TCMU_DA_LOW_BLOCKS, where a lightly or moderately loaded
 * device's commands all live, still have their entry in @blocks, but
 * their state is in bitmaps instead of the TCMU_DA_FREE mark:
 * @low_present (the block has memory) and @low_free (and is kept free).
 * Taking or giving back such a block is a bit operation, with no XArray
 * walk or lock; the mark is never set on them.  Every word of @low_free
 * below @low_hint is zero, so that finding the lowest kept-free block
 * starts there rather than at word 0: a search moves the hint up to the
 * first word that is not, giving back a block moves it down to that
 * block's word, taking a block leaves it.  Kept-free blocks are still
 * taken lowest first: the bitmap's, then the marked ones above it.
 *
 * Locking: the caller serialises every call on one data area (the TCMU
 * device holds its cmdr_lock).  The zap callback of
 * tcmu_da_reclaim() runs with no XArray lock held (it may sleep) and must
 * not call back into this API for the same data area, except
 * tcmu_da_page().
 */
#ifndef TCMU_DATA_AREA_H
#define TCMU_DATA_AREA_H

#include <linux/bitops.h>
#include <linux/limits.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct page;

/* XA_MARK_0 is XA_FREE_MARK in an allocating XArray: use the next one. */
#define TCMU_DA_FREE	XA_MARK_1

/*
 * Blocks tracked by bitmap (see above): 64 MiB of 4 KiB blocks, 64
 * commands of 1 MiB.  The bitmaps cover the blocks below it and below
 * limit_blocks, at most 4 KiB per data area, allocated by tcmu_da_init()
 * (stock's one bitmap for a 1 GiB data area is 32 KiB).  The unit tests
 * build with a smaller value.
 */
#ifndef TCMU_DA_LOW_BLOCKS
#define TCMU_DA_LOW_BLOCKS	16384
#endif

struct tcmu_da_stats {
	u64 pages_allocated;	/* pages currently backing blocks */
	u64 pages_in_use;	/* pages of blocks in use by commands */
	u64 pages_free;		/* pages of kept-free blocks */
	u64 pages_peak;		/* highest pages_in_use seen */
	u64 pages_reclaimed;	/* pages given back, all causes */
};

struct tcmu_data_area {
	struct xarray blocks;	/* block number -> its first page, see above */
	struct xarray pages;	/* page number -> page, blk_pages > 1 only */
	u32 max_blocks;		/* capacity of the window, in blocks */
	u32 limit_blocks;	/* blocks [0, limit_blocks) may be used */
	u32 blk_size;		/* bytes per block, multiple of PAGE_SIZE */
	u32 blk_pages;		/* blk_size / PAGE_SIZE */
	u32 blocks_present;	/* entries (blocks with memory) */
	u32 blocks_in_use;	/* blocks with memory, not kept free */
	u32 peak_in_use;	/* highest blocks_in_use since init */
	u64 reclaimed;		/* pages */
	/* Low blocks (see above): has memory; is kept free. */
	unsigned long *low_present;	/* low_nwords words */
	unsigned long *low_free;	/* low_nwords words, after low_present */
	u32 low_nwords;		/* of each bitmap */
	u32 low_hint;		/* low_free[0 .. low_hint - 1] are zero */
};

int tcmu_da_init(struct tcmu_data_area *da, u32 max_blocks, u32 limit_blocks,
		 u32 blk_size);
void tcmu_da_destroy(struct tcmu_data_area *da);
int tcmu_da_alloc(struct tcmu_data_area *da, u32 nr, u32 *blks, gfp_t gfp);
void tcmu_da_free(struct tcmu_data_area *da, const u32 *blks, u32 nr);
u32 tcmu_da_avail(const struct tcmu_data_area *da);

struct page *tcmu_da_page(struct tcmu_data_area *da, u32 blk, u32 idx);

/*
 * A cursor for looking up the pages of a command's blocks in order, as
 * tcmu_da_page() does for one: inline, and the block after the last one
 * looked up is a step inside an XArray node (xas_next()), not a walk
 * from the root.  A 1 MiB command's copy makes 256 lookups.
 */
struct tcmu_da_cursor {
	struct tcmu_data_area *da;
	struct xa_state xas;	/* on da->blocks, at the last block looked up */
	struct page *page;	/* that block's first page */
	u32 next;		/* that block + 1; U32_MAX before the first */
};

/**
 * tcmu_da_cursor_init() - start looking up pages with a cursor
 * @cur: the cursor
 * @da: the data area
 *
 * Context: Any context, under the caller's lock.
 */
static inline void tcmu_da_cursor_init(struct tcmu_da_cursor *cur,
				       struct tcmu_data_area *da)
{
	cur->da = da;
	cur->xas = (struct xa_state)__XA_STATE(&da->blocks, 0, 0, 0);
	cur->page = NULL;
	cur->next = U32_MAX;
}

/**
 * tcmu_da_cursor_page() - page @idx of block @blk, as tcmu_da_page()
 * @cur: a cursor tcmu_da_cursor_init() set up on the data area
 * @blk: block number
 * @idx: page of the block, 0 .. blk_pages - 1
 *
 * When @blk follows the block of the previous lookup, its entry is the
 * next slot of the same node; when it is that block again (a page copied
 * in parts), nothing is looked up.  The caller's lock, held from
 * tcmu_da_cursor_init() on, keeps the tree from changing between
 * lookups, so the cursor's node stays valid; the RCU read lock is what
 * the XArray's accessors check for.
 *
 * Context: Any context, under the caller's lock and rcu_read_lock().
 * Return: the page, or NULL.
 */
static inline struct page *tcmu_da_cursor_page(struct tcmu_da_cursor *cur,
					       u32 blk, u32 idx)
{
	if (idx)
		return tcmu_da_page(cur->da, blk, idx);
	if (blk + 1 != cur->next) {
		if (blk == cur->next) {
			cur->page = xas_next(&cur->xas);
		} else {
			xas_set(&cur->xas, blk);
			cur->page = xas_load(&cur->xas);
		}
		cur->next = blk + 1;
	}
	return cur->page;
}

unsigned long tcmu_da_reclaim(struct tcmu_data_area *da, u32 keep_free,
			      void (*zap)(void *priv, u32 first, u32 nr),
			      void *priv);
void tcmu_da_get_stats(const struct tcmu_data_area *da,
		       struct tcmu_da_stats *st);

#endif /* TCMU_DATA_AREA_H */
