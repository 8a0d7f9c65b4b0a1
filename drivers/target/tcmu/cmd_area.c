// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: the command area, filled lazily.
 *
 * The mailbox and the command ring fill the first TCMU_CMD_WIN bytes of
 * the handler's mapping, and the mailbox advertises all of it: cmdr_size
 * is TCMU_CMD_WIN minus the mailbox.  Only an active span of it, pages
 * 0 .. span_pages - 1, has memory: order-0 pages, vmap()ed for the kernel
 * and mapped into the handler by its faults.  Entries stay inside the
 * span: when one would cross its end, the kernel writes a PAD entry that
 * runs to cmdr_size, just as every TCMU kernel pads at the end of the
 * ring, so the handler's "tail = (tail + len) % cmdr_size" wraps to 0
 * and never reaches past the span.
 *
 * The span starts at TCMU_SPAN_MIN_PAGES, doubles when an entry finds no
 * room (up to cmd_ring_size_mb) and goes back to TCMU_SPAN_MIN_PAGES once
 * the device has been idle for data_idle_timeout with an empty ring.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "tcmu.h"

/* Devices whose span is larger than TCMU_SPAN_MIN_PAGES. */
static atomic_t tcmu_grown_spans = ATOMIC_INIT(0);

/* Ring bytes in a span of @pages pages. */
static u32 tcmu_span_bytes(u32 pages)
{
	return pages * PAGE_SIZE - TCMU_MB_SIZE;
}

/* The largest span, from cmd_ring_size_mb. */
static u32 tcmu_span_cap(const struct tcmu_device *td)
{
	return TCMU_MB_TO_PAGES(td->ring_mb);
}

/*
 * Make the span @pages pages: allocate (zeroed) the pages a growing span
 * adds, vmap() the new span, then drop the old mapping and the pages a
 * shrinking span loses; the handler must no longer map those.  Nothing
 * changes on failure.  Runs in the submission path: no I/O for memory.
 */
static int tcmu_span_set(struct tcmu_device *td, u32 pages)
{
	u32 old = td->span_pages, i;
	struct page **arr;
	unsigned int noio;
	void *ring;
	int ret = -ENOMEM;

	lockdep_assert_held(&td->cmdr_lock);

	noio = memalloc_noio_save();
	arr = kvmalloc_array(pages, sizeof(*arr), GFP_KERNEL | __GFP_NOWARN);
	if (!arr)
		goto out;
	if (old)
		memcpy(arr, td->ring_pages, min(old, pages) * sizeof(*arr));
	for (i = old; i < pages; i++) {
		arr[i] = alloc_page(TCMU_RING_GFP);
		if (!arr[i])
			goto free_new;
	}
	ring = vmap(arr, pages, VM_MAP, PAGE_KERNEL);
	if (!ring)
		goto free_new;

	if (td->ring)
		vunmap(td->ring);
	for (i = pages; i < old; i++)
		put_page(td->ring_pages[i]);
	kvfree(td->ring_pages);
	td->ring_pages = arr;
	td->ring = ring;
	td->mb = ring;
	td->cmdr = ring + TCMU_MB_SIZE;
	td->span_pages = pages;
	td->cmdr_span = tcmu_span_bytes(pages);

	if (old == TCMU_SPAN_MIN_PAGES && pages > old) {
		atomic_inc(&tcmu_grown_spans);
		tcmu_reclaim_kick();
	} else if (old > TCMU_SPAN_MIN_PAGES && pages == TCMU_SPAN_MIN_PAGES) {
		atomic_dec(&tcmu_grown_spans);
	}
	ret = 0;
	goto out;

free_new:
	while (i-- > old)
		__free_page(arr[i]);
	kvfree(arr);
out:
	memalloc_noio_restore(noio);
	return ret;
}

/**
 * tcmu_cmdr_init() - the smallest span, an empty ring and the mailbox
 * @td: the device, being enabled
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 * Return: 0 or -ENOMEM.
 */
int tcmu_cmdr_init(struct tcmu_device *td)
{
	struct tcmu_mailbox *mb;
	int ret;

	lockdep_assert_held(&td->cmdr_lock);

	ret = tcmu_span_set(td, TCMU_SPAN_MIN_PAGES);
	if (ret)
		return ret;
	td->cmdr_size = TCMU_CMD_WIN - TCMU_MB_SIZE;
	td->cmdr_head = 0;
	td->cmdr_tail = 0;

	mb = td->mb;
	mb->version = TCMU_MAILBOX_VERSION;
	mb->flags = TCMU_MAILBOX_FLAG_CAP_OOOC |
		    TCMU_MAILBOX_FLAG_CAP_READ_LEN |
		    TCMU_MAILBOX_FLAG_CAP_TMR |
		    TCMU_MAILBOX_FLAG_CAP_KEEP_BUF;
	mb->cmdr_off = TCMU_MB_SIZE;
	mb->cmdr_size = td->cmdr_size;
	tcmu_flush_ring(mb, sizeof(*mb));
	return 0;
}

/**
 * tcmu_cmdr_destroy() - free the command area
 * @td: the device: no handler mapping left
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 */
void tcmu_cmdr_destroy(struct tcmu_device *td)
{
	u32 i;

	lockdep_assert_held(&td->cmdr_lock);

	if (td->ring)
		vunmap(td->ring);
	for (i = 0; i < td->span_pages; i++)
		put_page(td->ring_pages[i]);
	kvfree(td->ring_pages);
	if (td->span_pages > TCMU_SPAN_MIN_PAGES)
		atomic_dec(&tcmu_grown_spans);
	td->ring_pages = NULL;
	td->ring = NULL;
	td->mb = NULL;
	td->cmdr = NULL;
	td->span_pages = 0;
	td->cmdr_span = 0;
}

/**
 * tcmu_cmdr_page() - the page behind the command window's page @pgoff
 * @td: the device
 * @pgoff: page index in the handler's mapping, below TCMU_CMD_WIN
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 * Return: the page, or NULL beyond the active span.
 */
struct page *tcmu_cmdr_page(struct tcmu_device *td, pgoff_t pgoff)
{
	lockdep_assert_held(&td->cmdr_lock);

	return pgoff < td->span_pages ? td->ring_pages[pgoff] : NULL;
}

/**
 * tcmu_cmdr_any_grown() - does some device's span hold more than the
 *                         smallest span?
 *
 * Context: Any context.
 * Return: true if some span is larger than TCMU_SPAN_MIN_PAGES.
 */
bool tcmu_cmdr_any_grown(void)
{
	return atomic_read(&tcmu_grown_spans) > 0;
}

/*
 * Room at the head for @size bytes?  A wrapped ring (head < tail) has
 * room up to the tail; otherwise up to the span's end, or after a PAD
 * from the start up to the tail.  The head stays at least one alignment
 * unit short of the tail (head == tail means empty) and of the span's
 * end (a PAD header always fits there).
 */
static bool tcmu_cmdr_room(const struct tcmu_device *td, u32 size)
{
	u32 head = td->cmdr_head, tail = td->cmdr_tail;
	u64 end = (u64)head + size + TCMU_OP_ALIGN_SIZE;

	if (head < tail)
		return end <= tail;
	return end <= td->cmdr_span || (u64)size + TCMU_OP_ALIGN_SIZE <= tail;
}

/*
 * The ring bytes in use once an entry of @size is in: in a wrapped ring
 * (head < tail), up to its PAD and from 0 to the entry's end; otherwise
 * from the tail, with the PAD that goes before the entry if it would
 * cross the span's end.
 */
static u64 tcmu_cmdr_used_after(const struct tcmu_device *td, u32 size)
{
	u32 head = td->cmdr_head, tail = td->cmdr_tail;
	u64 end = (u64)head + size + TCMU_OP_ALIGN_SIZE;

	if (head < tail)
		return (u64)td->wrap_pos - tail + end;
	if (end > td->cmdr_span)
		return (u64)td->cmdr_span - tail + size + TCMU_OP_ALIGN_SIZE;
	return end - tail;
}

/* Make the span hold @need ring bytes, at least doubling it, up to the cap. */
static int tcmu_cmdr_grow(struct tcmu_device *td, u64 need)
{
	u64 pages = DIV_ROUND_UP(need + TCMU_MB_SIZE, PAGE_SIZE);

	pages = max_t(u64, pages, 2ULL * td->span_pages);
	return tcmu_span_set(td, min_t(u64, pages, tcmu_span_cap(td)));
}

/**
 * tcmu_cmdr_reserve() - make room at the head for an entry
 * @td: the device
 * @size: the entry's size in bytes, aligned
 *
 * Keeps the span at least twice the bytes in use: when the entry would
 * fill more than half of it, the span at least doubles (up to
 * cmd_ring_size_mb).  A handler that stalls then leaves as much room
 * again as its load took, so new commands still enter the ring and time
 * out there, as in a fixed ring, instead of waiting for room.  In a
 * ring that has wrapped (head < tail) the new pages are reachable only
 * once the tail wraps too: an entry that finds no room there grows the
 * span once per wrap, for then, and waits.
 *
 * Context: Process context.  Expects cmdr_lock to be held.  Allocates
 * with TCMU_RING_GFP in a memalloc_noio scope.
 * Return: 0 if the entry fits now; -EAGAIN if it must wait for the
 * handler to complete entries of a wrapped ring below the cap (a ring of
 * cmd_ring_size_mb would have room); -ENOSPC if it must wait in a span
 * of cmd_ring_size_mb; -E2BIG if it is too big for that; -ENOMEM if it
 * does not fit and the span could not grow.
 */
int tcmu_cmdr_reserve(struct tcmu_device *td, u32 size)
{
	u32 cap = tcmu_span_cap(td);
	u64 used, need;
	bool room;

	lockdep_assert_held(&td->cmdr_lock);

	/* Half a span: an empty ring takes the entry wherever its head is. */
	need = 2 * ((u64)size + TCMU_OP_ALIGN_SIZE);
	if (need > tcmu_span_bytes(cap))
		return -E2BIG;
	room = tcmu_cmdr_room(td, size);
	if (td->span_pages >= cap)
		return room ? 0 : -ENOSPC;
	if (td->cmdr_head < td->cmdr_tail) {
		if (room)
			return 0;
		if (td->cmdr_span <= td->wrap_span)
			tcmu_cmdr_grow(td, 2 * tcmu_cmdr_used_after(td, size));
		return -EAGAIN;
	}
	used = tcmu_cmdr_used_after(td, size);
	if (room && 2 * used <= td->cmdr_span)
		return 0;

	need = max3(need, 2 * used,
		    (u64)td->cmdr_head + size + TCMU_OP_ALIGN_SIZE);
	if (tcmu_cmdr_grow(td, need))
		return room ? 0 : -ENOMEM;
	/* Only a span capped below the entry's end leaves it waiting. */
	return tcmu_cmdr_room(td, size) ? 0 : -ENOSPC;
}

/* A PAD entry at the head, running to cmdr_size: the head wraps to 0. */
static void tcmu_cmdr_pad(struct tcmu_device *td)
{
	struct tcmu_cmd_entry_hdr *pad = td->cmdr + td->cmdr_head;
	u32 len_op = 0;

	tcmu_hdr_set_op(&len_op, TCMU_OP_PAD);
	tcmu_hdr_set_len(&len_op, td->cmdr_size - td->cmdr_head);
	pad->len_op = len_op;
	pad->cmd_id = 0;
	pad->kflags = 0;
	pad->uflags = 0;
	tcmu_flush_ring(pad, sizeof(*pad));
	td->wrap_pos = td->cmdr_head;
	td->wrap_span = td->cmdr_span;
	td->cmdr_head = 0;
}

/**
 * tcmu_cmdr_claim() - where the entry tcmu_cmdr_reserve() made room for goes
 * @td: the device
 * @size: the entry's size, as given to tcmu_cmdr_reserve()
 *
 * Writes a PAD first if the entry would cross the span's end.  The entry
 * is not visible to the handler until tcmu_cmdr_publish().
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 * Return: the entry's address in the kernel's mapping of the span.
 */
void *tcmu_cmdr_claim(struct tcmu_device *td, u32 size)
{
	lockdep_assert_held(&td->cmdr_lock);

	if ((u64)td->cmdr_head + size + TCMU_OP_ALIGN_SIZE > td->cmdr_span)
		tcmu_cmdr_pad(td);
	return td->cmdr + td->cmdr_head;
}

/**
 * tcmu_cmdr_publish() - make the claimed entries visible to the handler
 * @td: the device
 * @size: the size of the last claimed entry, 0 for none
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 */
void tcmu_cmdr_publish(struct tcmu_device *td, u32 size)
{
	lockdep_assert_held(&td->cmdr_lock);

	td->cmdr_head = (td->cmdr_head + size) % td->cmdr_size;
	/* Entries first, then the head that makes them visible. */
	smp_store_release(&td->mb->cmd_head, td->cmdr_head);
	tcmu_flush_ring(td->mb, sizeof(*td->mb));
}

/*
 * Does the ring hold no command: empty, or only the PAD the head last
 * wrapped at (the handler has not moved its tail past it yet)?
 */
static bool tcmu_cmdr_idle(const struct tcmu_device *td)
{
	return td->cmdr_head == td->cmdr_tail ||
	       (!td->cmdr_head && td->cmdr_tail == td->wrap_pos);
}

/*
 * The ring bytes that must stay in the span: up to the head (plus a PAD
 * header) and, in a wrapped ring, up to the PAD the head wrapped at.
 */
static u32 tcmu_cmdr_needed(const struct tcmu_device *td)
{
	if (td->cmdr_head < td->cmdr_tail)
		return td->wrap_pos + TCMU_OP_ALIGN_SIZE;
	return td->cmdr_head + TCMU_OP_ALIGN_SIZE;
}

/**
 * tcmu_cmdr_reclaim() - give an idle device's ring pages back
 * @td: the device, idle for data_idle_timeout
 *
 * Only a ring that holds no command shrinks (tcmu_cmdr_idle()): one
 * whose handler stalled keeps its commands' entries and the room that
 * tcmu_cmdr_reserve() kept beside them.  The span shrinks to the pages
 * the ring still needs (tcmu_cmdr_needed()), at least
 * TCMU_SPAN_MIN_PAGES; the handler's mappings of the others are removed
 * first (each page's lock waits for a fault in progress, as for data
 * blocks).  An empty ring whose head lies beyond the smallest span is
 * wrapped with a PAD first, and the handler kicked: once the handler
 * has moved its tail past the PAD (tcmu-runner does that when it
 * completes its next command), a later call shrinks the span to its
 * smallest size.
 *
 * Context: Process context.  Expects cmdr_lock to be held.
 * Return: the ring pages given back.
 */
unsigned long tcmu_cmdr_reclaim(struct tcmu_device *td)
{
	u32 old = td->span_pages, min = TCMU_SPAN_MIN_PAGES, pages, i;

	lockdep_assert_held(&td->cmdr_lock);

	if (old <= min || test_bit(TCMU_DEV_BROKEN, &td->flags))
		return 0;
	/* The handler may have moved its tail without a kick. */
	if (td->cmdr_head != td->cmdr_tail && tcmu_reap(td))
		tcmu_run_qfull(td);
	if (!tcmu_cmdr_idle(td))
		return 0;
	if (td->cmdr_head == td->cmdr_tail &&
	    td->cmdr_head + TCMU_OP_ALIGN_SIZE > tcmu_span_bytes(min)) {
		tcmu_cmdr_pad(td);
		tcmu_cmdr_publish(td, 0);
		uio_event_notify(&td->uio);
	}

	pages = DIV_ROUND_UP(TCMU_MB_SIZE + tcmu_cmdr_needed(td), PAGE_SIZE);
	pages = max(pages, min);
	if (pages >= old)
		return 0;
	for (i = pages; i < old; i++) {
		lock_page(td->ring_pages[i]);
		unlock_page(td->ring_pages[i]);
	}
	if (td->inode)
		unmap_mapping_range(td->inode->i_mapping,
				    (u64)pages << PAGE_SHIFT,
				    (u64)(old - pages) << PAGE_SHIFT, 1);
	if (tcmu_span_set(td, pages))
		return 0;
	/* A ring wrapped at its PAD may grow again at once. */
	td->wrap_span = td->cmdr_span;
	td->ring_reclaimed += old - pages;
	pr_debug("%s: gave back %u ring pages\n", td->name, old - pages);
	return old - pages;
}
