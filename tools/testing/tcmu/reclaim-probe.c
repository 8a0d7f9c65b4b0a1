// SPDX-License-Identifier: GPL-2.0
/*
 * reclaim-probe: touch data blocks of an idle TCMU device's data window,
 * or pages of its command window, as a handler would, and report for each
 * whether it read memory or got SIGBUS.  Used by tests/reclaim-probe.sh
 * to check that a block whose memory was reclaimed is unmapped from the
 * handler (SIGBUS, or a fresh page if a command reused it) and never
 * shows another command's data, and by tests/ring-span.sh to check the
 * same of the command ring's pages beyond its active span.
 *
 * Usage: reclaim-probe [-c] UIODEV FIRST COUNT [ROUNDS]
 *   -c      FIRST and COUNT are pages of the command window (page 0
 *           holds the mailbox); before each round the probe consumes
 *           PAD entries between cmd_tail and cmd_head and kicks the
 *           kernel, as a handler would, so that an idle ring can empty
 *   UIODEV  /dev/uioN of a device no handler has open
 *   FIRST   first data block, COUNT blocks (data_pages_per_blk must be 1)
 *   ROUNDS  how many times to touch them (default 1); between rounds the
 *           probe prints "ready" and waits for a line on stdin, keeping
 *           its mapping (and so the PTEs of the first round) alive
 *
 * Each round prints "round R: mapped M sigbus S nonzero Z": M blocks read
 * without a fault (Z of them had a non-zero byte in their first 64),
 * S blocks raised SIGBUS.  Exit status 0, or 2 on a usage or setup error.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/target_core_user.h>

#define MAP_BYTES	0x60000000UL	/* 512 MiB command + 1 GiB data window */
#define DATA_OFF	0x20000000UL

static sigjmp_buf env;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(env, 1);
}

/* -1: SIGBUS; 0: the block reads as zeroes; 1: it holds data. */
static int touch(const unsigned char *p)
{
	int i, nz = 0;

	if (sigsetjmp(env, 1))
		return -1;
	for (i = 0; i < 64; i++)
		nz |= __atomic_load_n(&p[i], __ATOMIC_RELAXED);
	return !!nz;
}

/*
 * Move cmd_tail over the PAD entries up to cmd_head (nothing else may be
 * there: no LUN, no handler) and kick the kernel.  Prints what it did.
 */
static void consume_pads(int fd, unsigned char *map)
{
	struct tcmu_mailbox *mb = (struct tcmu_mailbox *)map;
	uint32_t head = __atomic_load_n(&mb->cmd_head, __ATOMIC_ACQUIRE);
	uint32_t tail = mb->cmd_tail, size = mb->cmdr_size, n = 0, len;
	struct tcmu_cmd_entry_hdr *hdr;
	uint32_t kick = 0;

	while (tail != head && tail < size) {
		hdr = (void *)(map + mb->cmdr_off + tail);
		len = tcmu_hdr_get_len(hdr->len_op);
		if (tcmu_hdr_get_op(hdr->len_op) != TCMU_OP_PAD || !len ||
		    len > size - tail)
			break;
		tail = (tail + len) % size;
		n++;
	}
	__atomic_store_n(&mb->cmd_tail, tail, __ATOMIC_RELEASE);
	if (write(fd, &kick, sizeof(kick)) != sizeof(kick))
		perror("kick");
	printf("consumed %u pad(s): cmd_tail %u cmd_head %u\n", n, tail,
	       head);
}

int main(int argc, char **argv)
{
	unsigned long first, count, rounds = 1, r, b, mapped, bus, nonzero;
	unsigned long base = DATA_OFF, win = MAP_BYTES - DATA_OFF;
	long pg = sysconf(_SC_PAGESIZE);
	struct sigaction sa;
	char line[64];
	unsigned char *map;
	int fd, cmd = 0;

	if (argc > 1 && !strcmp(argv[1], "-c")) {
		cmd = 1;
		base = 0;
		win = DATA_OFF;
		argv++;
		argc--;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: %s [-c] UIODEV FIRST COUNT [ROUNDS]\n",
			argv[0]);
		return 2;
	}
	first = strtoul(argv[2], NULL, 0);
	count = strtoul(argv[3], NULL, 0);
	if (argc > 4)
		rounds = strtoul(argv[4], NULL, 0);
	if ((first + count) * pg > win) {
		fprintf(stderr, "pages out of the window\n");
		return 2;
	}

	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 2;
	}
	map = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);

	for (r = 0; r < rounds; r++) {
		if (r) {
			printf("ready\n");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				break;
		}
		if (cmd)
			consume_pads(fd, map);
		mapped = 0;
		bus = 0;
		nonzero = 0;
		for (b = first; b < first + count; b++) {
			int t = touch(map + base + b * pg);

			if (t < 0) {
				bus++;
			} else {
				mapped++;
				nonzero += t;
			}
		}
		printf("round %lu: mapped %lu sigbus %lu nonzero %lu\n",
		       r + 1, mapped, bus, nonzero);
		fflush(stdout);
	}
	munmap(map, MAP_BYTES);
	close(fd);
	return 0;
}
