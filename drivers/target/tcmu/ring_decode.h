/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCMU ring decoder: reads the completions the handler wrote into the
 * command ring and decides what each one means, without acting on it.
 *
 * The ring is shared with a handler that may write anything at any time.
 * The decoder reads the handler's cmd_tail and then, entry by entry from
 * the kernel's tail up to it, each field exactly once (READ_ONCE(), or one
 * memcpy() for the sense buffer), checks it, and uses only its copy.  It
 * reports one decision per entry in a struct tcmu_rd_ent: a PAD, a TMR, a
 * command completed (with the id, the status, read_len, the sense and
 * KEEP_BUF), or a broken ring with the reason and the offending value.
 *
 * It knows nothing of LIO, UIO or locking: the caller looks requests up
 * for it (tcmu_rd_lookup()) and does every side effect
 * (completing the command, freeing it, moving its own tail, marking the
 * ring broken) between two steps of the walk.  ring.c is the kernel's
 * caller; tools/testing/tcmu/fuzz/ builds this file unmodified in
 * userspace and fuzzes it.
 *
 * Every value the handler provides is read once, checked, and only the
 * copy is used.  Each step moves the walk forward by at least 8 bytes,
 * never past the handler's tail read once at the start, and either stays
 * inside the span or wraps to 0 (a PAD running to cmdr_size): a walk ends,
 * and nothing past the span is read.
 *
 * The functions are static inline, in this header rather than a file of
 * their own: tcmu_reap() is their one caller, and in its translation unit
 * the calls per entry (tcmu_rd_lookup(), tcmu_flush_ring()) are direct and
 * inlined.  Compiled apart, the decoder cost 134 more instructions per 4k
 * command (1,294 against 1,160 in target_core_user, make bench).
 *
 * The caller keeps the decoder's walks of one ring apart (the device's
 * cmdr_lock in the kernel).
 */
#ifndef TCMU_RING_DECODE_H
#define TCMU_RING_DECODE_H

#include <linux/bug.h>
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/target_core_user.h>
#include <asm/barrier.h>
#include <scsi/scsi_proto.h>

/*
 * The kernel-side life of one SCSI command (struct tcmu_req), see the
 * rst for the diagram.  NEW is the state at allocation; a request leaves
 * the machine (DONE) when tcmu_req_free() is called.  Only RING, TIMEDOUT
 * and KEPT requests have a command id.
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

/**
 * struct tcmu_rd_req - what the decoder needs to know of a request
 * @state: its state; the decoder accepts a completion of RING and
 *	TIMEDOUT requests only
 * @data_in: a data-in command (DMA_FROM_DEVICE): read_len applies
 * @data_len: its data length, the bound of read_len
 * @priv: the caller's request, handed back in the decision
 */
struct tcmu_rd_req {
	enum tcmu_req_state state;
	bool data_in;
	u32 data_len;
	void *priv;
};

/**
 * struct tcmu_rd_walk - one walk of the ring, from the kernel's tail on
 * @mb: the mailbox, at the start of the span
 * @cmdr: the ring, right after the mailbox
 * @size: cmdr_size, what the mailbox says: tails move modulo it
 * @span: the ring bytes of the active span: nothing at or past it is read
 * @head: the kernel's head: the end of what it published
 * @pos: the entry to decode next; starts at the kernel's tail
 * @tail: the handler's cmd_tail, read once by tcmu_rd_start()
 * @ctx: tcmu_rd_lookup()'s first argument
 *
 * The caller sets every field but @tail before tcmu_rd_start().
 */
struct tcmu_rd_walk {
	struct tcmu_mailbox *mb;
	void *cmdr;
	u32 size;
	u32 span;
	u32 head;
	u32 pos;
	u32 tail;
	void *ctx;
};

/* What tcmu_rd_next() found at the walk's position. */
enum tcmu_rd_kind {
	TCMU_RD_END,		/* the handler's tail: nothing more to reap */
	TCMU_RD_BROKEN,		/* the ring cannot be trusted: stop */
	TCMU_RD_PAD,
	TCMU_RD_TMR,
	TCMU_RD_CMD,		/* a command completion */
};

/**
 * struct tcmu_rd_ent - the decoder's decision on one entry
 * @kind: what the entry is, or END or BROKEN
 * @pos: where the entry starts
 * @len: its length
 * @what: BROKEN: which check failed, for the message
 * @val: BROKEN: the value that failed it
 * @cmd_id: CMD: the command id the handler completed
 * @uflags: CMD: the entry's uflags
 * @keep_buf: CMD: TCMU_UFLAG_KEEP_BUF: the handler keeps the buffer
 * @req: CMD: the request @cmd_id names, as tcmu_rd_lookup() gave it
 * @unknown_op: CMD, RING request: the handler set TCMU_UFLAG_UNKNOWN_OP;
 *	then @status is all that was read of the response
 * @status: CMD, RING request: the SCSI status
 * @len_valid: CMD, RING request: the handler gave a non-zero read_len of a
 *	data-in command with TCMU_UFLAG_READ_LEN
 * @read_len: CMD, RING request: the bytes to copy back and report: the
 *	request's data length, or the handler's read_len if @len_valid and
 *	smaller
 * @sense: CMD, RING request with @status CHECK CONDITION: the sense data
 *
 * A TIMEDOUT request's response is not read: its command was failed
 * already.
 */
struct tcmu_rd_ent {
	enum tcmu_rd_kind kind;
	u32 pos;
	u32 len;
	const char *what;
	u32 val;
	u16 cmd_id;
	u8 uflags;
	bool keep_buf;
	struct tcmu_rd_req req;
	bool unknown_op;
	u8 status;
	bool len_valid;
	u32 read_len;
	u8 sense[TCMU_SENSE_BUFFERSIZE];
};

/* Bytes from @from forward to @to in a ring of @size bytes. */
static inline u32 tcmu_rd_dist(u32 size, u32 from, u32 to)
{
	return to >= from ? to - from : size - from + to;
}

/*
 * The caller's side, linked directly (no indirect call per entry): ring.c
 * in the kernel, the harness in userspace.
 *
 * tcmu_flush_ring() makes the handler's writes to the ring visible to the
 * kernel.  tcmu_rd_lookup() finds the request with command id @cmd_id for
 * the walk whose @ctx it gets: false if there is none, else it fills in
 * @req.
 */
void tcmu_flush_ring(void *addr, size_t len);
bool tcmu_rd_lookup(void *ctx, u16 cmd_id, struct tcmu_rd_req *req);

static inline enum tcmu_rd_kind tcmu_rd_broken(struct tcmu_rd_ent *ent,
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
static inline bool tcmu_rd_start(struct tcmu_rd_walk *w, struct tcmu_rd_ent *ent)
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
static inline bool tcmu_rd_len_ok(const struct tcmu_rd_walk *w, u32 len, u32 op)
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
static inline void tcmu_rd_rsp(struct tcmu_cmd_entry *e, struct tcmu_rd_ent *ent)
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
static inline enum tcmu_rd_kind tcmu_rd_cmd(struct tcmu_rd_walk *w,
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
static inline enum tcmu_rd_kind tcmu_rd_next(struct tcmu_rd_walk *w,
					     struct tcmu_rd_ent *ent)
{
	u32 pos = w->pos, len_op, len, op;
	struct tcmu_cmd_entry *e = w->cmdr + pos;

	if (pos == w->tail) {
		ent->kind = TCMU_RD_END;
		return TCMU_RD_END;
	}
	memset(ent, 0, offsetof(struct tcmu_rd_ent, sense));

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

#endif /* TCMU_RING_DECODE_H */
