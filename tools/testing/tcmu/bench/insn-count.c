// SPDX-License-Identifier: GPL-2.0
/*
 * insn-count.c - a QEMU TCG plugin that counts the guest kernel's
 * executed instructions per 4 KiB page of module space, for make bench's
 * "instructions per I/O" (tools/testing/tcmu/bench/bench.sh).
 *
 * Every guest instruction in the kernel half of the address space gets
 * an inline add on a counter: one per page of the module area
 * (MODULES_VADDR, 0xffffffffc0000000 in a KASLR kernel such as Debian's,
 * up to the fixmap), one for the rest of the kernel ("core").  User-space instructions are not counted; they are only
 * looked at, when translated, for the marker: a 7-byte
 * "nopl MARK(%rax)" (0f 1f 80 + disp32) whose disp32 is MARK_MAGIC,
 * which tcmu-mark executes in the guest.  Each time a marker runs, the
 * plugin appends a snapshot of the counters to the output file:
 *
 *	mark SEQ core N
 *	pg ADDR N		(one per module page whose N changed)
 *	end
 *
 * SEQ counts the markers from 1; the guest numbers its own the same way
 * (it is the only one to run them).  The host matches a page to a module
 * with the base and size /proc/modules gave in the guest: modules are
 * page-aligned, and only their text executes.
 *
 * The counters are plain 64-bit adds from every vCPU thread
 * (QEMU_PLUGIN_INLINE_ADD_U64 is not atomic): two vCPUs running the same
 * page at the same moment can lose a count, a small undercount that is
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
#define MARK_MAGIC	0x746d4b00u	/* low byte: free for the guest */
#define MARK_MASK	0xffffff00u

static uint64_t *pages;		/* MOD_PAGES counters */
static uint64_t *told;		/* their values at the last snapshot */
static uint64_t core;
static uint64_t seq;
static FILE *out;

static void snapshot(unsigned int vcpu, void *udata)
{
	uint64_t i;

	(void)vcpu;
	(void)udata;
	fprintf(out, "mark %" PRIu64 " core %" PRIu64 "\n", ++seq, core);
	for (i = 0; i < MOD_PAGES; i++) {
		uint64_t n = pages[i];

		if (n == told[i])
			continue;
		told[i] = n;
		fprintf(out, "pg 0x%" PRIx64 " %" PRIu64 "\n",
			(uint64_t)(MOD_START + (i << PAGE_SHIFT)), n);
	}
	fputs("end\n", out);
	fflush(out);
}

static int is_marker(struct qemu_plugin_insn *insn)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);
	uint32_t disp;

	if (qemu_plugin_insn_size(insn) != 7 ||
	    b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80)
		return 0;
	memcpy(&disp, b + 3, sizeof(disp));
	return (disp & MARK_MASK) == MARK_MAGIC;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t pc = qemu_plugin_insn_vaddr(insn);
		uint64_t *ctr = &core;

		if (pc < KERNEL_START) {
			if (is_marker(insn))
				qemu_plugin_register_vcpu_insn_exec_cb(insn,
					snapshot, QEMU_PLUGIN_CB_NO_REGS, NULL);
			continue;
		}
		if (pc >= MOD_START && pc < MOD_END)
			ctr = &pages[(pc - MOD_START) >> PAGE_SHIFT];
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
		if (!strncmp(argv[i], "out=", 4))
			path = argv[i] + 4;
		else {
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
	told = calloc(MOD_PAGES, sizeof(*told));
	out = fopen(path, "w");
	if (!pages || !told || !out) {
		perror("insn-count");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
