/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace kernel shim of the data area tests (shim.c): XArray node
 * slab, page allocator, a few bitmap helpers, with fault injection and
 * counters the tests check.
 */
#ifndef TCMU_ALLOC_SHIM_H
#define TCMU_ALLOC_SHIM_H

#include <stdbool.h>

struct shim_state {
	/* alloc_page() */
	unsigned long page_calls;	/* calls so far */
	long pages_live;		/* pages allocated and not freed */
	/* XArray nodes */
	unsigned long node_calls;
	bool nowait_fails;		/* non-blocking node allocations fail */
	long nodes_live;		/* freed through call_rcu(): lags */
	/* kmalloc() */
	long kmallocs_live;
	bool kmalloc_fails;		/* every kmalloc() fails */
	/*
	 * misuse seen: __GFP_ZERO on the node slab, __free_page() of NULL or
	 * of a page not from alloc_page()
	 */
	unsigned long errors;
	/* count WARN*()s without printing them (a test expects them) */
	bool quiet_warnings;
};

extern struct shim_state shim;

/* Fill for non-zeroed page allocations, to catch a missing __GFP_ZERO. */
#define SHIM_POISON	0xa5

void shim_init(void);
void shim_exit(void);	/* waits for RCU callbacks: nodes are freed */

/* Fail the n-th alloc_page() / node allocation from now (1 = next). */
void shim_fail_page_in(unsigned long n);
void shim_fail_node_in(unsigned long n);
/* Disarm those, nowait_fails and quiet_warnings off. */
void shim_no_failures(void);

/* Called by lib/xarray.c, which declares it itself. */
struct rcu_head;
void radix_tree_node_rcu_free(struct rcu_head *head);

#endif
