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
 *   - entry, mark clear:       the block has memory and is in use.
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
 * Locking: the caller serialises every call on one data area (the TCMU
 * device holds its cmdr_lock).  The zap callback of
 * tcmu_da_reclaim() runs with no XArray lock held (it may sleep) and must
 * not call back into this API for the same data area, except
 * tcmu_da_page().
 */
#ifndef TCMU_DATA_AREA_H
#define TCMU_DATA_AREA_H

#include <linux/types.h>
#include <linux/xarray.h>

struct page;

/* XA_MARK_0 is XA_FREE_MARK in an allocating XArray: use the next one. */
#define TCMU_DA_FREE	XA_MARK_1

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
	u32 blocks_in_use;	/* entries without TCMU_DA_FREE */
	u32 peak_in_use;	/* highest blocks_in_use since init */
	u64 reclaimed;		/* pages */
};

/**
 * tcmu_da_init() - set up an empty data area: no memory is allocated.
 * @da: the data area
 * @max_blocks: size of the window in blocks (>= 1)
 * @limit_blocks: how many of them may be used (1 .. max_blocks)
 * @blk_size: block size in bytes, a non-zero multiple of PAGE_SIZE
 *
 * Return: 0 or -EINVAL.
 */
int tcmu_da_init(struct tcmu_data_area *da, u32 max_blocks, u32 limit_blocks,
		 u32 blk_size);

/**
 * tcmu_da_destroy() - free every block's memory; no block may be in use.
 * @da: the data area
 *
 * No user mapping of the data window may remain (no zap is done).
 */
void tcmu_da_destroy(struct tcmu_data_area *da);

/**
 * tcmu_da_alloc() - take @nr blocks for a command, all or nothing.
 * @da: the data area
 * @nr: how many blocks
 * @blks: receives the block numbers, @nr entries
 * @gfp: allocation flags for new block memory and XArray nodes
 *
 * Kept-free blocks (they have memory) are taken first, lowest number first;
 * then never-touched blocks, lowest number first, get new order-0 pages
 * (@gfp, __GFP_ZERO is added for the pages and never passed to the XArray).
 * Block numbers are written to @blks[0 .. nr-1] in the order taken.
 *
 * Return: 0, -ENOSPC if fewer than @nr blocks are available below
 * limit_blocks, or -ENOMEM if memory for a new block (or for the XArray)
 * could not be had.  On error no block changed state (@blks holds junk).
 */
int tcmu_da_alloc(struct tcmu_data_area *da, u32 nr, u32 *blks, gfp_t gfp);

/**
 * tcmu_da_free() - a command is done with @blks[0 .. nr-1]: mark them free.
 * @da: the data area
 * @blks: the block numbers
 * @nr: how many
 *
 * Their memory is kept for reuse.  Each block must be in use; a block that
 * is not (double free, never allocated) is skipped with a warning.
 */
void tcmu_da_free(struct tcmu_data_area *da, const u32 *blks, u32 nr);

/**
 * tcmu_da_avail() - how many blocks tcmu_da_alloc() could hand out now.
 * @da: the data area
 *
 * Return: free or never-touched blocks below limit_blocks.  O(1).
 */
u32 tcmu_da_avail(const struct tcmu_data_area *da);

/**
 * tcmu_da_page() - page @idx of block @blk, or NULL if the block has none.
 * @da: the data area
 * @blk: block number
 * @idx: page of the block, 0 .. blk_pages - 1
 *
 * Under the caller's lock: pages are freed at once when a block is
 * released, so a page found without it may already be gone.
 *
 * Return: the page, or NULL.
 */
struct page *tcmu_da_page(struct tcmu_data_area *da, u32 blk, u32 idx);

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
 * Return: the number of pages freed.
 */
unsigned long tcmu_da_reclaim(struct tcmu_data_area *da, u32 keep_free,
			      void (*zap)(void *priv, u32 first, u32 nr),
			      void *priv);

/**
 * tcmu_da_get_stats() - a snapshot of the counters.
 * @da: the data area
 * @st: filled in
 */
void tcmu_da_get_stats(const struct tcmu_data_area *da,
		       struct tcmu_da_stats *st);

#endif /* TCMU_DATA_AREA_H */
