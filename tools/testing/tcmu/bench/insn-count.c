// SPDX-License-Identifier: GPL-2.0
/*
 * insn-count.c - a QEMU TCG plugin that counts the guest kernel's
 * executed instructions in module space, for make bench's "instructions
 * per I/O" (tools/testing/tcmu/bench/bench.sh).
 *
 * Every guest instruction in the kernel half of the address space gets
 * an inline add on a counter: one per 16-byte slot of the module area
 * (MODULES_VADDR, 0xffffffffc0000000 in a KASLR kernel such as Debian's,
 * up to the fixmap), made when a page of it is first translated, and one
 * for the rest of the kernel ("core").  A slot's count is the
 * instructions that started in it; x86-64 functions start 16-byte
 * aligned, so a function's count is the sum of its slots.
 *
 * A rep-prefixed string instruction (rep movs, rep stos, ...) executes
 * once per element under TCG: a 4 KiB memcpy that gcc inlines as rep
 * movsq counts 512.  Those go to a counter of their own, one per page
 * and one for the rest of the kernel, so that a module whose copies
 * gcc inlined and one that calls the kernel's memcpy compare alike.
 *
 * User-space instructions are not counted; they are only looked at,
 * when translated, for the marker: a 7-byte "nopl MARK(%rax)" (0f 1f 80
 * + disp32) whose disp32 is MARK_MAGIC plus a kind in the low byte,
 * which tcmu-mark executes in the guest.  Each time a marker runs, the
 * plugin appends a snapshot to the output file:
 *
 *	mark SEQ core N rep R
 *	pg ADDR N R		(one per module page whose total changed;
 *				 N: instructions, R: rep string iterations)
 *	sl ADDR N		(kind 2 only: one per slot, the instructions
 *				 since the previous kind-2 snapshot)
 *	end
 *
 * SEQ counts the markers from 1; the guest numbers its own the same way
 * (it is the only one to run them).  The host matches a page to a module
 * with the base and size /proc/modules gave in the guest, a slot to a
 * function with /proc/kallsyms: modules are page-aligned, and only their
 * text executes.
 *
 * The counters are plain 64-bit adds from every vCPU thread
 * (QEMU_PLUGIN_INLINE_ADD_U64 is not atomic): two vCPUs running the same
 * slot at the same moment can lose a count, a small undercount that is
 * the same for both modules measured.
 *
 * Usage: qemu-system-x86_64 -plugin ./insn-count.so,out=FILE ...
 * Built against include/qemu/qemu-plugin.h of the QEMU that loads it
 * (scripts/fetch-qemu-plugin-api.sh).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define KERNEL_START	0xffff800000000000ULL
#define MOD_START	0xffffffffc0000000ULL
#define MOD_END		0xffffffffff000000ULL
#define PAGE_SHIFT	12
#define MOD_PAGES	((MOD_END - MOD_START) >> PAGE_SHIFT)
#define SLOT_SHIFT	4
#define SLOTS		(1u << (PAGE_SHIFT - SLOT_SHIFT))
#define MARK_MAGIC	0x746d4b00u	/* low byte: the kind */
#define MARK_MASK	0xffffff00u

/* The counters of one module page, made when it is first translated. */
struct page_ctr {
	uint64_t slot[SLOTS];
	uint64_t told_slot[SLOTS];	/* at the last kind-2 snapshot */
	uint64_t rep;			/* rep string iterations */
	uint64_t told;			/* page total at the last snapshot */
	uint64_t told_rep;
};

static struct page_ctr **pages;	/* MOD_PAGES pointers */
static uint64_t core, core_rep;
static uint64_t seq;
static FILE *out;

static uint64_t mod_addr(uint64_t i, unsigned int s)
{
	return MOD_START + (i << PAGE_SHIFT) + ((uint64_t)s << SLOT_SHIFT);
}

static void snapshot(unsigned int vcpu, void *udata)
{
	unsigned int kind = (unsigned int)(uintptr_t)udata, s;
	uint64_t i;

	(void)vcpu;
	fprintf(out, "mark %" PRIu64 " core %" PRIu64 " rep %" PRIu64 "\n",
		++seq, core, core_rep);
	for (i = 0; i < MOD_PAGES; i++) {
		struct page_ctr *p = __atomic_load_n(&pages[i],
						     __ATOMIC_ACQUIRE);
		uint64_t n = 0;

		if (!p)
			continue;
		for (s = 0; s < SLOTS; s++)
			n += p->slot[s];
		if (n != p->told || p->rep != p->told_rep) {
			p->told = n;
			p->told_rep = p->rep;
			fprintf(out, "pg 0x%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				mod_addr(i, 0), n, p->told_rep);
		}
		if (kind != 2)
			continue;
		for (s = 0; s < SLOTS; s++) {
			uint64_t v = p->slot[s];

			if (v == p->told_slot[s])
				continue;
			fprintf(out, "sl 0x%" PRIx64 " %" PRIu64 "\n",
				mod_addr(i, s), v - p->told_slot[s]);
			p->told_slot[s] = v;
		}
	}
	fputs("end\n", out);
	fflush(out);
}

/* The marker's kind (1 or more), or 0 if @insn is not a marker. */
static unsigned int marker_kind(struct qemu_plugin_insn *insn)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);
	uint32_t disp;

	if (qemu_plugin_insn_size(insn) != 7 ||
	    b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80)
		return 0;
	memcpy(&disp, b + 3, sizeof(disp));
	if ((disp & MARK_MASK) != MARK_MAGIC)
		return 0;
	return disp & ~MARK_MASK;
}

/*
 * Whether @insn is a string instruction with a rep prefix (F3 or F2),
 * after any other legacy prefixes and a REX prefix.
 */
static int is_rep_string(struct qemu_plugin_insn *insn)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);
	size_t i, n = qemu_plugin_insn_size(insn);
	int rep = 0;

	for (i = 0; i < n; i++) {
		switch (b[i]) {
		case 0xf2: case 0xf3:
			rep = 1;
			continue;
		case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64:
		case 0x65: case 0x66: case 0x67:
			continue;
		}
		break;
	}
	if (i < n && (b[i] & 0xf0) == 0x40)	/* REX */
		i++;
	if (!rep || i >= n)
		return 0;
	switch (b[i]) {
	case 0x6c: case 0x6d: case 0x6e: case 0x6f:	/* ins, outs */
	case 0xa4: case 0xa5: case 0xa6: case 0xa7:	/* movs, cmps */
	case 0xaa: case 0xab: case 0xac: case 0xad:	/* stos, lods */
	case 0xae: case 0xaf:				/* scas */
		return 1;
	}
	return 0;
}

/* The counters of module page @i; vCPUs may translate in parallel. */
static struct page_ctr *page_ctr(uint64_t i)
{
	struct page_ctr *p = __atomic_load_n(&pages[i], __ATOMIC_ACQUIRE);
	struct page_ctr *none = NULL;

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p) {
		perror("insn-count");
		abort();
	}
	if (!__atomic_compare_exchange_n(&pages[i], &none, p, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(p);
		p = none;
	}
	return p;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t pc = qemu_plugin_insn_vaddr(insn);
		uint64_t *ctr = &core;
		unsigned int kind;

		if (pc < KERNEL_START) {
			kind = marker_kind(insn);
			if (kind)
				qemu_plugin_register_vcpu_insn_exec_cb(insn,
					snapshot, QEMU_PLUGIN_CB_NO_REGS,
					(void *)(uintptr_t)kind);
			continue;
		}
		if (pc >= MOD_START && pc < MOD_END) {
			uint64_t off = pc - MOD_START;
			struct page_ctr *p = page_ctr(off >> PAGE_SHIFT);

			if (is_rep_string(insn))
				ctr = &p->rep;
			else
				ctr = &p->slot[(off & ((1u << PAGE_SHIFT) - 1)) >>
					       SLOT_SHIFT];
		} else if (is_rep_string(insn)) {
			ctr = &core_rep;
		}
		qemu_plugin_register_vcpu_insn_exec_inline(insn,
			QEMU_PLUGIN_INLINE_ADD_U64, ctr, 1);
	}
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	(void)id;
	(void)p;
	fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *path = NULL;
	int i;

	if (strcmp(info->target_name, "x86_64") || !info->system_emulation) {
		fprintf(stderr, "insn-count: x86_64 system emulation only\n");
		return -1;
	}
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4)) {
			path = argv[i] + 4;
		} else {
			fprintf(stderr, "insn-count: unknown argument %s\n",
				argv[i]);
			return -1;
		}
	}
	if (!path) {
		fprintf(stderr, "insn-count: out=FILE is required\n");
		return -1;
	}
	pages = calloc(MOD_PAGES, sizeof(*pages));
	out = fopen(path, "w");
	if (!pages || !out) {
		perror("insn-count");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
