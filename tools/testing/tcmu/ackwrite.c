// SPDX-License-Identifier: GPL-2.0
/*
 * ackwrite - acknowledged-write checker for handler kill/restart tests.
 *
 *   ackwrite write DEV LOGDIR SECONDS ROUND [JOBS [BLOCKS]]
 *   ackwrite verify DEV LOGDIR [JOBS [BLOCKS]]
 *
 * write: JOBS (8) processes write 4 KiB blocks with O_DIRECT to random
 * blocks of the first BLOCKS (4096) of DEV for SECONDS (or until SIGTERM).
 * Job j owns the blocks b with b % JOBS == j and writes one at a time, so
 * up to JOBS commands are in flight.  Each block written holds a pattern
 * derived from (block, seq), seq unique per write (ROUND in the top bits).
 * Only after pwrite() returned success is "block seq" appended to
 * LOGDIR/ack.j.  A failed write is retried on the same block (new seq)
 * until it succeeds; one still failing at the end is logged with seq 0:
 * its content is unknown (the handler may have written part of it).
 * Prints "acked N failed M unknown U" and exits 0 (failures are expected
 * while the handler is down); 1 on setup errors.
 *
 * verify: reads back every block whose last logged write was
 * acknowledged and compares it with that write's pattern; prints
 * "verified N blocks from M acknowledged writes, K bad" and exits 1 if
 * any block is wrong or unreadable.  JOBS and BLOCKS must be those of the
 * write runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define MAGIC 0x41434b5752495445ULL	/* "ACKWRITE" */

struct rec {
	uint64_t blk, seq;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* The content of block blk written by write seq. */
static void pattern(uint64_t *p, uint64_t blk, uint64_t seq)
{
	uint64_t x = (blk + 1) * 0x9e3779b97f4a7c15ULL ^ seq;

	p[0] = MAGIC;
	p[1] = blk;
	p[2] = seq;
	for (size_t i = 3; i < BS / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_log(const char *dir, unsigned int j, int flags)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/ack.%u", dir, j);
	return open(path, flags, 0644);
}

/* One job: returns its exit status; its counts go to pipe cfd. */
static int job(const char *dev, const char *dir, double end, uint64_t round,
	       unsigned int j, unsigned int jobs, uint64_t blocks, int cfd)
{
	unsigned long n[3] = { 0 };	/* acked, failed, unknown */
	uint64_t seq = round << 32, x = (round << 8 | j) * 2654435761ULL + 1;
	uint64_t *buf;
	int fd, lfd;

	fd = open(dev, O_RDWR | O_DIRECT);
	lfd = open_log(dir, j, O_WRONLY | O_APPEND | O_CREAT);
	if (fd < 0 || lfd < 0 || posix_memalign((void **)&buf, BS, BS)) {
		perror(dev);
		return 1;
	}
	while (!stop && now() < end) {
		struct rec r;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r.blk = (x % (blocks / jobs)) * jobs + j;
		for (;;) {
			r.seq = ++seq;
			pattern(buf, r.blk, r.seq);
			if (pwrite(fd, buf, BS, r.blk * BS) == BS)
				break;
			n[1]++;
			if (stop || now() >= end) {
				r.seq = 0;	/* content unknown */
				n[2]++;
				break;
			}
			usleep(20000);
		}
		if (write(lfd, &r, sizeof(r)) != sizeof(r)) {
			perror("log");
			return 1;
		}
		n[0] += r.seq != 0;
	}
	return write(cfd, n, sizeof(n)) == sizeof(n) ? 0 : 1;
}

static int do_write(const char *dev, const char *dir, double secs,
		    uint64_t round, unsigned int jobs, uint64_t blocks)
{
	unsigned long n[3], sum[3] = { 0 };
	double end = now() + secs;
	int status, rc = 0, cfd[2];

	signal(SIGTERM, on_term);
	if (pipe(cfd)) {
		perror("pipe");
		return 1;
	}
	for (unsigned int j = 0; j < jobs; j++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (!pid)
			exit(job(dev, dir, end, round, j, jobs, blocks,
				 cfd[1]));
	}
	close(cfd[1]);
	while (read(cfd[0], n, sizeof(n)) == sizeof(n))
		for (int i = 0; i < 3; i++)
			sum[i] += n[i];
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			rc = 1;
	printf("acked %lu failed %lu unknown %lu\n", sum[0], sum[1], sum[2]);
	return rc;
}

static int do_verify(const char *dev, const char *dir, unsigned int jobs,
		     uint64_t blocks)
{
	uint64_t *last = calloc(blocks, sizeof(*last)), *want, *got;
	unsigned long writes = 0, checked = 0, bad = 0;
	struct rec r;
	int fd;

	fd = open(dev, O_RDONLY | O_DIRECT);
	if (!last || fd < 0 || posix_memalign((void **)&want, BS, BS) ||
	    posix_memalign((void **)&got, BS, BS)) {
		perror(dev);
		return 1;
	}
	for (unsigned int j = 0; j < jobs; j++) {
		int lfd = open_log(dir, j, O_RDONLY);

		if (lfd < 0)
			continue;
		while (read(lfd, &r, sizeof(r)) == sizeof(r)) {
			if (r.blk >= blocks) {
				fprintf(stderr, "bad log record\n");
				return 1;
			}
			last[r.blk] = r.seq;
			writes += r.seq != 0;
		}
		close(lfd);
	}
	for (uint64_t b = 0; b < blocks; b++) {
		if (!last[b])
			continue;
		checked++;
		pattern(want, b, last[b]);
		if (pread(fd, got, BS, b * BS) != BS) {
			if (bad++ < 10)
				fprintf(stderr, "block %llu: read: %s\n",
					(unsigned long long)b, strerror(errno));
			continue;
		}
		if (memcmp(want, got, BS)) {
			if (bad++ < 10)
				fprintf(stderr, "block %llu: acknowledged seq %#llx, found magic %#llx block %llu seq %#llx\n",
					(unsigned long long)b,
					(unsigned long long)last[b],
					(unsigned long long)got[0],
					(unsigned long long)got[1],
					(unsigned long long)got[2]);
		}
	}
	printf("verified %lu blocks from %lu acknowledged writes, %lu bad\n",
	       checked, writes, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned int jobs;
	uint64_t blocks;

	if (argc >= 6 && !strcmp(argv[1], "write")) {
		jobs = argc > 6 ? strtoul(argv[6], NULL, 0) : 8;
		blocks = argc > 7 ? strtoull(argv[7], NULL, 0) : 4096;
		if (jobs && blocks >= jobs)
			return do_write(argv[2], argv[3], atof(argv[4]),
					strtoull(argv[5], NULL, 0), jobs,
					blocks);
	} else if (argc >= 4 && !strcmp(argv[1], "verify")) {
		jobs = argc > 4 ? strtoul(argv[4], NULL, 0) : 8;
		blocks = argc > 5 ? strtoull(argv[5], NULL, 0) : 4096;
		if (jobs && blocks >= jobs)
			return do_verify(argv[2], argv[3], jobs, blocks);
	}
	fprintf(stderr, "usage: ackwrite write DEV LOGDIR SECONDS ROUND [JOBS [BLOCKS]]\n"
		"       ackwrite verify DEV LOGDIR [JOBS [BLOCKS]]\n");
	return 2;
}
