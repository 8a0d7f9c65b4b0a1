/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's <linux/bug.h>: WARN*() from the allocator harness's
 * counting ../alloc/shim/asm/bug.h, included by its path (shim_warn() is
 * in fuzz.c), and tools/include's BUILD_BUG_ON*() (its own <linux/bug.h>
 * clashes with them).
 */
#ifndef TCMU_FUZZ_SHIM_LINUX_BUG_H
#define TCMU_FUZZ_SHIM_LINUX_BUG_H

#include <linux/build_bug.h>
#include "../../../alloc/shim/asm/bug.h"

#endif
