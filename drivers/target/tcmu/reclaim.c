// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: module-wide accounting of data pages and giving kept-free
 * pages back: the per-device decay and idle heuristic, the
 * global_max_data_area_mb budget and the shrinker.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu_counter.h>
#include <linux/shrinker.h>

#include "compat.h"
#include "tcmu.h"

static int tcmu_global_max_mb = TCMU_GLOBAL_MB_DEF;

/*
 * Protects tcmu_dev_list; taken before any device's cmdr_lock.  The
 * reclaim work takes both with mutex_lock(); the shrinker only ever
 * mutex_trylock()s either.
 */
static DEFINE_MUTEX(tcmu_dev_list_lock);
/* Configured devices: what the reclaim work and the shrinker walk. */
static LIST_HEAD(tcmu_dev_list);

/*
 * Data pages of all data areas (in use or kept free) and of those the
 * ones in use; each device adds its share under its cmdr_lock
 * (tcmu_acct()).  Per-CPU counters: no cache line shared by every
 * allocation of every device.  Valid while tcmu_live.
 */
static struct percpu_counter tcmu_global_pages;
static struct percpu_counter tcmu_global_in_use;
/*
 * Between the end of module init and the start of module exit; what
 * module parameters may touch (the counters, the reclaim work) is there
 * only then.  tcmu_dev_list_lock.
 */
static bool tcmu_live;
/* Bit 0: the reclaim work was queued for global_max_data_area_mb. */
static unsigned long tcmu_budget_kicked;

static void tcmu_reclaim_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(tcmu_reclaim_work, tcmu_reclaim_fn);

/* ---------------------------------------------------------------------
 * Module parameters
 */

static int tcmu_global_max_set(const char *val, const struct kernel_param *kp)
{
	int mb, ret;

	ret = kstrtoint(val, 10, &mb);
	if (ret)
		return -EINVAL;
	if (mb <= 0) {
		pr_err("global_max_data_area_mb must be larger than 0\n");
		return -EINVAL;
	}
	WRITE_ONCE(tcmu_global_max_mb, mb);
	/*
	 * Over a lowered limit, kept pages go back at once; but not before
	 * init or after exit, which would leave the work queued.
	 */
	mutex_lock(&tcmu_dev_list_lock);
	if (tcmu_live)
		mod_delayed_work(system_wq, &tcmu_reclaim_work, 0);
	mutex_unlock(&tcmu_dev_list_lock);
	return 0;
}

static int tcmu_global_max_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%d\n", READ_ONCE(tcmu_global_max_mb));
}

static const struct kernel_param_ops tcmu_global_max_ops = {
	.set = tcmu_global_max_set,
	.get = tcmu_global_max_get,
};

module_param_cb(global_max_data_area_mb, &tcmu_global_max_ops, NULL, 0644);
MODULE_PARM_DESC(global_max_data_area_mb,
		 "Max MBs allowed to be allocated to all the tcmu device's data areas.");

/* kp->arg: the counter to show, or NULL for the kept ones (all - in use). */
static int tcmu_global_pages_get(char *buf, const struct kernel_param *kp)
{
	s64 v = 0;

	mutex_lock(&tcmu_dev_list_lock);
	if (tcmu_live && kp->arg)
		v = percpu_counter_sum(kp->arg);
	else if (tcmu_live)
		v = percpu_counter_sum(&tcmu_global_pages) -
		    percpu_counter_sum(&tcmu_global_in_use);
	mutex_unlock(&tcmu_dev_list_lock);
	return sprintf(buf, "%lld\n", max_t(s64, v, 0));
}

static const struct kernel_param_ops tcmu_global_pages_ops = {
	.get = tcmu_global_pages_get,
};

module_param_cb(global_data_pages, &tcmu_global_pages_ops,
		&tcmu_global_pages, 0444);
MODULE_PARM_DESC(global_data_pages,
		 "Data pages of all devices; above global_max_data_area_mb kept ones go back (read-only).");
module_param_cb(global_data_pages_in_use, &tcmu_global_pages_ops,
		&tcmu_global_in_use, 0444);
MODULE_PARM_DESC(global_data_pages_in_use,
		 "Data pages of all devices held by commands, to 64 per busy device (read-only).");
module_param_cb(global_data_pages_kept, &tcmu_global_pages_ops, NULL, 0444);
MODULE_PARM_DESC(global_data_pages_kept,
		 "Data pages of all devices kept free for reuse (read-only).");

/* ---------------------------------------------------------------------
 * Accounting and the reclaim work
 */

/**
 * tcmu_global_max_data_mb() - the global_max_data_area_mb parameter
 *
 * Context: Any context.
 * Return: its current value, in MiB.
 */
int tcmu_global_max_data_mb(void)
{
	return READ_ONCE(tcmu_global_max_mb);
}

static long tcmu_global_limit(void)
{
	return TCMU_MB_TO_PAGES(READ_ONCE(tcmu_global_max_mb));
}

/*
 * A device's pages in use reach tcmu_global_in_use in steps of at least
 * this many, and exactly when its data area grows or shrinks and when
 * none is in use: every command takes and gives back its blocks, and
 * what reads the sum (the shrinker's count, the reclaim work's "anything
 * kept?", the module parameters) needs no better while commands come and
 * go.  make bench: per 4k command (its blocks taken, then given back),
 * tcmu_acct() cost 77-80 instructions and two calls of
 * percpu_counter_add_batch() in the core kernel; with the batch 60-64,
 * and a call only per batch or when the device goes idle.
 */
#define TCMU_ACCT_BATCH	64

/*
 * Bring the module-wide page counters up to date with @td's data area
 * (after every allocator call; pages in use in steps of TCMU_ACCT_BATCH)
 * and make sure the reclaim work runs while the device keeps free pages:
 * at once if the data areas together went over global_max_data_area_mb.
 * That is a reclaim target, as in stock, never a reason to hold a command
 * back.  cmdr_lock held.
 */
static void tcmu_acct(struct tcmu_device *td)
{
	long pages = 0, in_use = 0, d_in_use;

	lockdep_assert_held(&td->cmdr_lock);

	if (td->ready) {
		long ppb = td->da.blk_pages;

		pages = td->da.blocks_present * ppb;
		in_use = td->da.blocks_in_use * ppb;
	}
	if (pages != td->acct_pages)
		percpu_counter_add(&tcmu_global_pages, pages - td->acct_pages);
	d_in_use = in_use - td->acct_in_use;
	if (d_in_use && (!in_use || pages != td->acct_pages ||
			 abs(d_in_use) >= TCMU_ACCT_BATCH)) {
		percpu_counter_add(&tcmu_global_in_use, d_in_use);
		td->acct_in_use = in_use;
	}
	/* Off by at most a per-CPU batch: good enough for a target. */
	if (pages > td->acct_pages &&
	    percpu_counter_read(&tcmu_global_pages) > tcmu_global_limit() &&
	    !test_and_set_bit(0, &tcmu_budget_kicked))
		mod_delayed_work(system_wq, &tcmu_reclaim_work, 0);
	else if (pages > in_use && !delayed_work_pending(&tcmu_reclaim_work))
		queue_delayed_work(system_wq, &tcmu_reclaim_work,
				   TCMU_RECLAIM_PERIOD);
	td->acct_pages = pages;
}

/**
 * tcmu_data_get() - take data blocks for a command
 * @td: the device
 * @nr: how many blocks
 * @blks: receives their numbers, @nr entries
 *
 * Takes the blocks from @td's data area (tcmu_da_alloc()), then brings the
 * module-wide page counters up to date, starts the reclaim work if the data
 * areas went over global_max_data_area_mb, and feeds the decay heuristic's
 * peak.  The global limit never makes this fail.
 *
 * Context: Process context.  Expects cmdr_lock to be held.  Allocates with
 * TCMU_PLACE_GFP, which does not retry hard.
 * Return: 0, -ENOSPC if the device's data area has fewer than @nr blocks
 * free, or -ENOMEM.
 */
int tcmu_data_get(struct tcmu_device *td, u32 nr, u32 *blks)
{
	int ret;

	lockdep_assert_held(&td->cmdr_lock);

	ret = tcmu_da_alloc(&td->da, nr, blks, TCMU_PLACE_GFP);
	tcmu_acct(td);
	if (!ret)
		td->win_peak = max(td->win_peak, td->da.blocks_in_use);
	return ret;
}

/**
 * tcmu_data_put() - a command is done with its data blocks
 * @td: the device
 * @blks: the blocks tcmu_data_get() gave it
 * @nr: how many
 *
 * The blocks keep their memory for reuse until reclaim gives it back.
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 */
void tcmu_data_put(struct tcmu_device *td, const u32 *blks, u32 nr)
{
	lockdep_assert_held(&td->cmdr_lock);

	tcmu_da_free(&td->da, blks, nr);
	tcmu_acct(td);
}

/**
 * tcmu_data_destroy() - free all of a device's data pages
 * @td: the device: no block in use, no handler mapping left
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 */
void tcmu_data_destroy(struct tcmu_device *td)
{
	lockdep_assert_held(&td->cmdr_lock);

	tcmu_da_destroy(&td->da);
	tcmu_acct(td);
}

/*
 * tcmu_da_reclaim()'s zap callback, for the blocks @first .. @first + @nr
 * - 1: removes the handler's mappings of the whole run with one unmap
 * (one TLB shootdown).  A data fault maps its pages under cmdr_lock,
 * which we hold, so none is half done.
 */
static void tcmu_zap_blocks(void *priv, u32 first, u32 nr)
{
	struct tcmu_device *td = priv;

	lockdep_assert_held(&td->cmdr_lock);
	if (td->inode)
		unmap_mapping_range(td->inode->i_mapping,
				    tcmu_blk_off(td, first),
				    (u64)nr * td->da.blk_size, 1);
}

/* No command holds data and nothing happened for a reclaim period. */
static bool tcmu_dev_idle(const struct tcmu_device *td)
{
	return !td->da.blocks_in_use &&
	       time_after_eq(jiffies, td->last_active + TCMU_RECLAIM_PERIOD);
}

/*
 * Give back kept-free blocks until at most @keep stay, highest first;
 * blocks in use (KEPT requests' included) are never touched.  The zap
 * callback unmaps each block from the handler before its memory goes, so
 * the handler faults again (SIGBUS, or a fresh page once the block is
 * reused) instead of reading a freed page.  cmdr_lock held.
 */
static unsigned long tcmu_reclaim_blocks(struct tcmu_device *td, u32 keep,
					 enum tcmu_reclaim_cause cause)
{
	unsigned long freed;

	lockdep_assert_held(&td->cmdr_lock);

	freed = tcmu_da_reclaim(&td->da, keep, tcmu_zap_blocks, td);
	td->reclaimed[cause] += freed;
	tcmu_acct(td);
	if (freed)
		pr_debug("%s: gave back %lu data pages (cause %d)\n",
			 td->name, freed, cause);
	return freed;
}

/* Reclaim about @want pages of @td's kept-free ones.  cmdr_lock held. */
static unsigned long tcmu_reclaim_pages(struct tcmu_device *td,
					unsigned long want,
					enum tcmu_reclaim_cause cause)
{
	u32 kept = td->da.blocks_present - td->da.blocks_in_use;
	unsigned long blks = DIV_ROUND_UP(want, td->da.blk_pages);

	lockdep_assert_held(&td->cmdr_lock);

	if (!kept)
		return 0;
	return tcmu_reclaim_blocks(td, blks >= kept ? 0 : kept - blks, cause);
}

/*
 * Reclaim up to @want kept-free pages of all devices, idle devices first,
 * but for those that keep their pages (data_keep_pages).
 * tcmu_dev_list_lock is held by the caller; @block says whether each
 * device's cmdr_lock may be waited for (the reclaim work) or only tried
 * (the shrinker, which may run under any device's cmdr_lock through an
 * allocation).
 */
static unsigned long tcmu_reclaim_devs(unsigned long want, bool block,
				       enum tcmu_reclaim_cause cause)
{
	struct tcmu_device *td;
	unsigned long freed = 0;
	int pass;

	lockdep_assert_held(&tcmu_dev_list_lock);
	for (pass = 0; pass < 2 && freed < want; pass++) {
		list_for_each_entry(td, &tcmu_dev_list, dev_node) {
			if (test_bit(TCMU_DEV_KEEP_PAGES, &td->flags))
				continue;
			if (block)
				mutex_lock(&td->cmdr_lock);
			else if (!mutex_trylock(&td->cmdr_lock))
				continue;
			/* Pass 0: idle devices; pass 1: the others. */
			if (td->ready && tcmu_dev_idle(td) == !pass)
				freed += tcmu_reclaim_pages(td, want - freed,
							    cause);
			mutex_unlock(&td->cmdr_lock);
			if (freed >= want)
				break;
		}
	}
	return freed;
}

/*
 * One period of the per-device heuristic.  hwm is the decaying high-water
 * mark of blocks in use: it follows the most blocks in use during each
 * period (win_peak) up at once; once it has not been reached for
 * data_hwm_half_life seconds, its excess over win_peak halves every
 * data_hwm_half_life seconds.  Kept-free blocks above hwm are given back;
 * all of them once the device has been idle for data_idle_timeout
 * seconds, and then the command area's span shrinks as well.  cmdr_lock
 * held.
 */
static void tcmu_reclaim_tick(struct tcmu_device *td)
{
	struct tcmu_data_area *da = &td->da;
	u32 idle_s = READ_ONCE(td->idle_timeout);
	u32 half_s = READ_ONCE(td->hwm_half_life);
	u32 kept = da->blocks_present - da->blocks_in_use;
	enum tcmu_reclaim_cause cause = TCMU_RECLAIM_DECAY;
	unsigned long now = jiffies;
	u32 keep;

	lockdep_assert_held(&td->cmdr_lock);

	if (td->win_peak >= td->hwm) {
		td->hwm = td->win_peak;
		td->hwm_stamp = now;
	} else if (half_s && time_after_eq(now, td->hwm_stamp + half_s * HZ)) {
		td->hwm = td->win_peak + (td->hwm - td->win_peak) / 2;
		td->hwm_stamp = now;
	}
	td->win_peak = da->blocks_in_use;

	keep = td->hwm > da->blocks_in_use ? td->hwm - da->blocks_in_use : 0;
	if (idle_s && time_after_eq(now, td->last_active + idle_s * HZ)) {
		keep = 0;
		cause = TCMU_RECLAIM_IDLE;
		td->hwm = da->blocks_in_use;
	}
	if (kept > keep && !test_bit(TCMU_DEV_KEEP_PAGES, &td->flags))
		tcmu_reclaim_blocks(td, keep, cause);
	/* The ring's span goes back to its smallest size when idle too. */
	if (cause == TCMU_RECLAIM_IDLE)
		tcmu_cmdr_reclaim(td);
}

/*
 * The reclaim work: every TCMU_RECLAIM_PERIOD while some device keeps
 * free pages or a grown ring span, and at once when the data areas went over
 * global_max_data_area_mb or it was lowered: then kept pages go, idle
 * devices' first, until the data areas are back under it or nothing kept
 * is left.
 */
static void tcmu_reclaim_fn(struct work_struct *work)
{
	static unsigned long last_tick;
	struct tcmu_device *td;
	/* Kicked early: the next tick looks at every device. */
	bool kept = true;
	s64 over;

	clear_bit(0, &tcmu_budget_kicked);
	mutex_lock(&tcmu_dev_list_lock);
	/* The heuristic's periods stay a period long when kicked early. */
	if (time_after_eq(jiffies, last_tick + TCMU_RECLAIM_PERIOD)) {
		last_tick = jiffies;
		kept = false;
		list_for_each_entry(td, &tcmu_dev_list, dev_node) {
			mutex_lock(&td->cmdr_lock);
			if (td->ready) {
				tcmu_reclaim_tick(td);
				kept |= td->da.blocks_present >
					td->da.blocks_in_use;
			}
			mutex_unlock(&td->cmdr_lock);
		}
	}

	over = percpu_counter_sum(&tcmu_global_pages) - tcmu_global_limit();
	if (over > 0)
		tcmu_reclaim_devs(over, true, TCMU_RECLAIM_BUDGET);
	mutex_unlock(&tcmu_dev_list_lock);

	/*
	 * Not from the global counters: a device's pages in use reach
	 * them in batches, so a device that keeps a page beside fewer
	 * than TCMU_ACCT_BATCH in use may not show there, and its idle
	 * reclaim would never come (tests/ring-keepbuf-tmr.sh: one kept
	 * buffer, one page freed beside it).
	 */
	if (kept || tcmu_cmdr_any_grown())
		queue_delayed_work(system_wq, &tcmu_reclaim_work,
				   TCMU_RECLAIM_PERIOD);
}

/*
 * The shrinker: kernel memory pressure takes kept-free pages, idle
 * devices' first, never a block in use.  Only trylocks (see
 * tcmu_reclaim_devs()); and nothing from a GFP_NOIO/GFP_NOFS caller,
 * which may be in the middle of our own submission path.
 */
static unsigned long tcmu_shrink_count(struct shrinker *shrinker,
				       struct shrink_control *sc)
{
	s64 kept = percpu_counter_read_positive(&tcmu_global_pages) -
		   percpu_counter_read_positive(&tcmu_global_in_use);

	return kept > 0 ? kept : SHRINK_EMPTY;
}

static unsigned long tcmu_shrink_scan(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	unsigned long freed;

	if ((sc->gfp_mask & (__GFP_IO | __GFP_FS)) != (__GFP_IO | __GFP_FS))
		return SHRINK_STOP;
	/*
	 * Busy (the reclaim work holds the list or a device): nothing
	 * freed, but no SHRINK_STOP either, so the caller goes on with its
	 * next batch, still bounded by its scan count.
	 */
	if (!mutex_trylock(&tcmu_dev_list_lock))
		return 0;
	freed = tcmu_reclaim_devs(sc->nr_to_scan, false,
				  TCMU_RECLAIM_PRESSURE);
	mutex_unlock(&tcmu_dev_list_lock);
	return freed;
}

static struct shrinker *tcmu_shrinker;

/**
 * tcmu_reclaim_kick() - make sure the reclaim work runs within a period,
 *                       for memory it may give back later (a grown span)
 *
 * Context: Any context.
 */
void tcmu_reclaim_kick(void)
{
	if (!delayed_work_pending(&tcmu_reclaim_work))
		queue_delayed_work(system_wq, &tcmu_reclaim_work,
				   TCMU_RECLAIM_PERIOD);
}

/* ---------------------------------------------------------------------
 * Devices and the module
 */

/**
 * tcmu_reclaim_add_dev() - reclaim starts to see a configured device
 * @td: the device
 *
 * Context: Process context.  Takes tcmu_dev_list_lock: not under cmdr_lock.
 */
void tcmu_reclaim_add_dev(struct tcmu_device *td)
{
	mutex_lock(&tcmu_dev_list_lock);
	list_add_tail(&td->dev_node, &tcmu_dev_list);
	mutex_unlock(&tcmu_dev_list_lock);
}

/**
 * tcmu_reclaim_del_dev() - reclaim no longer sees a device
 * @td: the device, being destroyed
 *
 * Context: Process context.  Takes tcmu_dev_list_lock: not under cmdr_lock.
 */
void tcmu_reclaim_del_dev(struct tcmu_device *td)
{
	mutex_lock(&tcmu_dev_list_lock);
	list_del_init(&td->dev_node);
	mutex_unlock(&tcmu_dev_list_lock);
}

/**
 * tcmu_reclaim_init() - the page counters and the shrinker
 *
 * Context: Module init, before any device exists.
 * Return: 0 or a negative errno.
 */
int tcmu_reclaim_init(void)
{
	int ret;

	ret = percpu_counter_init(&tcmu_global_pages, 0, GFP_KERNEL);
	if (ret)
		return ret;
	ret = percpu_counter_init(&tcmu_global_in_use, 0, GFP_KERNEL);
	if (ret)
		goto err_pages;
	/* Kept-free pages hold no data: cheap to recreate, hence seeks 1. */
	tcmu_shrinker = tcmu_shrinker_create(tcmu_shrink_count,
					     tcmu_shrink_scan, 1, "tcmu-data");
	if (!tcmu_shrinker) {
		ret = -ENOMEM;
		goto err_in_use;
	}
	return 0;

err_in_use:
	percpu_counter_destroy(&tcmu_global_in_use);
err_pages:
	percpu_counter_destroy(&tcmu_global_pages);
	return ret;
}

/**
 * tcmu_reclaim_start() - let the module parameters read the counters and
 *                        queue the reclaim work
 *
 * Context: Module init, last step.  Takes tcmu_dev_list_lock.
 */
void tcmu_reclaim_start(void)
{
	mutex_lock(&tcmu_dev_list_lock);
	tcmu_live = true;
	mutex_unlock(&tcmu_dev_list_lock);
}

/**
 * tcmu_reclaim_exit() - undo tcmu_reclaim_init() and tcmu_reclaim_start()
 *
 * Context: Module exit, with no device left, or failed init.  Sleeps until
 * the reclaim work has finished.
 */
void tcmu_reclaim_exit(void)
{
	tcmu_shrinker_destroy(tcmu_shrinker);
	/*
	 * From here on the module parameters do not touch the counters or
	 * queue the work: nothing queues it again.
	 */
	mutex_lock(&tcmu_dev_list_lock);
	tcmu_live = false;
	mutex_unlock(&tcmu_dev_list_lock);
	cancel_delayed_work_sync(&tcmu_reclaim_work);
	percpu_counter_destroy(&tcmu_global_in_use);
	percpu_counter_destroy(&tcmu_global_pages);
}
