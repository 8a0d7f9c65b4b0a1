// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-ramd - a small TCMU (target_core_user) test handler serving a RAM disk.
 *
 * It speaks the raw ring ABI of <linux/target_core_user.h> (no libtcmu, no
 * netlink): it finds the device's UIO node in sysfs, mmap()s map0, serves the
 * SCSI commands it finds in the command ring and completes them by moving
 * mailbox->cmd_tail and write()ing 4 bytes to the uio fd.  On request it
 * misbehaves, to test how the kernel driver copes with a buggy handler.
 *
 * Usage: tcmu-ramd [options]
 *   --dev NAME        serve the uio device "tcm-user/<hba>/NAME/<cfg>"
 *   --config PREFIX   ... or the one whose dev_config starts with PREFIX
 *                     (by convention dev_config is "ramd/<anything>")
 *   --uio N           use /dev/uioN directly (no sysfs name match)
 *   --wait SECS       wait that long for the uio device to appear (5)
 *   --node PATH       open this device node (e.g. one made with mknod in a
 *                     tmpfs) instead of /dev/uioN; the device is still
 *                     found in sysfs
 *   --size BYTES      RAM disk size, K/M/G suffixes allowed (64M)
 *   --block-size N    logical block size (512)
 *   --wce 0|1         write cache enabled bit of the caching mode page (1)
 *   --reorder N       complete each batch of up to N commands in reverse
 *                     order (needs TCMU_MAILBOX_FLAG_CAP_OOOC)
 *   --misbehave MODE[:PARAM]  misbehave, once (see --count), after --after
 *                     good commands.  MODEs:
 *       bad-tail[:range|unaligned|back|N]  write a garbage cmd_tail
 *       bad-cmd-id[:ID]       complete with an unknown cmd_id (0)
 *       truncated-entry[:L]   rewrite the entry length to L (8; +N/-N are
 *                             relative to the real length); tail advances
 *                             by the real length
 *       oversized-entry[:L]   same, default 2 * cmdr_size; for both, L
 *                             may be @N: the length that makes the entry
 *                             end at ring offset N
 *       zero-pad              rewrite the completed entry as PAD of length 0
 *       bad-op[:OP]           rewrite the entry's opcode bits to OP (7)
 *       double-complete       complete a command, then use its cmd_id again
 *                             in the slot of the next command of the same
 *                             batch (still in flight, so its id differs;
 *                             the kernel reuses ids): that one is never
 *                             completed
 *       never-complete        take commands, never complete them
 *       close-in-flight[:K]   exit with K commands in flight (1)
 *       bad-status[:S]        complete with SCSI status S (0xff)
 *       bad-sense[:zero]      CHECK CONDITION with garbage (or empty) sense
 *       bad-read-len[:N]      data-in commands report TCMU_UFLAG_READ_LEN N (1)
 *       bad-data              flip a byte of READ data, status GOOD (a
 *                             negative control: verification must catch it)
 *   --fuzz SEED       misbehave at random, reproducibly: a generator seeded
 *                     with SEED makes one in --fuzz-every (8) completions
 *                     one of the modes above (not close-in-flight), with a
 *                     random parameter; --after/--count/--arm-usr1 apply
 *                     (--count 0: no limit).  "fuzz N: MODE[:PARAM]" is
 *                     logged for each
 *   --backing FILE    keep the disk in FILE, mmap()ed shared (created,
 *                     grown to --size), so that it outlives the process
 *   --after N         good commands before misbehaving (0)
 *   --count N         misbehave N times, 0 = on every command after (1)
 *   --arm-usr1        misbehave only once SIGUSR1 arrived; --after counts
 *                     from then (so a test can let the initiator's probe
 *                     through and aim at its own I/O)
 *   --lazy-pad        move cmd_tail past a PAD (or TMR) only when completing
 *                     a command, as libtcmu (tcmu-runner) does; a PAD left
 *                     so is logged once ("PAD at N left")
 *   --no-data         READ/WRITE move no data (the disk is not touched):
 *                     the floor of the handler's cost, for benchmarks
 *   --delay-ms N      take N ms over each command (a slow backend): it
 *                     sleeps after reading the command (and logging it,
 *                     with -v), so new commands come while it is busy
 *   --stats           time the handler's phases (CLOCK_MONOTONIC around
 *                     poll, ring parsing and execution, the data copy,
 *                     the completion kick) and print the totals on exit
 *   --sysfs DIR       sysfs root (/sys), for testing the device lookup
 *   --probe           print the matched device and map size, then exit
 *   -v, --verbose     log every command
 *
 * Exit status: 0 on SIGTERM/SIGINT or close-in-flight, 1 on setup errors,
 * 2 when the ring is found corrupt (the handler stops serving then).
 *
 * Build: make (in this directory); "make check" runs the host self-test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
/* linux/uio.h (pulled in by the ABI header) clashes with glibc's iovec */
#define iovec linux_iovec
#include <linux/target_core_user.h>
#undef iovec

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define fallthrough __attribute__((__fallthrough__))

#define SENSE_LEN TCMU_SENSE_BUFFERSIZE
#define ST_GOOD 0x00
#define ST_CHECK_CONDITION 0x02

enum mode {
	M_NONE, M_BAD_TAIL, M_BAD_CMD_ID, M_TRUNCATED, M_OVERSIZED, M_ZERO_PAD,
	M_BAD_OP, M_DOUBLE, M_NEVER, M_CLOSE, M_BAD_STATUS, M_BAD_SENSE,
	M_BAD_READ_LEN, M_BAD_DATA,
	M_FUZZ,		/* not a --misbehave mode: --fuzz picks the above */
};

static const char *const mode_names[] = {
	[M_NONE] = "none", [M_BAD_TAIL] = "bad-tail",
	[M_BAD_CMD_ID] = "bad-cmd-id", [M_TRUNCATED] = "truncated-entry",
	[M_OVERSIZED] = "oversized-entry", [M_ZERO_PAD] = "zero-pad",
	[M_BAD_OP] = "bad-op", [M_DOUBLE] = "double-complete",
	[M_NEVER] = "never-complete", [M_CLOSE] = "close-in-flight",
	[M_BAD_STATUS] = "bad-status", [M_BAD_SENSE] = "bad-sense",
	[M_BAD_READ_LEN] = "bad-read-len", [M_BAD_DATA] = "bad-data",
	[M_FUZZ] = "fuzz",
};

/* One ring entry between cmd_tail and our parse cursor, in ring order. */
struct slot {
	uint32_t off, len;
	bool cmd;		/* TCMU_OP_CMD (else PAD/TMR: skipped) */
};

/* A command we have executed but not completed yet. */
struct cmd {
	uint16_t id;
	uint8_t status;
	bool data_in;		/* READ-like: kernel copies data back */
	uint32_t data_len;	/* bytes produced for data-in, for READ_LEN */
	uint64_t buf_len;	/* size of the data buffer */
	uint64_t data_off;	/* map offset of the first data byte, or 0 */
	uint8_t sense[SENSE_LEN];
};

struct ramd {
	/* the shared region */
	uint8_t *map;
	uint64_t map_size;
	struct tcmu_mailbox *mb;
	uint8_t *ring;
	uint32_t ring_size;
	uint64_t data_start;	/* iovecs must lie in [data_start, map_size) */
	uint16_t mb_flags;
	int fd;
	void (*kick)(struct ramd *r);

	/* the disk */
	uint8_t *disk;
	uint64_t size;
	uint32_t bs;
	bool wce;
	char name[64];

	/* ring cursors: tail <= next <= cmd_head, modulo ring_size */
	uint32_t tail, next;
	struct slot *q;		/* circular FIFO of slots in [tail, next) */
	size_t qcap, qhead, qlen;
	struct cmd *done;	/* executed, not completed, in ring order */
	size_t ndone, done_cap;
	struct iovec *iov;	/* scratch copy of the current entry's iovecs */
	size_t iov_cap;

	/* options and state */
	unsigned int reorder;
	enum mode mode;
	const char *param;
	unsigned long after, count, acts, good, ncmds, nreordered;
	bool armed;		/* misbehaviour allowed (see --arm-usr1) */
	bool frozen;		/* never complete anything again */
	int dup_id;		/* double-complete: id to reuse, or -1 */
	uint64_t fuzz;		/* --fuzz: generator state (never 0) */
	unsigned int fuzz_every;
	char fuzz_param[24];	/* the parameter of the mode picked */
	int verbose;
	bool no_data;		/* --no-data */
	unsigned int delay_ms;	/* --delay-ms */
	bool lazy_pad;		/* --lazy-pad */
	uint32_t pad_left;	/* --lazy-pad: ring offset + 1 of the PAD logged */
};

/* --stats: time spent per phase, ns, and how often each ran. */
static struct {
	bool on;
	uint64_t poll_ns, polls, wakeups;	/* poll() + read() */
	uint64_t parse_ns;			/* parse_ring(), with execution */
	uint64_t copy_ns, copies, copy_bytes;	/* READ/WRITE data copies */
	uint64_t done_ns;			/* complete_ring(), with the kick */
	uint64_t kick_ns, kicks;		/* the write() to the uio fd */
} st;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int quiet;		/* the self-test's fuzzer silences the log */

static void logmsg(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (quiet)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "tcmu-ramd[%ld.%03ld]: ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Big-endian fields of n bytes */
static void put_be(uint8_t *p, uint64_t v, int n)
{
	while (n--) {
		p[n] = v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---------------------------------------------------------------- SCSI */

static void set_sense(struct cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	c->status = ST_CHECK_CONDITION;
	memset(c->sense, 0, sizeof(c->sense));
	c->sense[0] = 0x70;		/* current error, fixed format */
	c->sense[2] = key;
	c->sense[7] = 10;		/* additional sense length */
	c->sense[12] = asc;
	c->sense[13] = ascq;
}

#define ILLEGAL_REQUEST 0x05
#define invalid_opcode(c) set_sense(c, ILLEGAL_REQUEST, 0x20, 0x00)
#define invalid_field(c) set_sense(c, ILLEGAL_REQUEST, 0x24, 0x00)
#define lba_out_of_range(c) set_sense(c, ILLEGAL_REQUEST, 0x21, 0x00)
#define internal_failure(c) set_sense(c, 0x04, 0x44, 0x00)

static size_t iov_total(const struct iovec *iov, unsigned int n)
{
	size_t t = 0;

	for (unsigned int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/*
 * Copy len bytes between buf and the iovec list (offsets into the map,
 * already bounds-checked).  Returns the bytes copied.
 */
static size_t iov_copy(struct ramd *r, const struct iovec *iov, unsigned int n,
		       uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len < len - done ? iov[i].iov_len
						       : len - done;
		uint8_t *p = r->map + (uintptr_t)iov[i].iov_base;

		if (to_iov)
			memcpy(p, buf + done, l);
		else
			memcpy(buf + done, p, l);
		done += l;
	}
	return done;
}

/* Send a small data-in response, truncated to the allocation length. */
static void respond(struct ramd *r, struct cmd *c, const struct iovec *iov,
		    unsigned int n, uint8_t *buf, size_t len, size_t alloc)
{
	c->data_len = iov_copy(r, iov, n, buf, len < alloc ? len : alloc, true);
}

static void do_inquiry(struct ramd *r, struct cmd *c, const uint8_t *cdb,
		       const struct iovec *iov, unsigned int n)
{
	uint8_t b[128];
	size_t len, sl = strlen(r->name);

	memset(b, 0, sizeof(b));
	if (!(cdb[1] & 1)) {			/* standard INQUIRY */
		if (cdb[2])
			return invalid_field(c);
		b[2] = 0x06;			/* SPC-4 */
		b[3] = 0x02;			/* response data format */
		b[4] = 36 - 5;
		b[7] = 0x02;			/* CMDQUE */
		memcpy(b + 8, "TCMUTEST", 8);
		memcpy(b + 16, "tcmu-ramd       ", 16);
		memcpy(b + 32, "0001", 4);
		len = 36;
	} else {
		b[1] = cdb[2];
		switch (cdb[2]) {
		case 0x00:			/* supported pages */
			b[4] = 0x00; b[5] = 0x80; b[6] = 0x83;
			len = 7;
			break;
		case 0x80:			/* unit serial number */
			memcpy(b + 4, r->name, sl);
			len = 4 + sl;
			break;
		case 0x83:			/* device identification */
			b[4] = 0x02;		/* ASCII */
			b[5] = 0x01;		/* T10 vendor id, LUN */
			b[7] = 8 + sl;
			memcpy(b + 8, "TCMUTEST", 8);
			memcpy(b + 16, r->name, sl);
			len = 16 + sl;
			break;
		default:
			return invalid_field(c);
		}
		put_be(b + 2, len - 4, 2);
	}
	respond(r, c, iov, n, b, len, get_be(cdb + 3, 2));
}

/* Mode pages: caching (0x08) and control (0x0a); returns bytes added. */
static size_t mode_page(struct ramd *r, uint8_t *p, uint8_t page, bool chg)
{
	if (page == 0x08) {
		memset(p, 0, 20);
		p[0] = 0x08;
		p[1] = 18;
		if (!chg && r->wce)
			p[2] = 0x04;		/* WCE */
		return 20;
	}
	if (page == 0x0a) {
		memset(p, 0, 12);
		p[0] = 0x0a;
		p[1] = 10;
		return 12;
	}
	return 0;
}

static void do_mode_sense(struct ramd *r, struct cmd *c, const uint8_t *cdb,
			  const struct iovec *iov, unsigned int n)
{
	bool ten = cdb[0] == 0x5a;
	size_t hl = ten ? 8 : 4, len = hl;
	uint8_t b[64], page = cdb[2] & 0x3f, pc = cdb[2] >> 6;

	if (cdb[3] || pc == 3)		/* subpages, saved values */
		return invalid_field(c);
	memset(b, 0, sizeof(b));
	if (page == 0x08 || page == 0x3f)
		len += mode_page(r, b + len, 0x08, pc == 1);
	if (page == 0x0a || page == 0x3f)
		len += mode_page(r, b + len, 0x0a, pc == 1);
	if (len == hl)
		return invalid_field(c);
	if (ten)
		put_be(b, len - 2, 2);
	else
		b[0] = len - 1;
	respond(r, c, iov, n, b, len, ten ? get_be(cdb + 7, 2) : cdb[4]);
}

/* Decode a READ/WRITE CDB; returns false if it is not one. */
static bool rw_decode(const uint8_t *cdb, uint64_t *lba, uint32_t *nblk,
		      bool *write)
{
	switch (cdb[0]) {
	case 0x08: case 0x0a:				/* READ/WRITE(6) */
		*lba = (cdb[1] & 0x1f) << 16 | get_be(cdb + 2, 2);
		*nblk = cdb[4] ? cdb[4] : 256;
		break;
	case 0x28: case 0x2a:				/* (10) */
		*lba = get_be(cdb + 2, 4);
		*nblk = get_be(cdb + 7, 2);
		break;
	case 0xa8: case 0xaa:				/* (12) */
		*lba = get_be(cdb + 2, 4);
		*nblk = get_be(cdb + 6, 4);
		break;
	case 0x88: case 0x8a:				/* (16) */
		*lba = get_be(cdb + 2, 8);
		*nblk = get_be(cdb + 10, 4);
		break;
	default:
		return false;
	}
	*write = cdb[0] & 0x02;
	return true;
}

static void do_rw(struct ramd *r, struct cmd *c, const uint8_t *cdb,
		  const struct iovec *iov, unsigned int n)
{
	uint64_t lba, nblocks = r->size / r->bs, bytes;
	uint32_t nblk;
	bool write;

	rw_decode(cdb, &lba, &nblk, &write);
	if (lba > nblocks || nblk > nblocks - lba)
		return lba_out_of_range(c);
	bytes = (uint64_t)nblk * r->bs;
	if (iov_total(iov, n) < bytes) {
		logmsg("cmd %u: %zu byte buffer for a %llu byte transfer",
		       c->id, iov_total(iov, n), (unsigned long long)bytes);
		return invalid_field(c);
	}
	if (r->no_data) {
		c->data_len = bytes;
	} else {
		uint64_t t = st.on ? now_ns() : 0;

		c->data_len = iov_copy(r, iov, n, r->disk + lba * r->bs, bytes,
				       !write);
		if (st.on) {
			st.copy_ns += now_ns() - t;
			st.copies++;
			st.copy_bytes += bytes;
		}
	}
	if (bytes && !write)
		c->data_off = (uintptr_t)iov[0].iov_base;
}

static void execute(struct ramd *r, struct cmd *c, const uint8_t *cdb,
		    const struct iovec *iov, unsigned int n)
{
	uint64_t last = r->size / r->bs - 1;
	uint8_t b[32];

	memset(b, 0, sizeof(b));
	c->data_in = true;
	switch (cdb[0]) {
	case 0x00:					/* TEST UNIT READY */
	case 0x1b:					/* START STOP UNIT */
	case 0x35: case 0x91:				/* SYNCHRONIZE CACHE */
		c->data_in = false;
		break;
	case 0x03:					/* REQUEST SENSE */
		b[0] = 0x70;
		b[7] = 10;
		respond(r, c, iov, n, b, 18, cdb[4]);
		break;
	case 0x12:
		do_inquiry(r, c, cdb, iov, n);
		break;
	case 0x1a: case 0x5a:
		do_mode_sense(r, c, cdb, iov, n);
		break;
	case 0x25:					/* READ CAPACITY(10) */
		put_be(b, last > 0xffffffff ? 0xffffffff : last, 4);
		put_be(b + 4, r->bs, 4);
		respond(r, c, iov, n, b, 8, 8);
		break;
	case 0x9e:					/* SERVICE ACTION IN */
		if ((cdb[1] & 0x1f) != 0x10)		/* READ CAPACITY(16) */
			return invalid_field(c);
		put_be(b, last, 8);
		put_be(b + 8, r->bs, 4);
		respond(r, c, iov, n, b, 32, get_be(cdb + 10, 4));
		break;
	case 0xa0:					/* REPORT LUNS */
		b[3] = 8;				/* one LUN: 0 */
		respond(r, c, iov, n, b, 16, get_be(cdb + 6, 4));
		break;
	case 0x08: case 0x28: case 0xa8: case 0x88:
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:
		c->data_in = !(cdb[0] & 0x02);
		do_rw(r, c, cdb, iov, n);
		break;
	default:
		c->data_in = false;
		invalid_opcode(c);
	}
}

/* ---------------------------------------------------------------- ring */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

static int q_push(struct ramd *r, uint32_t off, uint32_t len, bool cmd)
{
	if (r->qlen == r->qcap) {		/* grow and unwrap */
		size_t ocap = r->qcap;
		struct slot *nq = malloc((ocap ? ocap * 2 : 64) * sizeof(*nq));

		if (!nq)
			return -1;
		for (size_t i = 0; i < r->qlen; i++)
			nq[i] = r->q[(r->qhead + i) % ocap];
		free(r->q);
		r->q = nq;
		r->qcap = ocap ? ocap * 2 : 64;
		r->qhead = 0;
	}
	r->q[(r->qhead + r->qlen++) % r->qcap] = (struct slot){ off, len, cmd };
	return 0;
}

static struct slot q_pop(struct ramd *r)
{
	struct slot s = r->q[r->qhead];

	r->qhead = (r->qhead + 1) % r->qcap;
	r->qlen--;
	return s;
}

/*
 * Bytes of CDB we read, from the group code: reserved and variable length
 * (group 3) and vendor specific (6, 7) ones are rejected by execute() anyway.
 */
static unsigned int cdb_len(uint8_t op)
{
	static const uint8_t len[8] = { 6, 10, 10, 8, 16, 12, 10, 10 };

	return len[op >> 5];
}

/* Is [off, off + len) a valid data area range? */
static bool in_data(struct ramd *r, uint64_t off, uint64_t len)
{
	return off >= r->data_start && off <= r->map_size &&
	       len <= r->map_size - off;
}

/* log formats too long for a line, kept whole so that they can be grepped */
#define FMT_IOV_OUTSIDE "cmd %u: iovec %llu [%#lx + %zu] outside the data area [%#llx, %#llx)"

/*
 * Copy the command at ring offset off out of the shared region, validate
 * it and execute it.  A malformed command is answered with CHECK CONDITION;
 * only a malformed ring (checked by the caller) stops the handler.
 */
static int handle_cmd(struct ramd *r, uint32_t off, uint32_t len)
{
	struct tcmu_cmd_entry *e = (void *)(r->ring + off);
	/* read each field once: the ring is shared memory */
	uint32_t iov_cnt = e->req.iov_cnt, bidi = e->req.iov_bidi_cnt;
	uint64_t niov, cdb_off = e->req.cdb_off;
	uint8_t cdb[16];
	struct cmd *c;

	if (grow((void **)&r->done, &r->done_cap, r->ndone + 1, sizeof(*c)))
		return -1;
	c = &r->done[r->ndone++];
	memset(c, 0, sizeof(*c));
	c->id = e->hdr.cmd_id;
	r->ncmds++;

	niov = (uint64_t)iov_cnt + bidi + e->req.iov_dif_cnt;
	if (offsetof(struct tcmu_cmd_entry, req.iov) +
	    niov * sizeof(struct iovec) > len) {
		logmsg("cmd %u: %llu iovecs do not fit a %u byte entry",
		       c->id, (unsigned long long)niov, len);
		internal_failure(c);
		return 0;
	}
	if (grow((void **)&r->iov, &r->iov_cap, niov + 1, sizeof(*r->iov)))
		return -1;
	memcpy(r->iov, e->req.iov, niov * sizeof(struct iovec));
	for (uint64_t i = 0; i < niov; i++) {
		if (!in_data(r, (uintptr_t)r->iov[i].iov_base,
			     r->iov[i].iov_len)) {
			logmsg(FMT_IOV_OUTSIDE, c->id, (unsigned long long)i,
			       (unsigned long)(uintptr_t)r->iov[i].iov_base,
			       r->iov[i].iov_len,
			       (unsigned long long)r->data_start,
			       (unsigned long long)r->map_size);
			internal_failure(c);
			return 0;
		}
	}

	memset(cdb, 0, sizeof(cdb));
	if (cdb_off < r->map_size)
		cdb[0] = r->map[cdb_off];	/* the opcode tells the length */
	if (cdb_off >= r->map_size ||
	    cdb_len(cdb[0]) > r->map_size - cdb_off) {
		logmsg("cmd %u: cdb_off %#llx outside the map", c->id,
		       (unsigned long long)cdb_off);
		internal_failure(c);
		return 0;
	}
	memcpy(cdb + 1, r->map + cdb_off + 1, cdb_len(cdb[0]) - 1);
	if (r->verbose)
		logmsg("cmd %u: op %02x iovs %u/%u", c->id, cdb[0], iov_cnt,
		       bidi);
	if (r->delay_ms)
		usleep(r->delay_ms * 1000);
	c->buf_len = iov_total(r->iov, iov_cnt);
	execute(r, c, cdb, r->iov, iov_cnt);
	return 0;
}

static int ring_corrupt(struct ramd *r, const char *what, uint32_t a,
			uint32_t b)
{
	logmsg("ring corrupt: %s (%u, %u) at offset %u; stopping", what, a, b,
	       r->next);
	return -1;
}

/* Parse and execute every new entry up to cmd_head.  -1: ring corrupt. */
static int parse_ring(struct ramd *r)
{
	uint32_t head = __atomic_load_n(&r->mb->cmd_head, __ATOMIC_ACQUIRE);

	if (head >= r->ring_size || head % TCMU_OP_ALIGN_SIZE)
		return ring_corrupt(r, "cmd_head", head, r->ring_size);
	while (r->next != head) {
		struct tcmu_cmd_entry_hdr *h = (void *)(r->ring + r->next);
		uint32_t len_op = h->len_op, len = tcmu_hdr_get_len(len_op);
		uint32_t avail = (head + r->ring_size - r->next) % r->ring_size;
		unsigned int op = tcmu_hdr_get_op(len_op);

		if (len < sizeof(*h) || len % TCMU_OP_ALIGN_SIZE ||
		    len > avail || len > r->ring_size - r->next)
			return ring_corrupt(r, "entry length", len, avail);
		if (op == TCMU_OP_CMD && len < sizeof(struct tcmu_cmd_entry))
			return ring_corrupt(r, "short command entry", len, op);
		if (op != TCMU_OP_CMD && op != TCMU_OP_PAD && op != TCMU_OP_TMR)
			return ring_corrupt(r, "entry opcode", op, len);
		if (op == TCMU_OP_TMR && r->verbose)
			logmsg("skipping TMR entry at %u", r->next);
		if (q_push(r, r->next, len, op == TCMU_OP_CMD))
			return ring_corrupt(r, "out of memory", 0, 0);
		if (op == TCMU_OP_CMD && handle_cmd(r, r->next, len))
			return ring_corrupt(r, "out of memory", 0, 0);
		r->next = (r->next + len) % r->ring_size;
	}
	return 0;
}

/* Parse "+N", "-N" (relative to rel) or "N"; def if no parameter. */
static uint32_t param_num(const struct ramd *r, uint32_t rel, uint32_t def)
{
	if (!r->param || !*r->param)
		return def;
	if (*r->param == '+' || *r->param == '-')
		return rel + (uint32_t)strtol(r->param, NULL, 0);
	return strtoul(r->param, NULL, 0);
}

/* --fuzz: xorshift64, seeded through an odd multiplier so it is never 0. */
static uint64_t fuzz_next(struct ramd *r)
{
	uint64_t x = r->fuzz;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return r->fuzz = x;
}

static void fuzz_seed(struct ramd *r, uint64_t seed)
{
	r->fuzz = seed * 0x9e3779b97f4a7c15ULL | 1;
}

/*
 * --fuzz: the misbehaviour for this completion (M_NONE most of the time),
 * its parameter in r->param.  @last: no later command in this batch.
 */
static enum mode fuzz_pick(struct ramd *r, bool last)
{
	static const enum mode modes[] = {
		M_BAD_TAIL, M_BAD_CMD_ID, M_TRUNCATED, M_OVERSIZED, M_ZERO_PAD,
		M_BAD_OP, M_DOUBLE, M_NEVER, M_BAD_STATUS, M_BAD_SENSE,
		M_BAD_READ_LEN, M_BAD_DATA,
	};
	static const char *const tails[] = { "range", "unaligned", "back" };
	uint32_t v = fuzz_next(r) >> 32;
	enum mode m;

	if (r->fuzz_every > 1 && fuzz_next(r) % r->fuzz_every)
		return M_NONE;
	m = modes[fuzz_next(r) % ARRAY_SIZE(modes)];
	if (m == M_DOUBLE && last)
		return M_NONE;
	r->param = r->fuzz_param;
	switch (m) {
	case M_BAD_TAIL:
		if (v % 4 < 3)
			r->param = tails[v % 4];
		else
			snprintf(r->fuzz_param, sizeof(r->fuzz_param), "%u",
				 v % (2 * r->ring_size));
		break;
	case M_BAD_CMD_ID:
	case M_BAD_OP:
	case M_BAD_STATUS:
		snprintf(r->fuzz_param, sizeof(r->fuzz_param), "%u",
			 m == M_BAD_OP ? v % 8 : m == M_BAD_STATUS ? v % 256 :
			 v % 65536);
		break;
	case M_TRUNCATED:
	case M_OVERSIZED:
		snprintf(r->fuzz_param, sizeof(r->fuzz_param), "%u",
			 m == M_TRUNCATED ? v % 128 : v % (2 * r->ring_size));
		break;
	case M_BAD_SENSE:
		r->param = v % 2 ? "zero" : NULL;
		break;
	case M_BAD_READ_LEN:
		snprintf(r->fuzz_param, sizeof(r->fuzz_param), "%u",
			 v % 2 ? v : v % 4096);
		break;
	default:
		r->param = NULL;
	}
	r->acts++;
	logmsg("fuzz %lu: %s%s%s", r->acts, mode_names[m],
	       r->param ? ":" : "", r->param ? r->param : "");
	return m;
}

/*
 * Write command c's completion into the next command slot at the tail,
 * misbehaving if it is time to.  Returns false if nothing was completed.
 */
static bool complete_one(struct ramd *r, struct cmd *c, bool last,
			 uint32_t *bad_tail)
{
	bool act = r->mode != M_NONE && r->armed && r->good >= r->after &&
		   (!r->count || r->acts < r->count) &&
		   !(r->mode == M_DOUBLE && last);
	struct tcmu_cmd_entry *e;
	struct slot s;
	enum mode m = act ? r->mode : M_NONE;
	uint32_t len_op, len;

	if (m == M_FUZZ)
		m = fuzz_pick(r, last);

	if (m == M_NEVER || m == M_CLOSE) {
		logmsg("misbehave %s: cmd %u will never be completed",
		       mode_names[m], c->id);
		r->frozen = true;
		return false;
	}
	while (r->qlen && !r->q[r->qhead].cmd)		/* PAD/TMR slots */
		r->tail = (r->tail + q_pop(r).len) % r->ring_size;
	if (!r->qlen) {					/* cannot happen */
		logmsg("internal error: no slot for cmd %u", c->id);
		return false;
	}
	s = q_pop(r);
	r->tail = (r->tail + s.len) % r->ring_size;
	e = (void *)(r->ring + s.off);

	e->hdr.cmd_id = c->id;
	e->hdr.uflags = 0;
	e->rsp.scsi_status = c->status;
	e->rsp.read_len = 0;
	if (c->data_in && c->status == ST_GOOD && c->data_len &&
	    c->data_len < c->buf_len &&
	    (r->mb_flags & TCMU_MAILBOX_FLAG_CAP_READ_LEN)) {
		e->hdr.uflags = TCMU_UFLAG_READ_LEN;	/* short response */
		e->rsp.read_len = c->data_len;
	}
	if (c->status == ST_CHECK_CONDITION)
		memcpy(e->rsp.sense_buffer, c->sense, SENSE_LEN);
	if (r->dup_id >= 0) {		/* double-complete, second half */
		logmsg("misbehave double-complete: cmd %u completed again in the slot of cmd %u",
		       r->dup_id, c->id);
		e->hdr.cmd_id = r->dup_id;
		e->rsp.scsi_status = ST_GOOD;
		r->dup_id = -1;
		return true;
	}
	switch (m) {
	case M_NONE:
		r->good++;
		return true;
	case M_BAD_DATA:
		if (!c->data_off) {
			r->good++;
			return true;
		}
		r->map[c->data_off] ^= 0x01;
		logmsg("misbehave bad-data: cmd %u first read byte flipped",
		       c->id);
		break;
	case M_BAD_READ_LEN:
		if (!c->data_in) {
			r->good++;
			return true;
		}
		e->hdr.uflags = TCMU_UFLAG_READ_LEN;
		e->rsp.read_len = param_num(r, c->data_len, 1);
		logmsg("misbehave bad-read-len: cmd %u read_len %u (real %u)",
		       c->id, e->rsp.read_len, c->data_len);
		break;
	case M_BAD_TAIL:
		if (!r->param || !strcmp(r->param, "range"))
			*bad_tail = r->ring_size + TCMU_OP_ALIGN_SIZE;
		else if (!strcmp(r->param, "unaligned"))
			*bad_tail = r->tail + 4;
		else if (!strcmp(r->param, "back"))
			*bad_tail = (r->tail + r->ring_size - s.len -
				     TCMU_OP_ALIGN_SIZE) % r->ring_size;
		else
			*bad_tail = strtoul(r->param, NULL, 0);
		logmsg("misbehave bad-tail: cmd_tail %u instead of %u",
		       *bad_tail, r->tail);
		break;
	case M_BAD_CMD_ID:
		e->hdr.cmd_id = param_num(r, c->id, 0);
		logmsg("misbehave bad-cmd-id: cmd %u completed as cmd_id %u",
		       c->id, e->hdr.cmd_id);
		break;
	case M_TRUNCATED:
	case M_OVERSIZED:
		len_op = e->hdr.len_op;
		if (r->param && *r->param == '@')	/* to end at offset N */
			len = strtoul(r->param + 1, NULL, 0) - s.off;
		else
			len = param_num(r, s.len, m == M_TRUNCATED ? 8 :
					2 * r->ring_size);
		tcmu_hdr_set_len(&len_op, len & ~TCMU_OP_MASK);
		e->hdr.len_op = len_op;
		logmsg("misbehave %s: cmd %u entry length %u instead of %u",
		       mode_names[m], c->id, tcmu_hdr_get_len(e->hdr.len_op),
		       s.len);
		break;
	case M_ZERO_PAD:
		e->hdr.len_op = 0;
		logmsg("misbehave zero-pad: cmd %u entry rewritten as PAD of length 0",
		       c->id);
		break;
	case M_BAD_OP:
		len_op = e->hdr.len_op;
		tcmu_hdr_set_op(&len_op, param_num(r, 0, 7));
		e->hdr.len_op = len_op;
		logmsg("misbehave bad-op: cmd %u entry opcode %u", c->id,
		       tcmu_hdr_get_op(e->hdr.len_op));
		break;
	case M_DOUBLE:
		r->dup_id = c->id;
		logmsg("misbehave double-complete: cmd %u completed, will complete it again",
		       c->id);
		break;
	case M_BAD_STATUS:
		e->rsp.scsi_status = param_num(r, 0, 0xff);
		memset(e->rsp.sense_buffer, 0, SENSE_LEN);
		logmsg("misbehave bad-status: cmd %u status %#x", c->id,
		       e->rsp.scsi_status);
		break;
	case M_BAD_SENSE:
		e->rsp.scsi_status = ST_CHECK_CONDITION;
		memset(e->rsp.sense_buffer, 0, SENSE_LEN);
		if (!r->param || strcmp(r->param, "zero")) {
			/* descriptor format claiming more than fits */
			memset(e->rsp.sense_buffer, 0xff, SENSE_LEN);
			e->rsp.sense_buffer[0] = 0x72;
			e->rsp.sense_buffer[1] = 0x03;	/* MEDIUM ERROR */
			e->rsp.sense_buffer[2] = 0x11;
			e->rsp.sense_buffer[3] = 0x00;
			e->rsp.sense_buffer[7] = 0xf4;
		}
		logmsg("misbehave bad-sense: cmd %u CHECK CONDITION with %s sense",
		       c->id, r->param ? r->param : "garbage");
		break;
	default:
		break;
	}
	if (r->mode != M_FUZZ)		/* fuzz_pick() counted it */
		r->acts++;
	return true;
}

/* Complete what has been executed (reordered if asked), kick the kernel. */
static void complete_ring(struct ramd *r)
{
	uint32_t bad_tail = UINT32_MAX;
	size_t n = 0, i;

	if (r->frozen)
		return;
	for (i = 0; i < r->ndone && !r->frozen; i++) {
		size_t j = i;

		if (r->reorder > 1) {	/* reverse within batches */
			size_t base = i - i % r->reorder;
			size_t end = base + r->reorder < r->ndone ?
				     base + r->reorder : r->ndone;

			j = end - 1 - (i - base);
		}
		if (complete_one(r, &r->done[j], i + 1 == r->ndone,
				 &bad_tail)) {
			n++;
			r->nreordered += j != i;
		}
	}
	/* PAD/TMR slots left before nothing but new entries can go too */
	if (r->lazy_pad && !n && r->qlen && !r->q[r->qhead].cmd) {
		if (r->pad_left != r->tail + 1)
			logmsg("PAD at %u left", r->tail);
		r->pad_left = r->tail + 1;
	}
	while (!r->frozen && r->qlen && !r->q[r->qhead].cmd &&
	       (n || !r->lazy_pad)) {
		r->tail = (r->tail + q_pop(r).len) % r->ring_size;
		n++;
	}
	r->ndone = 0;
	if (!n)
		return;
	__atomic_store_n(&r->mb->cmd_tail,
			 bad_tail != UINT32_MAX ? bad_tail : r->tail,
			 __ATOMIC_RELEASE);
	if (st.on) {
		uint64_t t = now_ns();

		r->kick(r);
		st.kick_ns += now_ns() - t;
		st.kicks++;
		return;
	}
	r->kick(r);
}

/* -------------------------------------------------------------- device */

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		n--;
	buf[n] = '\0';
	return 0;
}

/*
 * Look through <sysfs>/class/uio for "tcm-user/<hba>/<name>/<config>"
 * matching dev (the name) and/or cfg (a dev_config prefix), or for uioN.
 * Returns N, or -1; fills name and the size of map0.
 */
static int find_uio(const char *sysfs, const char *dev, const char *cfg,
		    int want, char *name, size_t nlen, uint64_t *map_size)
{
	char path[512], buf[512];
	struct dirent *d;
	int found = -1;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/class/uio", sysfs);
	dir = opendir(path);
	if (!dir)
		return -1;
	while (found < 0 && (d = readdir(dir))) {
		char *p, *n, *c;
		int num;

		if (sscanf(d->d_name, "uio%d", &num) != 1 ||
		    (want >= 0 && num != want))
			continue;
		snprintf(path, sizeof(path), "%s/class/uio/%s/name", sysfs,
			 d->d_name);
		if (read_file(path, buf, sizeof(buf)) ||
		    strncmp(buf, "tcm-user/", 9))
			continue;
		p = buf + 9 + strspn(buf + 9, "0123456789");
		if (*p != '/')
			continue;
		n = p + 1;
		c = strchr(n, '/');
		if (c)
			*c++ = '\0';
		else
			c = "";
		if ((dev && strcmp(n, dev)) ||
		    (cfg && strncmp(c, cfg, strlen(cfg))))
			continue;
		snprintf(path, sizeof(path), "%s/class/uio/%s/maps/map0/size",
			 sysfs, d->d_name);
		if (read_file(path, buf + 256, 256))
			continue;
		*map_size = strtoull(buf + 256, NULL, 0);
		snprintf(name, nlen, "%s", n);
		found = num;
	}
	closedir(dir);
	return found;
}

/* Check the mailbox and set up the ring view. */
static int setup_ring(struct ramd *r)
{
	struct tcmu_mailbox *mb = (void *)r->map;
	uint32_t off = mb->cmdr_off, size = mb->cmdr_size;

	if (mb->version != TCMU_MAILBOX_VERSION) {
		logmsg("mailbox version %u, want %u", mb->version,
		       TCMU_MAILBOX_VERSION);
		return -1;
	}
	if (off < offsetof(struct tcmu_mailbox, cmd_tail) + 4 ||
	    off % TCMU_OP_ALIGN_SIZE || !size || size % TCMU_OP_ALIGN_SIZE ||
	    (uint64_t)off + size > r->map_size) {
		logmsg("bad mailbox: cmdr_off %u cmdr_size %u map %llu", off,
		       size, (unsigned long long)r->map_size);
		return -1;
	}
	r->mb = mb;
	r->mb_flags = mb->flags;
	r->ring = r->map + off;
	r->ring_size = size;
	r->data_start = (uint64_t)off + size;
	r->tail = mb->cmd_tail;
	r->next = r->tail;
	r->dup_id = -1;
	if (r->tail >= size || r->tail % TCMU_OP_ALIGN_SIZE) {
		logmsg("bad initial cmd_tail %u", r->tail);
		return -1;
	}
	if (r->reorder > 1 && !(r->mb_flags & TCMU_MAILBOX_FLAG_CAP_OOOC)) {
		logmsg("no TCMU_MAILBOX_FLAG_CAP_OOOC: --reorder ignored");
		r->reorder = 0;
	}
	return 0;
}

#ifndef RAMD_NO_MAIN

static void uio_kick(struct ramd *r)
{
	uint32_t one = 1;

	if (write(r->fd, &one, sizeof(one)) != sizeof(one))
		logmsg("kick: write: %s", strerror(errno));
}

static atomic_int stop, usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		usr1 = 1;
	else
		stop = 1;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'G': case 'g':
		v <<= 10;
		fallthrough;
	case 'M': case 'm':
		v <<= 10;
		fallthrough;
	case 'K': case 'k':
		v <<= 10;
		break;
	}
	return v;
}

static void print_usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: tcmu-ramd {--dev NAME | --config PREFIX | --uio N} [--size BYTES]\n"
		"         [--block-size N] [--wce 0|1] [--reorder N] [--wait SECS]\n"
		"         [--node PATH]\n"
		"         [--misbehave MODE[:PARAM] [--after N] [--count N] [--arm-usr1]]\n"
		"         [--fuzz SEED [--fuzz-every N]] [--backing FILE]\n"
		"         [--no-data] [--delay-ms N] [--stats] [--lazy-pad] [--sysfs DIR]\n"
		"         [--probe] [-v]\n"
		"modes: bad-tail bad-cmd-id truncated-entry oversized-entry zero-pad bad-op\n"
		"       double-complete never-complete close-in-flight bad-status bad-sense\n"
		"       bad-read-len bad-data   (see the comment at the top of tcmu-ramd.c)\n");
	exit(rc);
}

/* log formats too long for a line, kept whole so that they can be grepped */
#define FMT_SERVING "serving %s (uio%d, map %llu, ring %u at %u, flags %#x) as a %llu byte disk, block %u%s%s"
#define FMT_STATS "stats: cmds %lu polls %llu wakeups %llu poll_ns %llu parse_ns %llu copies %llu copy_bytes %llu copy_ns %llu done_ns %llu kicks %llu kick_ns %llu"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", 1, 0, 'd' }, { "config", 1, 0, 'c' },
		{ "uio", 1, 0, 'u' }, { "wait", 1, 0, 'W' },
		{ "node", 1, 0, 'N' },
		{ "size", 1, 0, 's' }, { "block-size", 1, 0, 'b' },
		{ "wce", 1, 0, 'w' }, { "reorder", 1, 0, 'r' },
		{ "misbehave", 1, 0, 'm' }, { "after", 1, 0, 'a' },
		{ "count", 1, 0, 'n' }, { "sysfs", 1, 0, 'S' },
		{ "probe", 0, 0, 'p' }, { "verbose", 0, 0, 'v' },
		{ "arm-usr1", 0, 0, 'A' },
		{ "fuzz", 1, 0, 'F' }, { "fuzz-every", 1, 0, 'E' },
		{ "backing", 1, 0, 'B' },
		{ "no-data", 0, 0, 'D' }, { "delay-ms", 1, 0, 'Y' },
		{ "stats", 0, 0, 'T' },
		{ "lazy-pad", 0, 0, 'L' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	struct ramd r = { .size = 64 << 20, .bs = 512, .wce = true, .count = 1,
			  .fuzz_every = 8,
			  .fd = -1, .kick = uio_kick, .armed = true };
	const char *dev = NULL, *cfg = NULL, *sysfs = "/sys", *backing = NULL;
	const char *node = NULL;
	char path[256], *colon;
	double wait_s = 5;
	int want = -1, num, o, probe = 0;
	struct sigaction sa;

	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			dev = optarg;
			break;
		case 'c':
			cfg = optarg;
			break;
		case 'u':
			want = atoi(optarg + strcspn(optarg, "0123456789"));
			break;
		case 'W':
			wait_s = atof(optarg);
			break;
		case 'N':
			node = optarg;
			break;
		case 's':
			r.size = parse_size(optarg);
			break;
		case 'b':
			r.bs = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			r.wce = atoi(optarg);
			break;
		case 'r':
			r.reorder = strtoul(optarg, NULL, 0);
			break;
		case 'a':
			r.after = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			r.count = strtoul(optarg, NULL, 0);
			break;
		case 'S':
			sysfs = optarg;
			break;
		case 'p':
			probe = 1;
			break;
		case 'A':
			r.armed = false;
			break;
		case 'F':
			r.mode = M_FUZZ;
			fuzz_seed(&r, strtoull(optarg, NULL, 0));
			break;
		case 'E':
			r.fuzz_every = strtoul(optarg, NULL, 0);
			break;
		case 'L':
			r.lazy_pad = true;
			break;
		case 'B':
			backing = optarg;
			break;
		case 'D':
			r.no_data = true;
			break;
		case 'Y':
			r.delay_ms = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			st.on = true;
			break;
		case 'v':
			r.verbose++;
			break;
		case 'h':
			print_usage(0);
			break;
		case 'm':
			colon = strchr(optarg, ':');
			if (colon)
				*colon = '\0';
			r.param = colon ? colon + 1 : NULL;
			for (o = 1; o <= M_BAD_DATA; o++)
				if (!strcmp(optarg, mode_names[o]))
					r.mode = o;
			if (r.mode == M_NONE) {
				fprintf(stderr, "unknown mode %s\n", optarg);
				print_usage(1);
			}
			break;
		default:
			print_usage(1);
		}
	}
	if ((!dev && !cfg && want < 0) || optind != argc)
		print_usage(1);
	if (r.bs < 512 || r.bs & (r.bs - 1) || r.size < r.bs ||
	    r.size % r.bs) {
		fprintf(stderr, "bad --size/--block-size\n");
		return 1;
	}

	for (double t = 0;; t += 0.1) {
		num = find_uio(sysfs, dev, cfg, want, r.name, sizeof(r.name),
			       &r.map_size);
		if (num >= 0 || t >= wait_s)
			break;
		usleep(100000);
	}
	if (num < 0) {
		logmsg("no tcm-user uio device matches");
		return 1;
	}
	if (probe) {
		printf("uio%d %s %llu\n", num, r.name,
		       (unsigned long long)r.map_size);
		return 0;
	}
	snprintf(path, sizeof(path), "/dev/uio%d", num);
	if (node)
		snprintf(path, sizeof(path), "%s", node);
	r.fd = open(path, O_RDWR);
	if (r.fd < 0) {
		logmsg("%s: %s", path, strerror(errno));
		return 1;
	}
	r.map = mmap(NULL, r.map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     r.fd, 0);
	if (backing) {
		int bfd = open(backing, O_RDWR | O_CREAT, 0600);
		struct stat sb;

		if (bfd < 0 || fstat(bfd, &sb) ||
		    ((uint64_t)sb.st_size < r.size && ftruncate(bfd, r.size))) {
			logmsg("%s: %s", backing, strerror(errno));
			return 1;
		}
		r.disk = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			      bfd, 0);
		close(bfd);
	} else {
		r.disk = mmap(NULL, r.size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			      -1, 0);
	}
	if (r.map == MAP_FAILED || r.disk == MAP_FAILED) {
		logmsg("mmap: %s", strerror(errno));
		return 1;
	}
	if (setup_ring(&r))
		return 1;
	logmsg(FMT_SERVING, r.name, num, (unsigned long long)r.map_size,
	       r.ring_size, r.mb->cmdr_off, r.mb_flags,
	       (unsigned long long)r.size, r.bs,
	       r.mode ? ", misbehaving: " : "",
	       r.mode ? mode_names[r.mode] : "");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	while (!stop) {
		struct pollfd pfd = { .fd = r.fd, .events = POLLIN };
		uint32_t events;

		if (usr1 && !r.armed) {
			r.armed = true;
			r.good = 0;
			logmsg("armed after %lu commands: misbehaving after %lu more",
			       r.ncmds, r.after);
		}
		uint64_t t0 = st.on ? now_ns() : 0, t1 = 0;

		if (parse_ring(&r)) {
			complete_ring(&r);	/* what was fine before */
			return 2;
		}
		if (st.on)
			t1 = now_ns();
		complete_ring(&r);
		if (st.on) {
			st.parse_ns += t1 - t0;
			st.done_ns += now_ns() - t1;
			t0 = now_ns();
		}
		if (r.mode == M_CLOSE && r.frozen &&
		    r.qlen >= param_num(&r, 0, 1)) {
			logmsg("misbehave close-in-flight: exiting with %zu commands in flight",
			       r.qlen);
			munmap(r.map, r.map_size);
			close(r.fd);
			return 0;
		}
		if (poll(&pfd, 1, 1000) > 0) {
			st.wakeups++;
			if (read(r.fd, &events, sizeof(events)) < 0 &&
			    errno != EINTR)
				logmsg("read: %s", strerror(errno));
		}
		if (st.on) {
			st.poll_ns += now_ns() - t0;
			st.polls++;
		}
	}
	if (st.on)
		logmsg(FMT_STATS, r.ncmds, (unsigned long long)st.polls,
		       (unsigned long long)st.wakeups,
		       (unsigned long long)st.poll_ns,
		       (unsigned long long)st.parse_ns,
		       (unsigned long long)st.copies,
		       (unsigned long long)st.copy_bytes,
		       (unsigned long long)st.copy_ns,
		       (unsigned long long)st.done_ns,
		       (unsigned long long)st.kicks,
		       (unsigned long long)st.kick_ns);
	logmsg("exiting on signal after %lu commands (%lu completed out of order, %zu in flight)",
	       r.ncmds, r.nreordered, r.qlen);
	munmap(r.map, r.map_size);
	close(r.fd);
	return 0;
}
#endif /* RAMD_NO_MAIN */
