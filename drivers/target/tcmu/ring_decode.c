// SPDX-License-Identifier: GPL-2.0
/*
 * TCMU ring decoder: the checks of "The hostile ring" in
 * Documentation/target/tcmu-data-area.rst, see ring_decode.h.
 *
 * Every value the handler provides is read once, checked, and only the
 * copy is used.  Each step moves the walk forward by at least 8 bytes,
 * never past the handler's tail read once at the start, and either stays
 * inside the span or wraps to 0 (a PAD running to cmdr_size): a walk ends,
 * and nothing past the span is read.
 */

#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <asm/barrier.h>
#include <scsi/scsi_proto.h>

#include "ring_decode.h"

static enum tcmu_rd_kind tcmu_rd_broken(struct tcmu_rd_ent *ent,
					const char *what, u32 val)
{
	ent->kind = TCMU_RD_BROKEN;
	ent->what = what;
	ent->val = val;
	return TCMU_RD_BROKEN;
}

/**
 * tcmu_rd_start() - read and check the handler's cmd_tail
 * @w: the walk, every field but @w->tail set
 * @ent: filled in with the reason if the tail is bad
 *
 * The tail must lie inside the span, be 8-byte aligned and inside what the
 * kernel published (from @w->pos to @w->head).  It is read once, with
 * acquire semantics: the entries the handler completed before it moved
 * cmd_tail are visible after it.  The caller flushes the mailbox first.
 *
 * Context: Any context; the caller serialises the walks of one ring.
 * Return: true, with @w->tail set; false if the ring is broken, with
 * @ent->kind TCMU_RD_BROKEN, @ent->what and @ent->val set.
 */
bool tcmu_rd_start(struct tcmu_rd_walk *w, struct tcmu_rd_ent *ent)
{
	u32 tail;

	/* The entries userspace completed before it moved cmd_tail. */
	tail = smp_load_acquire(&w->mb->cmd_tail);
	if (tail >= w->span || !IS_ALIGNED(tail, TCMU_OP_ALIGN_SIZE) ||
	    tcmu_rd_dist(w->size, w->pos, tail) >
	    tcmu_rd_dist(w->size, w->pos, w->head)) {
		tcmu_rd_broken(ent, "cmd_tail", tail);
		return false;
	}
	w->tail = tail;
	return true;
}

/*
 * Only a PAD may reach the span's end, and then exactly to cmdr_size;
 * anything else must be a whole entry of at least the header inside what
 * the handler completed.
 */
static bool tcmu_rd_len_ok(const struct tcmu_rd_walk *w, u32 len, u32 op)
{
	u32 pos = w->pos;

	if (len < sizeof(struct tcmu_cmd_entry_hdr) ||
	    !IS_ALIGNED(len, TCMU_OP_ALIGN_SIZE) ||
	    len > tcmu_rd_dist(w->size, pos, w->tail))
		return false;
	return len < w->span - pos ||
	       (op == TCMU_OP_PAD && len == w->size - pos);
}

/*
 * The response of a command whose se_cmd is still waiting (RING): status,
 * then read_len and the sense if they apply, each read once.
 */
static void tcmu_rd_rsp(struct tcmu_cmd_entry *e, struct tcmu_rd_ent *ent)
{
	u32 user_len;

	ent->status = READ_ONCE(e->rsp.scsi_status);
	ent->unknown_op = ent->uflags & TCMU_UFLAG_UNKNOWN_OP;
	if (ent->unknown_op)
		return;

	ent->read_len = ent->req.data_len;
	if (ent->req.data_in && (ent->uflags & TCMU_UFLAG_READ_LEN)) {
		user_len = READ_ONCE(e->rsp.read_len);
		if (user_len) {
			ent->len_valid = true;
			ent->read_len = min(ent->read_len, user_len);
		}
	}
	if (ent->status == SAM_STAT_CHECK_CONDITION)
		memcpy(ent->sense, e->rsp.sense_buffer, sizeof(ent->sense));
}

/*
 * A CMD entry: its id must name a RING or TIMEDOUT request.  Reads the
 * id and uflags once, and the response of a RING request.
 */
static enum tcmu_rd_kind tcmu_rd_cmd(struct tcmu_rd_walk *w,
				     struct tcmu_cmd_entry *e,
				     struct tcmu_rd_ent *ent)
{
	u16 id = READ_ONCE(e->hdr.cmd_id);
	u8 uflags = READ_ONCE(e->hdr.uflags);

	ent->cmd_id = id;
	ent->uflags = uflags;
	if (!tcmu_rd_lookup(w->ctx, id, &ent->req))
		return tcmu_rd_broken(ent, "completion of unknown cmd_id", id);
	if (ent->req.state == TCMU_REQ_KEPT)
		return tcmu_rd_broken(ent, "second completion of KEEP_BUF cmd_id",
				      id);
	if (WARN_ON_ONCE(ent->req.state != TCMU_REQ_RING &&
			 ent->req.state != TCMU_REQ_TIMEDOUT))
		return tcmu_rd_broken(ent, "completion of idle cmd_id", id);

	if (ent->req.state == TCMU_REQ_RING)
		tcmu_rd_rsp(e, ent);
	ent->keep_buf = uflags & TCMU_UFLAG_KEEP_BUF;
	ent->kind = TCMU_RD_CMD;
	return TCMU_RD_CMD;
}

/**
 * tcmu_rd_next() - decode the entry at the walk's position
 * @w: the walk, after tcmu_rd_start() returned true
 * @ent: the decision
 *
 * Checks the entry's length and opcode and, for a command, its id against
 * the request's state, and reads what the caller needs to complete it.
 * On a PAD, TMR or CMD, @w->pos moves past the entry (modulo @w->size):
 * the caller acts on the decision, then makes @w->pos its tail.  Nothing
 * of the entry is read again once this returns.
 *
 * Context: Any context; the caller serialises the walks of one ring.
 * tcmu_rd_lookup() is called at most once.
 * Return: @ent->kind: TCMU_RD_END at the handler's tail (nothing else of
 * @ent is set), TCMU_RD_BROKEN with @ent->what and @ent->val if the ring
 * is broken (the walk must stop), or what the entry is.
 */
enum tcmu_rd_kind tcmu_rd_next(struct tcmu_rd_walk *w,
			       struct tcmu_rd_ent *ent)
{
	u32 pos = w->pos, len_op, len, op;
	struct tcmu_cmd_entry *e = w->cmdr + pos;

	memset(ent, 0, offsetof(struct tcmu_rd_ent, sense));
	if (pos == w->tail)
		return TCMU_RD_END;

	tcmu_flush_ring(e, min_t(u32, w->span - pos, sizeof(*e)));
	len_op = READ_ONCE(e->hdr.len_op);
	len = tcmu_hdr_get_len(len_op);
	op = tcmu_hdr_get_op(len_op);
	ent->pos = pos;
	ent->len = len;
	if (!tcmu_rd_len_ok(w, len, op))
		return tcmu_rd_broken(ent, "entry length", len);

	switch (op) {
	case TCMU_OP_PAD:
		ent->kind = TCMU_RD_PAD;
		break;
	case TCMU_OP_TMR:
		ent->kind = TCMU_RD_TMR;
		break;
	case TCMU_OP_CMD:
		if (len < sizeof(*e))
			return tcmu_rd_broken(ent, "command entry length", len);
		if (tcmu_rd_cmd(w, e, ent) == TCMU_RD_BROKEN)
			return TCMU_RD_BROKEN;
		break;
	default:
		return tcmu_rd_broken(ent, "entry opcode", op);
	}
	w->pos = (pos + len) % w->size;
	return ent->kind;
}
