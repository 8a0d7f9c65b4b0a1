/* SPDX-License-Identifier: GPL-2.0 */
/*
 * __ffs() as the kernel has it on x86 (arch/x86/include/asm/bitops.h:
 * one tzcnt), in place of tools/include's generic C version, which takes
 * a dozen instructions and would weigh bit scans wrongly in the
 * benchmark's counts.
 */
#ifndef _TOOLS_LINUX_ASM_GENERIC_BITOPS___FFS_H_
#define _TOOLS_LINUX_ASM_GENERIC_BITOPS___FFS_H_

/* Undefined if no bit is set, as the kernel's. */
static __always_inline unsigned long __ffs(unsigned long word)
{
	return __builtin_ctzl(word);
}

#endif
