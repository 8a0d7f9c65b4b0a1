// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: the module, the UIO device (mmap, fault, open, release, kicks)
 * and each device's life from LIO's alloc_device to free_device.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/stringify.h>
#include <target/target_core_fabric.h>

#include "compat.h"
#include "tcmu.h"

static struct device *tcmu_root;

/*
 * A fault in the data window maps the present pages of the aligned
 * window this large around it (the largest command with hw_max_sectors
 * 2048), TCMU_FAULT_BATCH at a time.
 */
#define TCMU_FAULT_AROUND	SZ_1M
#define TCMU_FAULT_BATCH	32UL

/* ---------------------------------------------------------------------
 * Device references
 */

/* Free the ring and the data area, if the device was ever enabled. */
static void tcmu_free_ring(struct tcmu_device *td)
{
	lockdep_assert_held(&td->cmdr_lock);

	if (!td->ready)
		return;
	tcmu_data_destroy(td);
	tcmu_cmdr_destroy(td);
	td->ready = false;
}

static void tcmu_dev_free_rcu(struct rcu_head *head)
{
	struct se_device *se_dev = container_of(head, struct se_device,
						rcu_head);
	struct tcmu_device *td = TCMU_DEV(se_dev);

	kfree(td->uio.name);
	kfree(td->name);
	kfree(td);
}

/* The last reference: no VMA, no LIO user, no timer or work left. */
static void tcmu_dev_release(struct kref *kref)
{
	struct tcmu_device *td = container_of(kref, struct tcmu_device, kref);
	struct tcmu_req *req;
	unsigned long id;

	mutex_lock(&td->cmdr_lock);
	xa_for_each(&td->reqs, id, req) {
		/* LIO drained its commands: only TIMEDOUT and KEPT remain. */
		WARN_ON_ONCE(req->state == TCMU_REQ_RING);
		xa_erase(&td->reqs, id);
		tcmu_req_free(req);
	}
	xa_destroy(&td->reqs);
	WARN_ON_ONCE(!list_empty(&td->qfull_list));
	tcmu_drop_tmrs(td);
	tcmu_free_ring(td);
	mutex_unlock(&td->cmdr_lock);

	call_rcu(&td->se_dev.rcu_head, tcmu_dev_free_rcu);
}

static void tcmu_dev_put(struct tcmu_device *td)
{
	kref_put(&td->kref, tcmu_dev_release);
}

/* ---------------------------------------------------------------------
 * UIO: the handler's mapping and its kicks
 */

static void tcmu_vm_open(struct vm_area_struct *vma)
{
	struct tcmu_device *td = vma->vm_private_data;

	kref_get(&td->kref);
}

static void tcmu_vm_close(struct vm_area_struct *vma)
{
	tcmu_dev_put(vma->vm_private_data);
}

/*
 * The page at @off of the handler's mapping: a page of the command area's
 * span or of a data block that has memory; NULL for anything else.
 */
static struct page *tcmu_map_page(struct tcmu_device *td, u64 off)
{
	u32 blk, in_blk;

	lockdep_assert_held(&td->cmdr_lock);

	if (off < TCMU_CMD_WIN)
		return tcmu_cmdr_page(td, off >> PAGE_SHIFT);
	blk = div_u64_rem(off - TCMU_DATA_OFF, td->da.blk_size, &in_blk);
	if (blk >= td->da.max_blocks)
		return NULL;
	return tcmu_da_page(&td->da, blk, in_blk >> PAGE_SHIFT);
}

/*
 * A fault in the command window: the page, pinned and locked before
 * cmdr_lock is dropped, so that shrinking the span, which locks each page
 * before it unmaps it, waits for this fault's PTE and then zaps it.
 */
static vm_fault_t tcmu_vm_fault_ring(struct vm_fault *vmf,
				     struct tcmu_device *td, u64 off)
{
	struct page *page;

	mutex_lock(&td->cmdr_lock);
	page = tcmu_map_page(td, off);
	if (!page) {
		mutex_unlock(&td->cmdr_lock);
		pr_debug("%s: fault at offset %llu, beyond the ring's span\n",
			 td->name, off);
		return VM_FAULT_SIGBUS;
	}
	get_page(page);
	lock_page(page);
	mutex_unlock(&td->cmdr_lock);

	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/*
 * Map @n pages of @pages at @addr, skipping those already mapped (a
 * fault of another thread, or an earlier fault-around).  Return: 0 or
 * vm_insert_pages()' first other error, when it stopped there.
 */
static int tcmu_insert_pages(struct vm_area_struct *vma, unsigned long addr,
			     struct page **pages, unsigned long n)
{
	unsigned long left, done;
	int err;

	while (n) {
		left = n;
		err = vm_insert_pages(vma, addr, pages, &left);
		if (err != -EBUSY)
			return err;
		/* pages[done] is mapped already. */
		done = n - left;
		addr += (done + 1) << PAGE_SHIFT;
		pages += done + 1;
		n = left - 1;
	}
	return 0;
}

/*
 * A fault in the data window: map the faulting page and, with it, every
 * present page of the TCMU_FAULT_AROUND-aligned window around it (within
 * the VMA), TCMU_FAULT_BATCH at a time.  A 1 MiB command on blocks the
 * handler never touched costs one or two faults, not 256, whichever way
 * the handler goes through it: glibc's memcpy() copies some buffers from
 * the end.  Only the faulting page's error fails the fault; one in the
 * window ends it.
 *
 * cmdr_lock is held until the PTEs are in: reclaim removes mappings
 * under it, so no block can be given back between its lookup here and
 * its PTE.  vm_insert_pages() may allocate a page table, under cmdr_lock,
 * which the submission path takes: no I/O for that allocation, as for
 * every other allocation under cmdr_lock.
 */
static vm_fault_t tcmu_vm_fault_data(struct vm_fault *vmf,
				     struct tcmu_device *td, u64 off)
{
	struct vm_area_struct *vma = vmf->vma;
	/* Where offset 0 would be in the VMA: @at is at base + @at. */
	unsigned long base = vmf->address - off;
	struct page *pages[TCMU_FAULT_BATCH];
	vm_fault_t ret = VM_FAULT_NOPAGE;
	u64 at, end, next;
	unsigned int noio;
	unsigned long n;
	int err;

	at = max_t(u64, round_down(off, TCMU_FAULT_AROUND), vma->vm_start - base);
	end = min3(round_down(off, TCMU_FAULT_AROUND) + TCMU_FAULT_AROUND,
		   (u64)(vma->vm_end - base), TCMU_MAP_SIZE);

	mutex_lock(&td->cmdr_lock);
	noio = memalloc_noio_save();
	pages[0] = tcmu_map_page(td, off);
	if (!pages[0]) {
		pr_debug("%s: fault at offset %llu, which has no memory\n",
			 td->name, off);
		ret = VM_FAULT_SIGBUS;
		goto out;
	}
	err = vm_insert_page(vma, vmf->address, pages[0]);
	if (err && err != -EBUSY) {
		ret = err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
		goto out;
	}
	while (at < end) {
		/* A batch of adjacent present pages... */
		for (n = 0, next = at; n < TCMU_FAULT_BATCH && next < end;
		     n++, next += PAGE_SIZE) {
			pages[n] = tcmu_map_page(td, next);
			if (!pages[n])
				break;
		}
		if (n && tcmu_insert_pages(vma, base + at, pages, n))
			break;
		/* ...and the page without memory that ended it. */
		at = next + (n < TCMU_FAULT_BATCH ? PAGE_SIZE : 0);
	}
out:
	memalloc_noio_restore(noio);
	mutex_unlock(&td->cmdr_lock);
	return ret;
}

static vm_fault_t tcmu_vm_fault(struct vm_fault *vmf)
{
	struct tcmu_device *td = vmf->vma->vm_private_data;
	u64 off = (u64)vmf->pgoff << PAGE_SHIFT;

	if (off >= TCMU_MAP_SIZE)
		return VM_FAULT_SIGBUS;
	if (off < TCMU_CMD_WIN)
		return tcmu_vm_fault_ring(vmf, td, off);
	return tcmu_vm_fault_data(vmf, td, off);
}

static const struct vm_operations_struct tcmu_vm_ops = {
	.open = tcmu_vm_open,
	.close = tcmu_vm_close,
	.fault = tcmu_vm_fault,
};

static int tcmu_uio_mmap(struct uio_info *info, struct vm_area_struct *vma)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);

	/* The whole region, exactly: map 0 at offset 0. */
	if (vma->vm_pgoff || vma_pages(vma) != TCMU_MAP_SIZE >> PAGE_SHIFT)
		return -EINVAL;

	/* VM_MIXEDMAP: data faults map pages with vm_insert_pages(). */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP | VM_MIXEDMAP);
	vma->vm_ops = &tcmu_vm_ops;
	vma->vm_private_data = td;
	tcmu_vm_open(vma);
	return 0;
}

static int tcmu_uio_open(struct uio_info *info, struct inode *inode)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);

	/* One handler at a time (O_EXCL does not work on char devices). */
	if (test_and_set_bit(TCMU_DEV_OPEN, &td->flags))
		return -EBUSY;
	mutex_lock(&td->cmdr_lock);
	td->inode = inode;
	mutex_unlock(&td->cmdr_lock);
	pr_debug("%s: opened\n", td->name);
	return 0;
}

static int tcmu_uio_release(struct uio_info *info, struct inode *inode)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);
	struct tcmu_req *req;
	unsigned long id;
	bool freed = false;

	mutex_lock(&td->cmdr_lock);
	/*
	 * Each VMA holds the file, so none is left: nothing to unmap until
	 * the next open.  The inode may be freed once we return (a node on
	 * a tmpfs, unlinked): reclaim must not reach it.
	 */
	td->inode = NULL;
	/*
	 * KEPT buffers belong to the handler that closed: a new one cannot
	 * know their ids, so they go now.
	 */
	xa_for_each(&td->reqs, id, req) {
		if (req->state != TCMU_REQ_KEPT)
			continue;
		xa_erase(&td->reqs, id);
		tcmu_req_free(req);
		freed = true;
	}
	if (freed && list_empty(&td->tmr_list))
		tcmu_run_qfull(td);
	mutex_unlock(&td->cmdr_lock);

	clear_bit(TCMU_DEV_OPEN, &td->flags);
	pr_debug("%s: closed\n", td->name);
	return 0;
}

/* A 4-byte write() on the UIO fd: userspace completed something. */
static int tcmu_uio_irqcontrol(struct uio_info *info, s32 irq_on)
{
	struct tcmu_device *td = container_of(info, struct tcmu_device, uio);

	mutex_lock(&td->cmdr_lock);
	if (tcmu_reap(td))
		tcmu_run_qfull(td);
	mutex_unlock(&td->cmdr_lock);
	return 0;
}

/* ---------------------------------------------------------------------
 * Device lifecycle
 */

static int tcmu_attach_hba(struct se_hba *hba, u32 host_id)
{
	struct tcmu_hba *th;

	th = kzalloc(sizeof(*th), GFP_KERNEL);
	if (!th)
		return -ENOMEM;
	th->host_id = host_id;
	hba->hba_ptr = th;
	return 0;
}

static void tcmu_detach_hba(struct se_hba *hba)
{
	kfree(hba->hba_ptr);
	hba->hba_ptr = NULL;
}

static struct se_device *tcmu_alloc_device(struct se_hba *hba,
					   const char *name)
{
	struct tcmu_device *td;

	td = kzalloc(sizeof(*td), GFP_KERNEL);
	if (!td)
		return NULL;
	td->name = kstrdup(name, GFP_KERNEL);
	if (!td->name) {
		kfree(td);
		return NULL;
	}
	kref_init(&td->kref);
	td->hba = hba;
	INIT_LIST_HEAD(&td->dev_node);
	td->cmd_time_out = TCMU_TIME_OUT_DEF;
	td->qfull_time_out = -1;
	td->ring_mb = TCMU_RING_MB_DEF;
	td->data_mb = TCMU_DATA_MB_DEF;
	td->pages_per_blk = TCMU_PAGES_PER_BLK_DEF;
	td->idle_timeout = TCMU_IDLE_TIMEOUT_DEF;
	td->hwm_half_life = TCMU_HWM_HALF_LIFE_DEF;
	td->wake_delay_us = TCMU_WAKE_DELAY_US_DEF;
	td->wake_batch = TCMU_WAKE_BATCH_DEF;

	mutex_init(&td->cmdr_lock);
	tcmu_ring_init_dev(td);
	INIT_LIST_HEAD(&td->nl_wait.node);
	init_completion(&td->nl_wait.done);
	return &td->se_dev;
}

/* The UIO device's name, which handlers match: a new kmalloc()ed string. */
static char *tcmu_uio_name(struct tcmu_device *td)
{
	struct tcmu_hba *th = td->hba->hba_ptr;

	if (td->dev_config[0])
		return kasprintf(GFP_KERNEL, "tcm-user/%u/%s/%s", th->host_id,
				 td->name, td->dev_config);
	return kasprintf(GFP_KERNEL, "tcm-user/%u/%s", th->host_id, td->name);
}

/**
 * tcmu_swap_uio_name() - rename the registered UIO device after dev_config
 * @td: the device
 *
 * Handlers find their device by the UIO name, which includes dev_config.
 * UIO's sysfs "name" and our netlink events read the name under the UIO
 * device's info_lock, so the old one is freed only once no reader can
 * hold it.
 *
 * Context: Process context.  Takes the UIO device's info_lock.
 * Return: 0, or -ENOMEM (the old name stays).
 */
int tcmu_swap_uio_name(struct tcmu_device *td)
{
	struct uio_device *idev = td->uio.uio_dev;
	const char *old;
	char *name;

	name = tcmu_uio_name(td);
	if (!name)
		return -ENOMEM;
	mutex_lock(&idev->info_lock);
	old = td->uio.name;
	td->uio.name = name;
	mutex_unlock(&idev->info_lock);
	kfree(old);
	return 0;
}

/* Set up the command area and the (empty) data area.  cmdr_lock held. */
static int tcmu_setup_ring(struct tcmu_device *td)
{
	u32 bsz = td->pages_per_blk << PAGE_SHIFT;
	u32 limit = ((u64)td->data_mb * SZ_1M) / bsz;
	int ret;

	lockdep_assert_held(&td->cmdr_lock);

	if (td->ready)	/* still mapped after a failed enable */
		return -EBUSY;
	ret = tcmu_da_init(&td->da, TCMU_DATA_WIN / bsz, limit, bsz);
	if (ret)
		return ret;
	ret = tcmu_cmdr_init(td);
	if (ret) {
		tcmu_data_destroy(td);
		return ret;
	}
	td->last_active = jiffies;
	td->hwm = 0;
	td->win_peak = 0;
	td->hwm_stamp = jiffies;
	td->ready = true;
	return 0;
}

static int tcmu_configure_device(struct se_device *dev)
{
	struct tcmu_device *td = TCMU_DEV(dev);
	struct uio_info *info = &td->uio;
	int ret;

	kfree(info->name);
	info->name = tcmu_uio_name(td);
	if (!info->name)
		return -ENOMEM;

	mutex_lock(&td->cmdr_lock);
	ret = tcmu_setup_ring(td);
	mutex_unlock(&td->cmdr_lock);
	if (ret)
		goto err_name;

	info->version = __stringify(TCMU_MAILBOX_VERSION);
	info->mem[0].name = "tcm-user command & data buffer";
	/*
	 * Shown in sysfs (maps/map0/addr), used by nothing: stock shows the
	 * ring's kernel address there, we show none.
	 */
	info->mem[0].addr = 0;
	info->mem[0].size = TCMU_MAP_SIZE;
	info->mem[0].memtype = UIO_MEM_NONE;
	info->irqcontrol = tcmu_uio_irqcontrol;
	info->irq = UIO_IRQ_CUSTOM;
	info->mmap = tcmu_uio_mmap;
	info->open = tcmu_uio_open;
	info->release = tcmu_uio_release;

	ret = uio_register_device(tcmu_root, info);
	if (ret)
		goto err_ring;

	if (!dev->dev_attrib.hw_block_size)
		dev->dev_attrib.hw_block_size = 512;
	if (!dev->dev_attrib.hw_max_sectors)
		dev->dev_attrib.hw_max_sectors = 128;
	dev->dev_attrib.hw_queue_depth = 128;

	/* Unless disabled for this device, follow what the daemon said. */
	if (td->nl_reply_supported >= 0)
		td->nl_reply_supported = tcmu_nl_daemon_replies();

	/* The UIO device may be closed after LIO frees the device. */
	kref_get(&td->kref);

	ret = tcmu_nl_send_simple(td, TCMU_CMD_ADDED_DEVICE);
	if (ret)
		goto err_netlink;

	tcmu_reclaim_add_dev(td);
	return 0;

err_netlink:
	kref_put(&td->kref, tcmu_dev_release);	/* not the last one */
	uio_unregister_device(info);
	/* A handler's mapping keeps the ring until its last reference. */
	if (kref_read(&td->kref) > 1)
		goto err_name;
err_ring:
	mutex_lock(&td->cmdr_lock);
	tcmu_free_ring(td);
	mutex_unlock(&td->cmdr_lock);
err_name:
	kfree(info->name);
	info->name = NULL;
	return ret;
}

static void tcmu_destroy_device(struct se_device *dev)
{
	struct tcmu_device *td = TCMU_DEV(dev);

	tcmu_ring_stop_timer(td);
	tcmu_reclaim_del_dev(td);

	tcmu_nl_send_simple(td, TCMU_CMD_REMOVED_DEVICE);
	uio_unregister_device(&td->uio);

	tcmu_dev_put(td);	/* the configure reference */
}

static void tcmu_free_device(struct se_device *dev)
{
	tcmu_dev_put(TCMU_DEV(dev));	/* the alloc reference */
}

static sector_t tcmu_get_blocks(struct se_device *dev)
{
	struct tcmu_device *td = TCMU_DEV(dev);

	return div_u64(td->dev_size - dev->dev_attrib.block_size,
		       dev->dev_attrib.block_size);
}

/* ---------------------------------------------------------------------
 * Module
 */

static struct target_backend_ops tcmu_backend_ops = {
	.name			= "user",
	.owner			= THIS_MODULE,
	.transport_flags_default = TRANSPORT_FLAG_PASSTHROUGH,
	.transport_flags_changeable = TRANSPORT_FLAG_PASSTHROUGH_PGR |
				      TRANSPORT_FLAG_PASSTHROUGH_ALUA,
	.attach_hba		= tcmu_attach_hba,
	.detach_hba		= tcmu_detach_hba,
	.alloc_device		= tcmu_alloc_device,
	.configure_device	= tcmu_configure_device,
	.destroy_device		= tcmu_destroy_device,
	.free_device		= tcmu_free_device,
	.unplug_device		= tcmu_unplug_device,
	.plug_device		= tcmu_plug_device,
	.parse_cdb		= tcmu_parse_cdb,
	.tmr_notify		= tcmu_tmr_notify,
	.set_configfs_dev_params = tcmu_set_configfs_dev_params,
	.show_configfs_dev_params = tcmu_show_configfs_dev_params,
	.get_device_type	= sbc_get_device_type,
	.get_blocks		= tcmu_get_blocks,
};

static int __init tcmu_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct tcmu_cmd_entry) % TCMU_OP_ALIGN_SIZE);
	BUILD_BUG_ON(TCMU_MB_SIZE % TCMU_OP_ALIGN_SIZE);
	BUILD_BUG_ON(TCMU_DATA_OFF % PAGE_SIZE);

	ret = tcmu_reclaim_init();
	if (ret)
		return ret;
	ret = tcmu_req_cache_init();
	if (ret)
		goto err_reclaim;

	tcmu_root = root_device_register("tcm_user");
	if (IS_ERR(tcmu_root)) {
		ret = PTR_ERR(tcmu_root);
		goto err_cache;
	}
	ret = tcmu_nl_register();
	if (ret < 0)
		goto err_root;
	ret = tcmu_build_attrs(&tcmu_backend_ops);
	if (ret)
		goto err_genl;
	ret = transport_backend_register(&tcmu_backend_ops);
	if (ret)
		goto err_attrs;
	tcmu_reclaim_start();
	return 0;

err_attrs:
	tcmu_free_attrs();
err_genl:
	tcmu_nl_unregister();
err_root:
	root_device_unregister(tcmu_root);
err_cache:
	tcmu_req_cache_exit();
err_reclaim:
	tcmu_reclaim_exit();
	return ret;
}

static void __exit tcmu_exit(void)
{
	target_backend_unregister(&tcmu_backend_ops);
	tcmu_reclaim_exit();
	tcmu_free_attrs();
	tcmu_nl_unregister();
	root_device_unregister(tcmu_root);
	/* Devices are freed through call_rcu(). */
	rcu_barrier();
	tcmu_req_cache_exit();
}

module_init(tcmu_init);
module_exit(tcmu_exit);

MODULE_DESCRIPTION("TCM USER subsystem backend (XArray data area)");
MODULE_LICENSE("GPL");
