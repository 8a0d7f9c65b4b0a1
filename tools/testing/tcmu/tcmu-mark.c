// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-mark [fine] - run the marker instruction that make bench's QEMU
 * plugin (bench/insn-count.c) answers with a snapshot of its instruction
 * counters: per module page, and with "fine" per 16-byte slot too.
 * Without the plugin it is a no-op.
 *
 * The marker is "nopl 0x746d4b0K(%rax)": a 7-byte NOP whose 32-bit
 * displacement carries the plugin's magic and the kind K (1: pages,
 * 2: pages and slots).  The guest numbers the snapshots it asked for
 * (1, 2, ...); the plugin numbers them the same way.
 */
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "fine"))
		asm volatile(".byte 0x0f, 0x1f, 0x80, 0x02, 0x4b, 0x6d, 0x74");
	else
		asm volatile(".byte 0x0f, 0x1f, 0x80, 0x01, 0x4b, 0x6d, 0x74");
	return 0;
}
