/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's <linux/limits.h>, which tools/include lacks: what
 * data_area.c uses of it.
 */
#ifndef TCMU_SHIM_LINUX_LIMITS_H
#define TCMU_SHIM_LINUX_LIMITS_H

#include <linux/types.h>

#define U32_MAX		((u32)~0U)

#endif
