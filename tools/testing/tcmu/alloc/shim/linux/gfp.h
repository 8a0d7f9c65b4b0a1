/* SPDX-License-Identifier: GPL-2.0 */
/* tools/include's <linux/gfp.h> plus the order-0 page allocator (shim.c). */
#ifndef TCMU_SHIM_LINUX_GFP_H
#define TCMU_SHIM_LINUX_GFP_H

#include_next <linux/gfp.h>

struct page;

/* Functions here, macros over alloc_pages()/__free_pages() in the kernel. */
struct page *alloc_page(gfp_t gfp_mask);
void __free_page(struct page *page);

#endif
