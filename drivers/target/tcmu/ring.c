// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: the command ring: submission of SCSI commands (NEW/QFULL ->
 * RING), the queue-full path, TMR notifications, reading completions from
 * the hostile ring, timeouts, and the block_dev, reset_ring and
 * free_kept_buf actions.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cacheflush.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mempool.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_proto.h>
#include <target/target_core_fabric.h>

#include "tcmu.h"

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

static_assert(ARRAY_SIZE(tcmu_req_state_name) == TCMU_REQ_NR_STATES);

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

enum tcmu_place_result {
	TCMU_PLACED,	/* the request is in the ring */
	TCMU_WAIT,	/* no room in the ring or data area: wait */
	TCMU_FAIL,	/* cannot ever run: fail it with *sense */
};

/* ---------------------------------------------------------------------
 * Ring helpers.  Offsets are bytes from the start of the command ring.
 */

/**
 * tcmu_flush_ring() - make kernel writes to the ring visible to the handler
 * @addr: start of what was written, in the kernel's mapping of the span
 * @len: bytes written
 *
 * Only architectures whose flush_dcache_page() does something need this
 * (ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE is 1 there).  On the others, x86
 * among them, asm-generic/cacheflush.h defines it to 0 and the function
 * is empty: no page table walk (vmalloc_to_page()) per call, three or
 * four times per command, to flush nothing.
 *
 * Context: Any context.
 */
void tcmu_flush_ring(void *addr, size_t len)
{
#if ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE
	void *p = PTR_ALIGN_DOWN(addr, PAGE_SIZE);

	for (; p < addr + len; p += PAGE_SIZE)
		flush_dcache_page(vmalloc_to_page(p));
#endif
}

/* ---------------------------------------------------------------------
 * Waking the handler (doorbell moderation)
 */

/* Wake the handler now, for every entry published so far. */
static void tcmu_wake_now(struct tcmu_device *td)
{
	lockdep_assert_held(&td->cmdr_lock);

	td->unwoken = 0;
	if (hrtimer_is_queued(&td->wake_timer))
		hrtimer_try_to_cancel(&td->wake_timer);
	uio_event_notify(&td->uio);
}

/*
 * Wake the handler for the commands published since it was last woken:
 * at once if it holds no other command (it may be asleep with nothing to
 * do: QD1 is never delayed), or when wake_batch of them wait, or with
 * wake_delay_us 0.  Otherwise it will come back for them: with its next
 * completion (tcmu_reap() calls us), or at the latest when the timer
 * fires, wake_delay_us after the first of them.
 */
static void tcmu_wake(struct tcmu_device *td)
{
	u32 delay = READ_ONCE(td->wake_delay_us);
	u32 batch = READ_ONCE(td->wake_batch);

	lockdep_assert_held(&td->cmdr_lock);

	if (!td->unwoken)
		return;
	if (!delay || td->in_ring <= td->unwoken ||
	    (batch && td->unwoken >= batch)) {
		tcmu_wake_now(td);
		return;
	}
	if (!hrtimer_is_queued(&td->wake_timer) &&
	    !test_bit(TCMU_DEV_GONE, &td->flags))
		hrtimer_start(&td->wake_timer,
			      ns_to_ktime((u64)delay * NSEC_PER_USEC),
			      HRTIMER_MODE_REL);
}

static enum hrtimer_restart tcmu_wake_timer_fn(struct hrtimer *t)
{
	struct tcmu_device *td = container_of(t, struct tcmu_device,
					      wake_timer);

	uio_event_notify(&td->uio);
	return HRTIMER_NORESTART;
}

/* A command was published: wake the handler, unless LIO plugged us. */
static void tcmu_kick(struct tcmu_device *td)
{
	lockdep_assert_held(&td->cmdr_lock);

	td->in_ring++;
	td->unwoken++;
	if (!test_bit(TCMU_DEV_PLUGGED, &td->flags))
		tcmu_wake(td);
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

static void __cold tcmu_req_bad_move(struct tcmu_req *req,
				     enum tcmu_req_state to)
{
	WARN_ONCE(1, "tcmu: bad request transition %s -> %s\n",
		  tcmu_req_state_name[req->state], tcmu_req_state_name[to]);
}

/*
 * Two to three times per command: inline, with the table test alone on
 * the way (26 instructions a call out of line, make bench).
 */
static inline void tcmu_req_move(struct tcmu_req *req,
				 enum tcmu_req_state to)
{
	if (unlikely(!(tcmu_req_next[req->state] & BIT(to))))
		tcmu_req_bad_move(req, to);
	req->state = to;
}

static void tcmu_req_put_blocks(struct tcmu_req *req)
{
	if (req->has_blks) {
		tcmu_data_put(req->td, req->blks, req->nr_blks);
		req->has_blks = false;
	}
}

/**
 * tcmu_req_free() - a request leaves the state machine (DONE)
 * @req: the request, in any state but DONE
 *
 * Gives back its data blocks, its block list and the request itself.  Its
 * command id, if it had one, must already be erased from td->reqs.
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 */
void tcmu_req_free(struct tcmu_req *req)
{
	lockdep_assert_held(&req->td->cmdr_lock);

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

	/* A longer list is allocated by tcmu_req_get_blocks(), which may wait. */
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

/* Make *@when the earlier of itself (if @any) and @t. */
static void tcmu_earliest(unsigned long *when, bool *any, unsigned long t)
{
	if (!*any || time_before(t, *when))
		*when = t;
	*any = true;
}

/* The deadline of the first timed request on @list, if any. */
static void tcmu_first_deadline(struct list_head *list, unsigned long *when,
				bool *any)
{
	struct tcmu_req *req;

	list_for_each_entry(req, list, node) {
		if (req->timed) {
			tcmu_earliest(when, any, req->deadline);
			return;
		}
	}
}

/*
 * Point the device's timer at the first RING or QFULL deadline, or at
 * the retry after a failed allocation, whichever comes first; or stop it.
 */
static void tcmu_arm_timer(struct tcmu_device *td)
{
	unsigned long when = 0;
	bool any = false;

	lockdep_assert_held(&td->cmdr_lock);

	if (test_bit(TCMU_DEV_GONE, &td->flags))
		return;
	tcmu_first_deadline(&td->ring_list, &when, &any);
	tcmu_first_deadline(&td->qfull_list, &when, &any);
	if (td->nomem_retry)
		tcmu_earliest(&when, &any, jiffies + TCMU_NOMEM_RETRY);
	if (any)
		mod_timer(&td->timer, when);
	else
		del_timer(&td->timer);
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
	struct tcmu_da_cursor cur;
	struct sg_mapping_iter it;
	u32 done = 0;

	tcmu_da_cursor_init(&cur, &td->da);
	sg_miter_start(&it, sg, nents, SG_MITER_ATOMIC |
		       (to_blocks ? SG_MITER_FROM_SG : SG_MITER_TO_SG));
	rcu_read_lock();	/* the cursor's lookups */
	while (done < len && sg_miter_next(&it)) {
		size_t n = min_t(size_t, it.length, len - done);
		size_t off = 0;

		while (off < n) {
			u32 in_blk = done % bsz;
			u32 in_pg = offset_in_page(in_blk);
			size_t chunk = min_t(size_t, n - off, PAGE_SIZE - in_pg);
			struct page *page;
			void *b;

			page = tcmu_da_cursor_page(&cur, blks[done / bsz],
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
	rcu_read_unlock();
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
static enum tcmu_place_result tcmu_nomem_wait(struct tcmu_device *td,
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

/*
 * Blocks for @req's data (and bidi data), unless it already has them.
 * Return: TCMU_PLACED once it has them, or TCMU_WAIT.
 */
static enum tcmu_place_result tcmu_req_get_blocks(struct tcmu_device *td,
						  struct tcmu_req *req)
{
	int ret;

	if (!req->nr_blks || req->has_blks)
		return TCMU_PLACED;
	if (!req->blks) {
		req->blks = kcalloc(req->nr_blks, sizeof(u32), TCMU_PLACE_GFP);
		if (!req->blks)
			return tcmu_nomem_wait(td, TCMU_NOMEM_DATA);
	}
	ret = tcmu_data_get(td, req->nr_blks, req->blks);
	if (ret == -ENOMEM)
		return tcmu_nomem_wait(td, TCMU_NOMEM_DATA);
	if (ret)
		return TCMU_WAIT;
	req->has_blks = true;
	return TCMU_PLACED;
}

/*
 * Give @req a command id and write its entry at the ring's head: the
 * data to write copied into its blocks, the iovecs, the CDB.  Not yet
 * visible to the handler: tcmu_req_start() publishes it.  On TCMU_WAIT
 * and TCMU_FAIL the blocks go back (a waiting command must not pin
 * memory).  Return: TCMU_PLACED with the entry's size in *@size.
 */
static enum tcmu_place_result tcmu_req_setup_entry(struct tcmu_device *td,
						   struct tcmu_req *req,
						   sense_reason_t *sense,
						   u32 *size)
{
	struct se_cmd *se_cmd = req->se_cmd;
	u32 data_blks = req->nr_blks - req->nr_bidi_blks;
	u32 iovs, bidi_iovs, cdb_at, id;
	struct tcmu_cmd_entry *ent;
	struct iovec *iov;
	int ret;

	iovs = tcmu_count_runs(req->blks, data_blks);
	bidi_iovs = tcmu_count_runs(req->blks + data_blks, req->nr_bidi_blks);
	*size = tcmu_entry_size(iovs + bidi_iovs, se_cmd->t_task_cdb, &cdb_at);
	ret = tcmu_cmdr_reserve(td, *size);
	if (ret) {
		tcmu_req_put_blocks(req);
		if (ret == -ENOMEM)
			return tcmu_nomem_wait(td, TCMU_NOMEM_RING);
		/* Behind a wrapped span: see tcmu_expire(). */
		td->wrap_wait = ret == -EAGAIN;
		if (ret == -ENOSPC || ret == -EAGAIN)
			return TCMU_WAIT;
		pr_warn_ratelimited("%s: request entry of %u bytes is too big for a %u MiB ring\n",
				    td->name, *size, td->ring_mb);
		*sense = TCM_INVALID_CDB_FIELD;
		return TCMU_FAIL;
	}

	/* The lowest free id, as stock: the tree stays as deep as the QD. */
	ret = xa_alloc(&td->reqs, &id, req, XA_LIMIT(1, TCMU_MAX_CMD_ID),
		       TCMU_PLACE_GFP);
	if (ret < 0) {
		tcmu_req_put_blocks(req);
		if (ret == -ENOMEM)
			return tcmu_nomem_wait(td, TCMU_NOMEM_CMD_ID);
		return TCMU_WAIT;	/* -EBUSY: every id is taken */
	}
	req->cmd_id = id;

	ent = tcmu_cmdr_claim(td, *size);
	memset(ent, 0, *size);
	tcmu_hdr_set_op(&ent->hdr.len_op, TCMU_OP_CMD);
	tcmu_hdr_set_len(&ent->hdr.len_op, *size);
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
	tcmu_flush_ring(ent, *size);
	return TCMU_PLACED;
}

/* @req's entry of @size bytes is written: RING, publish it, kick. */
static void tcmu_req_start(struct tcmu_device *td, struct tcmu_req *req,
			   u32 size)
{
	if (req->state == TCMU_REQ_QFULL)
		list_del_init(&req->node);
	tcmu_req_move(req, TCMU_REQ_RING);
	tcmu_req_set_deadline(req, READ_ONCE(td->cmd_time_out));
	list_add_tail(&req->node, &td->ring_list);
	/* Sooner than what the timer waits for, if anything. */
	if (req->timed && !test_bit(TCMU_DEV_GONE, &td->flags))
		timer_reduce(&td->timer, req->deadline);

	tcmu_cmdr_publish(td, size);
	td->last_active = jiffies;
	tcmu_kick(td);
}

/* Try to put @req (NEW or QFULL) into the ring. */
static enum tcmu_place_result tcmu_try_place(struct tcmu_device *td,
					     struct tcmu_req *req,
					     sense_reason_t *sense)
{
	enum tcmu_place_result res;
	u32 size;

	lockdep_assert_held(&td->cmdr_lock);

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

	td->wrap_wait = false;
	res = tcmu_req_get_blocks(td, req);
	if (res == TCMU_PLACED)
		res = tcmu_req_setup_entry(td, req, sense, &size);
	if (res == TCMU_PLACED)
		tcmu_req_start(td, req, size);
	return res;
}

/* NEW -> QFULL: queue @req; false if it may not wait (qfull_time_out 0). */
static bool tcmu_req_queue_qfull(struct tcmu_device *td, struct tcmu_req *req)
{
	int qfull = READ_ONCE(td->qfull_time_out);
	unsigned int ms;

	lockdep_assert_held(&td->cmdr_lock);

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

/**
 * tcmu_run_qfull() - retry the requests waiting for room, in order
 * @td: the device
 *
 * Places QFULL requests into the ring, oldest first, until one has to wait
 * again; a request that can never run (too big, device blocked or broken)
 * fails with CHECK CONDITION.  Re-arms the timer, unless the queue is empty
 * and no retry after a failed allocation is pending: then there is nothing
 * to do.
 *
 * Context: Process context.  Expects cmdr_lock to be held.  Allocates with
 * TCMU_PLACE_GFP.
 */
void tcmu_run_qfull(struct tcmu_device *td)
{
	struct tcmu_req *req, *tmp;
	sense_reason_t sense;

	lockdep_assert_held(&td->cmdr_lock);

	/* Every completion gets here: nothing to retry, nothing to re-arm. */
	if (list_empty(&td->qfull_list) && !td->nomem_retry)
		return;
	td->nomem_retry = false;
	list_for_each_entry_safe(req, tmp, &td->qfull_list, node) {
		switch (tcmu_try_place(td, req, &sense)) {
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
	tcmu_arm_timer(td);
}

/* Complete every QFULL request with BUSY (block_dev). */
static void tcmu_fail_qfull(struct tcmu_device *td)
{
	struct tcmu_req *req, *tmp;

	lockdep_assert_held(&td->cmdr_lock);

	td->nomem_retry = false;
	list_for_each_entry_safe(req, tmp, &td->qfull_list, node) {
		list_del_init(&req->node);
		tcmu_req_finish(req, SAM_STAT_BUSY);
		tcmu_req_free(req);
	}
	tcmu_arm_timer(td);
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
	int ret;

	lockdep_assert_held(&td->cmdr_lock);

	if (test_bit(TCMU_DEV_BROKEN, &td->flags))
		goto drop;
	ret = tcmu_cmdr_reserve(td, size);
	if (ret == -E2BIG) {
		pr_warn_ratelimited("%s: TMR of %u ids does not fit the ring\n",
				    td->name, msg->nr_ids);
		goto drop;
	}
	if (ret == -ENOMEM)
		td->nomem_retry = true;	/* retried by the timer */
	if (ret)
		return false;

	ent = tcmu_cmdr_claim(td, size);
	memset(ent, 0, size);
	tcmu_hdr_set_op(&ent->hdr.len_op, TCMU_OP_TMR);
	tcmu_hdr_set_len(&ent->hdr.len_op, size);
	ent->tmr_type = msg->type;
	ent->cmd_cnt = msg->nr_ids;
	memcpy(ent->cmd_ids, msg->ids, ids);
	tcmu_flush_ring(ent, size);
	tcmu_cmdr_publish(td, size);
	/* An abort is never held back. */
	tcmu_wake_now(td);
drop:
	kfree(msg);
	return true;
}

/* Place waiting TMRs in order; true once none is left waiting. */
static bool tcmu_run_tmrs(struct tcmu_device *td)
{
	struct tcmu_tmr_msg *msg, *tmp;

	lockdep_assert_held(&td->cmdr_lock);

	list_for_each_entry_safe(msg, tmp, &td->tmr_list, node) {
		list_del_init(&msg->node);
		if (!tcmu_tmr_place(td, msg)) {
			list_add(&msg->node, &td->tmr_list);
			return false;
		}
	}
	return true;
}

/**
 * tcmu_drop_tmrs() - forget TMR notifications still waiting for ring room
 * @td: the device
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 */
void tcmu_drop_tmrs(struct tcmu_device *td)
{
	struct tcmu_tmr_msg *msg, *tmp;

	lockdep_assert_held(&td->cmdr_lock);

	list_for_each_entry_safe(msg, tmp, &td->tmr_list, node) {
		list_del(&msg->node);
		kfree(msg);
	}
}

/**
 * tcmu_tmr_notify() - LIO's tmr_notify: a task management function arrived
 * @se_dev: the device
 * @tmf: which function
 * @cmd_list: the commands it aborts
 *
 * Aborted commands still waiting for room complete with TASK ABORTED and
 * never reach the handler.  With tmr_notification set, the handler gets a
 * TMR entry naming the aborted commands it holds; it waits for ring room
 * in order, before any command queued after it.
 *
 * Context: Process context.  Takes cmdr_lock.
 */
void tcmu_tmr_notify(struct se_device *se_dev,
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
		tcmu_arm_timer(td);

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
	if (!list_empty(&td->tmr_list) || !tcmu_tmr_place(td, msg)) {
		list_add_tail(&msg->node, &td->tmr_list);
		if (td->nomem_retry)	/* no memory for ring room */
			tcmu_arm_timer(td);
	}
out:
	mutex_unlock(&td->cmdr_lock);
}

/* ---------------------------------------------------------------------
 * Completion: reading the hostile ring
 */

/*
 * The handler completed RING request @req: copy the data read back and
 * complete the se_cmd with the status, sense and length the decoder read
 * from the entry (@ent).
 */
static void tcmu_complete_cmd(struct tcmu_device *td, struct tcmu_req *req,
			      struct tcmu_rd_ent *ent)
{
	struct se_cmd *se_cmd = req->se_cmd;

	list_del_init(&req->node);

	if (ent->unknown_op) {
		pr_warn_ratelimited("%s: userspace set UNKNOWN_OP on cmd_id %u\n",
				    td->name, req->cmd_id);
		tcmu_req_finish(req, SAM_STAT_CHECK_CONDITION);
		return;
	}

	if (ent->status == SAM_STAT_CHECK_CONDITION) {
		transport_copy_sense_to_cmd(se_cmd, ent->sense);
		if (!ent->len_valid)
			goto finish;
		se_cmd->se_cmd_flags |= SCF_TREAT_READ_AS_NORMAL;
	}

	if (se_cmd->se_cmd_flags & SCF_BIDI) {
		u32 first = req->nr_blks - req->nr_bidi_blks;

		tcmu_copy_sg(td, req->blks + first, se_cmd->t_bidi_data_sg,
			     se_cmd->t_bidi_data_nents, req->bidi_len, false);
	} else if (se_cmd->data_direction == DMA_FROM_DEVICE) {
		tcmu_copy_sg(td, req->blks, se_cmd->t_data_sg,
			     se_cmd->t_data_nents, ent->read_len, false);
	}
finish:
	req->se_cmd = NULL;
	se_cmd->priv = NULL;
	if (ent->len_valid)
		target_complete_cmd_with_length(se_cmd, ent->status,
						ent->read_len);
	else
		target_complete_cmd(se_cmd, ent->status);
}

/*
 * The decoder's lookup (ring_decode.h): the request with command id @id,
 * which the decoder checks against the states a completion may find.
 */
bool tcmu_rd_lookup(void *ctx, u16 id, struct tcmu_rd_req *rd)
{
	struct tcmu_device *td = ctx;
	struct tcmu_req *req;

	lockdep_assert_held(&td->cmdr_lock);

	req = xa_load(&td->reqs, id);
	if (!req)
		return false;
	rd->state = req->state;
	rd->data_in = req->se_cmd &&
		      req->se_cmd->data_direction == DMA_FROM_DEVICE;
	rd->data_len = req->data_len;
	rd->priv = req;
	return true;
}

/*
 * The handler completed the RING/TIMEDOUT request the decoder found in
 * @ent.
 */
static void tcmu_complete_one(struct tcmu_device *td,
			      struct tcmu_rd_ent *ent)
{
	struct tcmu_req *req = ent->req.priv;

	lockdep_assert_held(&td->cmdr_lock);

	td->in_ring--;
	/* A TIMEDOUT request's se_cmd was failed already. */
	if (req->state == TCMU_REQ_RING)
		tcmu_complete_cmd(td, req, ent);

	if (ent->keep_buf) {
		/* Userspace still uses the buffer: free_kept_buf ends it. */
		tcmu_req_move(req, TCMU_REQ_KEPT);
		return;
	}
	xa_erase(&td->reqs, ent->cmd_id);
	tcmu_req_free(req);
}

/**
 * tcmu_reap() - complete what the handler completed
 * @td: the device
 *
 * Reads the ring from our tail to the handler's cmd_tail.  Everything in
 * the ring is untrusted: the decoder (ring_decode.h) reads each field once
 * and checks it before use; anything out of bounds marks the ring broken
 * (until reset_ring) and stops the walk.
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 * Return: true if ring room was freed and no TMR is left waiting for room,
 * i.e. queued requests may now be retried.
 */
bool tcmu_reap(struct tcmu_device *td)
{
	struct tcmu_rd_walk w = {
		.mb = td->mb,
		.cmdr = td->cmdr,
		.size = td->cmdr_size,
		.span = td->cmdr_span,
		.head = td->cmdr_head,
		.pos = td->cmdr_tail,
		.ctx = td,
	};
	bool freed = false, active = false;
	struct tcmu_rd_ent ent;

	lockdep_assert_held(&td->cmdr_lock);

	if (test_bit(TCMU_DEV_BROKEN, &td->flags)) {
		pr_warn_ratelimited("%s: ring broken, not handling completions\n",
				    td->name);
		return false;
	}

	tcmu_flush_ring(td->mb, sizeof(*td->mb));
	if (!tcmu_rd_start(&w, &ent)) {
		tcmu_broken(td, ent.what, ent.val);
		return false;
	}

	while (tcmu_rd_next(&w, &ent) != TCMU_RD_END) {
		switch (ent.kind) {
		case TCMU_RD_PAD:
			break;
		case TCMU_RD_TMR:
			active = true;
			break;
		case TCMU_RD_CMD:
			tcmu_complete_one(td, &ent);
			active = true;
			break;
		default:
			tcmu_broken(td, ent.what, ent.val);
			goto out;
		}
		td->cmdr_tail = w.pos;
		freed = true;
	}
out:
	/* A PAD alone (the idle span's wrap) is not activity. */
	if (active)
		td->last_active = jiffies;
	if (freed)
		freed = tcmu_run_tmrs(td);
	/*
	 * Entries held back for a handler that now holds none: wake it.
	 * (Without moderation nothing is held back: the count that plugged
	 * entries leave is stale, see tcmu_unplug_device().)
	 */
	if (READ_ONCE(td->wake_delay_us))
		tcmu_wake(td);
	/*
	 * Completions only take deadlines away: a timer that now fires
	 * early finds nothing expired and re-arms (tcmu_timeout_work()).
	 * Only a TMR that found no memory needs the timer's retry.
	 */
	if (td->nomem_retry)
		tcmu_arm_timer(td);
	return freed;
}

/* ---------------------------------------------------------------------
 * Timeouts
 */

static void tcmu_expire(struct tcmu_device *td)
{
	struct tcmu_req *req, *tmp;
	unsigned long now = jiffies;
	u8 status;

	lockdep_assert_held(&td->cmdr_lock);

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
	/*
	 * QFULL -> DONE: waited too long for room: TASK SET FULL, as stock.
	 * But while the queue waits only behind a wrapped span (its first
	 * request had its blocks and lacks room that a ring of
	 * cmd_ring_size_mb would have had), its requests would have been
	 * in stock's ring, and timed out there: they fail as RING requests
	 * do.  A stalled handler's LUN then fails commands in
	 * cmd_time_out, rather than have the midlayer retry TASK SET FULL
	 * for minutes.
	 */
	status = td->wrap_wait ? SAM_STAT_CHECK_CONDITION :
				 SAM_STAT_TASK_SET_FULL;
	list_for_each_entry_safe(req, tmp, &td->qfull_list, node) {
		if (!req->timed || time_before(now, req->deadline))
			continue;
		pr_debug("%s: queued request %p timed out (status %#x)\n",
			 td->name, req, status);
		list_del_init(&req->node);
		tcmu_req_finish(req, status);
		tcmu_req_free(req);
	}
}

static void tcmu_timeout_work(struct work_struct *work)
{
	struct tcmu_device *td = container_of(work, struct tcmu_device,
					      timeout_work);

	mutex_lock(&td->cmdr_lock);
	tcmu_expire(td);
	/* The timer is also the retry after -ENOMEM; TMRs go first. */
	if (tcmu_run_tmrs(td))
		tcmu_run_qfull(td);
	tcmu_arm_timer(td);
	mutex_unlock(&td->cmdr_lock);
}

static void tcmu_timer_fn(struct timer_list *t)
{
	struct tcmu_device *td = from_timer(td, t, timer);

	if (!test_bit(TCMU_DEV_GONE, &td->flags))
		schedule_work(&td->timeout_work);
}

/**
 * tcmu_ring_init_dev() - set up a new device's command state
 * @td: the device, not yet visible to anyone
 *
 * Initialises the request table, the RING/QFULL/TMR queues, the timer and
 * the timeout work.
 *
 * Context: Process context.
 */
void tcmu_ring_init_dev(struct tcmu_device *td)
{
	xa_init_flags(&td->reqs, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&td->ring_list);
	INIT_LIST_HEAD(&td->qfull_list);
	INIT_LIST_HEAD(&td->tmr_list);
	timer_setup(&td->timer, tcmu_timer_fn, 0);
	INIT_WORK(&td->timeout_work, tcmu_timeout_work);
	hrtimer_init(&td->wake_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	td->wake_timer.function = tcmu_wake_timer_fn;
}

/**
 * tcmu_ring_stop_timer() - stop the device's timer and timeout work for good
 * @td: the device, being destroyed
 *
 * Nothing re-arms them once this returns.
 *
 * Context: Process context.  Takes cmdr_lock; sleeps until a running timer
 * or work has finished.
 */
void tcmu_ring_stop_timer(struct tcmu_device *td)
{
	/* Nothing re-arms the timer or the work once GONE is seen. */
	mutex_lock(&td->cmdr_lock);
	set_bit(TCMU_DEV_GONE, &td->flags);
	mutex_unlock(&td->cmdr_lock);
	del_timer_sync(&td->timer);
	cancel_work_sync(&td->timeout_work);
	hrtimer_cancel(&td->wake_timer);
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

	switch (tcmu_try_place(td, req, &sense)) {
	case TCMU_PLACED:
		mutex_unlock(&td->cmdr_lock);
		return TCM_NO_SENSE;
	case TCMU_WAIT:
		goto wait;
	case TCMU_FAIL:
		goto fail;
	}
wait:
	if (tcmu_req_queue_qfull(td, req)) {
		tcmu_arm_timer(td);
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

/**
 * tcmu_parse_cdb() - LIO's parse_cdb for a user backstore
 * @cmd: the command
 *
 * Every command goes to the handler (passthrough): tcmu_queue_cmd() places
 * it into the ring or queues it.
 *
 * Context: Process context (LIO submission).
 * Return: TCM_NO_SENSE, or the sense to fail @cmd with.
 */
sense_reason_t tcmu_parse_cdb(struct se_cmd *cmd)
{
	return passthrough_parse_cdb(cmd, tcmu_queue_cmd);
}

/**
 * tcmu_plug_device() - hold back the handler's wake-ups
 * @se_dev: the device
 *
 * While plugged, commands go into the ring without waking the handler;
 * tcmu_unplug_device() wakes it once for all of them (or, with doorbell
 * moderation, decides when to).
 *
 * Context: Process context (LIO submission).
 * Return: the plug, or NULL if the device is already plugged.
 */
struct se_dev_plug *tcmu_plug_device(struct se_device *se_dev)
{
	struct tcmu_device *td = TCMU_DEV(se_dev);

	if (test_and_set_bit(TCMU_DEV_PLUGGED, &td->flags))
		return NULL;
	return &td->se_plug;
}

/**
 * tcmu_unplug_device() - wake the handler for what came in while plugged
 * @se_plug: the plug tcmu_plug_device() returned
 *
 * Context: Process context (LIO submission).  Takes cmdr_lock if
 * wake_delay_us is set.
 */
void tcmu_unplug_device(struct se_dev_plug *se_plug)
{
	struct tcmu_device *td = TCMU_DEV(se_plug->se_dev);

	clear_bit(TCMU_DEV_PLUGGED, &td->flags);
	/*
	 * Without moderation, no lock: the unwoken count this leaves is
	 * only read with moderation on, and a stale one wakes early.
	 */
	if (!READ_ONCE(td->wake_delay_us)) {
		uio_event_notify(&td->uio);
		return;
	}
	mutex_lock(&td->cmdr_lock);
	tcmu_wake(td);
	mutex_unlock(&td->cmdr_lock);
}

/* ---------------------------------------------------------------------
 * Actions: block_dev, reset_ring, free_kept_buf
 */

/**
 * tcmu_block() - block_dev=1: refuse new commands with BUSY
 * @td: the device
 *
 * Completes what the handler already completed and fails every queued
 * request with BUSY; requests in the ring stay until the handler completes
 * them or reset_ring drops them.
 *
 * Context: Process context.  Takes cmdr_lock.
 */
void tcmu_block(struct tcmu_device *td)
{
	mutex_lock(&td->cmdr_lock);
	if (!test_and_set_bit(TCMU_DEV_BLOCKED, &td->flags)) {
		tcmu_reap(td);
		tcmu_fail_qfull(td);
	}
	mutex_unlock(&td->cmdr_lock);
}

/**
 * tcmu_unblock() - block_dev=0: accept commands again
 * @td: the device
 *
 * Context: Process context.  Takes cmdr_lock.
 */
void tcmu_unblock(struct tcmu_device *td)
{
	mutex_lock(&td->cmdr_lock);
	clear_bit(TCMU_DEV_BLOCKED, &td->flags);
	mutex_unlock(&td->cmdr_lock);
}

/**
 * tcmu_reset_ring() - reset_ring: forget everything in the ring
 * @td: the device
 * @level: 1: RING requests fail with BUSY (retryable); 2: with CHECK
 *         CONDITION
 *
 * Every request with a command id goes (KEPT and TIMEDOUT ones too), the
 * ring is empty again, a broken ring is usable again, and queued requests
 * are retried.
 *
 * Context: Process context.  Takes cmdr_lock.
 */
void tcmu_reset_ring(struct tcmu_device *td, u8 level)
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
	td->in_ring = 0;
	td->unwoken = 0;
	WRITE_ONCE(td->mb->cmd_head, 0);
	WRITE_ONCE(td->mb->cmd_tail, 0);
	tcmu_flush_ring(td->mb, sizeof(*td->mb));
	clear_bit(TCMU_DEV_BROKEN, &td->flags);

	/* Queued TMRs name commands that no longer exist. */
	tcmu_drop_tmrs(td);
	tcmu_run_qfull(td);
	mutex_unlock(&td->cmdr_lock);
}

/**
 * tcmu_free_kept() - free_kept_buf: the handler is done with a kept buffer
 * @td: the device
 * @id: the command id the handler completed with TCMU_UFLAG_KEEP_BUF
 *
 * Context: Process context.  Takes cmdr_lock.
 * Return: 0, or -EINVAL if no request @id was completed with KEEP_BUF.
 */
int tcmu_free_kept(struct tcmu_device *td, u16 id)
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
			tcmu_run_qfull(td);
	}
	mutex_unlock(&td->cmdr_lock);
	return ret;
}

/* ---------------------------------------------------------------------
 * The request cache
 */

/**
 * tcmu_req_cache_init() - a slab cache for requests and a mempool of
 *                         TCMU_REQ_RESERVE of them, so that submission
 *                         always makes progress
 *
 * Context: Module init.
 * Return: 0 or -ENOMEM.
 */
int tcmu_req_cache_init(void)
{
	tcmu_req_cache = KMEM_CACHE(tcmu_req, 0);
	if (!tcmu_req_cache)
		return -ENOMEM;
	tcmu_req_pool = mempool_create_slab_pool(TCMU_REQ_RESERVE,
						 tcmu_req_cache);
	if (!tcmu_req_pool) {
		kmem_cache_destroy(tcmu_req_cache);
		return -ENOMEM;
	}
	return 0;
}

/**
 * tcmu_req_cache_exit() - destroy what tcmu_req_cache_init() made
 *
 * Context: Module exit or failed init; no request is left.
 */
void tcmu_req_cache_exit(void)
{
	mempool_destroy(tcmu_req_pool);
	kmem_cache_destroy(tcmu_req_cache);
}
