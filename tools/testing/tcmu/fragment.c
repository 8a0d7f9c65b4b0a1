// SPDX-License-Identifier: GPL-2.0
/*
 * fragment: fragment the free memory of a (test VM) machine into single
 * pages, so that a high-order allocation that cannot compact memory (as
 * GFP_NOIO cannot: compaction needs __GFP_IO) fails.  Used by VM tests
 * that check the driver copes when its data block allocations fail.
 *
 * Usage: fragment [--order K] [--reserve-mb M] [--chunk-mb C]
 *   K  the order that must have no free block left (default 6)
 *   M  never let MemAvailable drop below M MiB (default 16)
 *   C  fill memory C MiB at a time (default 2)
 *
 * Fills memory with anonymous pages (THP off), C MiB per mmap, until no
 * free block of order >= K is left (/proc/pagetypeinfo: the free lists an
 * ordinary allocation may take from) or MemAvailable
 * would drop below M MiB; then frees every other page of what it filled,
 * so that the freed pages' buddies stay allocated and cannot merge.
 * What is left of order >= K then is the memory the watermarks kept from
 * the fill: the kernel's own order-K allocations take it, in AF_PACKET
 * receive rings of order-K blocks (held until exit), until the kernel
 * gives no more, in the zone DMA too; again, up to GRAB_ROUNDS times,
 * while pages other tasks free merge into new blocks of order >= K.  The caller turns compaction off
 * (vm.extfrag_threshold 1000, vm.compaction_proactiveness 0), else those
 * allocations would compact.  The verdict leaves the zone DMA (the first
 * 16 MiB) out: the kernel keeps part of it for allocations that need it
 * (lowmem_reserve), and a block there may stay.
 * Prints per-zone counts and a "before:" line, how many rings each round
 * took,
 * the per-zone counts and an "after:" line, then
 * "fragmented: yes" or "fragmented: no (N blocks of order>=K left)", then
 * "ready", and holds its memory until SIGTERM or SIGINT; exits 0 then.
 * Exits 1 if it cannot read /proc or cannot map any memory.
 */
#include <getopt.h>
#include <linux/if_packet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAGE	4096UL
#define MIB	(1024UL * 1024)

static int order = 6;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/*
 * Free blocks of order >= @order that an ordinary allocation may take
 * (the Unmovable, Movable and Reclaimable free lists; not HighAtomic,
 * CMA or Isolate), from /proc/pagetypeinfo: in all zones but DMA, and
 * the pages they hold; in @all_pages (if not NULL) the pages of DMA's
 * too.
 */
static void buddyinfo(unsigned long *blocks, unsigned long *pages,
		      unsigned long *all_pages, int show)
{
	unsigned long zb = 0, zp = 0, n;
	char line[512], zone[32], type[32], last[32] = "", *p, *end;
	FILE *f = fopen("/proc/pagetypeinfo", "r");
	int node, off, i;

	if (!f)
		die("/proc/pagetypeinfo");
	*blocks = *pages = 0;
	if (all_pages)
		*all_pages = 0;
	/* One line per zone and type; a zone's lines are consecutive. */
	for (;;) {
		p = fgets(line, sizeof(line), f);
		if (!p || sscanf(line, "Node %d, zone %31[^,], type %31s%n",
				 &node, zone, type, &off) != 3) {
			if (last[0] && (!p || strstr(line, "Number of blocks")))
				break;
			if (!p)
				break;
			continue;
		}
		if (last[0] && strcmp(zone, last)) {
			if (show)
				printf("  zone %-8s free blocks of order>=%d: %lu (%lu pages)\n",
				       last, order, zb, zp);
			zb = zp = 0;
		}
		strcpy(last, zone);
		if (strcmp(type, "Unmovable") && strcmp(type, "Movable") &&
		    strcmp(type, "Reclaimable"))
			continue;
		for (p = line + off, i = 0;; p = end, i++) {
			n = strtoul(p, &end, 10);
			if (end == p)
				break;
			if (i < order)
				continue;
			if (strcmp(zone, "DMA")) {
				*blocks += n;
				*pages += n << i;
			}
			if (all_pages)
				*all_pages += n << i;
			zb += n;
			zp += n << i;
		}
	}
	if (show && last[0])
		printf("  zone %-8s free blocks of order>=%d: %lu (%lu pages)\n",
		       last, order, zb, zp);
	fclose(f);
}

/* MemFree and MemAvailable in MiB. */
static void meminfo(unsigned long *free, unsigned long *avail)
{
	char line[256];
	unsigned long kb;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo");
	*free = *avail = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemFree: %lu kB", &kb) == 1)
			*free = kb / 1024;
		else if (sscanf(line, "MemAvailable: %lu kB", &kb) == 1)
			*avail = kb / 1024;
	}
	fclose(f);
	if (!*free && !*avail) {
		fprintf(stderr, "/proc/meminfo: no MemFree or MemAvailable\n");
		exit(1);
	}
}

/*
 * Take the free blocks of order >= @order left: receive rings of order-K
 * blocks, RING_BLOCKS per AF_PACKET socket (not bound: no packet ever
 * arrives), until none is left outside DMA or a ring took none of them
 * (the kernel then gave it vmalloc()ed memory).  Returns the rings.
 */
#define RING_BLOCKS	8
#define MAX_RINGS	512
#define GRAB_ROUNDS	5
static int grab(void)
{
	unsigned long blocks, pages, before, after;
	struct tpacket_req req = {
		.tp_block_size = PAGE << order,
		.tp_block_nr = RING_BLOCKS,
		.tp_frame_size = PAGE << order,
		.tp_frame_nr = RING_BLOCKS,
	};
	int n, fd, idle = 0;

	/*
	 * Pages in such blocks, not blocks: a split makes more blocks; and
	 * DMA's count too: what the kernel still gives, we take.  Stop after
	 * three rings in a row took none (vmalloc()ed: the kernel gives no
	 * more), not one: other tasks free pages meanwhile.
	 */
	buddyinfo(&blocks, &pages, &before, 0);
	for (n = 0; n < MAX_RINGS && before && idle < 3; n++) {
		fd = socket(AF_PACKET, SOCK_RAW, 0);
		if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req,
					 sizeof(req))) {
			perror("AF_PACKET ring (taking order>=K blocks stops)");
			break;
		}
		buddyinfo(&blocks, &pages, &after, 0);
		idle = after < before ? 0 : idle + 1;
		before = after;
	}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "order", required_argument, NULL, 'o' },
		{ "reserve-mb", required_argument, NULL, 'r' },
		{ "chunk-mb", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long reserve = 16, chunk = 2, blocks, pages, free, avail;
	unsigned long nchunks = 0, held = 0, i, off;
	int round;
	char **chunks = NULL, *p;
	struct sigaction sa;
	sigset_t old;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': order = atoi(optarg); break;
		case 'r': reserve = strtoul(optarg, NULL, 0); break;
		case 'c': chunk = strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [--order K] [--reserve-mb M] [--chunk-mb C]\n",
				argv[0]);
			return 1;
		}
	}
	if (order < 0 || order > 10 || !chunk) {
		fprintf(stderr, "bad --order (0..10) or --chunk-mb (>= 1)\n");
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGINT);

	buddyinfo(&blocks, &pages, NULL, 1);
	meminfo(&free, &avail);
	printf("before: free blocks of order>=%d: %lu (%lu pages); MemFree %lu MiB MemAvailable %lu MiB\n",
	       order, blocks, pages, free, avail);
	fflush(stdout);

	/* Fill: stop before a chunk could take MemAvailable below the reserve. */
	while (blocks && avail >= reserve + chunk && !stop) {
		p = mmap(NULL, chunk * MIB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			if (!nchunks)
				die("mmap");
			perror("mmap (filling stops)");
			break;
		}
		madvise(p, chunk * MIB, MADV_NOHUGEPAGE);
		for (off = 0; off < chunk * MIB; off += PAGE)
			p[off] = 1;
		chunks = realloc(chunks, (nchunks + 1) * sizeof(*chunks));
		if (!chunks)
			die("realloc");
		chunks[nchunks++] = p;
		buddyinfo(&blocks, &pages, NULL, 0);
		meminfo(&free, &avail);
	}

	/* Fragment: free the odd pages, their even buddies stay allocated. */
	for (i = 0; i < nchunks; i++) {
		for (off = PAGE; off < chunk * MIB; off += 2 * PAGE)
			if (madvise(chunks[i] + off, PAGE, MADV_DONTNEED))
				die("madvise(MADV_DONTNEED)");
		held += chunk * MIB / PAGE / 2;
	}
	/*
	 * Pages other tasks free meanwhile merge into new blocks of order
	 * >= K: take those too, a few rounds, until none is left.
	 */
	for (round = 0; order > 0 && round < GRAB_ROUNDS; round++) {
		i = grab();
		printf("kernel rings of order-%d blocks taken: %lu (%lu MiB at most)\n",
		       order, i, i * RING_BLOCKS * (PAGE << order) / MIB);
		buddyinfo(&blocks, &pages, NULL, 0);
		if (!blocks)
			break;
		sleep(1);
	}

	buddyinfo(&blocks, &pages, NULL, 1);
	meminfo(&free, &avail);
	printf("after: free blocks of order>=%d: %lu (%lu pages); MemFree %lu MiB MemAvailable %lu MiB; held %lu MiB\n",
	       order, blocks, pages, free, avail, held * PAGE / MIB);
	if (blocks)
		printf("fragmented: no (%lu blocks of order>=%d left)\n",
		       blocks, order);
	else
		printf("fragmented: yes\n");
	printf("ready\n");
	fflush(stdout);

	/* Hold the memory; a signal only ends the wait while unblocked. */
	sigprocmask(SIG_BLOCK, &sa.sa_mask, &old);
	while (!stop)
		sigsuspend(&old);
	return 0;
}
