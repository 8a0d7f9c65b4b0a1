/* SPDX-License-Identifier: GPL-2.0 */
/* tools/include's <linux/gfp.h> plus the page allocator entry points. */
#ifndef TCMU_SHIM_LINUX_GFP_H
#define TCMU_SHIM_LINUX_GFP_H

#include_next <linux/gfp.h>

void *alloc_pages_exact(size_t size, gfp_t gfp_mask);
void free_pages_exact(void *virt, size_t size);

#endif
