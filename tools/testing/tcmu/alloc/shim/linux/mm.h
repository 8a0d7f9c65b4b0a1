/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in for <linux/mm.h>: just what data_area.c uses. */
#ifndef TCMU_SHIM_LINUX_MM_H
#define TCMU_SHIM_LINUX_MM_H

#include <linux/const.h>
#include <linux/gfp.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(_AC(1, UL) << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))

/*
 * A page of the shim's alloc_page(): a descriptor of its own and a
 * separate page-aligned PAGE_SIZE buffer, both freed by __free_page(), so
 * ASan catches a use of either after the free.  @magic tells a page from
 * alloc_page() from anything else handed to __free_page().
 */
struct page {
	void *virt;
	unsigned long magic;
};

static inline void *page_address(const struct page *page)
{
	return page->virt;
}

#endif
