// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-mark - run the marker instruction that make bench's QEMU plugin
 * (bench/insn-count.c) answers with a snapshot of its instruction
 * counters.  Without the plugin it is a no-op.
 *
 * The marker is "nopl 0x746d4b01(%rax)": a 7-byte NOP whose 32-bit
 * displacement carries the plugin's magic.  The guest numbers the
 * snapshots it asked for (1, 2, ...); the plugin numbers them the same
 * way.
 */
int main(void)
{
	asm volatile(".byte 0x0f, 0x1f, 0x80, 0x01, 0x4b, 0x6d, 0x74");
	return 0;
}
