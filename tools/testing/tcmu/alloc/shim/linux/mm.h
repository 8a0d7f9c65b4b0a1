/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <linux/mm.h>: just what tcmu_data_area.c uses. */
#ifndef TCMU_SHIM_LINUX_MM_H
#define TCMU_SHIM_LINUX_MM_H

#include <linux/const.h>
#include <linux/gfp.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(_AC(1, UL) << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))

#endif
