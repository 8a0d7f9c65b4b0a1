// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: LIO's userspace backstore, with a lazily filled data
 * area tracked in an XArray.
 *
 * A "user" backstore hands every SCSI command to a userspace handler
 * (tcmu-runner) through a UIO device.  The handler mmap()s one region:
 *
 *   0                  mailbox (struct tcmu_mailbox)
 *   TCMU_MB_SIZE       command ring, cmdr_size bytes
 *   ring_bytes         unused gap, up to the end of the command window
 *   TCMU_DATA_OFF      data window: TCMU_DATA_WIN bytes of data blocks
 *
 * Only the mailbox and the ring are vmalloc()ed; data blocks get memory
 * from the data area allocator (tcmu_data_area.c) when a command needs
 * them and are mapped into the handler by tcmu_vm_fault().  The layout,
 * the per-command state machine, the locking and the rules for reading
 * the ring are described in Documentation/target/tcmu-design.rst.
 *
 * Locking, outermost first:
 *
 *   tcmu_dev_list_lock  the list of configured devices (tcmu_dev_list);
 *                       the shrinker only trylocks it
 *   td->cmdr_lock       everything about one device's ring, commands,
 *                       queues, timers, data area and reclaim state;
 *                       taken by trylock only from the shrinker
 *   (XArray spinlocks)  taken inside the XArray API only
 *
 *   tcmu_nl_lock        the list of netlink commands waiting for a reply;
 *                       never held together with cmdr_lock
 *
 * The fault handler takes cmdr_lock under the mm's mmap_lock, so nothing
 * may fault on the handler's mapping, or take mmap_lock, under cmdr_lock.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/configfs.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mempool.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/parser.h>
#include <linux/percpu_counter.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/stringify.h>
#include <linux/timer.h>
#include <linux/uio_driver.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_proto.h>
#include <target/target_core_backend.h>
#include <target/target_core_base.h>
#include <target/target_core_fabric.h>

#include <linux/target_core_user.h>

#include "tcmu_data_area.h"

/* ---------------------------------------------------------------------
 * Layout and tunables
 */

/* The command window (mailbox + ring + gap) and the data window. */
#define TCMU_CMD_WIN		(512U << 20)
#define TCMU_DATA_WIN		(1024U << 20)
#define TCMU_DATA_OFF		TCMU_CMD_WIN
#define TCMU_MAP_SIZE		((u64)TCMU_CMD_WIN + TCMU_DATA_WIN)

/* The ring starts right after the mailbox. */
#define TCMU_MB_SIZE		((u32)sizeof(struct tcmu_mailbox))

/*
 * cmd_ring_size_mb: mailbox plus ring, resident for the device's life.
 * 2 MiB holds 16K minimum-size (128 byte) entries: far more commands
 * than a fabric keeps outstanding on one LUN.  See the rst for the sums.
 */
#define TCMU_RING_MB_DEF	2U
#define TCMU_RING_MB_MAX	(TCMU_CMD_WIN >> 20)

/* max_data_area_mb: the whole data window by default. */
#define TCMU_DATA_MB_DEF	(TCMU_DATA_WIN >> 20)
#define TCMU_DATA_MB_MAX	(TCMU_DATA_WIN >> 20)

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
#define TCMU_NOMEM_RETRY	(HZ / 10)
/* Requests kept in reserve so that submission always makes progress. */
#define TCMU_REQ_RESERVE	16

/*
 * Giving kept-free data pages back (Documentation/target/tcmu-design.rst,
 * "Giving memory back"): the reclaim work runs every TCMU_RECLAIM_PERIOD
 * while some device keeps free pages; the defaults of the two attributes,
 * in seconds (0 turns each off).
 */
#define TCMU_RECLAIM_PERIOD	HZ
#define TCMU_IDLE_TIMEOUT_DEF	10	/* data_idle_timeout */
#define TCMU_HWM_HALF_LIFE_DEF	5	/* data_hwm_half_life */
#define TCMU_RECLAIM_S_MAX	86400	/* bound for both attributes */

#define TCMU_CONFIG_LEN		256
#define TCMU_MAX_CMD_ID		0xffff
/* Commands of up to this many blocks need no separate block array. */
#define TCMU_INLINE_BLKS	4

#define TCMU_MB_TO_PAGES(mb)	((size_t)(mb) << (20 - PAGE_SHIFT))

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
	u32 ring_mb;		/* cmd_ring_size_mb */
	u32 data_mb;		/* max_data_area_mb */
	u32 pages_per_blk;	/* data_pages_per_blk */
	u32 cmd_time_out;	/* ms, 0 = none; READ_ONCE/WRITE_ONCE */
	int qfull_time_out;	/* ms, 0 = fail at once, -1 = cmd_time_out */

	/* Protects everything below, the data area included. */
	struct mutex cmdr_lock;
	bool ready;		/* ring and data area exist */
	void *ring;		/* vmalloc: mailbox + command ring */
	struct tcmu_mailbox *mb;
	void *cmdr;
	u32 ring_bytes;		/* ring_mb in bytes: mailbox + cmdr_size */
	u32 cmdr_size;
	u32 cmdr_head;		/* next free byte; mb->cmd_head mirrors it */
	u32 cmdr_tail;		/* first entry not yet reaped */
	struct tcmu_data_area da;
	struct xarray reqs;	/* cmd_id -> request: RING, TIMEDOUT, KEPT */
	u32 next_id;		/* cyclic id allocation */
	struct list_head ring_list;	/* RING requests, oldest first */
	struct list_head qfull_list;	/* QFULL requests, oldest first */
	struct list_head tmr_list;	/* TMR messages waiting for room */
	bool nomem_retry;	/* a queued command failed for memory */
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
	struct timer_list ring_timer;	/* earliest RING deadline */
	struct timer_list qfull_timer;	/* earliest QFULL deadline, retry */
	struct work_struct timeout_work;	/* runs expiries off the timers */

	/* The netlink event in flight; tcmu_nl_lock. */
	struct tcmu_nl_wait nl_wait;
};

#define TCMU_DEV(_se_dev) container_of(_se_dev, struct tcmu_device, se_dev)

/*
 * The kernel-side life of one SCSI command (struct tcmu_req), see the
 * rst for the diagram.  NEW is the state at allocation; a request leaves
 * the machine (DONE) when tcmu_req_free() is called.
 */
enum tcmu_req_state {
	TCMU_REQ_NEW,		/* allocated, not queued anywhere */
	TCMU_REQ_QFULL,		/* on qfull_list: waits for ring/data room */
	TCMU_REQ_RING,		/* entry in the ring, se_cmd not completed */
	TCMU_REQ_TIMEDOUT,	/* entry in the ring, se_cmd failed by timer */
	TCMU_REQ_KEPT,		/* completed with KEEP_BUF: blocks kept */
	TCMU_REQ_DONE,		/* freed (never stored: for the table) */
	TCMU_REQ_NR_STATES,
};

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
static u64 tcmu_blk_off(const struct tcmu_device *td, u32 blk)
{
	return TCMU_DATA_OFF + (u64)blk * td->da.blk_size;
}

/* =====================================================================
 * Netlink: the TCM-USER family and its module parameters
 */

static u8 tcmu_nl_blocked;		/* block_netlink */
static u8 tcmu_nl_reply_feature;	/* set by TCMU_CMD_SET_FEATURES */

/* Protects tcmu_nl_waits and every struct tcmu_nl_wait's fields. */
static DEFINE_MUTEX(tcmu_nl_lock);
static LIST_HEAD(tcmu_nl_waits);

/* ---------------------------------------------------------------------
 * Module parameters
 */

static int tcmu_nl_block_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%s\n",
		       READ_ONCE(tcmu_nl_blocked) ? "blocked" : "unblocked");
}

static int tcmu_nl_block_set(const char *val, const struct kernel_param *kp)
{
	u8 v;
	int ret;

	ret = kstrtou8(val, 0, &v);
	if (ret < 0)
		return ret;
	if (v > 1) {
		pr_err("Invalid block netlink value %u\n", v);
		return -EINVAL;
	}
	WRITE_ONCE(tcmu_nl_blocked, v);
	return 0;
}

static const struct kernel_param_ops tcmu_nl_block_ops = {
	.set = tcmu_nl_block_set,
	.get = tcmu_nl_block_get,
};

module_param_cb(block_netlink, &tcmu_nl_block_ops, NULL, 0644);
MODULE_PARM_DESC(block_netlink, "Block new netlink commands.");

/* reset_netlink=1: fail every netlink wait (block_netlink must be set). */
static int tcmu_nl_reset_set(const char *val, const struct kernel_param *kp)
{
	struct tcmu_nl_wait *w, *tmp;
	int ret;
	u8 v;

	ret = kstrtou8(val, 0, &v);
	if (ret < 0)
		return ret;
	if (v != 1) {
		pr_err("Invalid reset netlink value %u\n", v);
		return -EINVAL;
	}

	mutex_lock(&tcmu_nl_lock);
	list_for_each_entry_safe(w, tmp, &tcmu_nl_waits, node) {
		if (!tcmu_nl_blocked) {
			pr_err("Could not reset device's netlink interface. Netlink is not blocked.\n");
			ret = -EBUSY;
			break;
		}
		if (w->cmd == TCMU_CMD_UNSPEC)
			continue;
		pr_debug("aborting netlink cmd %d on %s\n", w->cmd, w->td->name);
		w->status = -EINTR;
		list_del_init(&w->node);
		complete(&w->done);
	}
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static const struct kernel_param_ops tcmu_nl_reset_ops = {
	.set = tcmu_nl_reset_set,
};

module_param_cb(reset_netlink, &tcmu_nl_reset_ops, NULL, 0200);
MODULE_PARM_DESC(reset_netlink, "Reset netlink commands.");

/* ---------------------------------------------------------------------
 * Generic netlink: family TCM-USER
 */

enum tcmu_mcgrp {
	TCMU_MCGRP_CONFIG,
};

static const struct genl_multicast_group tcmu_nl_groups[] = {
	[TCMU_MCGRP_CONFIG] = { .name = "config", },
};

static const struct nla_policy tcmu_nl_policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE]	= { .type = NLA_STRING },
	[TCMU_ATTR_MINOR]	= { .type = NLA_U32 },
	[TCMU_ATTR_CMD_STATUS]	= { .type = NLA_S32 },
	[TCMU_ATTR_DEVICE_ID]	= { .type = NLA_U32 },
	[TCMU_ATTR_SUPP_KERN_CMD_REPLY] = { .type = NLA_U8 },
};

/* A *_DONE reply: wake the event sender waiting on that device. */
static int tcmu_nl_reply(struct genl_info *info, int for_cmd)
{
	struct tcmu_nl_wait *w, *found = NULL;
	u32 dev_id;
	int status, ret = 0;

	if (!info->attrs[TCMU_ATTR_CMD_STATUS] ||
	    !info->attrs[TCMU_ATTR_DEVICE_ID]) {
		pr_err("TCMU_ATTR_CMD_STATUS or TCMU_ATTR_DEVICE_ID not set, doing nothing\n");
		return -EINVAL;
	}
	dev_id = nla_get_u32(info->attrs[TCMU_ATTR_DEVICE_ID]);
	status = nla_get_s32(info->attrs[TCMU_ATTR_CMD_STATUS]);

	mutex_lock(&tcmu_nl_lock);
	list_for_each_entry(w, &tcmu_nl_waits, node) {
		if (w->td->se_dev.dev_index == dev_id) {
			found = w;
			break;
		}
	}
	if (!found) {
		pr_err("tcmu nl cmd %u/%d completion could not find device with dev id %u.\n",
		       for_cmd, status, dev_id);
		ret = -ENODEV;
		goto out;
	}
	/*
	 * Whatever the reply says, the event it answers is over: the
	 * sender waits uninterruptibly and nothing else would wake it.
	 */
	list_del_init(&found->node);
	if (found->cmd != for_cmd) {
		pr_err("%s: reply to netlink command %d while %d waits for one\n",
		       found->td->name, for_cmd, found->cmd);
		status = -EINVAL;
		ret = -EINVAL;
	} else if (status > 0) {
		pr_err("%s: netlink reply status %d is not an errno\n",
		       found->td->name, status);
		status = -EINVAL;
	}
	found->status = status;
	complete(&found->done);
out:
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static int tcmu_nl_added_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_reply(info, TCMU_CMD_ADDED_DEVICE);
}

static int tcmu_nl_removed_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_reply(info, TCMU_CMD_REMOVED_DEVICE);
}

static int tcmu_nl_reconfig_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_reply(info, TCMU_CMD_RECONFIG_DEVICE);
}

static int tcmu_nl_set_features(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *a = info->attrs[TCMU_ATTR_SUPP_KERN_CMD_REPLY];

	if (a) {
		WRITE_ONCE(tcmu_nl_reply_feature, nla_get_u8(a));
		pr_info("tcmu daemon: command reply support %u.\n",
			tcmu_nl_reply_feature);
	}
	return 0;
}

#define TCMU_NL_OP(_cmd, _fn) {						\
	.cmd = (_cmd),							\
	.validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP, \
	.flags = GENL_ADMIN_PERM,					\
	.doit = (_fn),							\
}

static const struct genl_small_ops tcmu_nl_ops[] = {
	TCMU_NL_OP(TCMU_CMD_SET_FEATURES, tcmu_nl_set_features),
	TCMU_NL_OP(TCMU_CMD_ADDED_DEVICE_DONE, tcmu_nl_added_done),
	TCMU_NL_OP(TCMU_CMD_REMOVED_DEVICE_DONE, tcmu_nl_removed_done),
	TCMU_NL_OP(TCMU_CMD_RECONFIG_DEVICE_DONE, tcmu_nl_reconfig_done),
};

static struct genl_family tcmu_nl_family __ro_after_init = {
	.module = THIS_MODULE,
	.hdrsize = 0,
	.name = "TCM-USER",
	.version = 2,
	.maxattr = TCMU_ATTR_MAX,
	.policy = tcmu_nl_policy,
	.mcgrps = tcmu_nl_groups,
	.n_mcgrps = ARRAY_SIZE(tcmu_nl_groups),
	.netnsok = true,
	.small_ops = tcmu_nl_ops,
	.n_small_ops = ARRAY_SIZE(tcmu_nl_ops),
	.resv_start_op = TCMU_CMD_SET_FEATURES + 1,
};

/* Does an event to @td wait for a *_DONE reply? */
static bool tcmu_nl_wants_reply(struct tcmu_device *td)
{
	return READ_ONCE(tcmu_nl_reply_feature) && td->nl_reply_supported > 0;
}

static int tcmu_nl_wait_begin(struct tcmu_device *td, int cmd)
{
	struct tcmu_nl_wait *w = &td->nl_wait;
	int ret = 0;

	mutex_lock(&tcmu_nl_lock);
	if (tcmu_nl_blocked) {
		pr_warn("Failing nl cmd %d on %s. Interface is blocked.\n",
			cmd, td->name);
		ret = -EAGAIN;
	} else if (w->cmd != TCMU_CMD_UNSPEC) {
		pr_warn("netlink cmd %d already executing on %s\n",
			w->cmd, td->name);
		ret = -EBUSY;
	} else {
		w->cmd = cmd;
		w->status = 0;
		w->td = td;
		reinit_completion(&w->done);
		list_add_tail(&w->node, &tcmu_nl_waits);
	}
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static void tcmu_nl_wait_cancel(struct tcmu_device *td)
{
	struct tcmu_nl_wait *w = &td->nl_wait;

	mutex_lock(&tcmu_nl_lock);
	list_del_init(&w->node);
	w->cmd = TCMU_CMD_UNSPEC;
	mutex_unlock(&tcmu_nl_lock);
}

static int tcmu_nl_wait_end(struct tcmu_device *td)
{
	struct tcmu_nl_wait *w = &td->nl_wait;
	int ret;

	pr_debug("%s: waiting for netlink reply\n", td->name);
	wait_for_completion(&w->done);

	mutex_lock(&tcmu_nl_lock);
	w->cmd = TCMU_CMD_UNSPEC;
	ret = w->status;
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static int tcmu_nl_event_new(struct tcmu_device *td, enum tcmu_genl_cmd cmd,
			     struct sk_buff **skbp, void **hdrp)
{
	struct sk_buff *skb;
	void *hdr;
	int ret = -ENOMEM;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return ret;
	hdr = genlmsg_put(skb, 0, 0, &tcmu_nl_family, 0, cmd);
	if (!hdr)
		goto fail;
	/* A dev_config store may replace the name: see tcmu_swap_uio_name(). */
	mutex_lock(&td->uio.uio_dev->info_lock);
	ret = nla_put_string(skb, TCMU_ATTR_DEVICE, td->uio.name);
	mutex_unlock(&td->uio.uio_dev->info_lock);
	if (ret < 0)
		goto fail;
	ret = nla_put_u32(skb, TCMU_ATTR_MINOR, td->uio.uio_dev->minor);
	if (ret < 0)
		goto fail;
	ret = nla_put_u32(skb, TCMU_ATTR_DEVICE_ID, td->se_dev.dev_index);
	if (ret < 0)
		goto fail;
	*skbp = skb;
	*hdrp = hdr;
	return 0;
fail:
	nlmsg_free(skb);
	return ret;
}

/* Multicast the event and, if userspace replies to events, wait for it. */
static int tcmu_nl_event_send(struct tcmu_device *td, enum tcmu_genl_cmd cmd,
			      struct sk_buff *skb, void *hdr)
{
	bool wait = tcmu_nl_wants_reply(td);
	int ret;

	genlmsg_end(skb, hdr);
	if (wait) {
		ret = tcmu_nl_wait_begin(td, cmd);
		if (ret) {
			nlmsg_free(skb);
			return ret;
		}
	}

	ret = genlmsg_multicast_allns(&tcmu_nl_family, skb, 0,
				      TCMU_MCGRP_CONFIG);
	/* No listener yet is fine for an add: the daemon may start later. */
	if (ret == 0 || (ret == -ESRCH && cmd == TCMU_CMD_ADDED_DEVICE))
		return wait ? tcmu_nl_wait_end(td) : 0;

	if (wait)
		tcmu_nl_wait_cancel(td);
	return ret;
}

static int tcmu_nl_send_simple(struct tcmu_device *td, enum tcmu_genl_cmd cmd)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	ret = tcmu_nl_event_new(td, cmd, &skb, &hdr);
	if (ret)
		return ret;
	return tcmu_nl_event_send(td, cmd, skb, hdr);
}

/* RECONFIG with one attribute; @put adds it. */
static int tcmu_nl_send_reconfig(struct tcmu_device *td,
				 int (*put)(struct sk_buff *skb,
					    const void *arg),
				 const void *arg)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	ret = tcmu_nl_event_new(td, TCMU_CMD_RECONFIG_DEVICE, &skb, &hdr);
	if (ret)
		return ret;
	ret = put(skb, arg);
	if (ret < 0) {
		nlmsg_free(skb);
		return ret;
	}
	return tcmu_nl_event_send(td, TCMU_CMD_RECONFIG_DEVICE, skb, hdr);
}

static int tcmu_put_dev_cfg(struct sk_buff *skb, const void *arg)
{
	return nla_put_string(skb, TCMU_ATTR_DEV_CFG, arg);
}

static int tcmu_put_dev_size(struct sk_buff *skb, const void *arg)
{
	return nla_put_u64_64bit(skb, TCMU_ATTR_DEV_SIZE, *(const u64 *)arg,
				 TCMU_ATTR_PAD);
}

static int tcmu_put_write_cache(struct sk_buff *skb, const void *arg)
{
	return nla_put_u8(skb, TCMU_ATTR_WRITECACHE, *(const u8 *)arg);
}

/* =====================================================================
 * Reclaim: giving kept-free data pages back (decay, idle, budget, shrinker)
 */

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
		 "Data pages of all devices held by commands (read-only).");
module_param_cb(global_data_pages_kept, &tcmu_global_pages_ops, NULL, 0444);
MODULE_PARM_DESC(global_data_pages_kept,
		 "Data pages of all devices kept free for reuse (read-only).");

/* ---------------------------------------------------------------------
 * Accounting and the reclaim work
 */

static long tcmu_global_limit(void)
{
	return TCMU_MB_TO_PAGES(READ_ONCE(tcmu_global_max_mb));
}

/*
 * Bring the module-wide page counters up to date with @td's data area
 * (after every allocator call) and make sure the reclaim work runs while
 * the device keeps free pages: at once if the data areas together went
 * over global_max_data_area_mb.  That is a reclaim target, as in stock,
 * never a reason to hold a command back.  cmdr_lock held.
 */
static void tcmu_acct(struct tcmu_device *td)
{
	long pages = 0, in_use = 0;

	if (td->ready) {
		long ppb = td->da.blk_pages;

		pages = td->da.blocks_present * ppb;
		in_use = td->da.blocks_in_use * ppb;
	}
	if (pages != td->acct_pages)
		percpu_counter_add(&tcmu_global_pages, pages - td->acct_pages);
	if (in_use != td->acct_in_use)
		percpu_counter_add(&tcmu_global_in_use,
				   in_use - td->acct_in_use);
	/* Off by at most a per-CPU batch: good enough for a target. */
	if (pages > td->acct_pages &&
	    percpu_counter_read(&tcmu_global_pages) > tcmu_global_limit() &&
	    !test_and_set_bit(0, &tcmu_budget_kicked))
		mod_delayed_work(system_wq, &tcmu_reclaim_work, 0);
	else if (pages > in_use && !delayed_work_pending(&tcmu_reclaim_work))
		queue_delayed_work(system_wq, &tcmu_reclaim_work,
				   TCMU_RECLAIM_PERIOD);
	td->acct_pages = pages;
	td->acct_in_use = in_use;
}

/*
 * tcmu_da_reclaim()'s zap callback, for the blocks @first .. @first + @nr
 * - 1.  Waits for a fault in progress on each page (it holds the page lock
 * until its PTE is in; the PTE page was preallocated before ->fault, so
 * that fault does not enter reclaim with the page locked), then removes
 * the handler's mappings of the whole run with one unmap (one TLB
 * shootdown).  cmdr_lock held.
 */
static void tcmu_zap_blocks(void *priv, u32 first, u32 nr)
{
	struct tcmu_device *td = priv;
	u32 bsz = td->da.blk_size;
	struct page *page;
	u32 blk, i;

	lockdep_assert_held(&td->cmdr_lock);
	for (blk = first; blk < first + nr; blk++) {
		for (i = 0; i < td->da.blk_pages; i++) {
			page = tcmu_da_page(&td->da, blk, i);
			if (!page)
				break;
			lock_page(page);
			unlock_page(page);
		}
	}
	if (td->inode)
		unmap_mapping_range(td->inode->i_mapping,
				    tcmu_blk_off(td, first), (u64)nr * bsz, 1);
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
 * seconds.  cmdr_lock held.
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
}

/*
 * The reclaim work: every TCMU_RECLAIM_PERIOD while some device keeps
 * free pages, and at once when the data areas went over
 * global_max_data_area_mb or it was lowered: then kept pages go, idle
 * devices' first, until the data areas are back under it or nothing kept
 * is left.
 */
static void tcmu_reclaim_fn(struct work_struct *work)
{
	static unsigned long last_tick;
	struct tcmu_device *td;
	s64 over;

	clear_bit(0, &tcmu_budget_kicked);
	mutex_lock(&tcmu_dev_list_lock);
	/* The heuristic's periods stay a period long when kicked early. */
	if (time_after_eq(jiffies, last_tick + TCMU_RECLAIM_PERIOD)) {
		last_tick = jiffies;
		list_for_each_entry(td, &tcmu_dev_list, dev_node) {
			mutex_lock(&td->cmdr_lock);
			if (td->ready)
				tcmu_reclaim_tick(td);
			mutex_unlock(&td->cmdr_lock);
		}
	}

	over = percpu_counter_sum(&tcmu_global_pages) - tcmu_global_limit();
	if (over > 0)
		tcmu_reclaim_devs(over, true, TCMU_RECLAIM_BUDGET);
	mutex_unlock(&tcmu_dev_list_lock);

	if (percpu_counter_sum(&tcmu_global_pages) >
	    percpu_counter_sum(&tcmu_global_in_use))
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

/* Kept-free pages hold no data: cheap to recreate, hence seeks 1. */
static struct shrinker tcmu_shrinker = {
	.count_objects = tcmu_shrink_count,
	.scan_objects = tcmu_shrink_scan,
	.seeks = 1,
	.batch = 0,
};

/* =====================================================================
 * Ring: submission, queue full, TMRs, completion, timeouts
 */

static struct kmem_cache *tcmu_req_cache;
static mempool_t *tcmu_req_pool;	/* over tcmu_req_cache */

static const char * const tcmu_req_state_name[] = {
	[TCMU_REQ_NEW] = "new",
	[TCMU_REQ_QFULL] = "qfull",
	[TCMU_REQ_RING] = "ring",
	[TCMU_REQ_TIMEDOUT] = "timedout",
	[TCMU_REQ_KEPT] = "kept",
	[TCMU_REQ_DONE] = "done",
};

#define TCMU_REQ_TO(s)	BIT(TCMU_REQ_##s)
/* Allowed transitions: tcmu_req_next[from] has bit "to" set. */
static const u8 tcmu_req_next[TCMU_REQ_NR_STATES] = {
	[TCMU_REQ_NEW] = TCMU_REQ_TO(QFULL) | TCMU_REQ_TO(RING) |
			 TCMU_REQ_TO(DONE),
	[TCMU_REQ_QFULL] = TCMU_REQ_TO(RING) | TCMU_REQ_TO(DONE),
	[TCMU_REQ_RING] = TCMU_REQ_TO(TIMEDOUT) | TCMU_REQ_TO(KEPT) |
			  TCMU_REQ_TO(DONE),
	[TCMU_REQ_TIMEDOUT] = TCMU_REQ_TO(KEPT) | TCMU_REQ_TO(DONE),
	[TCMU_REQ_KEPT] = TCMU_REQ_TO(DONE),
};

enum tcmu_place {
	TCMU_PLACED,	/* the request is in the ring */
	TCMU_WAIT,	/* no room in the ring or data area: wait */
	TCMU_FAIL,	/* cannot ever run: fail it with *sense */
};

/* ---------------------------------------------------------------------
 * Ring helpers.  Offsets are bytes from the start of the command ring.
 */

/* Make kernel writes visible to a handler on a virtually indexed cache. */
static void tcmu_flush_ring(void *addr, size_t len)
{
#ifdef ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE
	void *p = PTR_ALIGN_DOWN(addr, PAGE_SIZE);

	for (; p < addr + len; p += PAGE_SIZE)
		flush_dcache_page(vmalloc_to_page(p));
#endif
}

/* Bytes from @from forward to @to, going round the ring. */
static u32 tcmu_ring_dist(const struct tcmu_device *td, u32 from, u32 to)
{
	return to >= from ? to - from : td->cmdr_size - from + to;
}

/* Room for an entry of @size bytes (and a PAD before it, if needed)? */
static bool tcmu_ring_room(const struct tcmu_device *td, u32 size)
{
	u32 used = tcmu_ring_dist(td, td->cmdr_tail, td->cmdr_head);
	u32 to_end = td->cmdr_size - td->cmdr_head;
	u32 need = size;

	if (to_end < size)
		need += to_end;
	/* One alignment unit stays empty: head == tail means empty. */
	return (u64)used + need + TCMU_OP_ALIGN_SIZE <= td->cmdr_size;
}

/* Claim @size contiguous bytes at the head, padding to the end if short. */
static void *tcmu_ring_claim(struct tcmu_device *td, u32 size)
{
	u32 to_end = td->cmdr_size - td->cmdr_head;

	if (to_end < size) {
		struct tcmu_cmd_entry_hdr *pad = td->cmdr + td->cmdr_head;
		u32 len_op = 0;

		tcmu_hdr_set_op(&len_op, TCMU_OP_PAD);
		tcmu_hdr_set_len(&len_op, to_end);
		pad->len_op = len_op;
		pad->cmd_id = 0;
		pad->kflags = 0;
		pad->uflags = 0;
		tcmu_flush_ring(pad, sizeof(*pad));
		td->cmdr_head = 0;
	}
	return td->cmdr + td->cmdr_head;
}

/* Publish every entry claimed so far and advance the head past @size. */
static void tcmu_ring_publish(struct tcmu_device *td, u32 size)
{
	td->cmdr_head = (td->cmdr_head + size) % td->cmdr_size;
	/* Entries first, then the head that makes them visible. */
	smp_store_release(&td->mb->cmd_head, td->cmdr_head);
	tcmu_flush_ring(td->mb, sizeof(*td->mb));
}

static void tcmu_kick(struct tcmu_device *td)
{
	if (!test_bit(TCMU_DEV_PLUGGED, &td->flags))
		uio_event_notify(&td->uio);
}

/* The ring can no longer be trusted: stop reading it until reset_ring. */
static void tcmu_broken(struct tcmu_device *td, const char *what, u32 val)
{
	if (!test_and_set_bit(TCMU_DEV_BROKEN, &td->flags))
		pr_warn_ratelimited("%s: %s %u, ring is broken\n",
				    td->name, what, val);
}

/* ---------------------------------------------------------------------
 * Requests: state, timers, data blocks
 */

static void tcmu_req_move(struct tcmu_req *req, enum tcmu_req_state to)
{
	WARN_ONCE(!(tcmu_req_next[req->state] & BIT(to)),
		  "tcmu: bad request transition %s -> %s\n",
		  tcmu_req_state_name[req->state], tcmu_req_state_name[to]);
	req->state = to;
}

static void tcmu_req_put_blocks(struct tcmu_req *req)
{
	if (req->has_blks) {
		tcmu_da_free(&req->td->da, req->blks, req->nr_blks);
		req->has_blks = false;
		tcmu_acct(req->td);
	}
}

/* -> DONE: give back the blocks and the request; the id is the caller's. */
static void tcmu_req_free(struct tcmu_req *req)
{
	tcmu_req_move(req, TCMU_REQ_DONE);
	tcmu_req_put_blocks(req);
	if (req->blks != req->inline_blks)
		kfree(req->blks);
	mempool_free(req, tcmu_req_pool);
}

static struct tcmu_req *tcmu_req_alloc(struct tcmu_device *td,
				       struct se_cmd *se_cmd)
{
	u32 blk = td->pages_per_blk << PAGE_SHIFT;
	struct tcmu_req *req;
	struct scatterlist *sg;
	unsigned int i;

	/* Sleeps for a reserved request rather than fail. */
	req = mempool_alloc(tcmu_req_pool, GFP_NOIO);
	memset(req, 0, sizeof(*req));
	INIT_LIST_HEAD(&req->node);
	req->td = td;
	req->se_cmd = se_cmd;
	req->state = TCMU_REQ_NEW;
	req->data_len = se_cmd->data_length;
	if (se_cmd->se_cmd_flags & SCF_BIDI) {
		for_each_sg(se_cmd->t_bidi_data_sg, sg,
			    se_cmd->t_bidi_data_nents, i)
			req->bidi_len += sg->length;
	}
	req->nr_bidi_blks = DIV_ROUND_UP(req->bidi_len, blk);
	req->nr_blks = DIV_ROUND_UP(req->data_len, blk) + req->nr_bidi_blks;

	/* A longer list is allocated by tcmu_place(), which may wait. */
	if (req->nr_blks <= TCMU_INLINE_BLKS)
		req->blks = req->inline_blks;
	return req;
}

static void tcmu_req_set_deadline(struct tcmu_req *req, unsigned int ms)
{
	req->timed = ms != 0;
	if (req->timed)
		req->deadline = round_jiffies_up(jiffies +
						 msecs_to_jiffies(ms));
}

/* Point @timer at the first deadline of @list, or at nothing. */
static void tcmu_arm_timer(struct tcmu_device *td, struct timer_list *timer,
			   struct list_head *list, bool retry)
{
	struct tcmu_req *req;
	unsigned long when = 0;
	bool any = false;

	if (test_bit(TCMU_DEV_GONE, &td->flags))
		return;
	list_for_each_entry(req, list, node) {
		if (req->timed) {
			when = req->deadline;
			any = true;
			break;
		}
	}
	if (retry && (!any || time_before(jiffies + TCMU_NOMEM_RETRY, when))) {
		when = jiffies + TCMU_NOMEM_RETRY;
		any = true;
	}
	if (any)
		mod_timer(timer, when);
	else
		del_timer(timer);
}

static void tcmu_arm_timers(struct tcmu_device *td)
{
	tcmu_arm_timer(td, &td->ring_timer, &td->ring_list, false);
	tcmu_arm_timer(td, &td->qfull_timer, &td->qfull_list, td->nomem_retry);
}

/* Number of iovecs for blocks @blks[0 .. n-1]: one per contiguous run. */
static u32 tcmu_count_runs(const u32 *blks, u32 n)
{
	u32 i, runs = 0;

	for (i = 0; i < n; i++)
		if (!i || blks[i] != blks[i - 1] + 1)
			runs++;
	return runs;
}

/* Describe @len bytes in blocks @blks as iovecs; returns the next iovec. */
static struct iovec *tcmu_fill_iovs(struct tcmu_device *td,
				    struct iovec *iov, const u32 *blks,
				    u32 n, u32 len)
{
	u32 i, chunk;

	for (i = 0; i < n; i++) {
		chunk = min(len, td->da.blk_size);
		len -= chunk;
		if (i && blks[i] == blks[i - 1] + 1) {
			iov[-1].iov_len += chunk;
			continue;
		}
		iov->iov_base = (void __user *)(uintptr_t)tcmu_blk_off(td,
								     blks[i]);
		iov->iov_len = chunk;
		iov++;
	}
	return iov;
}

/*
 * Copy @len bytes between a scatterlist and the blocks @blks (in order),
 * a page of a block at a time.
 * @to_blocks: true for sg -> data area, false for data area -> sg.
 */
static void tcmu_copy_sg(struct tcmu_device *td, const u32 *blks,
			 struct scatterlist *sg, unsigned int nents,
			 u32 len, bool to_blocks)
{
	u32 bsz = td->da.blk_size;
	struct sg_mapping_iter it;
	u32 done = 0;

	sg_miter_start(&it, sg, nents, SG_MITER_ATOMIC |
		       (to_blocks ? SG_MITER_FROM_SG : SG_MITER_TO_SG));
	while (done < len && sg_miter_next(&it)) {
		size_t n = min_t(size_t, it.length, len - done);
		size_t off = 0;

		while (off < n) {
			u32 in_blk = done % bsz;
			u32 in_pg = offset_in_page(in_blk);
			size_t chunk = min_t(size_t, n - off, PAGE_SIZE - in_pg);
			struct page *page;
			void *b;

			page = tcmu_da_page(&td->da, blks[done / bsz],
					    in_blk >> PAGE_SHIFT);
			if (WARN_ON_ONCE(!page))
				goto out;
			b = kmap_local_page(page);
			if (to_blocks) {
				memcpy(b + in_pg, it.addr + off, chunk);
				flush_dcache_page(page);
			} else {
				flush_dcache_page(page);
				memcpy(it.addr + off, b + in_pg, chunk);
			}
			kunmap_local(b);
			off += chunk;
			done += chunk;
		}
		it.consumed = n;
	}
out:
	sg_miter_stop(&it);
}

/* ---------------------------------------------------------------------
 * Submission: NEW/QFULL -> RING
 */

/* Bytes of a command entry with @iovs iovecs, CDB included. */
static u32 tcmu_entry_size(u32 iovs, const unsigned char *cdb, u32 *cdb_at)
{
	size_t base = offsetof(struct tcmu_cmd_entry, req.iov) +
		      (size_t)iovs * sizeof(struct iovec);

	base = max(base, sizeof(struct tcmu_cmd_entry));
	*cdb_at = base;
	return base + round_up(scsi_command_size(cdb), TCMU_OP_ALIGN_SIZE);
}

/* No memory for a command now: it waits, retried in TCMU_NOMEM_RETRY. */
static enum tcmu_place tcmu_place_nomem(struct tcmu_device *td,
					enum tcmu_nomem what)
{
	td->nomem_retry = true;
	td->nomem_waits[what]++;
	return TCMU_WAIT;
}

/*
 * A blocked device (block_dev) answers BUSY, a broken ring LOGICAL UNIT
 * COMMUNICATION FAILURE, to a new command and to a queued one alike.
 */
static bool tcmu_dev_refuses(struct tcmu_device *td, sense_reason_t *sense)
{
	if (test_bit(TCMU_DEV_BLOCKED, &td->flags)) {
		*sense = TCM_LUN_BUSY;
		return true;
	}
	if (test_bit(TCMU_DEV_BROKEN, &td->flags)) {
		*sense = TCM_LOGICAL_UNIT_COMMUNICATION_FAILURE;
		return true;
	}
	return false;
}

/* Try to put @req (NEW or QFULL) into the ring.  cmdr_lock held. */
static enum tcmu_place tcmu_place(struct tcmu_device *td,
				  struct tcmu_req *req, sense_reason_t *sense)
{
	struct se_cmd *se_cmd = req->se_cmd;
	u32 data_blks = req->nr_blks - req->nr_bidi_blks;
	struct tcmu_cmd_entry *ent;
	u32 iovs, bidi_iovs, size, cdb_at, id;
	struct iovec *iov;
	int ret;

	if (tcmu_dev_refuses(td, sense))
		return TCMU_FAIL;
	if (req->nr_blks > td->da.limit_blocks) {
		pr_warn_ratelimited("%s: request of %llu bytes is too big for a %u MiB data area\n",
				    td->name,
				    (u64)req->nr_blks * td->da.blk_size,
				    td->data_mb);
		*sense = TCM_INVALID_CDB_FIELD;
		return TCMU_FAIL;
	}

	if (req->nr_blks) {
		if (!req->blks) {
			req->blks = kcalloc(req->nr_blks, sizeof(u32),
					    TCMU_PLACE_GFP);
			if (!req->blks)
				return tcmu_place_nomem(td, TCMU_NOMEM_DATA);
		}
		ret = tcmu_da_alloc(&td->da, req->nr_blks, req->blks,
				    TCMU_PLACE_GFP);
		tcmu_acct(td);
		if (ret == -ENOMEM)
			return tcmu_place_nomem(td, TCMU_NOMEM_DATA);
		if (ret)
			return TCMU_WAIT;
		req->has_blks = true;
		td->win_peak = max(td->win_peak, td->da.blocks_in_use);
	}

	iovs = tcmu_count_runs(req->blks, data_blks);
	bidi_iovs = tcmu_count_runs(req->blks + data_blks, req->nr_bidi_blks);
	size = tcmu_entry_size(iovs + bidi_iovs, se_cmd->t_task_cdb, &cdb_at);
	if (size > td->cmdr_size / 2) {
		pr_warn_ratelimited("%s: request entry of %u bytes is too big for a %u byte ring\n",
				    td->name, size, td->cmdr_size);
		tcmu_req_put_blocks(req);
		*sense = TCM_INVALID_CDB_FIELD;
		return TCMU_FAIL;
	}
	if (!tcmu_ring_room(td, size)) {
		/* Blocks go back: a waiting command must not pin memory. */
		tcmu_req_put_blocks(req);
		return TCMU_WAIT;
	}

	ret = xa_alloc_cyclic(&td->reqs, &id, req,
			      XA_LIMIT(1, TCMU_MAX_CMD_ID), &td->next_id,
			      TCMU_PLACE_GFP);
	if (ret < 0) {
		tcmu_req_put_blocks(req);
		if (ret == -ENOMEM)
			return tcmu_place_nomem(td, TCMU_NOMEM_CMD_ID);
		return TCMU_WAIT;	/* -EBUSY: every id is taken */
	}
	req->cmd_id = id;

	ent = tcmu_ring_claim(td, size);
	memset(ent, 0, size);
	tcmu_hdr_set_op(&ent->hdr.len_op, TCMU_OP_CMD);
	tcmu_hdr_set_len(&ent->hdr.len_op, size);
	ent->hdr.cmd_id = req->cmd_id;

	iov = ent->req.iov;
	if (se_cmd->data_direction == DMA_TO_DEVICE ||
	    (se_cmd->se_cmd_flags & SCF_BIDI))
		tcmu_copy_sg(td, req->blks, se_cmd->t_data_sg,
			     se_cmd->t_data_nents, req->data_len, true);
	iov = tcmu_fill_iovs(td, iov, req->blks, data_blks, req->data_len);
	ent->req.iov_cnt = iovs;
	if (se_cmd->se_cmd_flags & SCF_BIDI) {
		tcmu_fill_iovs(td, iov, req->blks + data_blks,
			       req->nr_bidi_blks, req->bidi_len);
		ent->req.iov_bidi_cnt = bidi_iovs;
	}
	/* The CDB follows the iovecs; cdb_off counts from the mailbox. */
	ent->req.cdb_off = TCMU_MB_SIZE + td->cmdr_head + cdb_at;
	memcpy((void *)ent + cdb_at, se_cmd->t_task_cdb,
	       scsi_command_size(se_cmd->t_task_cdb));
	tcmu_flush_ring(ent, size);

	if (req->state == TCMU_REQ_QFULL)
		list_del_init(&req->node);
	tcmu_req_move(req, TCMU_REQ_RING);
	tcmu_req_set_deadline(req, READ_ONCE(td->cmd_time_out));
	list_add_tail(&req->node, &td->ring_list);
	if (req->timed && !timer_pending(&td->ring_timer) &&
	    !test_bit(TCMU_DEV_GONE, &td->flags))
		mod_timer(&td->ring_timer, req->deadline);

	tcmu_ring_publish(td, size);
	td->last_active = jiffies;
	tcmu_kick(td);
	return TCMU_PLACED;
}

/* NEW -> QFULL; false if the request may not wait (qfull_time_out 0). */
static bool tcmu_req_wait(struct tcmu_device *td, struct tcmu_req *req)
{
	int qfull = READ_ONCE(td->qfull_time_out);
	unsigned int ms;

	if (!qfull)
		return false;
	if (qfull > 0)
		ms = qfull;
	else
		ms = READ_ONCE(td->cmd_time_out) ?: TCMU_TIME_OUT_DEF;

	tcmu_req_move(req, TCMU_REQ_QFULL);
	tcmu_req_set_deadline(req, ms);
	list_add_tail(&req->node, &td->qfull_list);
	pr_debug("%s: request %p waits for ring or data room\n",
		 td->name, req);
	return true;
}

/* Complete a request's se_cmd, once; the request itself stays. */
static void tcmu_req_finish(struct tcmu_req *req, u8 status)
{
	struct se_cmd *se_cmd = req->se_cmd;

	req->se_cmd = NULL;
	se_cmd->priv = NULL;
	target_complete_cmd(se_cmd, status);
}

/*
 * Retry the QFULL requests in order.  @fail: complete them all with BUSY
 * instead (block_dev).  cmdr_lock held.
 */
static void tcmu_run_qfull(struct tcmu_device *td, bool fail)
{
	struct tcmu_req *req, *tmp;
	sense_reason_t sense;

	td->nomem_retry = false;
	list_for_each_entry_safe(req, tmp, &td->qfull_list, node) {
		if (fail) {
			list_del_init(&req->node);
			tcmu_req_finish(req, SAM_STAT_BUSY);
			tcmu_req_free(req);
			continue;
		}
		switch (tcmu_place(td, req, &sense)) {
		case TCMU_PLACED:
			continue;
		case TCMU_WAIT:
			goto out;
		case TCMU_FAIL:
			pr_debug("%s: queued request failed: %u\n",
				 td->name, sense);
			list_del_init(&req->node);
			tcmu_req_finish(req, SAM_STAT_CHECK_CONDITION);
			tcmu_req_free(req);
			continue;
		}
	}
out:
	tcmu_arm_timers(td);
}

/* ---------------------------------------------------------------------
 * TMR notifications
 */

static u8 tcmu_tmr_type(enum tcm_tmreq_table tmf)
{
	switch (tmf) {
	case TMR_ABORT_TASK:		return TCMU_TMR_ABORT_TASK;
	case TMR_ABORT_TASK_SET:	return TCMU_TMR_ABORT_TASK_SET;
	case TMR_CLEAR_ACA:		return TCMU_TMR_CLEAR_ACA;
	case TMR_CLEAR_TASK_SET:	return TCMU_TMR_CLEAR_TASK_SET;
	case TMR_LUN_RESET:		return TCMU_TMR_LUN_RESET;
	case TMR_TARGET_WARM_RESET:	return TCMU_TMR_TARGET_WARM_RESET;
	case TMR_TARGET_COLD_RESET:	return TCMU_TMR_TARGET_COLD_RESET;
	case TMR_LUN_RESET_PRO:		return TCMU_TMR_LUN_RESET_PRO;
	default:			return TCMU_TMR_UNKNOWN;
	}
}

/* Put @msg into the ring (and free it); false if there is no room. */
static bool tcmu_tmr_place(struct tcmu_device *td, struct tcmu_tmr_msg *msg)
{
	struct tcmu_tmr_entry *ent;
	u32 ids = msg->nr_ids * sizeof(msg->ids[0]);
	u32 size = round_up(sizeof(*ent) + ids, TCMU_OP_ALIGN_SIZE);

	if (test_bit(TCMU_DEV_BROKEN, &td->flags))
		goto drop;
	if (size > td->cmdr_size / 2) {
		pr_warn_ratelimited("%s: TMR of %u ids does not fit the ring\n",
				    td->name, msg->nr_ids);
		goto drop;
	}
	if (!tcmu_ring_room(td, size))
		return false;

	ent = tcmu_ring_claim(td, size);
	memset(ent, 0, size);
	tcmu_hdr_set_op(&ent->hdr.len_op, TCMU_OP_TMR);
	tcmu_hdr_set_len(&ent->hdr.len_op, size);
	ent->tmr_type = msg->type;
	ent->cmd_cnt = msg->nr_ids;
	memcpy(ent->cmd_ids, msg->ids, ids);
	tcmu_flush_ring(ent, size);
	tcmu_ring_publish(td, size);
	uio_event_notify(&td->uio);
drop:
	kfree(msg);
	return true;
}

/* Place waiting TMRs in order; true once none is left waiting. */
static bool tcmu_run_tmrs(struct tcmu_device *td)
{
	struct tcmu_tmr_msg *msg, *tmp;

	list_for_each_entry_safe(msg, tmp, &td->tmr_list, node) {
		list_del_init(&msg->node);
		if (!tcmu_tmr_place(td, msg)) {
			list_add(&msg->node, &td->tmr_list);
			return false;
		}
	}
	return true;
}

static void tcmu_drop_tmrs(struct tcmu_device *td)
{
	struct tcmu_tmr_msg *msg, *tmp;

	list_for_each_entry_safe(msg, tmp, &td->tmr_list, node) {
		list_del(&msg->node);
		kfree(msg);
	}
}

static void tcmu_tmr_notify(struct se_device *se_dev,
			    enum tcm_tmreq_table tmf,
			    struct list_head *cmd_list)
{
	struct tcmu_device *td = TCMU_DEV(se_dev);
	struct tcmu_tmr_msg *msg;
	struct se_cmd *se_cmd;
	struct tcmu_req *req;
	bool dequeued = false;
	u32 n = 0;

	mutex_lock(&td->cmdr_lock);
	/* Aborted commands still waiting for room never reach userspace. */
	list_for_each_entry(se_cmd, cmd_list, state_list) {
		req = se_cmd->priv;
		if (!req)
			continue;
		if (req->state == TCMU_REQ_RING) {
			n++;
			continue;
		}
		if (req->state != TCMU_REQ_QFULL)
			continue;
		pr_debug("%s: aborted request %p leaves the queue\n",
			 td->name, req);
		list_del_init(&req->node);
		tcmu_req_finish(req, SAM_STAT_TASK_ABORTED);
		tcmu_req_free(req);
		dequeued = true;
	}
	if (dequeued)
		tcmu_arm_timers(td);

	if (!test_bit(TCMU_DEV_TMR_NOTIFY, &td->flags))
		goto out;

	msg = kmalloc(struct_size(msg, ids, n), GFP_NOIO);
	if (!msg)
		goto out;
	msg->type = tcmu_tmr_type(tmf);
	msg->nr_ids = 0;
	list_for_each_entry(se_cmd, cmd_list, state_list) {
		req = se_cmd->priv;
		if (req && req->state == TCMU_REQ_RING && msg->nr_ids < n)
			msg->ids[msg->nr_ids++] = req->cmd_id;
	}
	pr_debug("%s: TMR %u with %u ids\n", td->name, msg->type, n);

	INIT_LIST_HEAD(&msg->node);
	if (!list_empty(&td->tmr_list) || !tcmu_tmr_place(td, msg))
		list_add_tail(&msg->node, &td->tmr_list);
out:
	mutex_unlock(&td->cmdr_lock);
}

/* ---------------------------------------------------------------------
 * Completion: reading the hostile ring
 */

/*
 * Userspace completed the RING/TIMEDOUT request in entry @ent.  Every
 * field is read once.  Returns false if the ring is broken.
 */
static bool tcmu_complete_one(struct tcmu_device *td,
			      struct tcmu_cmd_entry *ent)
{
	char sense[TCMU_SENSE_BUFFERSIZE];
	struct tcmu_req *req;
	struct se_cmd *se_cmd;
	u32 read_len, user_len;
	bool len_valid = false;
	u16 id = READ_ONCE(ent->hdr.cmd_id);
	u8 uflags = READ_ONCE(ent->hdr.uflags);
	u8 status;

	req = xa_load(&td->reqs, id);
	if (!req) {
		tcmu_broken(td, "completion of unknown cmd_id", id);
		return false;
	}
	if (req->state == TCMU_REQ_KEPT) {
		tcmu_broken(td, "second completion of KEEP_BUF cmd_id", id);
		return false;
	}
	if (WARN_ON_ONCE(req->state != TCMU_REQ_RING &&
			 req->state != TCMU_REQ_TIMEDOUT)) {
		tcmu_broken(td, "completion of idle cmd_id", id);
		return false;
	}

	if (req->state == TCMU_REQ_RING) {
		list_del_init(&req->node);
		se_cmd = req->se_cmd;
		status = READ_ONCE(ent->rsp.scsi_status);

		if (uflags & TCMU_UFLAG_UNKNOWN_OP) {
			pr_warn_ratelimited("%s: userspace set UNKNOWN_OP on cmd_id %u\n",
					    td->name, id);
			tcmu_req_finish(req, SAM_STAT_CHECK_CONDITION);
			goto release;
		}

		read_len = req->data_len;
		if (se_cmd->data_direction == DMA_FROM_DEVICE &&
		    (uflags & TCMU_UFLAG_READ_LEN)) {
			user_len = READ_ONCE(ent->rsp.read_len);
			if (user_len) {
				len_valid = true;
				read_len = min(read_len, user_len);
			}
		}

		if (status == SAM_STAT_CHECK_CONDITION) {
			memcpy(sense, ent->rsp.sense_buffer, sizeof(sense));
			transport_copy_sense_to_cmd(se_cmd, sense);
			if (!len_valid)
				goto finish;
			se_cmd->se_cmd_flags |= SCF_TREAT_READ_AS_NORMAL;
		}

		if (se_cmd->se_cmd_flags & SCF_BIDI) {
			u32 first = req->nr_blks - req->nr_bidi_blks;

			tcmu_copy_sg(td, req->blks + first,
				     se_cmd->t_bidi_data_sg,
				     se_cmd->t_bidi_data_nents,
				     req->bidi_len, false);
		} else if (se_cmd->data_direction == DMA_FROM_DEVICE) {
			tcmu_copy_sg(td, req->blks, se_cmd->t_data_sg,
				     se_cmd->t_data_nents, read_len, false);
		}
finish:
		req->se_cmd = NULL;
		se_cmd->priv = NULL;
		if (len_valid)
			target_complete_cmd_with_length(se_cmd, status,
							read_len);
		else
			target_complete_cmd(se_cmd, status);
	}

release:
	if (uflags & TCMU_UFLAG_KEEP_BUF) {
		/* Userspace still uses the buffer: free_kept_buf ends it. */
		tcmu_req_move(req, TCMU_REQ_KEPT);
		return true;
	}
	xa_erase(&td->reqs, id);
	tcmu_req_free(req);
	return true;
}

/*
 * Reap what userspace completed, from our tail to its cmd_tail.  Returns
 * true if ring room was freed and no TMR is left waiting, i.e. queued
 * commands may now be retried.  cmdr_lock held.
 */
static bool tcmu_reap(struct tcmu_device *td)
{
	u32 tail, pos, len_op, len, avail;
	bool freed = false;

	if (test_bit(TCMU_DEV_BROKEN, &td->flags)) {
		pr_warn_ratelimited("%s: ring broken, not handling completions\n",
				    td->name);
		return false;
	}

	tcmu_flush_ring(td->mb, sizeof(*td->mb));
	/* The entries userspace completed before it moved cmd_tail. */
	tail = smp_load_acquire(&td->mb->cmd_tail);
	if (tail >= td->cmdr_size || !IS_ALIGNED(tail, TCMU_OP_ALIGN_SIZE) ||
	    tcmu_ring_dist(td, td->cmdr_tail, tail) >
	    tcmu_ring_dist(td, td->cmdr_tail, td->cmdr_head)) {
		tcmu_broken(td, "cmd_tail", tail);
		return false;
	}

	/* Each step moves pos forward by >= 8 bytes, never past tail. */
	while ((pos = td->cmdr_tail) != tail) {
		struct tcmu_cmd_entry *ent = td->cmdr + pos;

		tcmu_flush_ring(ent, min_t(u32, td->cmdr_size - pos,
					   sizeof(*ent)));
		len_op = READ_ONCE(ent->hdr.len_op);
		len = tcmu_hdr_get_len(len_op);
		avail = tcmu_ring_dist(td, pos, tail);
		if (len < sizeof(struct tcmu_cmd_entry_hdr) ||
		    !IS_ALIGNED(len, TCMU_OP_ALIGN_SIZE) || len > avail ||
		    len > td->cmdr_size - pos) {
			tcmu_broken(td, "entry length", len);
			break;
		}

		switch (tcmu_hdr_get_op(len_op)) {
		case TCMU_OP_PAD:
		case TCMU_OP_TMR:
			break;
		case TCMU_OP_CMD:
			if (len < sizeof(*ent)) {
				tcmu_broken(td, "command entry length", len);
				goto out;
			}
			if (!tcmu_complete_one(td, ent))
				goto out;
			break;
		default:
			tcmu_broken(td, "entry opcode", tcmu_hdr_get_op(len_op));
			goto out;
		}
		td->cmdr_tail = (pos + len) % td->cmdr_size;
		freed = true;
	}
out:
	if (freed) {
		td->last_active = jiffies;
		freed = tcmu_run_tmrs(td);
	}
	tcmu_arm_timers(td);
	return freed;
}

/* ---------------------------------------------------------------------
 * Timeouts
 */

static void tcmu_expire(struct tcmu_device *td)
{
	struct tcmu_req *req, *tmp;
	unsigned long now = jiffies;

	/* RING -> TIMEDOUT: the se_cmd fails, id and blocks stay. */
	if (READ_ONCE(td->cmd_time_out)) {
		list_for_each_entry_safe(req, tmp, &td->ring_list, node) {
			if (!req->timed || time_before(now, req->deadline))
				continue;
			pr_debug("%s: cmd_id %u timed out\n",
				 td->name, req->cmd_id);
			list_del_init(&req->node);
			tcmu_req_move(req, TCMU_REQ_TIMEDOUT);
			tcmu_req_finish(req, SAM_STAT_CHECK_CONDITION);
		}
	}
	/* QFULL -> DONE: waited too long for room. */
	list_for_each_entry_safe(req, tmp, &td->qfull_list, node) {
		if (!req->timed || time_before(now, req->deadline))
			continue;
		pr_debug("%s: queued request %p timed out\n", td->name, req);
		list_del_init(&req->node);
		tcmu_req_finish(req, SAM_STAT_TASK_SET_FULL);
		tcmu_req_free(req);
	}
}

static void tcmu_timeout_work(struct work_struct *work)
{
	struct tcmu_device *td = container_of(work, struct tcmu_device,
					      timeout_work);

	mutex_lock(&td->cmdr_lock);
	tcmu_expire(td);
	/* The qfull timer is also the retry timer after -ENOMEM. */
	if (list_empty(&td->tmr_list))
		tcmu_run_qfull(td, false);
	tcmu_arm_timers(td);
	mutex_unlock(&td->cmdr_lock);
}

static void tcmu_ring_timer_fn(struct timer_list *t)
{
	struct tcmu_device *td = from_timer(td, t, ring_timer);

	if (!test_bit(TCMU_DEV_GONE, &td->flags))
		schedule_work(&td->timeout_work);
}

static void tcmu_qfull_timer_fn(struct timer_list *t)
{
	struct tcmu_device *td = from_timer(td, t, qfull_timer);

	if (!test_bit(TCMU_DEV_GONE, &td->flags))
		schedule_work(&td->timeout_work);
}

/* ---------------------------------------------------------------------
 * LIO entry points for commands
 */

static sense_reason_t tcmu_queue_cmd(struct se_cmd *se_cmd)
{
	struct tcmu_device *td = TCMU_DEV(se_cmd->se_dev);
	sense_reason_t sense = TCM_CHECK_CONDITION_ABORT_CMD;
	struct tcmu_req *req;

	req = tcmu_req_alloc(td, se_cmd);
	mutex_lock(&td->cmdr_lock);
	se_cmd->priv = req;
	if (se_cmd->transport_state & CMD_T_ABORTED)
		goto fail;
	/* Before the queues, as stock: no waiting behind them for BUSY. */
	if (tcmu_dev_refuses(td, &sense))
		goto fail;

	/* Keep order: nothing overtakes queued commands or TMRs. */
	if (!list_empty(&td->qfull_list) || !list_empty(&td->tmr_list))
		goto wait;

	switch (tcmu_place(td, req, &sense)) {
	case TCMU_PLACED:
		mutex_unlock(&td->cmdr_lock);
		return TCM_NO_SENSE;
	case TCMU_WAIT:
		goto wait;
	case TCMU_FAIL:
		goto fail;
	}
wait:
	if (tcmu_req_wait(td, req)) {
		tcmu_arm_timers(td);
		mutex_unlock(&td->cmdr_lock);
		return TCM_NO_SENSE;
	}
	sense = TCM_OUT_OF_RESOURCES;
fail:
	se_cmd->priv = NULL;
	tcmu_req_free(req);
	mutex_unlock(&td->cmdr_lock);
	return sense;
}

static sense_reason_t tcmu_parse_cdb(struct se_cmd *cmd)
{
	return passthrough_parse_cdb(cmd, tcmu_queue_cmd);
}

static struct se_dev_plug *tcmu_plug_device(struct se_device *se_dev)
{
	struct tcmu_device *td = TCMU_DEV(se_dev);

	if (test_and_set_bit(TCMU_DEV_PLUGGED, &td->flags))
		return NULL;
	return &td->se_plug;
}

static void tcmu_unplug_device(struct se_dev_plug *se_plug)
{
	struct tcmu_device *td = TCMU_DEV(se_plug->se_dev);

	clear_bit(TCMU_DEV_PLUGGED, &td->flags);
	uio_event_notify(&td->uio);
}

/* ---------------------------------------------------------------------
 * Actions: block_dev, reset_ring, free_kept_buf
 */

/* block_dev=1: finish what userspace completed, fail what waits. */
static void tcmu_block(struct tcmu_device *td)
{
	mutex_lock(&td->cmdr_lock);
	if (!test_and_set_bit(TCMU_DEV_BLOCKED, &td->flags)) {
		tcmu_reap(td);
		tcmu_run_qfull(td, true);
	}
	mutex_unlock(&td->cmdr_lock);
}

static void tcmu_unblock(struct tcmu_device *td)
{
	mutex_lock(&td->cmdr_lock);
	clear_bit(TCMU_DEV_BLOCKED, &td->flags);
	mutex_unlock(&td->cmdr_lock);
}

/*
 * reset_ring: forget the ring.  RING requests fail with BUSY (@level 1,
 * retryable) or CHECK CONDITION (@level 2); every request with an id goes.
 */
static void tcmu_reset_ring(struct tcmu_device *td, u8 level)
{
	struct tcmu_req *req;
	unsigned long id;

	mutex_lock(&td->cmdr_lock);
	xa_for_each(&td->reqs, id, req) {
		pr_debug("%s: reset drops cmd_id %lu (%s)\n", td->name, id,
			 tcmu_req_state_name[req->state]);
		xa_erase(&td->reqs, id);
		if (req->state == TCMU_REQ_RING) {
			list_del_init(&req->node);
			tcmu_req_finish(req, level == 1 ? SAM_STAT_BUSY :
					SAM_STAT_CHECK_CONDITION);
		}
		tcmu_req_free(req);
	}

	td->cmdr_head = 0;
	td->cmdr_tail = 0;
	WRITE_ONCE(td->mb->cmd_head, 0);
	WRITE_ONCE(td->mb->cmd_tail, 0);
	tcmu_flush_ring(td->mb, sizeof(*td->mb));
	clear_bit(TCMU_DEV_BROKEN, &td->flags);

	/* Queued TMRs name commands that no longer exist. */
	tcmu_drop_tmrs(td);
	tcmu_run_qfull(td, false);
	mutex_unlock(&td->cmdr_lock);
}

/* free_kept_buf: a KEPT request's buffer is no longer needed. */
static int tcmu_free_kept(struct tcmu_device *td, u16 id)
{
	struct tcmu_req *req;
	int ret = 0;

	mutex_lock(&td->cmdr_lock);
	req = xa_load(&td->reqs, id);
	if (!req) {
		pr_err("free_kept_buf: cmd_id %u not found\n", id);
		ret = -EINVAL;
	} else if (req->state != TCMU_REQ_KEPT) {
		pr_err("free_kept_buf: cmd_id %u was not completed with KEEP_BUF\n",
		       id);
		ret = -EINVAL;
	} else {
		xa_erase(&td->reqs, id);
		tcmu_req_free(req);
		/* Only data room was freed: ring-waiting TMRs go first. */
		if (list_empty(&td->tmr_list))
			tcmu_run_qfull(td, false);
	}
	mutex_unlock(&td->cmdr_lock);
	return ret;
}

/* =====================================================================
 * Configfs: control parameters, attributes and actions
 */

static int tcmu_swap_uio_name(struct tcmu_device *td);
static struct target_backend_ops tcmu_backend_ops;

/* ---------------------------------------------------------------------
 * Configfs: control parameters
 */

enum {
	TCMU_OPT_DEV_CONFIG,
	TCMU_OPT_DEV_SIZE,
	TCMU_OPT_HW_BLOCK_SIZE,
	TCMU_OPT_HW_MAX_SECTORS,
	TCMU_OPT_NL_REPLY_SUPPORTED,
	TCMU_OPT_MAX_DATA_AREA_MB,
	TCMU_OPT_DATA_PAGES_PER_BLK,
	TCMU_OPT_CMD_RING_SIZE_MB,
	TCMU_OPT_ERR,
};

static const match_table_t tcmu_opt_tokens = {
	{TCMU_OPT_DEV_CONFIG, "dev_config=%s"},
	{TCMU_OPT_DEV_SIZE, "dev_size=%s"},
	{TCMU_OPT_HW_BLOCK_SIZE, "hw_block_size=%d"},
	{TCMU_OPT_HW_MAX_SECTORS, "hw_max_sectors=%d"},
	{TCMU_OPT_NL_REPLY_SUPPORTED, "nl_reply_supported=%d"},
	{TCMU_OPT_MAX_DATA_AREA_MB, "max_data_area_mb=%d"},
	{TCMU_OPT_DATA_PAGES_PER_BLK, "data_pages_per_blk=%d"},
	{TCMU_OPT_CMD_RING_SIZE_MB, "cmd_ring_size_mb=%d"},
	{TCMU_OPT_ERR, NULL}
};

static int tcmu_opt_positive(substring_t *arg, const char *what, int *val)
{
	int ret = match_int(arg, val);

	if (ret < 0) {
		pr_err("match_int() failed for %s=. Error %d.\n", what, ret);
		return ret;
	}
	if (*val <= 0) {
		pr_err("Invalid %s %d: must be greater than zero.\n",
		       what, *val);
		return -EINVAL;
	}
	return 0;
}

static int tcmu_opt_hw_attr(substring_t *arg, const char *what, u32 *attr)
{
	int val, ret;

	ret = tcmu_opt_positive(arg, what, &val);
	if (!ret)
		*attr = val;
	return ret;
}

/* The sizes can change only before the device is enabled. */
static int tcmu_opt_size(struct tcmu_device *td, int token, substring_t *arg)
{
	const char *what = token == TCMU_OPT_MAX_DATA_AREA_MB ? "max_data_area_mb" :
			   token == TCMU_OPT_DATA_PAGES_PER_BLK ?
			   "data_pages_per_blk" : "cmd_ring_size_mb";
	int val, ret, global;

	ret = tcmu_opt_positive(arg, what, &val);
	if (ret)
		return ret;

	mutex_lock(&td->cmdr_lock);
	if (td->ready) {
		pr_err("Cannot set %s after it has been enabled.\n", what);
		ret = -EINVAL;
		goto out;
	}
	switch (token) {
	case TCMU_OPT_MAX_DATA_AREA_MB:
		global = READ_ONCE(tcmu_global_max_mb);
		if (val > global) {
			pr_err("%d is too large. Adjusting max_data_area_mb to global limit of %d\n",
			       val, global);
			val = global;
		}
		if (val > TCMU_DATA_MB_MAX) {
			pr_err("%d is too large. Adjusting max_data_area_mb to the data window of %u\n",
			       val, TCMU_DATA_MB_MAX);
			val = TCMU_DATA_MB_MAX;
		}
		if (TCMU_MB_TO_PAGES(val) < td->pages_per_blk) {
			pr_err("Invalid max_data_area_mb %d: smaller than data_pages_per_blk (%u pages).\n",
			       val, td->pages_per_blk);
			ret = -EINVAL;
			break;
		}
		td->data_mb = val;
		break;
	case TCMU_OPT_DATA_PAGES_PER_BLK:
		if (val > TCMU_MB_TO_PAGES(td->data_mb)) {
			pr_err("Invalid data_pages_per_blk %d: greater than max_data_area_mb %u -> %zu pages.\n",
			       val, td->data_mb, TCMU_MB_TO_PAGES(td->data_mb));
			ret = -EINVAL;
			break;
		}
		td->pages_per_blk = val;
		break;
	default:
		if (val > TCMU_RING_MB_MAX) {
			pr_err("%d is too large. Adjusting cmd_ring_size_mb to global limit of %u\n",
			       val, TCMU_RING_MB_MAX);
			val = TCMU_RING_MB_MAX;
		}
		td->ring_mb = val;
		break;
	}
out:
	mutex_unlock(&td->cmdr_lock);
	return ret;
}

static ssize_t tcmu_set_configfs_dev_params(struct se_device *dev,
					    const char *page, ssize_t count)
{
	struct tcmu_device *td = TCMU_DEV(dev);
	substring_t args[MAX_OPT_ARGS];
	char *opts, *orig, *p;
	int ret = 0, token;

	opts = kstrdup(page, GFP_KERNEL);
	if (!opts)
		return -ENOMEM;
	orig = opts;

	while (!ret && (p = strsep(&opts, ",\n")) != NULL) {
		if (!*p)
			continue;
		token = match_token(p, tcmu_opt_tokens, args);
		switch (token) {
		case TCMU_OPT_DEV_CONFIG:
			if (!match_strlcpy(td->dev_config, &args[0],
					   TCMU_CONFIG_LEN))
				ret = -EINVAL;
			break;
		case TCMU_OPT_DEV_SIZE:
			ret = match_u64(&args[0], &td->dev_size);
			if (ret < 0)
				pr_err("match_u64() failed for dev_size=. Error %d.\n",
				       ret);
			break;
		case TCMU_OPT_HW_BLOCK_SIZE:
			ret = tcmu_opt_hw_attr(&args[0], "hw_block_size",
					       &dev->dev_attrib.hw_block_size);
			break;
		case TCMU_OPT_HW_MAX_SECTORS:
			ret = tcmu_opt_hw_attr(&args[0], "hw_max_sectors",
					       &dev->dev_attrib.hw_max_sectors);
			break;
		case TCMU_OPT_NL_REPLY_SUPPORTED:
			ret = match_int(&args[0], &td->nl_reply_supported);
			if (ret < 0)
				pr_err("match_int() failed for nl_reply_supported=. Error %d.\n",
				       ret);
			break;
		case TCMU_OPT_MAX_DATA_AREA_MB:
		case TCMU_OPT_DATA_PAGES_PER_BLK:
		case TCMU_OPT_CMD_RING_SIZE_MB:
			ret = tcmu_opt_size(td, token, &args[0]);
			break;
		default:
			break;
		}
	}
	kfree(orig);
	return ret ? ret : count;
}

static ssize_t tcmu_show_configfs_dev_params(struct se_device *dev, char *b)
{
	struct tcmu_device *td = TCMU_DEV(dev);

	ssize_t n;

	n = sprintf(b, "Config: %s Size: %llu ",
		    td->dev_config[0] ? td->dev_config : "NULL", td->dev_size);
	n += sprintf(b + n, "MaxDataAreaMB: %u DataPagesPerBlk: %u ",
		     td->data_mb, td->pages_per_blk);
	n += sprintf(b + n, "CmdRingSizeMB: %u\n", td->ring_mb);
	return n;
}

/* ---------------------------------------------------------------------
 * Configfs: attributes (attrib group) and actions (action group)
 */

static struct se_dev_attrib *tcmu_item_attrib(struct config_item *item)
{
	return container_of(to_config_group(item), struct se_dev_attrib,
			    da_group);
}

static struct tcmu_device *tcmu_item_dev(struct config_item *item)
{
	return TCMU_DEV(tcmu_item_attrib(item)->da_dev);
}

static struct tcmu_device *tcmu_action_dev(struct config_item *item)
{
	return TCMU_DEV(container_of(to_config_group(item), struct se_device,
				     dev_action_group));
}

static ssize_t tcmu_cmd_time_out_show(struct config_item *item, char *page)
{
	u32 ms = READ_ONCE(tcmu_item_dev(item)->cmd_time_out);

	return sysfs_emit(page, "%u\n", ms / (u32)MSEC_PER_SEC);
}

static ssize_t tcmu_cmd_time_out_store(struct config_item *item,
				       const char *page, size_t count)
{
	struct se_dev_attrib *da = tcmu_item_attrib(item);
	u32 val;
	int ret;

	if (da->da_dev->export_count) {
		pr_err("Unable to set tcmu cmd_time_out while exports exist\n");
		return -EINVAL;
	}
	ret = kstrtou32(page, 0, &val);
	if (ret < 0)
		return ret;
	WRITE_ONCE(TCMU_DEV(da->da_dev)->cmd_time_out, val * MSEC_PER_SEC);
	return count;
}
CONFIGFS_ATTR(tcmu_, cmd_time_out);

static ssize_t tcmu_qfull_time_out_show(struct config_item *item, char *page)
{
	int v = READ_ONCE(tcmu_item_dev(item)->qfull_time_out);

	return sysfs_emit(page, "%d\n", v <= 0 ? v : v / (int)MSEC_PER_SEC);
}

static ssize_t tcmu_qfull_time_out_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	s32 val;
	int ret;

	ret = kstrtos32(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val >= 0) {
		WRITE_ONCE(td->qfull_time_out, val * MSEC_PER_SEC);
	} else if (val == -1) {
		WRITE_ONCE(td->qfull_time_out, val);
	} else {
		pr_err("Invalid qfull timeout value %d\n", val);
		return -EINVAL;
	}
	return count;
}
CONFIGFS_ATTR(tcmu_, qfull_time_out);

static ssize_t tcmu_reclaim_s_store(const char *page, size_t count, u32 *what)
{
	u32 val;
	int ret;

	ret = kstrtou32(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > TCMU_RECLAIM_S_MAX) {
		pr_err("%u s is too long: at most %u\n", val, TCMU_RECLAIM_S_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(*what, val);
	return count;
}

static u32 *tcmu_reclaim_s_ptr(struct config_item *item, size_t off)
{
	return (void *)tcmu_item_dev(item) + off;
}

/* A reclaim time in seconds, 0 to TCMU_RECLAIM_S_MAX: td->@_field. */
#define TCMU_RECLAIM_S_ATTR(_name, _field)				\
static const size_t tcmu_##_name##_off =				\
	offsetof(struct tcmu_device, _field);				\
static ssize_t tcmu_##_name##_show(struct config_item *item, char *page) \
{									\
	u32 *p = tcmu_reclaim_s_ptr(item, tcmu_##_name##_off);		\
									\
	return sysfs_emit(page, "%u\n", READ_ONCE(*p));			\
}									\
static ssize_t tcmu_##_name##_store(struct config_item *item,		\
				    const char *page, size_t count)	\
{									\
	u32 *p = tcmu_reclaim_s_ptr(item, tcmu_##_name##_off);		\
									\
	return tcmu_reclaim_s_store(page, count, p);			\
}									\
CONFIGFS_ATTR(tcmu_, _name)

TCMU_RECLAIM_S_ATTR(data_idle_timeout, idle_timeout);
TCMU_RECLAIM_S_ATTR(data_hwm_half_life, hwm_half_life);

static ssize_t tcmu_max_data_area_mb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_item_dev(item)->data_mb);
}
CONFIGFS_ATTR_RO(tcmu_, max_data_area_mb);

static ssize_t tcmu_data_pages_per_blk_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_item_dev(item)->pages_per_blk);
}
CONFIGFS_ATTR_RO(tcmu_, data_pages_per_blk);

static ssize_t tcmu_cmd_ring_size_mb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_item_dev(item)->ring_mb);
}
CONFIGFS_ATTR_RO(tcmu_, cmd_ring_size_mb);

static ssize_t tcmu_dev_config_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%s\n", tcmu_item_dev(item)->dev_config);
}

static ssize_t tcmu_dev_config_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	size_t len = strlen(page);
	int ret;

	if (!len || len > TCMU_CONFIG_LEN - 1)
		return -EINVAL;

	if (target_dev_configured(&td->se_dev)) {
		ret = tcmu_nl_send_reconfig(td, tcmu_put_dev_cfg, page);
		if (ret) {
			pr_err("Unable to reconfigure device\n");
			return ret;
		}
		strscpy(td->dev_config, page, TCMU_CONFIG_LEN);
		ret = tcmu_swap_uio_name(td);
		if (ret)
			return ret;
		return count;
	}
	strscpy(td->dev_config, page, TCMU_CONFIG_LEN);
	return count;
}
CONFIGFS_ATTR(tcmu_, dev_config);

static ssize_t tcmu_dev_size_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%llu\n", tcmu_item_dev(item)->dev_size);
}

static ssize_t tcmu_dev_size_store(struct config_item *item,
				   const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	u64 val;
	int ret;

	ret = kstrtou64(page, 0, &val);
	if (ret < 0)
		return ret;
	if (target_dev_configured(&td->se_dev)) {
		ret = tcmu_nl_send_reconfig(td, tcmu_put_dev_size, &val);
		if (ret) {
			pr_err("Unable to reconfigure device\n");
			return ret;
		}
	}
	td->dev_size = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, dev_size);

static ssize_t tcmu_nl_reply_supported_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%d\n",
			  tcmu_item_dev(item)->nl_reply_supported);
}

static ssize_t tcmu_nl_reply_supported_store(struct config_item *item,
					     const char *page, size_t count)
{
	s8 val;
	int ret;

	ret = kstrtos8(page, 0, &val);
	if (ret < 0)
		return ret;
	tcmu_item_dev(item)->nl_reply_supported = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, nl_reply_supported);

static ssize_t tcmu_emulate_write_cache_show(struct config_item *item,
					     char *page)
{
	return sysfs_emit(page, "%i\n",
			  tcmu_item_attrib(item)->emulate_write_cache);
}

static ssize_t tcmu_emulate_write_cache_store(struct config_item *item,
					      const char *page, size_t count)
{
	struct se_dev_attrib *da = tcmu_item_attrib(item);
	struct tcmu_device *td = TCMU_DEV(da->da_dev);
	u8 val;
	int ret;

	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (target_dev_configured(&td->se_dev)) {
		ret = tcmu_nl_send_reconfig(td, tcmu_put_write_cache, &val);
		if (ret) {
			pr_err("Unable to reconfigure device\n");
			return ret;
		}
	}
	da->emulate_write_cache = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, emulate_write_cache);

/* A device flag as a 0/1 attribute: td->flags bit @bit. */
static ssize_t tcmu_flag_show(struct config_item *item, char *page, int bit)
{
	return sysfs_emit(page, "%i\n",
			  test_bit(bit, &tcmu_item_dev(item)->flags));
}

static ssize_t tcmu_flag_store(struct config_item *item, const char *page,
			       size_t count, int bit)
{
	u8 val;
	int ret;

	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > 1)
		return -EINVAL;
	assign_bit(bit, &tcmu_item_dev(item)->flags, val);
	return count;
}

#define TCMU_FLAG_ATTR(_name, _bit)					\
static const int tcmu_##_name##_bit = (_bit);				\
static ssize_t tcmu_##_name##_show(struct config_item *item, char *page) \
{									\
	return tcmu_flag_show(item, page, tcmu_##_name##_bit);		\
}									\
static ssize_t tcmu_##_name##_store(struct config_item *item,		\
				    const char *page, size_t count)	\
{									\
	return tcmu_flag_store(item, page, count, tcmu_##_name##_bit);	\
}									\
CONFIGFS_ATTR(tcmu_, _name)

TCMU_FLAG_ATTR(tmr_notification, TCMU_DEV_TMR_NOTIFY);
/*
 * data_keep_pages=1: the device's data pages are never given back while
 * it lives (no idle, decay, global limit or shrinker reclaim), for
 * handlers that pin the data window (io_uring fixed buffers, RDMA, ...),
 * which a block given new memory would leave pointing at the old pages.
 */
TCMU_FLAG_ATTR(data_keep_pages, TCMU_DEV_KEEP_PAGES);

/* Data area statistics, read-only; 0 before the device is enabled. */
enum tcmu_stat {
	TCMU_STAT_ALLOCATED,
	TCMU_STAT_IN_USE,
	TCMU_STAT_FREE,
	TCMU_STAT_PEAK,
	TCMU_STAT_RECLAIMED,
	TCMU_STAT_RECLAIMED_DECAY,
	TCMU_STAT_RECLAIMED_IDLE,
	TCMU_STAT_RECLAIMED_BUDGET,
	TCMU_STAT_RECLAIMED_PRESSURE,
	TCMU_STAT_NOMEM_DATA,
	TCMU_STAT_NOMEM_CMD_ID,
};

static ssize_t tcmu_stat_show(struct config_item *item, char *page,
			      enum tcmu_stat which)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	u64 reclaimed[TCMU_RECLAIM_NR], nomem[TCMU_NOMEM_NR];
	struct tcmu_da_stats st = {};
	u64 v = 0;

	mutex_lock(&td->cmdr_lock);
	if (td->ready)
		tcmu_da_get_stats(&td->da, &st);
	memcpy(reclaimed, td->reclaimed, sizeof(reclaimed));
	memcpy(nomem, td->nomem_waits, sizeof(nomem));
	mutex_unlock(&td->cmdr_lock);

	switch (which) {
	case TCMU_STAT_ALLOCATED:
		v = st.pages_allocated;
		break;
	case TCMU_STAT_IN_USE:
		v = st.pages_in_use;
		break;
	case TCMU_STAT_FREE:
		v = st.pages_free;
		break;
	case TCMU_STAT_PEAK:
		v = st.pages_peak;
		break;
	case TCMU_STAT_RECLAIMED:
		v = st.pages_reclaimed;
		break;
	case TCMU_STAT_RECLAIMED_DECAY:
		v = reclaimed[TCMU_RECLAIM_DECAY];
		break;
	case TCMU_STAT_RECLAIMED_IDLE:
		v = reclaimed[TCMU_RECLAIM_IDLE];
		break;
	case TCMU_STAT_RECLAIMED_BUDGET:
		v = reclaimed[TCMU_RECLAIM_BUDGET];
		break;
	case TCMU_STAT_RECLAIMED_PRESSURE:
		v = reclaimed[TCMU_RECLAIM_PRESSURE];
		break;
	case TCMU_STAT_NOMEM_DATA:
		v = nomem[TCMU_NOMEM_DATA];
		break;
	case TCMU_STAT_NOMEM_CMD_ID:
		v = nomem[TCMU_NOMEM_CMD_ID];
		break;
	}
	return sysfs_emit(page, "%llu\n", v);
}

#define TCMU_STAT_ATTR(_name, _which)					\
static ssize_t tcmu_##_name##_show(struct config_item *item, char *page) \
{									\
	return tcmu_stat_show(item, page, _which);			\
}									\
CONFIGFS_ATTR_RO(tcmu_, _name)

TCMU_STAT_ATTR(data_pages_allocated, TCMU_STAT_ALLOCATED);
TCMU_STAT_ATTR(data_pages_in_use, TCMU_STAT_IN_USE);
TCMU_STAT_ATTR(data_pages_free, TCMU_STAT_FREE);
TCMU_STAT_ATTR(data_pages_peak, TCMU_STAT_PEAK);
TCMU_STAT_ATTR(data_pages_reclaimed, TCMU_STAT_RECLAIMED);
TCMU_STAT_ATTR(data_pages_reclaimed_decay, TCMU_STAT_RECLAIMED_DECAY);
TCMU_STAT_ATTR(data_pages_reclaimed_idle, TCMU_STAT_RECLAIMED_IDLE);
TCMU_STAT_ATTR(data_pages_reclaimed_budget, TCMU_STAT_RECLAIMED_BUDGET);
TCMU_STAT_ATTR(data_pages_reclaimed_pressure, TCMU_STAT_RECLAIMED_PRESSURE);
TCMU_STAT_ATTR(data_nomem_waits, TCMU_STAT_NOMEM_DATA);
TCMU_STAT_ATTR(cmd_id_nomem_waits, TCMU_STAT_NOMEM_CMD_ID);

static ssize_t tcmu_block_dev_show(struct config_item *item, char *page)
{
	struct tcmu_device *td = tcmu_action_dev(item);

	return sysfs_emit(page, "%s\n",
			  test_bit(TCMU_DEV_BLOCKED, &td->flags) ?
			  "blocked" : "unblocked");
}

static ssize_t tcmu_block_dev_store(struct config_item *item,
				    const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_action_dev(item);
	u8 val;
	int ret;

	if (!target_dev_configured(&td->se_dev)) {
		pr_err("Device is not configured.\n");
		return -EINVAL;
	}
	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > 1) {
		pr_err("Invalid block value %d\n", val);
		return -EINVAL;
	}
	if (val)
		tcmu_block(td);
	else
		tcmu_unblock(td);
	return count;
}
CONFIGFS_ATTR(tcmu_, block_dev);

static ssize_t tcmu_reset_ring_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_action_dev(item);
	u8 val;
	int ret;

	if (!target_dev_configured(&td->se_dev)) {
		pr_err("Device is not configured.\n");
		return -EINVAL;
	}
	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val != 1 && val != 2) {
		pr_err("Invalid reset ring value %d\n", val);
		return -EINVAL;
	}
	tcmu_reset_ring(td, val);
	return count;
}
CONFIGFS_ATTR_WO(tcmu_, reset_ring);

static ssize_t tcmu_free_kept_buf_store(struct config_item *item,
					const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_action_dev(item);
	u16 id;
	int ret;

	if (!target_dev_configured(&td->se_dev)) {
		pr_err("Device is not configured.\n");
		return -EINVAL;
	}
	ret = kstrtou16(page, 0, &id);
	if (ret < 0)
		return ret;
	ret = tcmu_free_kept(td, id);
	return ret ? ret : count;
}
CONFIGFS_ATTR_WO(tcmu_, free_kept_buf);

static struct configfs_attribute *tcmu_own_attrib_attrs[] = {
	&tcmu_attr_cmd_time_out,
	&tcmu_attr_qfull_time_out,
	&tcmu_attr_max_data_area_mb,
	&tcmu_attr_data_pages_per_blk,
	&tcmu_attr_cmd_ring_size_mb,
	&tcmu_attr_data_pages_allocated,
	&tcmu_attr_data_pages_in_use,
	&tcmu_attr_data_pages_free,
	&tcmu_attr_data_pages_peak,
	&tcmu_attr_data_pages_reclaimed,
	&tcmu_attr_data_pages_reclaimed_decay,
	&tcmu_attr_data_pages_reclaimed_idle,
	&tcmu_attr_data_pages_reclaimed_budget,
	&tcmu_attr_data_pages_reclaimed_pressure,
	&tcmu_attr_data_nomem_waits,
	&tcmu_attr_cmd_id_nomem_waits,
	&tcmu_attr_data_idle_timeout,
	&tcmu_attr_data_hwm_half_life,
	&tcmu_attr_data_keep_pages,
	&tcmu_attr_dev_config,
	&tcmu_attr_dev_size,
	&tcmu_attr_emulate_write_cache,
	&tcmu_attr_tmr_notification,
	&tcmu_attr_nl_reply_supported,
	NULL,
};

static struct configfs_attribute *tcmu_action_attrs[] = {
	&tcmu_attr_block_dev,
	&tcmu_attr_reset_ring,
	&tcmu_attr_free_kept_buf,
	NULL,
};

/* passthrough_attrib_attrs + passthrough_pr_attrib_attrs + ours */
static struct configfs_attribute **tcmu_attrib_attrs;

static size_t tcmu_attrs_count(struct configfs_attribute **attrs)
{
	size_t n = 0;

	while (attrs[n])
		n++;
	return n;
}

static int tcmu_build_attrs(void)
{
	struct configfs_attribute **lists[] = {
		passthrough_attrib_attrs,
		passthrough_pr_attrib_attrs,
		tcmu_own_attrib_attrs,
	};
	size_t i, n = 0, k;

	for (i = 0; i < ARRAY_SIZE(lists); i++)
		n += tcmu_attrs_count(lists[i]);
	tcmu_attrib_attrs = kcalloc(n + 1, sizeof(*tcmu_attrib_attrs),
				    GFP_KERNEL);
	if (!tcmu_attrib_attrs)
		return -ENOMEM;
	n = 0;
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		for (k = 0; lists[i][k]; k++)
			tcmu_attrib_attrs[n++] = lists[i][k];
	tcmu_backend_ops.tb_dev_attrib_attrs = tcmu_attrib_attrs;
	return 0;
}

/* =====================================================================
 * Module, UIO device and device lifecycle
 */

static struct device *tcmu_root;

/* ---------------------------------------------------------------------
 * Device references
 */

static void tcmu_dev_free_rcu(struct rcu_head *head)
{
	struct se_device *se_dev = container_of(head, struct se_device,
						rcu_head);
	struct tcmu_device *td = TCMU_DEV(se_dev);

	kfree(td->uio.name);
	kfree(td->name);
	kfree(td);
}

/* The last reference: no VMA, no LIO user, no timer or work left. */
static void tcmu_dev_release(struct kref *kref)
{
	struct tcmu_device *td = container_of(kref, struct tcmu_device, kref);
	struct tcmu_req *req;
	unsigned long id;

	mutex_lock(&td->cmdr_lock);
	xa_for_each(&td->reqs, id, req) {
		/* LIO drained its commands: only TIMEDOUT and KEPT remain. */
		WARN_ON_ONCE(req->state == TCMU_REQ_RING);
		xa_erase(&td->reqs, id);
		tcmu_req_free(req);
	}
	xa_destroy(&td->reqs);
	WARN_ON_ONCE(!list_empty(&td->qfull_list));
	tcmu_drop_tmrs(td);
	if (td->ready) {
		tcmu_da_destroy(&td->da);
		vfree(td->ring);
		td->ring = NULL;
		td->ready = false;
		tcmu_acct(td);
	}
	mutex_unlock(&td->cmdr_lock);

	call_rcu(&td->se_dev.rcu_head, tcmu_dev_free_rcu);
}

static void tcmu_dev_put(struct tcmu_device *td)
{
	kref_put(&td->kref, tcmu_dev_release);
}

/* ---------------------------------------------------------------------
 * UIO: the handler's mapping and its kicks
 */

static void tcmu_vm_open(struct vm_area_struct *vma)
{
	struct tcmu_device *td = vma->vm_private_data;

	kref_get(&td->kref);
}

static void tcmu_vm_close(struct vm_area_struct *vma)
{
	tcmu_dev_put(vma->vm_private_data);
}

static vm_fault_t tcmu_vm_fault(struct vm_fault *vmf)
{
	struct tcmu_device *td = vmf->vma->vm_private_data;
	u64 off = (u64)vmf->pgoff << PAGE_SHIFT;
	struct page *page;
	u32 blk, in_blk;

	if (off < td->ring_bytes) {
		page = vmalloc_to_page(td->ring + off);
		get_page(page);
		vmf->page = page;
		return 0;
	}
	if (off < TCMU_DATA_OFF || off >= TCMU_MAP_SIZE)
		return VM_FAULT_SIGBUS;	/* the gap after the ring */

	blk = div_u64_rem(off - TCMU_DATA_OFF, td->da.blk_size, &in_blk);
	if (blk >= td->da.max_blocks)
		return VM_FAULT_SIGBUS;

	/*
	 * cmdr_lock keeps the block's memory alive until the page is
	 * pinned and locked; reclaim locks the page before unmapping, so
	 * it waits for this fault's PTE and then zaps it.
	 */
	mutex_lock(&td->cmdr_lock);
	page = tcmu_da_page(&td->da, blk, in_blk >> PAGE_SHIFT);
	if (!page) {
		mutex_unlock(&td->cmdr_lock);
		pr_warn_ratelimited("%s: fault on data block %u, which has no memory\n",
				    td->name, blk);
		return VM_FAULT_SIGBUS;
	}
	get_page(page);
	lock_page(page);
	mutex_unlock(&td->cmdr_lock);

	vmf->page = page;
	return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct tcmu_vm_ops = {
	.open = tcmu_vm_open,
	.close = tcmu_vm_close,
	.fault = tcmu_vm_fault,
};

static int tcmu_uio_mmap(struct uio_info *info, struct vm_area_struct *vma)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);

	/* The whole region, exactly: map 0 at offset 0. */
	if (vma->vm_pgoff || vma_pages(vma) != TCMU_MAP_SIZE >> PAGE_SHIFT)
		return -EINVAL;

	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_ops = &tcmu_vm_ops;
	vma->vm_private_data = td;
	tcmu_vm_open(vma);
	return 0;
}

static int tcmu_uio_open(struct uio_info *info, struct inode *inode)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);

	/* One handler at a time (O_EXCL does not work on char devices). */
	if (test_and_set_bit(TCMU_DEV_OPEN, &td->flags))
		return -EBUSY;
	mutex_lock(&td->cmdr_lock);
	td->inode = inode;
	mutex_unlock(&td->cmdr_lock);
	pr_debug("%s: opened\n", td->name);
	return 0;
}

static int tcmu_uio_release(struct uio_info *info, struct inode *inode)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);
	struct tcmu_req *req;
	unsigned long id;
	bool freed = false;

	mutex_lock(&td->cmdr_lock);
	/*
	 * Each VMA holds the file, so none is left: nothing to unmap until
	 * the next open.  The inode may be freed once we return (a node on
	 * a tmpfs, unlinked): reclaim must not reach it.
	 */
	td->inode = NULL;
	/*
	 * KEPT buffers belong to the handler that closed: a new one cannot
	 * know their ids, so they go now.
	 */
	xa_for_each(&td->reqs, id, req) {
		if (req->state != TCMU_REQ_KEPT)
			continue;
		xa_erase(&td->reqs, id);
		tcmu_req_free(req);
		freed = true;
	}
	if (freed && list_empty(&td->tmr_list))
		tcmu_run_qfull(td, false);
	mutex_unlock(&td->cmdr_lock);

	clear_bit(TCMU_DEV_OPEN, &td->flags);
	pr_debug("%s: closed\n", td->name);
	return 0;
}

/* A 4-byte write() on the UIO fd: userspace completed something. */
static int tcmu_uio_irqcontrol(struct uio_info *info, s32 irq_on)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);

	mutex_lock(&td->cmdr_lock);
	if (tcmu_reap(td))
		tcmu_run_qfull(td, false);
	mutex_unlock(&td->cmdr_lock);
	return 0;
}

/* ---------------------------------------------------------------------
 * Device lifecycle
 */

static int tcmu_attach_hba(struct se_hba *hba, u32 host_id)
{
	struct tcmu_hba *th;

	th = kzalloc(sizeof(*th), GFP_KERNEL);
	if (!th)
		return -ENOMEM;
	th->host_id = host_id;
	hba->hba_ptr = th;
	return 0;
}

static void tcmu_detach_hba(struct se_hba *hba)
{
	kfree(hba->hba_ptr);
	hba->hba_ptr = NULL;
}

static struct se_device *tcmu_alloc_device(struct se_hba *hba,
					   const char *name)
{
	struct tcmu_device *td;

	td = kzalloc(sizeof(*td), GFP_KERNEL);
	if (!td)
		return NULL;
	td->name = kstrdup(name, GFP_KERNEL);
	if (!td->name) {
		kfree(td);
		return NULL;
	}
	kref_init(&td->kref);
	td->hba = hba;
	INIT_LIST_HEAD(&td->dev_node);
	td->cmd_time_out = TCMU_TIME_OUT_DEF;
	td->qfull_time_out = -1;
	td->ring_mb = TCMU_RING_MB_DEF;
	td->data_mb = TCMU_DATA_MB_DEF;
	td->pages_per_blk = TCMU_PAGES_PER_BLK_DEF;
	td->idle_timeout = TCMU_IDLE_TIMEOUT_DEF;
	td->hwm_half_life = TCMU_HWM_HALF_LIFE_DEF;

	mutex_init(&td->cmdr_lock);
	xa_init_flags(&td->reqs, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&td->ring_list);
	INIT_LIST_HEAD(&td->qfull_list);
	INIT_LIST_HEAD(&td->tmr_list);
	timer_setup(&td->ring_timer, tcmu_ring_timer_fn, 0);
	timer_setup(&td->qfull_timer, tcmu_qfull_timer_fn, 0);
	INIT_WORK(&td->timeout_work, tcmu_timeout_work);
	INIT_LIST_HEAD(&td->nl_wait.node);
	init_completion(&td->nl_wait.done);
	return &td->se_dev;
}

/* The UIO device's name, which handlers match: a new kmalloc()ed string. */
static char *tcmu_uio_name(struct tcmu_device *td)
{
	struct tcmu_hba *th = td->hba->hba_ptr;

	if (td->dev_config[0])
		return kasprintf(GFP_KERNEL, "tcm-user/%u/%s/%s", th->host_id,
				 td->name, td->dev_config);
	return kasprintf(GFP_KERNEL, "tcm-user/%u/%s", th->host_id, td->name);
}

/*
 * Give the registered UIO device a new name (dev_config changed).  UIO's
 * sysfs "name" and our netlink events read it under the UIO device's
 * info_lock, so the old one is freed only once no reader can hold it.
 */
static int tcmu_swap_uio_name(struct tcmu_device *td)
{
	struct uio_device *idev = td->uio.uio_dev;
	const char *old;
	char *name;

	name = tcmu_uio_name(td);
	if (!name)
		return -ENOMEM;
	mutex_lock(&idev->info_lock);
	old = td->uio.name;
	td->uio.name = name;
	mutex_unlock(&idev->info_lock);
	kfree(old);
	return 0;
}

/* Allocate the ring and set up the (empty) data area.  cmdr_lock held. */
static int tcmu_setup_ring(struct tcmu_device *td)
{
	u32 bsz = td->pages_per_blk << PAGE_SHIFT;
	u32 limit = ((u64)td->data_mb << 20) / bsz;
	struct tcmu_mailbox *mb;
	int ret;

	if (td->ready)	/* still mapped after a failed enable */
		return -EBUSY;
	ret = tcmu_da_init(&td->da, TCMU_DATA_WIN / bsz, limit, bsz);
	if (ret)
		return ret;

	td->ring_bytes = td->ring_mb << 20;
	td->ring = vzalloc(td->ring_bytes);
	if (!td->ring) {
		tcmu_da_destroy(&td->da);
		return -ENOMEM;
	}
	td->mb = td->ring;
	td->cmdr = td->ring + TCMU_MB_SIZE;
	td->cmdr_size = td->ring_bytes - TCMU_MB_SIZE;
	td->cmdr_head = 0;
	td->cmdr_tail = 0;
	td->last_active = jiffies;
	td->hwm = 0;
	td->win_peak = 0;
	td->hwm_stamp = jiffies;

	mb = td->mb;
	mb->version = TCMU_MAILBOX_VERSION;
	mb->flags = TCMU_MAILBOX_FLAG_CAP_OOOC |
		    TCMU_MAILBOX_FLAG_CAP_READ_LEN |
		    TCMU_MAILBOX_FLAG_CAP_TMR |
		    TCMU_MAILBOX_FLAG_CAP_KEEP_BUF;
	mb->cmdr_off = TCMU_MB_SIZE;
	mb->cmdr_size = td->cmdr_size;
	tcmu_flush_ring(mb, sizeof(*mb));
	td->ready = true;
	return 0;
}

static void tcmu_teardown_ring(struct tcmu_device *td)
{
	mutex_lock(&td->cmdr_lock);
	if (td->ready) {
		tcmu_da_destroy(&td->da);
		vfree(td->ring);
		td->ring = NULL;
		td->ready = false;
		tcmu_acct(td);
	}
	mutex_unlock(&td->cmdr_lock);
}

static int tcmu_configure_device(struct se_device *dev)
{
	struct tcmu_device *td = TCMU_DEV(dev);
	struct uio_info *info = &td->uio;
	int ret;

	kfree(info->name);
	info->name = tcmu_uio_name(td);
	if (!info->name)
		return -ENOMEM;

	mutex_lock(&td->cmdr_lock);
	ret = tcmu_setup_ring(td);
	mutex_unlock(&td->cmdr_lock);
	if (ret)
		goto err_name;

	info->version = __stringify(TCMU_MAILBOX_VERSION);
	info->mem[0].name = "tcm-user command & data buffer";
	/*
	 * Shown in sysfs (maps/map0/addr), used by nothing: stock shows the
	 * ring's kernel address there, we show none.
	 */
	info->mem[0].addr = 0;
	info->mem[0].size = TCMU_MAP_SIZE;
	info->mem[0].memtype = UIO_MEM_NONE;
	info->irqcontrol = tcmu_uio_irqcontrol;
	info->irq = UIO_IRQ_CUSTOM;
	info->mmap = tcmu_uio_mmap;
	info->open = tcmu_uio_open;
	info->release = tcmu_uio_release;

	ret = uio_register_device(tcmu_root, info);
	if (ret)
		goto err_ring;

	if (!dev->dev_attrib.hw_block_size)
		dev->dev_attrib.hw_block_size = 512;
	if (!dev->dev_attrib.hw_max_sectors)
		dev->dev_attrib.hw_max_sectors = 128;
	dev->dev_attrib.hw_queue_depth = 128;

	/* Unless disabled for this device, follow what the daemon said. */
	if (td->nl_reply_supported >= 0)
		td->nl_reply_supported = tcmu_nl_reply_feature;

	/* The UIO device may be closed after LIO frees the device. */
	kref_get(&td->kref);

	ret = tcmu_nl_send_simple(td, TCMU_CMD_ADDED_DEVICE);
	if (ret)
		goto err_netlink;

	mutex_lock(&tcmu_dev_list_lock);
	list_add_tail(&td->dev_node, &tcmu_dev_list);
	mutex_unlock(&tcmu_dev_list_lock);
	return 0;

err_netlink:
	kref_put(&td->kref, tcmu_dev_release);	/* not the last one */
	uio_unregister_device(info);
	/* A handler's mapping keeps the ring until its last reference. */
	if (kref_read(&td->kref) > 1)
		goto err_name;
err_ring:
	tcmu_teardown_ring(td);
err_name:
	kfree(info->name);
	info->name = NULL;
	return ret;
}

static void tcmu_destroy_device(struct se_device *dev)
{
	struct tcmu_device *td = TCMU_DEV(dev);

	/* Nothing re-arms a timer or the work once GONE is seen. */
	mutex_lock(&td->cmdr_lock);
	set_bit(TCMU_DEV_GONE, &td->flags);
	mutex_unlock(&td->cmdr_lock);
	del_timer_sync(&td->ring_timer);
	del_timer_sync(&td->qfull_timer);
	cancel_work_sync(&td->timeout_work);

	mutex_lock(&tcmu_dev_list_lock);
	list_del_init(&td->dev_node);
	mutex_unlock(&tcmu_dev_list_lock);

	tcmu_nl_send_simple(td, TCMU_CMD_REMOVED_DEVICE);
	uio_unregister_device(&td->uio);

	tcmu_dev_put(td);	/* the configure reference */
}

static void tcmu_free_device(struct se_device *dev)
{
	tcmu_dev_put(TCMU_DEV(dev));	/* the alloc reference */
}

static sector_t tcmu_get_blocks(struct se_device *dev)
{
	struct tcmu_device *td = TCMU_DEV(dev);

	return div_u64(td->dev_size - dev->dev_attrib.block_size,
		       dev->dev_attrib.block_size);
}

/* ---------------------------------------------------------------------
 * Module
 */

static struct target_backend_ops tcmu_backend_ops = {
	.name			= "user",
	.owner			= THIS_MODULE,
	.transport_flags_default = TRANSPORT_FLAG_PASSTHROUGH,
	.transport_flags_changeable = TRANSPORT_FLAG_PASSTHROUGH_PGR |
				      TRANSPORT_FLAG_PASSTHROUGH_ALUA,
	.attach_hba		= tcmu_attach_hba,
	.detach_hba		= tcmu_detach_hba,
	.alloc_device		= tcmu_alloc_device,
	.configure_device	= tcmu_configure_device,
	.destroy_device		= tcmu_destroy_device,
	.free_device		= tcmu_free_device,
	.unplug_device		= tcmu_unplug_device,
	.plug_device		= tcmu_plug_device,
	.parse_cdb		= tcmu_parse_cdb,
	.tmr_notify		= tcmu_tmr_notify,
	.set_configfs_dev_params = tcmu_set_configfs_dev_params,
	.show_configfs_dev_params = tcmu_show_configfs_dev_params,
	.get_device_type	= sbc_get_device_type,
	.get_blocks		= tcmu_get_blocks,
	.tb_dev_action_attrs	= tcmu_action_attrs,
};

static int __init tcmu_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct tcmu_cmd_entry) % TCMU_OP_ALIGN_SIZE);
	BUILD_BUG_ON(TCMU_MB_SIZE % TCMU_OP_ALIGN_SIZE);
	BUILD_BUG_ON(TCMU_DATA_OFF % PAGE_SIZE);
	BUILD_BUG_ON(ARRAY_SIZE(tcmu_req_state_name) != TCMU_REQ_NR_STATES);

	ret = percpu_counter_init(&tcmu_global_pages, 0, GFP_KERNEL);
	if (ret)
		return ret;
	ret = percpu_counter_init(&tcmu_global_in_use, 0, GFP_KERNEL);
	if (ret)
		goto err_pages;
	tcmu_req_cache = KMEM_CACHE(tcmu_req, 0);
	if (!tcmu_req_cache) {
		ret = -ENOMEM;
		goto err_in_use;
	}
	tcmu_req_pool = mempool_create_slab_pool(TCMU_REQ_RESERVE,
						 tcmu_req_cache);
	if (!tcmu_req_pool) {
		ret = -ENOMEM;
		goto err_cache;
	}

	tcmu_root = root_device_register("tcm_user");
	if (IS_ERR(tcmu_root)) {
		ret = PTR_ERR(tcmu_root);
		goto err_pool;
	}
	ret = genl_register_family(&tcmu_nl_family);
	if (ret < 0)
		goto err_root;
	ret = tcmu_build_attrs();
	if (ret)
		goto err_genl;
	ret = register_shrinker(&tcmu_shrinker, "tcmu-data");
	if (ret)
		goto err_attrs;
	ret = transport_backend_register(&tcmu_backend_ops);
	if (ret)
		goto err_shrinker;
	mutex_lock(&tcmu_dev_list_lock);
	tcmu_live = true;
	mutex_unlock(&tcmu_dev_list_lock);
	return 0;

err_shrinker:
	unregister_shrinker(&tcmu_shrinker);
err_attrs:
	kfree(tcmu_attrib_attrs);
err_genl:
	genl_unregister_family(&tcmu_nl_family);
err_root:
	root_device_unregister(tcmu_root);
err_pool:
	mempool_destroy(tcmu_req_pool);
err_cache:
	kmem_cache_destroy(tcmu_req_cache);
err_in_use:
	percpu_counter_destroy(&tcmu_global_in_use);
err_pages:
	percpu_counter_destroy(&tcmu_global_pages);
	return ret;
}

static void __exit tcmu_exit(void)
{
	target_backend_unregister(&tcmu_backend_ops);
	unregister_shrinker(&tcmu_shrinker);
	/*
	 * No device is left, and from here on the module parameters do not
	 * touch the counters or queue the work: nothing queues it again.
	 */
	mutex_lock(&tcmu_dev_list_lock);
	tcmu_live = false;
	mutex_unlock(&tcmu_dev_list_lock);
	cancel_delayed_work_sync(&tcmu_reclaim_work);
	kfree(tcmu_attrib_attrs);
	genl_unregister_family(&tcmu_nl_family);
	root_device_unregister(tcmu_root);
	/* Devices are freed through call_rcu(). */
	rcu_barrier();
	mempool_destroy(tcmu_req_pool);
	kmem_cache_destroy(tcmu_req_cache);
	percpu_counter_destroy(&tcmu_global_in_use);
	percpu_counter_destroy(&tcmu_global_pages);
}

module_init(tcmu_init);
module_exit(tcmu_exit);

MODULE_DESCRIPTION("TCM USER subsystem backend (XArray data area)");
MODULE_LICENSE("GPL");
