/* SPDX-License-Identifier: GPL-2.0 */
/*
 * target_core_user: the kernel APIs that differ between the trees this
 * driver builds against (Debian's 6.1 and 6.12), in one place.  Kbuild
 * tests the headers for each (TCMU_HAS_*); in tree, only the newest
 * branch of each remains.
 */
#ifndef TCMU_COMPAT_H
#define TCMU_COMPAT_H

#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>

/* 6.3 made vm_flags read-only: vm_flags_set() changes them. */
#ifndef TCMU_HAS_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/**
 * tcmu_shrinker_create() - allocate and register a shrinker
 * @count: its count_objects
 * @scan: its scan_objects
 * @seeks: its seeks
 * @name: its name (debugfs)
 *
 * Since 6.7 a shrinker is allocated by shrinker_alloc(); before, it was a
 * static struct given to register_shrinker().
 *
 * Context: Process context.  Sleeps.
 * Return: the shrinker, or NULL.
 */
static inline struct shrinker *
tcmu_shrinker_create(unsigned long (*count)(struct shrinker *,
					    struct shrink_control *),
		     unsigned long (*scan)(struct shrinker *,
					   struct shrink_control *),
		     int seeks, const char *name)
{
	struct shrinker *s;

#ifdef TCMU_HAS_SHRINKER_ALLOC
	s = shrinker_alloc(0, "%s", name);
	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = seeks;
	shrinker_register(s);
#else
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = seeks;
	if (register_shrinker(s, "%s", name)) {
		kfree(s);
		return NULL;
	}
#endif
	return s;
}

/**
 * tcmu_shrinker_destroy() - unregister and free what
 *                           tcmu_shrinker_create() made
 * @s: the shrinker
 *
 * Context: Process context.  Sleeps until running scans have ended.
 */
static inline void tcmu_shrinker_destroy(struct shrinker *s)
{
#ifdef TCMU_HAS_SHRINKER_ALLOC
	shrinker_free(s);
#else
	unregister_shrinker(s);
	kfree(s);
#endif
}

#endif /* TCMU_COMPAT_H */
