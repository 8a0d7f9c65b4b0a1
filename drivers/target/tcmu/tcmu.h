/* SPDX-License-Identifier: GPL-2.0 */
/*
 * target_core_user: LIO's userspace backstore, with a lazily filled data
 * area tracked in an XArray.  The driver's private header.
 *
 * A "user" backstore hands every SCSI command to a userspace handler
 * (tcmu-runner) through a UIO device.  The handler mmap()s one region:
 *
 *   0                  mailbox (struct tcmu_mailbox)
 *   TCMU_MB_SIZE       command ring, cmdr_size bytes, to TCMU_CMD_WIN
 *   TCMU_DATA_OFF      data window: TCMU_DATA_WIN bytes of data blocks
 *
 * Nothing is vmalloc()ed.  The command area has pages only in its active
 * span (cmd_area.c), data blocks get memory from the data area allocator
 * (data_area.c) when a command needs them, and both are mapped into the
 * handler by tcmu_vm_fault().  The layout, the per-command state
 * machine, the locking and the rules for reading the ring are described
 * in Documentation/target/tcmu-data-area.rst.
 *
 * One file per concern:
 *
 *   main.c        module, UIO device, mmap and fault, device lifecycle,
 *                 backend ops
 *   ring.c        submission, queue full, TMRs, waking the handler,
 *                 completion, timeouts, block_dev, reset_ring,
 *                 free_kept_buf
 *   ring_decode.h reading completions from the hostile ring:
 *                 checks and decisions only (static inline, for ring.c)
 *   cmd_area.c    the command area's pages and active span: room for
 *                 entries, growing, shrinking when idle
 *   reclaim.c     accounting, giving kept-free pages back (decay, idle,
 *                 global budget, shrinker), unmapping them
 *   configfs.c    control parameters, attributes, actions
 *   netlink.c     the TCM-USER generic netlink family
 *   data_area.c   the data area allocator (data_area.h)
 *
 * Locking, outermost first:
 *
 *   tcmu_dev_list_lock  the list of configured devices (tcmu_dev_list);
 *                       the shrinker only trylocks it
 *   td->cmdr_lock       everything about one device's ring and its span,
 *                       commands, queues, timers, data area and reclaim
 *                       state;
 *                       taken by trylock only from the shrinker
 *   (XArray spinlocks)  taken inside the XArray API only
 *
 *   tcmu_nl_lock        the list of netlink commands waiting for a reply;
 *                       never held together with cmdr_lock
 *
 * The fault handler takes cmdr_lock under the mm's mmap_lock, so nothing
 * may fault on the handler's mapping, or take mmap_lock, under cmdr_lock.
 */
#ifndef TCMU_H
#define TCMU_H

#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/timer.h>
#include <linux/uio_driver.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <target/target_core_backend.h>
#include <target/target_core_base.h>

#include <linux/target_core_user.h>

#include "data_area.h"
#include "ring_decode.h"

struct sk_buff;

/* ---------------------------------------------------------------------
 * Layout and tunables
 */

/* The command window (mailbox + ring) and the data window. */
#define TCMU_CMD_WIN		(512U * SZ_1M)
#define TCMU_DATA_WIN		(1024U * SZ_1M)
#define TCMU_DATA_OFF		TCMU_CMD_WIN
#define TCMU_MAP_SIZE		((u64)TCMU_CMD_WIN + TCMU_DATA_WIN)

/* The ring starts right after the mailbox. */
#define TCMU_MB_SIZE		((u32)sizeof(struct tcmu_mailbox))

/*
 * cmd_ring_size_mb: the most the command area's active span may grow to,
 * mailbox included; by default the whole command window.  An idle device's
 * span is TCMU_SPAN_MIN_PAGES: the mailbox and 31 minimum-size (128 byte)
 * entries with 4 KiB pages.  See the rst for the sums.
 */
#define TCMU_RING_MB_DEF	(TCMU_CMD_WIN / SZ_1M)
#define TCMU_RING_MB_MAX	(TCMU_CMD_WIN / SZ_1M)
#define TCMU_SPAN_MIN_PAGES	1U

/* max_data_area_mb: the whole data window by default. */
#define TCMU_DATA_MB_DEF	(TCMU_DATA_WIN / SZ_1M)
#define TCMU_DATA_MB_MAX	(TCMU_DATA_WIN / SZ_1M)

/*
 * data_pages_per_blk: pages per data block, each an order-0 page; up to
 * max_data_area_mb, as in stock.
 */
#define TCMU_PAGES_PER_BLK_DEF	1U

/* global_max_data_area_mb: the module-wide bound. */
#define TCMU_GLOBAL_MB_DEF	2048

#define TCMU_TIME_OUT_DEF	(30 * MSEC_PER_SEC)

/*
 * Memory for a command's data blocks and id is allocated under cmdr_lock:
 * with __GFP_NORETRY the allocator tries light reclaim only and fails
 * rather than loop with the lock held (order-0 GFP_NOIO alone never
 * fails).  A command that gets no memory is not failed: it waits on the
 * queue-full path and is retried after TCMU_NOMEM_RETRY from a kworker,
 * until qfull_time_out.
 */
#define TCMU_PLACE_GFP		(GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN)
/*
 * Ring pages, allocated in a memalloc_noio scope (vmap() and the page
 * array allocate with GFP_KERNEL), zeroed: the handler maps them.
 */
#define TCMU_RING_GFP		(GFP_KERNEL | __GFP_ZERO | __GFP_NORETRY | \
				 __GFP_NOWARN)
#define TCMU_NOMEM_RETRY	(HZ / 10)
/* Requests kept in reserve so that submission always makes progress. */
#define TCMU_REQ_RESERVE	16

/*
 * Giving kept-free data pages back (Documentation/target/tcmu-data-area.rst,
 * "Giving memory back"): the reclaim work runs every TCMU_RECLAIM_PERIOD
 * while some device keeps free pages; the defaults of the two attributes,
 * in seconds (0 turns each off).
 */
#define TCMU_RECLAIM_PERIOD	HZ
#define TCMU_IDLE_TIMEOUT_DEF	10	/* data_idle_timeout */
#define TCMU_HWM_HALF_LIFE_DEF	5	/* data_hwm_half_life */
#define TCMU_RECLAIM_S_MAX	86400	/* bound for both attributes */

/*
 * Doorbell moderation (Documentation/target/tcmu-data-area.rst, "Waking
 * the handler"): the defaults of wake_delay_us (0 wakes the handler for
 * every command at once, as stock) and wake_batch (0: no limit), and
 * their bounds.
 */
#define TCMU_WAKE_DELAY_US_DEF	0
#define TCMU_WAKE_BATCH_DEF	0
#define TCMU_WAKE_DELAY_US_MAX	(10 * USEC_PER_SEC)
#define TCMU_WAKE_BATCH_MAX	TCMU_MAX_CMD_ID

#define TCMU_CONFIG_LEN		256
#define TCMU_MAX_CMD_ID		0xffff
/* Commands of up to this many blocks need no separate block array. */
#define TCMU_INLINE_BLKS	4

#define TCMU_MB_TO_PAGES(mb)	((size_t)(mb) * (SZ_1M / PAGE_SIZE))

/* ---------------------------------------------------------------------
 * Types
 */

/* Why kept-free pages were given back: data_pages_reclaimed_<cause>. */
enum tcmu_reclaim_cause {
	TCMU_RECLAIM_DECAY,	/* above the decayed high-water mark */
	TCMU_RECLAIM_IDLE,	/* idle for data_idle_timeout */
	TCMU_RECLAIM_BUDGET,	/* over global_max_data_area_mb */
	TCMU_RECLAIM_PRESSURE,	/* the shrinker */
	TCMU_RECLAIM_NR,
};

/* What a command waited for after an allocation failed: *_nomem_waits. */
enum tcmu_nomem {
	TCMU_NOMEM_DATA,	/* data pages, XArray nodes, the block list */
	TCMU_NOMEM_CMD_ID,	/* an XArray node for the command id */
	TCMU_NOMEM_RING,	/* pages for a larger ring span */
	TCMU_NOMEM_NR,
};

struct tcmu_hba {
	u32 host_id;
};

/* A netlink event sent to userspace whose *_DONE reply we wait for. */
struct tcmu_nl_wait {
	struct list_head node;		/* on tcmu_nl_waits while waiting */
	struct completion done;
	struct tcmu_device *td;
	int cmd;			/* TCMU_CMD_UNSPEC: nothing pending */
	int status;			/* the reply's TCMU_ATTR_CMD_STATUS */
};

/* td->flags bits */
enum {
	TCMU_DEV_OPEN,		/* the UIO device is open (one opener) */
	TCMU_DEV_BROKEN,	/* the ring is corrupt: until reset_ring */
	TCMU_DEV_BLOCKED,	/* block_dev: new commands get BUSY */
	TCMU_DEV_TMR_NOTIFY,	/* tmr_notification */
	TCMU_DEV_PLUGGED,	/* submission plugged: kick on unplug */
	TCMU_DEV_GONE,		/* being destroyed: no timer or work rearms */
	TCMU_DEV_KEEP_PAGES,	/* data_keep_pages: no reclaim of kept pages */
};

struct tcmu_device {
	struct se_device se_dev;
	struct se_dev_plug se_plug;
	struct kref kref;	/* alloc + configure + one per VMA */
	struct list_head dev_node;	/* tcmu_dev_list, tcmu_dev_list_lock */
	char *name;
	struct se_hba *hba;
	unsigned long flags;	/* TCMU_DEV_*, atomic bitops */

	struct uio_info uio;
	/*
	 * The inode of the open UIO file, whose mapping reclaim unmaps;
	 * cmdr_lock.  Set by open, cleared by release: the open file pins
	 * it, and a released file has no mapping left to unmap.
	 */
	struct inode *inode;

	/*
	 * Configuration.  The sizes are fixed once the device is enabled
	 * (td->ready); they are written under cmdr_lock before that.
	 */
	u64 dev_size;
	char dev_config[TCMU_CONFIG_LEN];
	int nl_reply_supported;
	u32 ring_mb;		/* cmd_ring_size_mb: the span's cap */
	u32 data_mb;		/* max_data_area_mb */
	u32 pages_per_blk;	/* data_pages_per_blk */
	u32 cmd_time_out;	/* ms, 0 = none; READ_ONCE/WRITE_ONCE */
	int qfull_time_out;	/* ms, 0 = fail at once, -1 = cmd_time_out */

	/* Protects everything below, the data area included. */
	struct mutex cmdr_lock;
	bool ready;		/* ring and data area exist */
	/*
	 * The command area's active span (cmd_area.c): span_pages pages,
	 * the mailbox at the start of the first, vmap()ed at ring.  ring,
	 * mb and cmdr move whenever the span changes.
	 */
	struct page **ring_pages;
	u32 span_pages;
	void *ring;
	struct tcmu_mailbox *mb;
	void *cmdr;
	u32 cmdr_size;		/* what the mailbox says: the whole window */
	u32 cmdr_span;		/* ring bytes in the span: entries stay below */
	u32 wrap_pos;		/* where the head last wrapped (its PAD) */
	u32 wrap_span;		/* cmdr_span then */
	u32 cmdr_head;		/* next free byte; mb->cmd_head mirrors it */
	u32 cmdr_tail;		/* first entry not yet reaped */
	u64 ring_reclaimed;	/* ring pages given back */
	struct tcmu_data_area da;
	struct xarray reqs;	/* cmd_id -> request: RING, TIMEDOUT, KEPT */
	struct list_head ring_list;	/* RING requests, oldest first */
	struct list_head qfull_list;	/* QFULL requests, oldest first */
	struct list_head tmr_list;	/* TMR messages waiting for room */
	bool nomem_retry;	/* a queued command failed for memory */
	bool wrap_wait;		/* last placement: no room, span wrapped */
	u64 nomem_waits[TCMU_NOMEM_NR];	/* commands that waited, by cause */
	unsigned long last_active;	/* jiffies of the last submit/reap */
	/* Reclaim, in blocks: see tcmu_reclaim_tick(). */
	u32 hwm;		/* decaying high-water mark of blocks in use */
	u32 win_peak;		/* most blocks in use since the last tick */
	unsigned long hwm_stamp;	/* jiffies: hwm last reached or decayed */
	long acct_pages;	/* our part of tcmu_global_pages */
	long acct_in_use;	/* our part of tcmu_global_in_use */
	u64 reclaimed[TCMU_RECLAIM_NR];	/* pages given back, by cause */
	u32 idle_timeout;	/* s, data_idle_timeout; READ_ONCE */
	u32 hwm_half_life;	/* s, data_hwm_half_life; READ_ONCE */
	/*
	 * Waking the handler (doorbell moderation): commands in the ring
	 * (RING and TIMEDOUT requests), of which published since the
	 * handler was last woken by us; the timer that wakes it for those
	 * at the latest wake_delay_us after they came (it does not reset
	 * unwoken: a stale count only wakes the handler early).
	 */
	u32 wake_delay_us;	/* READ_ONCE/WRITE_ONCE */
	u32 wake_batch;		/* READ_ONCE/WRITE_ONCE */
	u32 in_ring;
	u32 unwoken;
	struct hrtimer wake_timer;
	/* The first RING or QFULL deadline, or the retry after -ENOMEM. */
	struct timer_list timer;
	struct work_struct timeout_work;	/* runs expiries off the timers */

	/* The netlink event in flight; tcmu_nl_lock. */
	struct tcmu_nl_wait nl_wait;
};

#define TCMU_DEV(_se_dev) container_of(_se_dev, struct tcmu_device, se_dev)

struct tcmu_req {
	struct tcmu_device *td;
	struct se_cmd *se_cmd;	/* NULL once the se_cmd was completed */
	struct list_head node;	/* qfull_list or ring_list */
	enum tcmu_req_state state;
	u16 cmd_id;		/* 0 until RING */
	bool timed;		/* deadline is meaningful */
	unsigned long deadline;	/* jiffies: QFULL or RING timeout */
	u32 data_len;		/* bytes of se_cmd->t_data_sg */
	u32 bidi_len;		/* bytes of se_cmd->t_bidi_data_sg */
	u32 nr_blks;		/* data blocks, then bidi blocks */
	u32 nr_bidi_blks;
	bool has_blks;		/* blks[] are allocated in the data area */
	u32 *blks;		/* inline_blks, a kcalloc()ed array or NULL */
	u32 inline_blks[TCMU_INLINE_BLKS];
};

/* A TMR notification on its way into the ring. */
struct tcmu_tmr_msg {
	struct list_head node;	/* td->tmr_list while waiting for room */
	u8 type;
	u32 nr_ids;
	u16 ids[];
};

/* Data window offset of block @blk, as the handler sees it. */
static inline u64 tcmu_blk_off(const struct tcmu_device *td, u32 blk)
{
	return TCMU_DATA_OFF + (u64)blk * td->da.blk_size;
}

/* ---------------------------------------------------------------------
 * Between the files
 */

/* main.c */
int tcmu_swap_uio_name(struct tcmu_device *td);

/* cmd_area.c */
int tcmu_cmdr_init(struct tcmu_device *td);
void tcmu_cmdr_destroy(struct tcmu_device *td);
struct page *tcmu_cmdr_page(struct tcmu_device *td, pgoff_t pgoff);
bool tcmu_cmdr_any_grown(void);
int tcmu_cmdr_reserve(struct tcmu_device *td, u32 size);
void *tcmu_cmdr_claim(struct tcmu_device *td, u32 size);
void tcmu_cmdr_publish(struct tcmu_device *td, u32 size);
unsigned long tcmu_cmdr_reclaim(struct tcmu_device *td);

/* ring.c */
int tcmu_req_cache_init(void);
void tcmu_req_cache_exit(void);
void tcmu_req_free(struct tcmu_req *req);
void tcmu_run_qfull(struct tcmu_device *td);
bool tcmu_reap(struct tcmu_device *td);
void tcmu_drop_tmrs(struct tcmu_device *td);
void tcmu_ring_init_dev(struct tcmu_device *td);
void tcmu_ring_stop_timer(struct tcmu_device *td);
sense_reason_t tcmu_parse_cdb(struct se_cmd *cmd);
struct se_dev_plug *tcmu_plug_device(struct se_device *se_dev);
void tcmu_unplug_device(struct se_dev_plug *se_plug);
void tcmu_tmr_notify(struct se_device *se_dev, enum tcm_tmreq_table tmf,
		     struct list_head *cmd_list);
void tcmu_block(struct tcmu_device *td);
void tcmu_unblock(struct tcmu_device *td);
void tcmu_reset_ring(struct tcmu_device *td, u8 level);
int tcmu_free_kept(struct tcmu_device *td, u16 id);

/* reclaim.c */
int tcmu_global_max_data_mb(void);
int tcmu_reclaim_init(void);
void tcmu_reclaim_start(void);
void tcmu_reclaim_exit(void);
void tcmu_reclaim_kick(void);
void tcmu_reclaim_add_dev(struct tcmu_device *td);
void tcmu_reclaim_del_dev(struct tcmu_device *td);
int tcmu_data_get(struct tcmu_device *td, u32 nr, u32 *blks);
void tcmu_data_put(struct tcmu_device *td, const u32 *blks, u32 nr);
void tcmu_data_destroy(struct tcmu_device *td);

/* configfs.c */
int tcmu_build_attrs(struct target_backend_ops *ops);
void tcmu_free_attrs(void);
ssize_t tcmu_set_configfs_dev_params(struct se_device *dev,
				     const char *page, ssize_t count);
ssize_t tcmu_show_configfs_dev_params(struct se_device *dev, char *b);

/* netlink.c */
bool tcmu_nl_daemon_replies(void);
int tcmu_nl_register(void);
void tcmu_nl_unregister(void);
int tcmu_nl_send_simple(struct tcmu_device *td, enum tcmu_genl_cmd cmd);
int tcmu_nl_send_reconfig(struct tcmu_device *td,
			  int (*put)(struct sk_buff *skb, const void *arg),
			  const void *arg);
int tcmu_put_dev_cfg(struct sk_buff *skb, const void *arg);
int tcmu_put_dev_size(struct sk_buff *skb, const void *arg);
int tcmu_put_write_cache(struct sk_buff *skb, const void *arg);

#endif /* TCMU_H */
