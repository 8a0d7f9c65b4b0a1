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
 * The caller keeps the decoder's walks of one ring apart (the device's
 * cmdr_lock in the kernel).
 */
#ifndef TCMU_RING_DECODE_H
#define TCMU_RING_DECODE_H

#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/target_core_user.h>

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

bool tcmu_rd_start(struct tcmu_rd_walk *w, struct tcmu_rd_ent *ent);
enum tcmu_rd_kind tcmu_rd_next(struct tcmu_rd_walk *w,
			       struct tcmu_rd_ent *ent);

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

#endif /* TCMU_RING_DECODE_H */
