// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace stand-ins for the kernel services lib/xarray.c and
 * data_area.c link against: the XArray node slab, the order-0 page
 * allocator (alloc_page()/__free_page(), a struct page over a buffer from
 * aligned_alloc()), warnings and a few bitmap helpers.  Allocations can be
 * made to fail on demand and are counted, so the tests can check roll-back
 * and that memory is given back exactly.
 */
#include <assert.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bitmap.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "shim.h"

struct shim_state shim;
unsigned long shim_warnings;

void shim_warn(const char *file, int line)
{
	__atomic_add_fetch(&shim_warnings, 1, __ATOMIC_RELAXED);
	if (!shim.quiet_warnings)
		fprintf(stderr, "WARNING: %s:%d\n", file, line);
}

static unsigned long page_fail_in, node_fail_in;

void shim_fail_page_in(unsigned long n)
{
	page_fail_in = n;
}

void shim_fail_node_in(unsigned long n)
{
	node_fail_in = n;
}

void shim_no_failures(void)
{
	page_fail_in = 0;
	node_fail_in = 0;
	shim.nowait_fails = false;
	shim.kmalloc_fails = false;
	shim.quiet_warnings = false;
}

/* Counts down an armed failure; true when this call must fail. */
static bool fail_now(unsigned long *in)
{
	if (!*in)
		return false;
	return --*in == 0;
}

/* ---- page allocator ------------------------------------------------ */

#define SHIM_PAGE_MAGIC	0x7463706167650000UL

struct page *alloc_page(gfp_t gfp)
{
	struct page *page;

	shim.page_calls++;
	if (fail_now(&page_fail_in))
		return NULL;
	page = malloc(sizeof(*page));
	assert(page);
	page->virt = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	assert(page->virt);
	page->magic = SHIM_PAGE_MAGIC;
	memset(page->virt, (gfp & __GFP_ZERO) ? 0 : SHIM_POISON, PAGE_SIZE);
	shim.pages_live++;
	return page;
}

/*
 * A page freed twice is a use after free of its descriptor: ASan reports
 * it.  (Without ASan, the micro-benchmark's build, its magic is cleared on
 * the first free, which usually catches it.)
 */
void __free_page(struct page *page)
{
	/*
	 * ASan reports the size it was asked for: a buffer of another size
	 * is not one of ours.  glibc's may be larger (no ASan).
	 */
#ifdef __SANITIZE_ADDRESS__
	if (!page || page->magic != SHIM_PAGE_MAGIC ||
	    ((unsigned long)page->virt & ~PAGE_MASK) ||
	    malloc_usable_size(page->virt) != PAGE_SIZE) {
#else
	if (!page || page->magic != SHIM_PAGE_MAGIC ||
	    ((unsigned long)page->virt & ~PAGE_MASK)) {
#endif
		fprintf(stderr, "%s(%p): not a page from alloc_page()\n",
			__func__, (void *)page);
		shim.errors++;
		return;
	}
	page->magic = 0;
	free(page->virt);
	free(page);
	shim.pages_live--;
}

/* ---- kmalloc ------------------------------------------------------- */

void *kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	if (shim.kmalloc_fails)
		return NULL;
	p = gfp & __GFP_ZERO ? calloc(1, size) : malloc(size);
	assert(p);
	if (!(gfp & __GFP_ZERO))
		memset(p, SHIM_POISON, size);
	shim.kmallocs_live++;
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	free(p);
	shim.kmallocs_live--;
}

/* ---- XArray node slab ---------------------------------------------- */

struct kmem_cache {
	size_t size;
};

static struct kmem_cache node_cache = { .size = sizeof(struct xa_node) };
struct kmem_cache *radix_tree_node_cachep = &node_cache;

void *kmem_cache_alloc_lru(struct kmem_cache *cachep, struct list_lru *lru,
			   int flags)
{
	gfp_t gfp = flags;
	struct xa_node *node;

	(void)lru;
	assert(cachep == &node_cache);
	__atomic_add_fetch(&shim.node_calls, 1, __ATOMIC_RELAXED);
	/* The kernel's node slab has a constructor: __GFP_ZERO is a bug. */
	if (gfp & __GFP_ZERO) {
		fprintf(stderr, "node allocation with __GFP_ZERO\n");
		shim.errors++;
	}
	if (shim.nowait_fails && !(gfp & __GFP_DIRECT_RECLAIM))
		return NULL;
	if (fail_now(&node_fail_in))
		return NULL;
	/* What the kernel's constructor leaves in a fresh node. */
	node = calloc(1, cachep->size);
	assert(node);
	INIT_LIST_HEAD(&node->private_list);
	__atomic_add_fetch(&shim.nodes_live, 1, __ATOMIC_RELAXED);
	return node;
}

void kmem_cache_free(struct kmem_cache *cachep, void *objp)
{
	assert(cachep == &node_cache);
	free(objp);
	__atomic_sub_fetch(&shim.nodes_live, 1, __ATOMIC_RELAXED);
}

/* The RCU callback xa_node_free() queues; runs in liburcu's thread. */
void radix_tree_node_rcu_free(struct rcu_head *head)
{
	kmem_cache_free(radix_tree_node_cachep,
			container_of(head, struct xa_node, rcu_head));
}

/* ---- bitmap helpers tools/include declares but does not define ------ */

/* A word at a time, as lib/find_bit.c: the micro-benchmark times them. */
unsigned long _find_next_bit(const unsigned long *addr, unsigned long nbits,
			     unsigned long start)
{
	unsigned long idx = start / BITS_PER_LONG, word, bit;

	if (start >= nbits)
		return nbits;
	word = addr[idx] & (~0UL << (start % BITS_PER_LONG));
	while (!word) {
		if (++idx * BITS_PER_LONG >= nbits)
			return nbits;
		word = addr[idx];
	}
	bit = idx * BITS_PER_LONG + __builtin_ctzl(word);
	return bit < nbits ? bit : nbits;
}

unsigned long _find_first_bit(const unsigned long *addr, unsigned long size)
{
	return _find_next_bit(addr, size, 0);
}

unsigned long find_last_bit(const unsigned long *addr, unsigned long size)
{
	unsigned long bit = size;

	while (bit--)
		if (test_bit(bit, addr))
			return bit;
	return size;
}

/*
 * Newer tools/include headers have bitmap_clear() inline, calling
 * tools/lib's __bitmap_clear() (TOOLS_BITMAP_CLEAR: see the Makefile).
 */
#ifdef TOOLS_BITMAP_CLEAR
void __bitmap_clear(unsigned long *map, unsigned int start, int len)
#else
void bitmap_clear(unsigned long *map, unsigned int start, int len)
#endif
{
	while (len-- > 0)
		__clear_bit(start++, map);
}

/* ---- setup --------------------------------------------------------- */

void shim_init(void)
{
	rcu_register_thread();
}

void shim_exit(void)
{
	rcu_barrier();
	rcu_unregister_thread();
}
