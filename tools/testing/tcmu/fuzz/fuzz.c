// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness of the TCMU ring decoder (drivers/target/tcmu/
 * ring_decode.h), which reads what a hostile handler wrote into the
 * command ring.  The decoder is compiled unmodified against
 * tools/include and small shims; see the Makefile for the targets.
 *
 * An input is a ring state and a script of handler and kernel actions:
 *
 *   setup   span pages (1..8), the kernel's tail, then entries the kernel
 *           placed from the tail on (CMD entries of RING or TIMEDOUT
 *           requests with their data length and direction, TMR entries;
 *           a PAD to cmdr_size wherever the next entry would cross the
 *           span's end, as cmd_area.c writes it) and KEPT requests;
 *   script  one opcode byte and its arguments per action: the handler
 *           completes the entry at its own tail (in order, or with any
 *           RING id: OOOC) and moves cmd_tail; writes arbitrary bytes
 *           anywhere in the mailbox and ring or sets cmd_tail to anything;
 *           arms a write that lands while the decoder runs (in its flush
 *           or lookup callbacks); the kernel reaps, times a command out,
 *           frees a kept buffer, places a new command, grows or shrinks
 *           the idle span, or resets the ring.  Every input ends with a
 *           reap.
 *
 * The mailbox and the span live in one malloc()ed buffer of exactly
 * sizeof(mailbox) + span bytes, so ASan reports any read past the span
 * (put aside poisoned for the next input of that size, fz_buf_get()).
 * cmdr_size is the driver's (512 MiB - 128), far beyond the buffer.
 *
 * Each reap walks the ring as tcmu_reap() does, acting on each decision as
 * ring.c does, and checks after every step, abort()ing on a violation:
 *
 *  - a command completion names a request the model has in RING or
 *    TIMEDOUT, found by this walk's lookup: never one freed, KEPT, or
 *    completed before; a RING request's se_cmd completes exactly once;
 *  - read_len never exceeds the request's data length (nor its blocks),
 *    is only taken from the ring for a data-in command with READ_LEN set;
 *  - each step starts where the last ended, moves forward by its length
 *    (at least 8 bytes, 8-aligned), never past the handler's tail, and
 *    either ends inside the span or is a PAD running to cmdr_size; the
 *    walk ends within span / 8 steps; every flush lies inside the buffer;
 *  - the kernel's tail stays 8-aligned, inside the span and between its
 *    old value and the head; a broken ring is not read again until reset;
 *  - no WARN fires;
 *  - and, when no write landed during the walk, the decisions are exactly
 *    those of the decoder as it was inside tcmu_reap() before it moved to
 *    ring_decode.h (ref_reap() below, transcribed from it): same entries,
 *    ids, statuses, lengths, sense, flags, broken reason and value, and
 *    the same final tail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include <linux/bug.h>
#include <linux/kernel.h>
#include <scsi/scsi_proto.h>

#include "ring_decode.h"

#define FZ_PAGE		4096U
#define FZ_MB		((u32)sizeof(struct tcmu_mailbox))
#define FZ_CMDR_SIZE	(512U * 1024 * 1024 - FZ_MB)
#define FZ_MAX_PAGES	16U
#define FZ_MAX_REQS	256
#define FZ_BLK		4096U
#define FZ_CMD_MIN	((u32)sizeof(struct tcmu_cmd_entry))

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/* ---- the shims' hooks ------------------------------------------------ */

unsigned long shim_warnings;

void shim_warn(const char *file, int line)
{
	fprintf(stderr, "WARNING: %s:%d\n", file, line);
	shim_warnings++;
}

/* ---- the model: requests and ring ------------------------------------ */

enum { FZ_FREE = 0 };	/* a slot with no request; else a tcmu_req_state */

struct fz_req {
	enum tcmu_req_state state;	/* FZ_FREE: none */
	u16 id;
	bool data_in;
	bool se_done;		/* its se_cmd was completed (or timed out) */
	u32 data_len;
	u32 nr_blks;
};

struct fz {
	u8 *mem;		/* mailbox + span, exactly */
	u32 span;		/* ring bytes of the span */
	u32 head, tail;		/* the kernel's */
	u32 htail;		/* the well-behaved handler's cursor */
	bool broken;
	struct fz_req reqs[FZ_MAX_REQS];
	int nr_slots;		/* reqs[nr_slots] on are FZ_FREE */
	int used_slots;		/* reqs[0] to reqs[used_slots - 1] are not */
	u32 used_ids;		/* nor are ids 1 to used_ids */
	u16 slot_of[65536];	/* id -> slot + 1; 0: none */
	/* a write armed to land during the next walk */
	int race_at;		/* callback count that triggers it; -1: none */
	u32 race_off;
	u8 race_len, race_byte;
	int callbacks;		/* flushes and lookups in this walk */
	bool raced;		/* the armed write landed in this walk */
	/* the last lookup */
	u16 looked_id;
	bool looked_found;
	int lookups;
};

static struct fz fz;

struct fz_in {
	const u8 *p;
	size_t n;
};

/*
 * The input's next byte.  Its one branch, the input's end, tells the
 * fuzzer nothing: it is not instrumented for coverage (nor inlined, which
 * would instrument it in its callers), where tracing that comparison took
 * a tenth of each execution.  ASan and UBSan still check it.
 */
static noinline __attribute__((no_sanitize("coverage")))
u8 get8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static u16 get16(struct fz_in *in)
{
	return get8(in) | (u16)get8(in) << 8;
}

static u32 get32(struct fz_in *in)
{
	return get16(in) | (u32)get16(in) << 16;
}

static struct tcmu_mailbox *fz_mb(void)
{
	return (struct tcmu_mailbox *)fz.mem;
}

static u8 *fz_cmdr(void)
{
	return fz.mem + FZ_MB;
}

static u32 fz_buf_len(void)
{
	return FZ_MB + fz.span;
}

static struct fz_req *fz_find(u16 id)
{
	u16 s = fz.slot_of[id];

	return s ? &fz.reqs[s - 1] : NULL;
}

/*
 * Lowest free id from 1, as the driver's xa_alloc() gives, in the lowest
 * free slot.  Both searches start past what is known to be in use.
 */
static struct fz_req *fz_new_req(enum tcmu_req_state state)
{
	u32 id, s;

	for (s = fz.used_slots; s < fz.nr_slots &&
	     fz.reqs[s].state != FZ_FREE; s++)
		;
	if (s == FZ_MAX_REQS)
		return NULL;
	for (id = fz.used_ids + 1; id <= 0xffff && fz.slot_of[id]; id++)
		;
	if (id > 0xffff)
		return NULL;
	memset(&fz.reqs[s], 0, sizeof(fz.reqs[s]));
	fz.reqs[s].state = state;
	fz.reqs[s].id = id;
	fz.slot_of[id] = s + 1;
	fz.nr_slots = max_t(int, fz.nr_slots, s + 1);
	fz.used_slots = s + 1;
	fz.used_ids = id;
	return &fz.reqs[s];
}

static void fz_free_req(struct fz_req *r)
{
	int s = r - fz.reqs;

	fz.slot_of[r->id] = 0;
	r->state = FZ_FREE;
	fz.used_slots = min(fz.used_slots, s);
	fz.used_ids = min_t(u32, fz.used_ids, r->id - 1);
}

static void fz_set_len_op(u32 pos, u32 len, enum tcmu_opcode op)
{
	struct tcmu_cmd_entry_hdr *h = (void *)(fz_cmdr() + pos);
	u32 len_op = 0;

	tcmu_hdr_set_len(&len_op, len);
	tcmu_hdr_set_op(&len_op, op);
	h->len_op = len_op;
}

/*
 * Room for an entry of @size at the head, as tcmu_cmdr_reserve() and
 * tcmu_cmdr_claim() make it: the head stays 8 bytes short of the span's
 * end and of the tail; an entry that would cross the end goes to 0 behind
 * a PAD to cmdr_size.  Returns the entry's position, or -1: no room.
 */
static long fz_claim(u32 size)
{
	u32 head = fz.head, tail = fz.tail;

	if (head >= tail) {
		if ((u64)head + size + TCMU_OP_ALIGN_SIZE <= fz.span)
			return head;
		if ((u64)size + TCMU_OP_ALIGN_SIZE > tail)
			return -1;
		fz_set_len_op(head, FZ_CMDR_SIZE - head, TCMU_OP_PAD);
		fz.head = 0;
		return 0;
	}
	if ((u64)head + size + TCMU_OP_ALIGN_SIZE <= tail)
		return head;
	return -1;
}

static void fz_publish(u32 size)
{
	fz.head = (fz.head + size) % FZ_CMDR_SIZE;
	fz_mb()->cmd_head = fz.head;
}

/*
 * The kernel places a CMD entry (@flags: bit 0 data-in, bit 1 timed out
 * already) or a TMR.  Returns false if there was no room.
 */
static bool fz_place(struct fz_in *in, bool tmr)
{
	u8 flags = get8(in), sz = get8(in);
	u16 dl = get16(in);
	struct tcmu_cmd_entry *e;
	struct fz_req *r;
	u32 size;
	long pos;

	size = tmr ? 8 * (1 + sz % 8) : FZ_CMD_MIN + 16 * (sz % 16);
	if (fz.broken)		/* tcmu_dev_refuses() */
		return false;
	pos = fz_claim(size);
	if (pos < 0)
		return false;
	e = (void *)(fz_cmdr() + pos);
	memset(e, 0xee, size);
	if (tmr) {
		fz_set_len_op(pos, size, TCMU_OP_TMR);
		e->hdr.cmd_id = 0;
	} else {
		r = fz_new_req(TCMU_REQ_RING);
		if (!r)
			return false;	/* the entry is not published */
		r->data_in = flags & 1;
		if (flags & 2) {
			r->state = TCMU_REQ_TIMEDOUT;
			r->se_done = true;
		}
		r->data_len = (u32)dl * 8;
		r->nr_blks = DIV_ROUND_UP(r->data_len, FZ_BLK);
		fz_set_len_op(pos, size, TCMU_OP_CMD);
		e->hdr.cmd_id = r->id;
	}
	e->hdr.kflags = 0;
	e->hdr.uflags = 0;
	fz_publish(size);
	return true;
}

/* ---- the decoder's environment --------------------------------------- */

static void fz_race(void)
{
	u32 off, n;

	if (fz.race_at < 0 || fz.callbacks++ != fz.race_at)
		return;
	off = fz.race_off % fz_buf_len();
	n = min_t(u32, fz.race_len % 16 + 1, fz_buf_len() - off);
	memset(fz.mem + off, fz.race_byte, n);
	fz.race_at = -1;
	fz.raced = true;
}

void tcmu_flush_ring(void *addr, size_t len)
{
	u8 *p = addr;

	CHECK(p >= fz.mem && len <= fz_buf_len() &&
	      p - fz.mem <= fz_buf_len() - len);
	fz_race();
}

bool tcmu_rd_lookup(void *ctx, u16 id, struct tcmu_rd_req *rd)
{
	struct fz_req *r = fz_find(id);

	CHECK(ctx == &fz);
	fz.lookups++;
	fz.looked_id = id;
	fz.looked_found = r;
	if (r) {
		rd->state = r->state;
		rd->data_in = r->state == TCMU_REQ_RING && r->data_in;
		rd->data_len = r->data_len;
		rd->priv = r;
	}
	fz_race();
	return r;
}

/* ---- the reference: tcmu_reap()'s decoder as it was in ring.c --------- */

struct ev {
	enum tcmu_rd_kind kind;
	u32 pos, len;
	const char *what;
	u32 val;
	u16 id;
	bool keep, unknown_op, len_valid;
	u8 status;
	u32 read_len;
	u8 sense[TCMU_SENSE_BUFFERSIZE];
};

#define FZ_MAX_EV	(FZ_MAX_PAGES * FZ_PAGE / 8 + 2)

struct trace {
	int n;
	u32 tail;
	struct ev ev[FZ_MAX_EV];
};

static struct trace ref_tr, dec_tr;

/*
 * The old tcmu_reap(), tcmu_complete_one() and tcmu_complete_cmd() with
 * their side effects recorded instead of done, on a model copy.  Kept as
 * the code was, so that the comparison shows the move changed nothing.
 */
static struct fz_req *ref_find(struct fz_req *reqs, int nr, u16 id)
{
	for (int i = 0; i < nr; i++)
		if (reqs[i].state != FZ_FREE && reqs[i].id == id)
			return &reqs[i];
	return NULL;
}

static void ref_reap(const u8 *mem, u32 span, u32 head, u32 ktail,
		     struct fz_req *reqs, int nr, struct trace *tr)
{
	const struct tcmu_mailbox *mb = (const void *)mem;
	const u8 *cmdr = mem + FZ_MB;
	u32 tail, pos, len_op, len, op, avail, size = FZ_CMDR_SIZE;
	struct ev *ev;

	tr->n = 0;
	tail = mb->cmd_tail;
	if (tail >= span || !IS_ALIGNED(tail, TCMU_OP_ALIGN_SIZE) ||
	    tcmu_rd_dist(size, ktail, tail) > tcmu_rd_dist(size, ktail, head)) {
		ev = &tr->ev[tr->n++];
		memset(ev, 0, sizeof(*ev));
		ev->kind = TCMU_RD_BROKEN;
		ev->what = "cmd_tail";
		ev->val = tail;
		tr->tail = ktail;
		return;
	}
	while ((pos = ktail) != tail) {
		const struct tcmu_cmd_entry *ent = (const void *)(cmdr + pos);
		struct fz_req *req;
		u16 id;
		u8 uflags;

		CHECK(tr->n < FZ_MAX_EV);
		ev = &tr->ev[tr->n++];
		memset(ev, 0, sizeof(*ev));
		ev->pos = pos;
		ev->kind = TCMU_RD_BROKEN;
		len_op = ent->hdr.len_op;
		len = tcmu_hdr_get_len(len_op);
		op = tcmu_hdr_get_op(len_op);
		ev->len = len;
		avail = tcmu_rd_dist(size, pos, tail);
		if (len < sizeof(struct tcmu_cmd_entry_hdr) ||
		    !IS_ALIGNED(len, TCMU_OP_ALIGN_SIZE) || len > avail ||
		    (len >= span - pos &&
		     (op != TCMU_OP_PAD || len != size - pos))) {
			ev->what = "entry length";
			ev->val = len;
			break;
		}
		switch (op) {
		case TCMU_OP_PAD:
			ev->kind = TCMU_RD_PAD;
			break;
		case TCMU_OP_TMR:
			ev->kind = TCMU_RD_TMR;
			break;
		case TCMU_OP_CMD:
			if (len < sizeof(*ent)) {
				ev->what = "command entry length";
				ev->val = len;
				goto out;
			}
			id = ent->hdr.cmd_id;
			uflags = ent->hdr.uflags;
			ev->id = id;
			req = ref_find(reqs, nr, id);
			if (!req) {
				ev->what = "completion of unknown cmd_id";
				ev->val = id;
				goto out;
			}
			if (req->state == TCMU_REQ_KEPT) {
				ev->what = "second completion of KEEP_BUF cmd_id";
				ev->val = id;
				goto out;
			}
			if (req->state != TCMU_REQ_RING &&
			    req->state != TCMU_REQ_TIMEDOUT) {
				ev->what = "completion of idle cmd_id";
				ev->val = id;
				goto out;
			}
			ev->kind = TCMU_RD_CMD;
			if (req->state == TCMU_REQ_RING) {
				u32 read_len, user_len;

				ev->status = ent->rsp.scsi_status;
				if (uflags & TCMU_UFLAG_UNKNOWN_OP) {
					ev->unknown_op = true;
					goto done;
				}
				read_len = req->data_len;
				if (req->data_in &&
				    (uflags & TCMU_UFLAG_READ_LEN)) {
					user_len = ent->rsp.read_len;
					if (user_len) {
						ev->len_valid = true;
						read_len = min(read_len,
							       user_len);
					}
				}
				ev->read_len = read_len;
				if (ev->status == SAM_STAT_CHECK_CONDITION)
					memcpy(ev->sense,
					       ent->rsp.sense_buffer,
					       sizeof(ev->sense));
			}
done:
			if (uflags & TCMU_UFLAG_KEEP_BUF) {
				ev->keep = true;
				req->state = TCMU_REQ_KEPT;
			} else {
				req->state = FZ_FREE;
			}
			break;
		default:
			ev->what = "entry opcode";
			ev->val = op;
			goto out;
		}
		ktail = (pos + len) % size;
	}
out:
	tr->tail = ktail;
}

/* ---- a reap through the decoder, acting as ring.c does --------------- */

static void fz_record(struct trace *tr, const struct tcmu_rd_ent *ent)
{
	struct ev *ev;

	CHECK(tr->n < FZ_MAX_EV);
	ev = &tr->ev[tr->n++];
	memset(ev, 0, sizeof(*ev));
	ev->kind = ent->kind;
	ev->pos = ent->pos;
	ev->len = ent->len;
	if (ent->kind == TCMU_RD_BROKEN) {
		ev->what = ent->what;
		ev->val = ent->val;
		if (!strcmp(ent->what, "cmd_tail")) {
			ev->pos = 0;
			ev->len = 0;
		} else if (strcmp(ent->what, "entry length") &&
			   strcmp(ent->what, "command entry length") &&
			   strcmp(ent->what, "entry opcode")) {
			ev->id = ent->cmd_id;
		}
		return;
	}
	if (ent->kind != TCMU_RD_CMD)
		return;
	ev->id = ent->cmd_id;
	ev->keep = ent->keep_buf;
	if (ent->req.state != TCMU_REQ_RING)
		return;
	ev->status = ent->status;
	ev->unknown_op = ent->unknown_op;
	if (ent->unknown_op)
		return;
	ev->len_valid = ent->len_valid;
	ev->read_len = ent->read_len;
	if (ent->status == SAM_STAT_CHECK_CONDITION)
		memcpy(ev->sense, ent->sense, sizeof(ev->sense));
}

/* A command completion: check it against the model, then act on it. */
static void fz_complete(const struct tcmu_rd_ent *ent)
{
	struct fz_req *r = ent->req.priv;

	CHECK(fz.lookups == 1 && fz.looked_found &&
	      fz.looked_id == ent->cmd_id);
	CHECK(r && r == fz_find(ent->cmd_id));
	CHECK(r->state == TCMU_REQ_RING || r->state == TCMU_REQ_TIMEDOUT);
	CHECK(ent->req.state == r->state);
	if (r->state == TCMU_REQ_RING) {
		u32 copy;

		CHECK(!r->se_done);
		r->se_done = true;
		CHECK(ent->read_len <= r->data_len || ent->unknown_op);
		if (!ent->unknown_op) {
			/* read_len is 0 only for a command of no data */
			if (ent->len_valid)
				CHECK(r->data_in &&
				      (ent->uflags & TCMU_UFLAG_READ_LEN) &&
				      (ent->read_len || !r->data_len));
			else
				CHECK(ent->read_len == r->data_len);
			/* what tcmu_complete_cmd() copies back */
			copy = r->data_in ? ent->read_len : 0;
			CHECK(copy <= r->nr_blks * FZ_BLK);
		}
	} else {
		CHECK(r->se_done && !ent->unknown_op && !ent->len_valid &&
		      !ent->status);
	}
	CHECK(ent->keep_buf == !!(ent->uflags & TCMU_UFLAG_KEEP_BUF));
	if (ent->keep_buf)
		r->state = TCMU_REQ_KEPT;
	else
		fz_free_req(r);
}

/* One step's geometry: from the last position, forward, inside the span. */
static void fz_check_step(const struct tcmu_rd_walk *w,
			  const struct tcmu_rd_ent *ent, u32 from)
{
	CHECK(ent->pos == from);
	CHECK(ent->len >= sizeof(struct tcmu_cmd_entry_hdr) &&
	      IS_ALIGNED(ent->len, TCMU_OP_ALIGN_SIZE));
	CHECK(ent->len <= tcmu_rd_dist(FZ_CMDR_SIZE, from, w->tail));
	CHECK((u64)ent->pos + ent->len < fz.span ||
	      (ent->kind == TCMU_RD_PAD &&
	       ent->pos + ent->len == FZ_CMDR_SIZE));
	CHECK(ent->kind != TCMU_RD_CMD || ent->len >= FZ_CMD_MIN);
	CHECK(w->pos == (from + ent->len) % FZ_CMDR_SIZE);
	CHECK(w->pos < fz.span && w->pos != from);
}

static void fz_reap(void)
{
	struct tcmu_rd_walk w = {
		.mb = fz_mb(),
		.cmdr = fz_cmdr(),
		.size = FZ_CMDR_SIZE,
		.span = fz.span,
		.head = fz.head,
		.pos = fz.tail,
		.ctx = &fz,
	};
	static struct fz_req ref_reqs[FZ_MAX_REQS];
	static int verbose = -1;
	u32 old_tail = fz.tail, steps = 0, from;
	struct tcmu_rd_ent ent;
	enum tcmu_rd_kind kind;

	if (fz.broken)		/* tcmu_reap() does not read a broken ring */
		return;

	/*
	 * The reference runs before the walk, on a copy of the requests
	 * and on the ring itself: it only reads the ring, and nothing
	 * writes it before the walk starts.  fz.mem is exactly the ring's
	 * size, so ASan stops the reference too if it reads past the span,
	 * and no earlier input's bytes lie there to read.  The slots from
	 * nr_slots on are free: the copy stops there.
	 */
	memcpy(ref_reqs, fz.reqs, fz.nr_slots * sizeof(fz.reqs[0]));
	ref_reap(fz.mem, fz.span, fz.head, fz.tail, ref_reqs, fz.nr_slots,
		 &ref_tr);

	fz.callbacks = 0;
	fz.raced = false;
	dec_tr.n = 0;
	tcmu_flush_ring(w.mb, sizeof(*w.mb));
	if (!tcmu_rd_start(&w, &ent)) {
		CHECK(ent.kind == TCMU_RD_BROKEN && ent.what);
		fz_record(&dec_tr, &ent);
		fz.broken = true;
		goto done;
	}
	CHECK(w.tail < fz.span && IS_ALIGNED(w.tail, TCMU_OP_ALIGN_SIZE));
	CHECK(tcmu_rd_dist(FZ_CMDR_SIZE, old_tail, w.tail) <=
	      tcmu_rd_dist(FZ_CMDR_SIZE, old_tail, fz.head));

	for (;;) {
		from = w.pos;
		fz.lookups = 0;
		kind = tcmu_rd_next(&w, &ent);
		CHECK(kind == ent.kind);
		if (kind == TCMU_RD_END) {
			CHECK(from == w.tail && w.pos == from &&
			      !fz.lookups);
			break;
		}
		CHECK(++steps <= fz.span / TCMU_OP_ALIGN_SIZE);
		fz_record(&dec_tr, &ent);
		if (kind == TCMU_RD_BROKEN) {
			CHECK(ent.what && w.pos == from);
			fz.broken = true;
			break;
		}
		fz_check_step(&w, &ent, from);
		switch (kind) {
		case TCMU_RD_PAD:
		case TCMU_RD_TMR:
			CHECK(!fz.lookups);
			break;
		case TCMU_RD_CMD:
			fz_complete(&ent);
			break;
		default:
			CHECK(0);
		}
		fz.tail = w.pos;
	}
done:
	dec_tr.tail = fz.tail;
	CHECK(fz.tail < fz.span && IS_ALIGNED(fz.tail, TCMU_OP_ALIGN_SIZE));
	CHECK(tcmu_rd_dist(FZ_CMDR_SIZE, fz.tail, fz.head) <=
	      tcmu_rd_dist(FZ_CMDR_SIZE, old_tail, fz.head));
	CHECK(!shim_warnings);

	if (verbose < 0)
		verbose = !!getenv("FZ_VERBOSE");
	if (verbose)		/* what each reap decided */
		for (int i = 0; i < dec_tr.n; i++)
			fprintf(stderr, "pos %u len %u kind %d id %u %s %u\n",
				dec_tr.ev[i].pos, dec_tr.ev[i].len,
				dec_tr.ev[i].kind, dec_tr.ev[i].id,
				dec_tr.ev[i].what ?: "", dec_tr.ev[i].val);
	if (fz.raced)
		return;
	CHECK(dec_tr.n == ref_tr.n && dec_tr.tail == ref_tr.tail);
	for (int i = 0; i < dec_tr.n; i++) {
		struct ev *a = &dec_tr.ev[i], *b = &ref_tr.ev[i];

		CHECK(a->kind == b->kind && a->pos == b->pos &&
		      a->len == b->len && a->val == b->val && a->id == b->id &&
		      a->keep == b->keep && a->unknown_op == b->unknown_op &&
		      a->len_valid == b->len_valid &&
		      a->status == b->status && a->read_len == b->read_len &&
		      !memcmp(a->sense, b->sense, sizeof(a->sense)));
		CHECK(!a->what == !b->what &&
		      (!a->what || !strcmp(a->what, b->what)));
	}
}

/* ---- handler and kernel actions -------------------------------------- */

/*
 * A request in @state, the first from slot @k on (wrapping), or NULL.  The
 * slots from nr_slots on are free: the search goes round those in use.
 */
static struct fz_req *fz_pick(u8 k, enum tcmu_req_state state)
{
	int n = fz.nr_slots, from = k < n ? k : 0;

	for (int i = 0; i < n; i++) {
		struct fz_req *r = &fz.reqs[(from + i) % n];

		if (r->state == state)
			return r;
	}
	return NULL;
}

/*
 * The handler completes the entry at its tail, as tcmu-runner does: the
 * status, uflags, read_len and sense given, and with OOOC (@flags bit 0)
 * the id of any RING request; then moves cmd_tail past it.
 */
static void fz_handler_complete(struct fz_in *in)
{
	u8 flags = get8(in), status = get8(in), uflags = get8(in);
	u32 read_len = get32(in);
	u8 sense = get8(in), k = get8(in);
	struct tcmu_cmd_entry *e;
	u32 len_op, len, pos = fz.htail;
	struct fz_req *r;

	if (pos >= fz.span || !IS_ALIGNED(pos, TCMU_OP_ALIGN_SIZE))
		return;		/* a raw write moved it: stop serving */
	e = (void *)(fz_cmdr() + pos);
	if (pos == fz.head)
		return;
	len_op = e->hdr.len_op;
	len = tcmu_hdr_get_len(len_op);
	if (len < TCMU_OP_ALIGN_SIZE || len > FZ_CMDR_SIZE - pos ||
	    (pos + len >= fz.span && pos + len != FZ_CMDR_SIZE))
		return;		/* not an entry the kernel wrote */
	/* A CMD whose fixed part crosses the span is no entry to answer. */
	if (tcmu_hdr_get_op(len_op) == TCMU_OP_CMD && len >= FZ_CMD_MIN &&
	    pos + FZ_CMD_MIN <= fz.span) {
		if (flags & 1) {
			r = fz_pick(k, TCMU_REQ_RING);
			if (r)
				e->hdr.cmd_id = r->id;
		}
		e->hdr.uflags = uflags;
		e->rsp.scsi_status = status;
		e->rsp.read_len = read_len;
		memset(e->rsp.sense_buffer, sense, sizeof(e->rsp.sense_buffer));
	}
	fz.htail = (pos + len) % FZ_CMDR_SIZE;
	fz_mb()->cmd_tail = fz.htail;
}

static void fz_raw_write(struct fz_in *in)
{
	u32 off = get16(in) % fz_buf_len();
	u32 n = get8(in) % 16 + 1;

	n = min(n, fz_buf_len() - off);
	for (u32 i = 0; i < n; i++)
		fz.mem[off + i] = get8(in);
}

static void fz_set_tail(struct fz_in *in)
{
	u8 mode = get8(in);
	u32 v = get32(in);

	switch (mode % 4) {
	case 0:
		fz_mb()->cmd_tail = v;
		break;
	case 1:
		fz_mb()->cmd_tail = fz.head;
		break;
	case 2:
		fz_mb()->cmd_tail = v % fz.span;
		break;
	default:
		fz_mb()->cmd_tail = fz.htail;
		break;
	}
}

/*
 * Buffers of mailbox and span put aside, one per size, each malloc()ed at
 * exactly its size and poisoned while put aside (an access is reported as
 * a use after free would be).  A fresh malloc() per input would cost more
 * than the input: ASan's quarantine hands out memory untouched for
 * hundreds of MiB, page faults and cache misses on every byte.
 */
static u8 *fz_spare[FZ_MAX_PAGES + 1];

static u8 *fz_buf_get(u32 pages)
{
	u8 *mem = fz_spare[pages];

	if (!mem) {
		mem = malloc(pages * FZ_PAGE);
		if (!mem)
			abort();
		return mem;
	}
	fz_spare[pages] = NULL;
	ASAN_UNPOISON_MEMORY_REGION(mem, pages * FZ_PAGE);
	return mem;
}

static void fz_buf_put(u8 *mem, u32 len)
{
	u32 pages = len / FZ_PAGE;

	if (fz_spare[pages]) {
		free(mem);
		return;
	}
	ASAN_POISON_MEMORY_REGION(mem, len);
	fz_spare[pages] = mem;
}

/*
 * The span becomes @pages pages, in a buffer of exactly that size; the
 * ring's bytes stay, and the rest is zeroed: each byte is written once,
 * and nothing of an earlier input is left.  The same size changes nothing.
 */
static void fz_set_span(u32 pages)
{
	u32 span = pages * FZ_PAGE - FZ_MB, keep = 0;
	u8 *mem;

	if (fz.mem && span == fz.span)
		return;
	mem = fz_buf_get(pages);
	if (fz.mem) {
		keep = min(fz_buf_len(), FZ_MB + span);
		memcpy(mem, fz.mem, keep);
		fz_buf_put(fz.mem, fz_buf_len());
	}
	memset(mem + keep, 0, FZ_MB + span - keep);
	fz.mem = mem;
	fz.span = span;
}

/* The span grows by @n pages (never in a wrapped ring's way: see rst). */
static void fz_grow(u8 n)
{
	u32 pages = (fz.span + FZ_MB) / FZ_PAGE + 1 + n % 4;

	if (pages <= FZ_MAX_PAGES)
		fz_set_span(pages);
}

/* An idle ring shrinks to what the head needs, as tcmu_cmdr_reclaim(). */
static void fz_shrink(void)
{
	u32 pages;

	if (fz.head != fz.tail || fz.broken)
		return;
	pages = DIV_ROUND_UP(FZ_MB + fz.head + TCMU_OP_ALIGN_SIZE, FZ_PAGE);
	if (fz.htail >= pages * FZ_PAGE - FZ_MB)
		return;
	fz_set_span(pages);
}

/* reset_ring: every request goes, head and tails back to 0. */
static void fz_reset(void)
{
	for (int i = 0; i < fz.nr_slots; i++)
		if (fz.reqs[i].state != FZ_FREE)
			fz_free_req(&fz.reqs[i]);
	fz.nr_slots = 0;
	fz.used_slots = 0;
	fz.used_ids = 0;
	fz.head = 0;
	fz.tail = 0;
	fz.htail = 0;
	fz_mb()->cmd_head = 0;
	fz_mb()->cmd_tail = 0;
	fz.broken = false;
}

static void fz_setup(struct fz_in *in)
{
	u32 n;

	/* fz.reqs and fz.slot_of are empty: see fz_test_one_input() */
	fz.mem = NULL;
	fz.span = 0;
	fz.broken = false;
	fz.race_at = -1;
	fz_set_span(1 + get8(in) % 8);
	fz.tail = (get16(in) * TCMU_OP_ALIGN_SIZE) % fz.span;
	fz.head = fz.tail;
	fz.htail = fz.tail;
	fz_mb()->cmd_head = fz.head;
	fz_mb()->cmd_tail = fz.tail;
	fz_mb()->cmdr_off = FZ_MB;
	fz_mb()->cmdr_size = FZ_CMDR_SIZE;

	n = get8(in) % 64;
	while (n--)
		if (!fz_place(in, get8(in) & 1))
			break;
	n = get8(in) % 8;
	while (n--) {
		struct fz_req *r = fz_new_req(TCMU_REQ_KEPT);

		if (!r)
			break;
		r->se_done = true;
		r->data_len = (u32)get16(in) * 8;
		r->nr_blks = DIV_ROUND_UP(r->data_len, FZ_BLK);
	}
}

enum {
	OP_COMPLETE,	/* the handler completes the entry at its tail */
	OP_WRITE,	/* the handler writes bytes anywhere */
	OP_TAIL,	/* the handler sets cmd_tail */
	OP_REAP,	/* the kernel reaps */
	OP_TIMEOUT,	/* a RING request times out */
	OP_FREE_KEPT,	/* free_kept_buf */
	OP_SUBMIT,	/* the kernel places a command */
	OP_TMR,		/* the kernel places a TMR */
	OP_GROW,	/* the span grows */
	OP_SHRINK,	/* the idle span shrinks */
	OP_RESET,	/* reset_ring */
	OP_RACE,	/* a handler write lands during the next walk */
	OP_NR,
};

static void fz_step(struct fz_in *in)
{
	struct fz_req *r;
	u8 k;

	switch (get8(in) % OP_NR) {
	case OP_COMPLETE:
		fz_handler_complete(in);
		break;
	case OP_WRITE:
		fz_raw_write(in);
		break;
	case OP_TAIL:
		fz_set_tail(in);
		break;
	case OP_REAP:
		fz_reap();
		break;
	case OP_TIMEOUT:
		r = fz_pick(get8(in), TCMU_REQ_RING);
		if (r) {
			r->state = TCMU_REQ_TIMEDOUT;
			r->se_done = true;
		}
		break;
	case OP_FREE_KEPT:
		r = fz_pick(get8(in), TCMU_REQ_KEPT);
		if (r)
			fz_free_req(r);
		break;
	case OP_SUBMIT:
		fz_place(in, false);
		break;
	case OP_TMR:
		fz_place(in, true);
		break;
	case OP_GROW:
		fz_grow(get8(in));
		break;
	case OP_SHRINK:
		fz_shrink();
		break;
	case OP_RESET:
		fz_reset();
		break;
	case OP_RACE:
		k = get8(in);
		fz.race_at = k % 8;
		fz.race_off = get16(in);
		fz.race_len = get8(in);
		fz.race_byte = get8(in);
		break;
	}
}

/* libFuzzer's entry point, LLVMFuzzerTestOneInput(), by its symbol name */
int fz_test_one_input(const u8 *data, size_t size)
	asm("LLVMFuzzerTestOneInput");

int fz_test_one_input(const u8 *data, size_t size)
{
	struct fz_in in = { data, size };
	int steps = 0;

	fz_setup(&in);
	while (in.n && steps++ < 256)
		fz_step(&in);
	fz_reap();
	fz_reset();		/* frees every request: the model is empty */
	fz_buf_put(fz.mem, fz_buf_len());
	fz.mem = NULL;
	return 0;
}
