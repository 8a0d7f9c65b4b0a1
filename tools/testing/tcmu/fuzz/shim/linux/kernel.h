/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's <linux/kernel.h> gives IS_ALIGNED() too (<linux/align.h>). */
#ifndef TCMU_FUZZ_SHIM_LINUX_KERNEL_H
#define TCMU_FUZZ_SHIM_LINUX_KERNEL_H

#include_next <linux/kernel.h>
#include <linux/align.h>

#endif
