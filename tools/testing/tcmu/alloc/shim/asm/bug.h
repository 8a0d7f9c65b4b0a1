/* SPDX-License-Identifier: GPL-2.0 */
/*
 * WARN*() for the harness: every warning is printed and counted
 * (shim_warnings), so a test can tell an expected warning from a stray one.
 * Stands in for tools/include/asm/bug.h, which only prints.
 */
#ifndef TCMU_SHIM_ASM_BUG_H
#define TCMU_SHIM_ASM_BUG_H

#include <linux/compiler.h>

extern unsigned long shim_warnings;
void shim_warn(const char *file, int line);

#define WARN_ON(condition) ({					\
	int __ret_warn_on = !!(condition);			\
	if (unlikely(__ret_warn_on))				\
		shim_warn(__FILE__, __LINE__);			\
	unlikely(__ret_warn_on);				\
})

#define WARN(condition, format...)	WARN_ON(condition)
#define WARN_ONCE(condition, format...)	WARN_ON(condition)
#define WARN_ON_ONCE(condition)		WARN_ON(condition)

#endif
