// SPDX-License-Identifier: GPL-2.0
/*
 * Host self-test of tcmu-ramd: no kernel, no uio.  A fake "kernel" lays out a
 * mailbox, a small command ring and a data area in anonymous memory, queues
 * commands the way the TCMU ABI describes (PAD at the ring end, iovecs as
 * offsets from the map start, CDB inside the entry) and checks what the
 * handler writes back: statuses, sense, data, cmd_tail, out-of-order ids and
 * each misbehaviour.  Then it fuzzes the ring parser with garbage entries
 * (build with "make check SAN=1" to run that under ASan/UBSan), and checks
 * the sysfs lookup against a fake sysfs tree.
 *
 * Usage: ./ramd-selftest [fuzz-iterations]
 */
#define RAMD_NO_MAIN
#include "tcmu-ramd.c"

#include <sys/stat.h>

#define RING 8192		/* small, so that the tests wrap it often */
#define DATA (1024 * 1024)
#define DISK (1024 * 1024)

static int failures, checks;
#define CHECK(cond, ...) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

/* ------------------------------------------------------- fake kernel */

struct result {
	bool live, done;
	uint8_t status, uflags;
	uint32_t read_len;
	uint8_t sense[SENSE_LEN];
};

static struct {
	uint32_t head, last;	/* cmd_head, and how far we consumed */
	uint16_t id;
	uint64_t bump;		/* data area allocator */
	struct result res[65536];
	uint16_t order[4096];	/* completion order */
	unsigned int norder;
	uint32_t tails[64];	/* cmd_tail seen at each kick */
	unsigned int kicks;
	bool strict;		/* walk the ring on each kick */
	int errors;		/* what a strict kernel would complain about */
} K;

static struct ramd R;
static uint8_t *map;
static uint64_t map_size;

static void fk_kick(struct ramd *r)
{
	uint32_t tail = __atomic_load_n(&r->mb->cmd_tail, __ATOMIC_ACQUIRE);

	if (K.kicks < 64)
		K.tails[K.kicks] = tail;
	K.kicks++;
	if (!K.strict)
		return;
	if (tail >= RING || tail % 8) {
		K.errors++;
		return;
	}
	while (K.last != tail) {
		struct tcmu_cmd_entry *e = (void *)(r->ring + K.last);
		uint32_t len = tcmu_hdr_get_len(e->hdr.len_op);
		struct result *res = &K.res[e->hdr.cmd_id];

		if (len < 8 || K.last + len > RING) {
			K.errors++;
			return;
		}
		if (tcmu_hdr_get_op(e->hdr.len_op) == TCMU_OP_CMD) {
			if (!res->live) {
				K.errors++;
				return;
			}
			res->live = false;
			res->done = true;
			res->status = e->rsp.scsi_status;
			res->uflags = e->hdr.uflags;
			res->read_len = e->rsp.read_len;
			memcpy(res->sense, e->rsp.sense_buffer, SENSE_LEN);
			if (K.norder < 4096)
				K.order[K.norder++] = e->hdr.cmd_id;
		}
		K.last = (K.last + len) % RING;
	}
}

static void fk_reset(uint16_t mb_flags)
{
	struct tcmu_mailbox *mb = (void *)map;

	free(R.q);
	free(R.done);
	free(R.iov);
	free(R.disk);
	memset(&R, 0, sizeof(R));
	memset(&K, 0, sizeof(K));
	memset(map, 0, map_size);
	K.strict = true;
	mb->version = TCMU_MAILBOX_VERSION;
	mb->flags = mb_flags;
	mb->cmdr_off = sizeof(*mb);
	mb->cmdr_size = RING;
	R.map = map;
	R.map_size = map_size;
	R.kick = fk_kick;
	R.disk = calloc(1, DISK);
	R.size = DISK;
	R.bs = 512;
	R.wce = true;
	R.count = 1;
	R.armed = true;
	snprintf(R.name, sizeof(R.name), "selftest");
	if (setup_ring(&R))
		abort();
}

static uint64_t fk_alloc(size_t len)
{
	uint64_t off;

	if (K.bump + len > DATA)
		K.bump = 0;
	off = R.data_start + K.bump;
	K.bump += (len + 7) & ~7UL;
	return off;
}

/* Room for len bytes at head, inserting a PAD at the ring end if needed. */
static void fk_room(uint32_t len)
{
	struct tcmu_cmd_entry_hdr *h;

	if (K.head + len > RING) {
		h = (void *)(R.ring + K.head);
		memset(h, 0, sizeof(*h));
		h->len_op = RING - K.head;		/* op PAD */
		K.head = 0;
	}
}

static void fk_publish(uint32_t len)
{
	K.head = (K.head + len) % RING;
	__atomic_store_n(&R.mb->cmd_head, K.head, __ATOMIC_RELEASE);
}

/*
 * Queue a command with niov iovecs of the given lengths (allocated in the
 * data area unless offs gives them); returns its cmd_id.
 */
static uint16_t fk_submit(const uint8_t *cdb, unsigned int cdblen,
			  unsigned int niov, const size_t *lens,
			  const uint64_t *offs, const void *out)
{
	size_t base = offsetof(struct tcmu_cmd_entry, req.iov) + niov * 16;
	uint32_t len = (base + cdblen + 7) & ~7UL;
	struct tcmu_cmd_entry *e;
	size_t done = 0;

	if (len < sizeof(*e))
		len = sizeof(*e);
	fk_room(len);
	e = (void *)(R.ring + K.head);
	memset(e, 0, len);
	e->hdr.len_op = len | TCMU_OP_CMD;
	if (!++K.id)
		K.id = 1;
	e->hdr.cmd_id = K.id;
	e->req.iov_cnt = niov;
	for (unsigned int i = 0; i < niov; i++) {
		uint64_t off = offs ? offs[i] : fk_alloc(lens[i]);

		e->req.iov[i].iov_base = (void *)(uintptr_t)off;
		e->req.iov[i].iov_len = lens[i];
		if (out && off + lens[i] <= map_size) {
			memcpy(map + off, (const uint8_t *)out + done, lens[i]);
			done += lens[i];
		}
	}
	memcpy((uint8_t *)e + base, cdb, cdblen);
	e->req.cdb_off = R.mb->cmdr_off + K.head + base;
	K.res[K.id] = (struct result){ .live = true };
	fk_publish(len);
	return K.id;
}

/*
 * Gather the data a command left in its iovecs (re-read from the entry's
 * copy we keep: the handler overwrote the entry with its response).
 */
static void fk_gather(const uint64_t *offs, const size_t *lens, unsigned int n,
		      uint8_t *buf)
{
	for (unsigned int i = 0; i < n; i++) {
		memcpy(buf, map + offs[i], lens[i]);
		buf += lens[i];
	}
}

static int step(void)
{
	int rc = parse_ring(&R);

	complete_ring(&R);
	return rc;
}

static void cdb10(uint8_t *c, uint8_t op, uint32_t lba, uint16_t n)
{
	memset(c, 0, 10);
	c[0] = op;
	put_be(c + 2, lba, 4);
	put_be(c + 7, n, 2);
}

static void cdb16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(c, 0, 16);
	c[0] = op;
	put_be(c + 2, lba, 8);
	put_be(c + 10, n, 4);
}

static bool sense_is(const struct result *res, uint8_t key, uint8_t asc)
{
	return res->status == ST_CHECK_CONDITION && res->sense[0] == 0x70 &&
	       res->sense[2] == key && res->sense[12] == asc;
}

/* ------------------------------------------------------------- tests */

static void test_basic(void)
{
	uint8_t cdb[16], buf[4096], pat[4096], out[4096];
	size_t l36[1] = { 36 }, l8[1] = { 8 }, l32[1] = { 32 }, l255[1] = { 255 };
	uint64_t o[3];
	uint16_t id;

	fk_reset(TCMU_MAILBOX_FLAG_CAP_OOOC | TCMU_MAILBOX_FLAG_CAP_READ_LEN);

	memset(cdb, 0, 6);
	cdb[0] = 0x12;
	cdb[4] = 36;
	o[0] = fk_alloc(36);
	id = fk_submit(cdb, 6, 1, l36, o, NULL);
	CHECK(step() == 0, "step");
	CHECK(K.res[id].done && K.res[id].status == 0, "inquiry status");
	CHECK(!memcmp(map + o[0] + 8, "TCMUTEST", 8), "inquiry vendor");
	CHECK(map[o[0] + 4] == 31, "additional length");

	/* VPD 0x83, buffer bigger than the answer: READ_LEN reported */
	cdb[1] = 1;
	cdb[2] = 0x83;
	cdb[4] = 255;
	o[0] = fk_alloc(255);
	id = fk_submit(cdb, 6, 1, l255, o, NULL);
	step();
	CHECK(K.res[id].status == 0 && map[o[0] + 1] == 0x83, "vpd 83");
	CHECK(K.res[id].uflags & TCMU_UFLAG_READ_LEN &&
	      K.res[id].read_len == 4u + get_be(map + o[0] + 2, 2),
	      "read_len %u", K.res[id].read_len);
	cdb[2] = 0x99;
	id = fk_submit(cdb, 6, 1, l255, NULL, NULL);
	step();
	CHECK(sense_is(&K.res[id], ILLEGAL_REQUEST, 0x24), "bad vpd page");

	/* READ CAPACITY 10 / 16 */
	memset(cdb, 0, 16);
	cdb[0] = 0x25;
	o[0] = fk_alloc(8);
	id = fk_submit(cdb, 10, 1, l8, o, NULL);
	step();
	CHECK(get_be(map + o[0], 4) == DISK / 512 - 1 && get_be(map + o[0] + 4, 4) == 512,
	      "read capacity 10");
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	put_be(cdb + 10, 32, 4);
	o[0] = fk_alloc(32);
	id = fk_submit(cdb, 16, 1, l32, o, NULL);
	step();
	CHECK(get_be(map + o[0], 8) == DISK / 512 - 1 && get_be(map + o[0] + 8, 4) == 512,
	      "read capacity 16");

	/* MODE SENSE 6 all pages, 10 caching page */
	memset(cdb, 0, 16);
	cdb[0] = 0x1a;
	cdb[2] = 0x3f;
	cdb[4] = 192;
	o[0] = fk_alloc(192);
	id = fk_submit(cdb, 6, 1, (size_t[]){ 192 }, o, NULL);
	step();
	CHECK(K.res[id].status == 0 && map[o[0]] == 4 + 20 + 12 - 1 &&
	      map[o[0] + 4] == 0x08 && map[o[0] + 6] == 0x04 &&
	      map[o[0] + 24] == 0x0a, "mode sense 6");
	cdb[0] = 0x5a;
	cdb[2] = 0x08;
	put_be(cdb + 7, 28, 2);
	o[0] = fk_alloc(28);
	id = fk_submit(cdb, 10, 1, (size_t[]){ 28 }, o, NULL);
	step();
	CHECK(K.res[id].status == 0 && get_be(map + o[0], 2) == 8 + 20 - 2 &&
	      map[o[0] + 8] == 0x08, "mode sense 10");
	cdb[2] = 0x19;
	id = fk_submit(cdb, 10, 1, (size_t[]){ 28 }, NULL, NULL);
	step();
	CHECK(sense_is(&K.res[id], ILLEGAL_REQUEST, 0x24), "bad mode page");

	/* TUR, SYNC CACHE: no data */
	memset(cdb, 0, 16);
	id = fk_submit(cdb, 6, 0, NULL, NULL, NULL);
	cdb[0] = 0x35;
	uint16_t id2 = fk_submit(cdb, 10, 0, NULL, NULL, NULL);

	step();
	CHECK(K.res[id].done && !K.res[id].status && K.res[id2].done &&
	      !K.res[id2].status, "tur/sync");

	/* unknown opcode */
	cdb[0] = 0xc5;
	id = fk_submit(cdb, 16, 0, NULL, NULL, NULL);
	cdb[0] = 0x7f;
	id2 = fk_submit(cdb, 16, 0, NULL, NULL, NULL);
	step();
	CHECK(sense_is(&K.res[id], ILLEGAL_REQUEST, 0x20), "unknown op");
	CHECK(sense_is(&K.res[id2], ILLEGAL_REQUEST, 0x20), "var len op");

	/* WRITE(10) over 3 uneven iovecs, READ(16) back over 2 */
	for (unsigned int i = 0; i < sizeof(pat); i++)
		pat[i] = i * 7 + 3;
	size_t wl[3] = { 1000, 3000, 96 }, rl[2] = { 512, 3584 };

	cdb10(cdb, 0x2a, 100, 8);
	id = fk_submit(cdb, 10, 3, wl, NULL, pat);
	step();
	CHECK(K.res[id].status == 0 && !memcmp(R.disk + 100 * 512, pat, 4096),
	      "write10");
	o[0] = fk_alloc(512);
	o[1] = fk_alloc(3584);
	cdb16(cdb, 0x88, 100, 8);
	id = fk_submit(cdb, 16, 2, rl, o, NULL);
	step();
	fk_gather(o, rl, 2, out);
	CHECK(K.res[id].status == 0 && !memcmp(out, pat, 4096), "read16");
	CHECK(!(K.res[id].uflags & TCMU_UFLAG_READ_LEN), "no read_len on READ");

	/* READ(6) with length 0 = 256 blocks */
	memset(cdb, 0, 6);
	cdb[0] = 0x08;
	cdb[3] = 100;
	id = fk_submit(cdb, 6, 1, (size_t[]){ 256 * 512 }, NULL, NULL);
	step();
	CHECK(K.res[id].status == 0, "read6 256 blocks");

	/* out of range, buffer too small */
	cdb10(cdb, 0x28, DISK / 512 - 4, 8);
	id = fk_submit(cdb, 10, 1, (size_t[]){ 4096 }, NULL, NULL);
	cdb10(cdb, 0x28, 0xffffffff, 1);
	id2 = fk_submit(cdb, 10, 1, (size_t[]){ 512 }, NULL, NULL);
	step();
	CHECK(sense_is(&K.res[id], ILLEGAL_REQUEST, 0x21), "lba range");
	CHECK(sense_is(&K.res[id2], ILLEGAL_REQUEST, 0x21), "lba range 2");
	cdb10(cdb, 0x2a, 0, 8);
	id = fk_submit(cdb, 10, 1, (size_t[]){ 4095 }, NULL, NULL);
	step();
	CHECK(sense_is(&K.res[id], ILLEGAL_REQUEST, 0x24), "short buffer");
	(void)buf;
	CHECK(K.errors == 0, "kernel saw %d errors", K.errors);
}

/* iovecs and CDBs pointing anywhere must be refused, not followed */
static void test_bad_input(void)
{
	uint8_t cdb[16];
	size_t l[2] = { 512, 512 };
	uint64_t bad[][2] = {
		{ map_size, 0 }, { map_size - 256, 0 }, { 0, 0 },
		{ 64, 0 }, { UINT64_MAX - 100, 0 },
	};
	struct tcmu_cmd_entry *e;
	uint16_t id;

	fk_reset(0);
	cdb10(cdb, 0x2a, 0, 1);
	for (unsigned int i = 0; i < 5; i++) {
		id = fk_submit(cdb, 10, 1, l, bad[i], NULL);
		step();
		CHECK(sense_is(&K.res[id], 0x04, 0x44), "bad iov %u", i);
	}
	/* huge iov_len */
	uint64_t ok = fk_alloc(512);

	id = fk_submit(cdb, 10, 1, (size_t[]){ SIZE_MAX }, &ok, NULL);
	step();
	CHECK(sense_is(&K.res[id], 0x04, 0x44), "huge iov_len");
	/* iov_cnt beyond the entry */
	id = fk_submit(cdb, 10, 1, l, NULL, NULL);
	e = (void *)(R.ring + R.next);
	e->req.iov_cnt = 1000;
	step();
	CHECK(sense_is(&K.res[id], 0x04, 0x44), "iov_cnt");
	id = fk_submit(cdb, 10, 1, l, NULL, NULL);
	e = (void *)(R.ring + R.next);
	e->req.iov_bidi_cnt = 0xffffffff;
	e->req.iov_cnt = 0xffffffff;
	step();
	CHECK(sense_is(&K.res[id], 0x04, 0x44), "iov_cnt overflow");
	/* cdb_off outside the map, or its CDB running past the end */
	id = fk_submit(cdb, 10, 1, l, NULL, NULL);
	e = (void *)(R.ring + R.next);
	e->req.cdb_off = map_size;
	step();
	CHECK(sense_is(&K.res[id], 0x04, 0x44), "cdb_off");
	map[map_size - 4] = 0x88;
	id = fk_submit(cdb, 10, 1, l, NULL, NULL);
	e = (void *)(R.ring + R.next);
	e->req.cdb_off = map_size - 4;
	step();
	CHECK(sense_is(&K.res[id], 0x04, 0x44), "cdb past map end");
	CHECK(K.errors == 0, "kernel saw %d errors", K.errors);

	/* a corrupt ring stops the handler, cleanly */
	const uint32_t lens[] = { 0, 4, 12, RING * 2, 0xfffffff8 };

	for (unsigned int i = 0; i < 5; i++) {
		fk_reset(0);
		fk_submit(cdb, 10, 1, l, NULL, NULL);
		e = (void *)(R.ring);
		e->hdr.len_op = lens[i] | TCMU_OP_CMD;
		CHECK(step() < 0, "entry length %u accepted", lens[i]);
	}
	fk_reset(0);
	R.mb->cmd_head = 12;
	CHECK(step() < 0, "unaligned head accepted");
	R.mb->cmd_head = RING;
	CHECK(step() < 0, "head out of range accepted");
	fk_reset(0);
	fk_submit(cdb, 10, 1, l, NULL, NULL);
	((struct tcmu_cmd_entry *)R.ring)->hdr.len_op |= 5;
	CHECK(step() < 0, "opcode 5 accepted");
}

/* Many commands through a small ring: PADs, wraps, TMR entries, reorder */
static void test_wrap_reorder(void)
{
	uint8_t cdb[16], pat[2560];
	uint16_t ids[8];
	unsigned int n = 0;

	fk_reset(TCMU_MAILBOX_FLAG_CAP_OOOC);
	for (int round = 0; round < 300; round++) {
		unsigned int niov = 1 + round % 5;
		size_t l[5] = { 512, 512, 512, 512, 512 };

		memset(pat, round, sizeof(pat));
		cdb10(cdb, 0x2a, round % 64, niov);
		fk_submit(cdb, 10, niov, l, NULL, pat);
		if (round % 7 == 3) {		/* a TMR entry */
			struct tcmu_tmr_entry *t;

			fk_room(sizeof(*t) + 8);
			t = (void *)(R.ring + K.head);
			memset(t, 0, sizeof(*t) + 8);
			t->hdr.len_op = (sizeof(*t) + 8 + 7) / 8 * 8 |
					TCMU_OP_TMR;
			fk_publish(t->hdr.len_op & ~7);
		}
		if (round % 3 == 2)
			CHECK(step() == 0, "round %d", round);
	}
	step();
	CHECK(K.errors == 0 && K.norder == 300, "wrap: %d errors, %u done",
	      K.errors, K.norder);
	CHECK(R.mb->cmd_tail == K.head, "tail %u head %u", R.mb->cmd_tail,
	      K.head);

	/* --reorder 4: 8 commands queued at once complete as 4321 8765 */
	R.reorder = 4;
	K.norder = 0;
	cdb10(cdb, 0x28, 0, 1);
	for (n = 0; n < 8; n++)
		ids[n] = fk_submit(cdb, 10, 1, (size_t[]){ 512 }, NULL, NULL);
	step();
	CHECK(K.norder == 8 && K.order[0] == ids[3] && K.order[3] == ids[0] &&
	      K.order[4] == ids[7] && K.order[7] == ids[4],
	      "reorder: %u done, first %u", K.norder, K.order[0]);
	/* ... and 5: 4321 5 */
	K.norder = 0;
	for (n = 0; n < 5; n++)
		ids[n] = fk_submit(cdb, 10, 1, (size_t[]){ 512 }, NULL, NULL);
	step();
	CHECK(K.norder == 5 && K.order[0] == ids[3] && K.order[4] == ids[4],
	      "reorder 5");
	CHECK(K.errors == 0, "kernel saw %d errors", K.errors);
}

/* Each misbehaviour writes what it says, after --after good commands */
static struct tcmu_cmd_entry *mis_run(enum mode m, const char *param,
				      unsigned int after, uint16_t *ids,
				      unsigned int n)
{
	uint8_t cdb[16];

	fk_reset(TCMU_MAILBOX_FLAG_CAP_OOOC | TCMU_MAILBOX_FLAG_CAP_READ_LEN);
	K.strict = false;
	R.mode = m;
	R.param = param;
	R.after = after;
	cdb10(cdb, 0x28, 0, 1);
	for (unsigned int i = 0; i < n; i++)
		ids[i] = fk_submit(cdb, 10, 1, (size_t[]){ 512 }, NULL, NULL);
	step();
	/* the first entry after the good ones */
	return (void *)(R.ring + after * sizeof(struct tcmu_cmd_entry));
}

static void test_misbehave(void)
{
	const uint32_t E = sizeof(struct tcmu_cmd_entry);
	struct tcmu_cmd_entry *e;
	uint16_t ids[8];

	e = mis_run(M_BAD_CMD_ID, NULL, 2, ids, 4);
	CHECK(e->hdr.cmd_id == 0 && R.mb->cmd_tail == 4 * E, "bad-cmd-id");
	CHECK(((struct tcmu_cmd_entry *)R.ring)[3].hdr.cmd_id == ids[3],
	      "bad-cmd-id: once");
	e = mis_run(M_BAD_CMD_ID, "777", 1, ids, 4);
	CHECK(e->hdr.cmd_id == 777, "bad-cmd-id:777");

	e = mis_run(M_BAD_TAIL, NULL, 1, ids, 3);
	CHECK(K.kicks == 1 && K.tails[0] == RING + 8, "bad-tail range %u",
	      K.tails[0]);
	e = mis_run(M_BAD_TAIL, "unaligned", 0, ids, 1);
	CHECK(K.tails[0] == E + 4, "bad-tail unaligned %u", K.tails[0]);
	e = mis_run(M_BAD_TAIL, "back", 1, ids, 2);
	CHECK(K.tails[0] == E - 8, "bad-tail back %u", K.tails[0]);

	e = mis_run(M_TRUNCATED, NULL, 1, ids, 3);
	CHECK(e->hdr.len_op == (8 | TCMU_OP_CMD) && R.mb->cmd_tail == 3 * E,
	      "truncated %#x", e->hdr.len_op);
	e = mis_run(M_TRUNCATED, "-16", 0, ids, 1);
	CHECK(tcmu_hdr_get_len(e->hdr.len_op) == E - 16, "truncated -16");
	e = mis_run(M_OVERSIZED, NULL, 1, ids, 3);
	CHECK(tcmu_hdr_get_len(e->hdr.len_op) == 2 * RING &&
	      tcmu_hdr_get_op(e->hdr.len_op) == TCMU_OP_CMD, "oversized");
	e = mis_run(M_OVERSIZED, "+64", 1, ids, 3);
	CHECK(tcmu_hdr_get_len(e->hdr.len_op) == E + 64, "oversized +64");
	e = mis_run(M_ZERO_PAD, NULL, 1, ids, 2);
	CHECK(e->hdr.len_op == 0 && R.mb->cmd_tail == 2 * E, "zero-pad");
	e = mis_run(M_BAD_OP, NULL, 1, ids, 2);
	CHECK(e->hdr.len_op == (E | 7), "bad-op %#x", e->hdr.len_op);

	e = mis_run(M_DOUBLE, NULL, 3, ids, 4);	/* no successor: later */
	CHECK(R.acts == 0 && R.mb->cmd_tail == 4 * E, "double-complete last");
	e = mis_run(M_DOUBLE, NULL, 1, ids, 4);
	CHECK(e[0].hdr.cmd_id == ids[1] && e[1].hdr.cmd_id == ids[1] &&
	      e[2].hdr.cmd_id == ids[3] && R.mb->cmd_tail == 4 * E,
	      "double-complete %u %u %u", e[0].hdr.cmd_id, e[1].hdr.cmd_id,
	      e[2].hdr.cmd_id);

	e = mis_run(M_NEVER, NULL, 2, ids, 5);
	CHECK(R.mb->cmd_tail == 2 * E && R.frozen, "never-complete");
	step();
	CHECK(K.kicks == 1, "never-complete kicked again");
	e = mis_run(M_CLOSE, NULL, 3, ids, 5);
	CHECK(R.mb->cmd_tail == 3 * E && R.frozen && R.qlen == 2,
	      "close-in-flight");

	e = mis_run(M_BAD_STATUS, NULL, 1, ids, 3);
	CHECK(e->rsp.scsi_status == 0xff && e[1].rsp.scsi_status == 0,
	      "bad-status");
	e = mis_run(M_BAD_SENSE, NULL, 0, ids, 1);
	CHECK(e->rsp.scsi_status == 2 && e->rsp.sense_buffer[0] == 0x72,
	      "bad-sense");
	e = mis_run(M_BAD_READ_LEN, NULL, 1, ids, 2);
	CHECK(e->hdr.uflags == TCMU_UFLAG_READ_LEN && e->rsp.read_len == 1,
	      "bad-read-len");
	e = mis_run(M_BAD_DATA, NULL, 0, ids, 1);
	CHECK(map[(uintptr_t)R.iov[0].iov_base] == 0x01 &&
	      e->rsp.scsi_status == 0, "bad-data");
}

/* --fuzz: reproducible from the seed, every mode, about 1 in fuzz_every */
static void test_fuzz_mode(void)
{
	enum mode seq[4000];
	unsigned int seen = 0, hits = 0, i, round;
	uint8_t cdb[16];

	quiet = 1;
	for (round = 0; round < 2; round++) {
		fk_reset(0);
		fuzz_seed(&R, 42);
		R.fuzz_every = 8;
		for (i = 0; i < 4000; i++) {
			enum mode m = fuzz_pick(&R, false);

			if (round == 0) {
				seq[i] = m;
				seen |= 1u << m;
				hits += m != M_NONE;
			} else if (seq[i] != m) {
				break;
			}
		}
		CHECK(round == 0 || i == 4000, "seed 42 differs at pick %u", i);
	}
	CHECK(!(seen & (1u << M_CLOSE | 1u << M_FUZZ)) &&
	      (seen | 1u << M_CLOSE | 1u << M_FUZZ) == (1u << (M_FUZZ + 1)) - 1,
	      "modes picked: %#x", seen);
	CHECK(hits > 4000 / 12 && hits < 4000 / 5, "%u of 4000 fuzzed", hits);

	/* through the ring, non-strict: whatever it writes, no crash */
	for (round = 0; round < 200; round++) {
		fk_reset(TCMU_MAILBOX_FLAG_CAP_OOOC |
			 TCMU_MAILBOX_FLAG_CAP_READ_LEN);
		K.strict = false;
		R.mode = M_FUZZ;
		R.count = 0;
		R.fuzz_every = 2;
		fuzz_seed(&R, round);
		cdb10(cdb, round % 2 ? 0x28 : 0x2a, round, 1);
		for (i = 0; i < 8; i++)
			fk_submit(cdb, 10, 1, (size_t[]){ 512 }, NULL, NULL);
		step();
	}
	CHECK(R.acts > 0, "fuzzed nothing");
	quiet = 0;
}

/* Garbage in the ring: the handler may give up, but must not crash */
static void test_fuzz(unsigned long iters)
{
	static const uint8_t ops[] = { 0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x25,
		0x28, 0x2a, 0x35, 0x5a, 0x88, 0x8a, 0x9e, 0xa0, 0xa8, 0xaa, 0x7f };
	unsigned long corrupt = 0;
	unsigned int seed = 12345;

	quiet = 1;

	for (unsigned long it = 0; it < iters; it++) {
		uint32_t pos = 0;
		int n = 1 + rand_r(&seed) % 8;

		fk_reset(rand_r(&seed) & 0xf);
		K.strict = false;
		R.reorder = rand_r(&seed) % 3;
		for (int i = 0; i < n && pos < RING - 256; i++) {
			struct tcmu_cmd_entry *e = (void *)(R.ring + pos);
			uint32_t len = 112 + 8 * (rand_r(&seed) % 16);
			unsigned int niov = rand_r(&seed) % 8;

			for (uint32_t b = 0; b < len; b++)
				R.ring[pos + b] = rand_r(&seed);
			e->hdr.len_op = rand_r(&seed) % 16 ? (len | 1) :
					(uint32_t)rand_r(&seed);
			if (rand_r(&seed) % 4)
				e->req.iov_cnt = niov;
			for (unsigned int v = 0; v < niov && v < 4; v++) {
				uint64_t off = rand_r(&seed) % 2 ?
					R.data_start + rand_r(&seed) % DATA :
					(uint64_t)rand_r(&seed) * 4096;
				e->req.iov[v].iov_base = (void *)(uintptr_t)off;
				e->req.iov[v].iov_len = rand_r(&seed) % 2 ?
					(size_t)(rand_r(&seed) % 70000) :
					(size_t)rand_r(&seed) << 20;
			}
			if (rand_r(&seed) % 4) {
				uint32_t co = pos + len - 16;

				e->req.cdb_off = R.mb->cmdr_off + co;
				R.ring[co] = ops[rand_r(&seed) % sizeof(ops)];
			}
			pos += len;
		}
		R.mb->cmd_head = rand_r(&seed) % 8 ? pos :
				 (uint32_t)rand_r(&seed) % (RING + 64);
		if (step())
			corrupt++;
	}
	quiet = 0;
	printf("fuzz: %lu iterations, %lu found the ring corrupt\n", iters,
	       corrupt);
}

static void mkfile(const char *dir, const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd))
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void test_find_uio(void)
{
	char dir[] = "/tmp/ramd-sysfs-XXXXXX", name[64], cmd[128];
	uint64_t size = 0;

	if (!mkdtemp(dir))
		abort();
	mkfile(dir, "class/uio/uio0/name", "not-tcmu\n");
	mkfile(dir, "class/uio/uio1/name", "tcm-user/1/other/file/x\n");
	mkfile(dir, "class/uio/uio1/maps/map0/size", "0x800000\n");
	mkfile(dir, "class/uio/uio3/name", "tcm-user/12/ramd0/ramd/ramd0\n");
	mkfile(dir, "class/uio/uio3/maps/map0/size", "0x60800000\n");
	mkfile(dir, "class/uio/uio4/name", "tcm-user/2/bare\n");
	mkfile(dir, "class/uio/uio4/maps/map0/size", "4096\n");

	CHECK(find_uio(dir, "ramd0", NULL, -1, name, 64, &size) == 3 &&
	      size == 0x60800000 && !strcmp(name, "ramd0"), "by name");
	CHECK(find_uio(dir, NULL, "ramd/", -1, name, 64, &size) == 3,
	      "by config");
	CHECK(find_uio(dir, "other", NULL, -1, name, 64, &size) == 1 &&
	      size == 0x800000, "other");
	CHECK(find_uio(dir, "other", "ramd/", -1, name, 64, &size) < 0,
	      "both must match");
	CHECK(find_uio(dir, "ramd", NULL, -1, name, 64, &size) < 0,
	      "no prefix match on names");
	CHECK(find_uio(dir, "bare", NULL, -1, name, 64, &size) == 4 &&
	      size == 4096, "no config");
	CHECK(find_uio(dir, NULL, NULL, 1, name, 64, &size) == 1, "by number");
	CHECK(find_uio(dir, NULL, NULL, 0, name, 64, &size) < 0,
	      "non tcm-user by number");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		abort();
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;

	map_size = sizeof(struct tcmu_mailbox) + RING + DATA;
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 1;

	test_basic();
	test_bad_input();
	test_wrap_reorder();
	test_misbehave();
	test_fuzz_mode();
	test_find_uio();
	test_fuzz(iters);
	free(R.disk);
	free(R.q);
	free(R.done);
	free(R.iov);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
