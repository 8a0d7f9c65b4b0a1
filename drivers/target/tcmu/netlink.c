// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: the TCM-USER generic netlink family: events to the handler
 * daemon, its *_DONE replies, and block_netlink/reset_netlink.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>

#include "tcmu.h"

static u8 tcmu_nl_blocked;		/* block_netlink */
static u8 tcmu_nl_reply_feature;	/* set by TCMU_CMD_SET_FEATURES */

/* Protects tcmu_nl_waits and every struct tcmu_nl_wait's fields. */
static DEFINE_MUTEX(tcmu_nl_lock);
static LIST_HEAD(tcmu_nl_waits);

/* ---------------------------------------------------------------------
 * Module parameters
 */

static int tcmu_nl_block_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%s\n",
		       READ_ONCE(tcmu_nl_blocked) ? "blocked" : "unblocked");
}

static int tcmu_nl_block_set(const char *val, const struct kernel_param *kp)
{
	u8 v;
	int ret;

	ret = kstrtou8(val, 0, &v);
	if (ret < 0)
		return ret;
	if (v > 1) {
		pr_err("Invalid block netlink value %u\n", v);
		return -EINVAL;
	}
	WRITE_ONCE(tcmu_nl_blocked, v);
	return 0;
}

static const struct kernel_param_ops tcmu_nl_block_ops = {
	.set = tcmu_nl_block_set,
	.get = tcmu_nl_block_get,
};

module_param_cb(block_netlink, &tcmu_nl_block_ops, NULL, 0644);
MODULE_PARM_DESC(block_netlink, "Block new netlink commands.");

/* reset_netlink=1: fail every netlink wait (block_netlink must be set). */
static int tcmu_nl_reset_set(const char *val, const struct kernel_param *kp)
{
	struct tcmu_nl_wait *w, *tmp;
	int ret;
	u8 v;

	ret = kstrtou8(val, 0, &v);
	if (ret < 0)
		return ret;
	if (v != 1) {
		pr_err("Invalid reset netlink value %u\n", v);
		return -EINVAL;
	}

	mutex_lock(&tcmu_nl_lock);
	list_for_each_entry_safe(w, tmp, &tcmu_nl_waits, node) {
		if (!tcmu_nl_blocked) {
			pr_err("Could not reset device's netlink interface. Netlink is not blocked.\n");
			ret = -EBUSY;
			break;
		}
		if (w->cmd == TCMU_CMD_UNSPEC)
			continue;
		pr_debug("aborting netlink cmd %d on %s\n", w->cmd, w->td->name);
		w->status = -EINTR;
		list_del_init(&w->node);
		complete(&w->done);
	}
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static const struct kernel_param_ops tcmu_nl_reset_ops = {
	.set = tcmu_nl_reset_set,
};

module_param_cb(reset_netlink, &tcmu_nl_reset_ops, NULL, 0200);
MODULE_PARM_DESC(reset_netlink, "Reset netlink commands.");

/* ---------------------------------------------------------------------
 * Generic netlink: family TCM-USER
 */

enum tcmu_mcgrp {
	TCMU_MCGRP_CONFIG,
};

static const struct genl_multicast_group tcmu_nl_groups[] = {
	[TCMU_MCGRP_CONFIG] = { .name = "config", },
};

static const struct nla_policy tcmu_nl_policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE]	= { .type = NLA_STRING },
	[TCMU_ATTR_MINOR]	= { .type = NLA_U32 },
	[TCMU_ATTR_CMD_STATUS]	= { .type = NLA_S32 },
	[TCMU_ATTR_DEVICE_ID]	= { .type = NLA_U32 },
	[TCMU_ATTR_SUPP_KERN_CMD_REPLY] = { .type = NLA_U8 },
};

/* A *_DONE reply: wake the event sender waiting on that device. */
static int tcmu_nl_reply(struct genl_info *info, int for_cmd)
{
	struct tcmu_nl_wait *w, *found = NULL;
	u32 dev_id;
	int status, ret = 0;

	if (!info->attrs[TCMU_ATTR_CMD_STATUS] ||
	    !info->attrs[TCMU_ATTR_DEVICE_ID]) {
		pr_err("TCMU_ATTR_CMD_STATUS or TCMU_ATTR_DEVICE_ID not set, doing nothing\n");
		return -EINVAL;
	}
	dev_id = nla_get_u32(info->attrs[TCMU_ATTR_DEVICE_ID]);
	status = nla_get_s32(info->attrs[TCMU_ATTR_CMD_STATUS]);

	mutex_lock(&tcmu_nl_lock);
	list_for_each_entry(w, &tcmu_nl_waits, node) {
		if (w->td->se_dev.dev_index == dev_id) {
			found = w;
			break;
		}
	}
	if (!found) {
		pr_err("tcmu nl cmd %u/%d completion could not find device with dev id %u.\n",
		       for_cmd, status, dev_id);
		ret = -ENODEV;
		goto out;
	}
	/*
	 * Whatever the reply says, the event it answers is over: the
	 * sender waits uninterruptibly and nothing else would wake it.
	 */
	list_del_init(&found->node);
	if (found->cmd != for_cmd) {
		pr_err("%s: reply to netlink command %d while %d waits for one\n",
		       found->td->name, for_cmd, found->cmd);
		status = -EINVAL;
		ret = -EINVAL;
	} else if (status > 0) {
		pr_err("%s: netlink reply status %d is not an errno\n",
		       found->td->name, status);
		status = -EINVAL;
	}
	found->status = status;
	complete(&found->done);
out:
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static int tcmu_nl_added_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_reply(info, TCMU_CMD_ADDED_DEVICE);
}

static int tcmu_nl_removed_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_reply(info, TCMU_CMD_REMOVED_DEVICE);
}

static int tcmu_nl_reconfig_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_reply(info, TCMU_CMD_RECONFIG_DEVICE);
}

static int tcmu_nl_set_features(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *a = info->attrs[TCMU_ATTR_SUPP_KERN_CMD_REPLY];

	if (a) {
		WRITE_ONCE(tcmu_nl_reply_feature, nla_get_u8(a));
		pr_info("tcmu daemon: command reply support %u.\n",
			tcmu_nl_reply_feature);
	}
	return 0;
}

#define TCMU_NL_OP(_cmd, _fn) {						\
	.cmd = (_cmd),							\
	.validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP, \
	.flags = GENL_ADMIN_PERM,					\
	.doit = (_fn),							\
}

static const struct genl_small_ops tcmu_nl_ops[] = {
	TCMU_NL_OP(TCMU_CMD_SET_FEATURES, tcmu_nl_set_features),
	TCMU_NL_OP(TCMU_CMD_ADDED_DEVICE_DONE, tcmu_nl_added_done),
	TCMU_NL_OP(TCMU_CMD_REMOVED_DEVICE_DONE, tcmu_nl_removed_done),
	TCMU_NL_OP(TCMU_CMD_RECONFIG_DEVICE_DONE, tcmu_nl_reconfig_done),
};

static struct genl_family tcmu_nl_family __ro_after_init = {
	.module = THIS_MODULE,
	.hdrsize = 0,
	.name = "TCM-USER",
	.version = 2,
	.maxattr = TCMU_ATTR_MAX,
	.policy = tcmu_nl_policy,
	.mcgrps = tcmu_nl_groups,
	.n_mcgrps = ARRAY_SIZE(tcmu_nl_groups),
	.netnsok = true,
	.small_ops = tcmu_nl_ops,
	.n_small_ops = ARRAY_SIZE(tcmu_nl_ops),
	.resv_start_op = TCMU_CMD_SET_FEATURES + 1,
};

/**
 * tcmu_nl_daemon_replies() - does the handler daemon reply to events?
 *
 * Context: Any context.
 * Return: true if the daemon said so with TCMU_CMD_SET_FEATURES; devices
 * configured from now on wait for its replies.
 */
bool tcmu_nl_daemon_replies(void)
{
	return READ_ONCE(tcmu_nl_reply_feature);
}

/* Does an event to @td wait for a *_DONE reply? */
static bool tcmu_nl_wants_reply(struct tcmu_device *td)
{
	return READ_ONCE(tcmu_nl_reply_feature) && td->nl_reply_supported > 0;
}

static int tcmu_nl_wait_begin(struct tcmu_device *td, int cmd)
{
	struct tcmu_nl_wait *w = &td->nl_wait;
	int ret = 0;

	mutex_lock(&tcmu_nl_lock);
	if (tcmu_nl_blocked) {
		pr_warn("Failing nl cmd %d on %s. Interface is blocked.\n",
			cmd, td->name);
		ret = -EAGAIN;
	} else if (w->cmd != TCMU_CMD_UNSPEC) {
		pr_warn("netlink cmd %d already executing on %s\n",
			w->cmd, td->name);
		ret = -EBUSY;
	} else {
		w->cmd = cmd;
		w->status = 0;
		w->td = td;
		reinit_completion(&w->done);
		list_add_tail(&w->node, &tcmu_nl_waits);
	}
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static void tcmu_nl_wait_cancel(struct tcmu_device *td)
{
	struct tcmu_nl_wait *w = &td->nl_wait;

	mutex_lock(&tcmu_nl_lock);
	list_del_init(&w->node);
	w->cmd = TCMU_CMD_UNSPEC;
	mutex_unlock(&tcmu_nl_lock);
}

/*
 * Wait for the reply, or for reset_netlink.  A daemon that never replies
 * (or replies for another device) would keep the writer asleep for good:
 * SIGKILL ends the wait too, as a failure (-EINTR) unless the reply came
 * first.  Killable, not interruptible: a configfs write by a shell that
 * gets an ordinary signal still waits for its answer.
 */
static int tcmu_nl_wait_end(struct tcmu_device *td)
{
	struct tcmu_nl_wait *w = &td->nl_wait;
	int ret;

	pr_debug("%s: waiting for netlink reply\n", td->name);
	ret = wait_for_completion_killable(&w->done);

	mutex_lock(&tcmu_nl_lock);
	if (ret && !list_empty(&w->node)) {
		pr_warn("%s: killed while waiting for the reply to netlink command %d\n",
			td->name, w->cmd);
		list_del_init(&w->node);
		w->status = -EINTR;
	}
	w->cmd = TCMU_CMD_UNSPEC;
	ret = w->status;
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static int tcmu_nl_event_new(struct tcmu_device *td, enum tcmu_genl_cmd cmd,
			     struct sk_buff **skbp, void **hdrp)
{
	struct sk_buff *skb;
	void *hdr;
	int ret = -ENOMEM;

	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return ret;
	hdr = genlmsg_put(skb, 0, 0, &tcmu_nl_family, 0, cmd);
	if (!hdr)
		goto fail;
	/* A dev_config store may replace the name: see tcmu_swap_uio_name(). */
	mutex_lock(&td->uio.uio_dev->info_lock);
	ret = nla_put_string(skb, TCMU_ATTR_DEVICE, td->uio.name);
	mutex_unlock(&td->uio.uio_dev->info_lock);
	if (ret < 0)
		goto fail;
	ret = nla_put_u32(skb, TCMU_ATTR_MINOR, td->uio.uio_dev->minor);
	if (ret < 0)
		goto fail;
	ret = nla_put_u32(skb, TCMU_ATTR_DEVICE_ID, td->se_dev.dev_index);
	if (ret < 0)
		goto fail;
	*skbp = skb;
	*hdrp = hdr;
	return 0;
fail:
	nlmsg_free(skb);
	return ret;
}

/* Multicast the event and, if userspace replies to events, wait for it. */
static int tcmu_nl_event_send(struct tcmu_device *td, enum tcmu_genl_cmd cmd,
			      struct sk_buff *skb, void *hdr)
{
	bool wait = tcmu_nl_wants_reply(td);
	int ret;

	genlmsg_end(skb, hdr);
	if (wait) {
		ret = tcmu_nl_wait_begin(td, cmd);
		if (ret) {
			nlmsg_free(skb);
			return ret;
		}
	}

	ret = genlmsg_multicast_allns(&tcmu_nl_family, skb, 0,
				      TCMU_MCGRP_CONFIG);
	/* No listener yet is fine for an add: the daemon may start later. */
	if (ret == 0 || (ret == -ESRCH && cmd == TCMU_CMD_ADDED_DEVICE))
		return wait ? tcmu_nl_wait_end(td) : 0;

	if (wait)
		tcmu_nl_wait_cancel(td);
	return ret;
}

/**
 * tcmu_nl_send_simple() - send a device event without attributes
 * @td: the device
 * @cmd: TCMU_CMD_ADDED_DEVICE or TCMU_CMD_REMOVED_DEVICE
 *
 * Multicasts @cmd to the "config" group; if the daemon replies to events,
 * waits for its reply.  Nobody listening is fine for an add: the daemon
 * may start later.
 *
 * Context: Process context.  Sleeps.  Takes tcmu_nl_lock, never under
 * cmdr_lock.
 * Return: 0, the status the daemon replied, -EAGAIN if block_netlink is
 * set, -EBUSY if another event to @td waits for a reply, -EINTR after
 * reset_netlink or SIGKILL, or a negative errno from building or sending
 * it.
 */
int tcmu_nl_send_simple(struct tcmu_device *td, enum tcmu_genl_cmd cmd)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	ret = tcmu_nl_event_new(td, cmd, &skb, &hdr);
	if (ret)
		return ret;
	return tcmu_nl_event_send(td, cmd, skb, hdr);
}

/**
 * tcmu_nl_send_reconfig() - ask the handler daemon to accept a change
 * @td: the device
 * @put: adds the one attribute that changes (tcmu_put_dev_cfg() ...)
 * @arg: passed to @put
 *
 * Sends TCMU_CMD_RECONFIG_DEVICE and, if the daemon replies, waits.
 *
 * Context: Process context.  Sleeps.  Takes tcmu_nl_lock, never under
 * cmdr_lock.
 * Return: as tcmu_nl_send_simple().
 */
int tcmu_nl_send_reconfig(struct tcmu_device *td,
			  int (*put)(struct sk_buff *skb, const void *arg),
			  const void *arg)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	ret = tcmu_nl_event_new(td, TCMU_CMD_RECONFIG_DEVICE, &skb, &hdr);
	if (ret)
		return ret;
	ret = put(skb, arg);
	if (ret < 0) {
		nlmsg_free(skb);
		return ret;
	}
	return tcmu_nl_event_send(td, TCMU_CMD_RECONFIG_DEVICE, skb, hdr);
}

/**
 * tcmu_put_dev_cfg() - @put for a new dev_config
 * @skb: the message
 * @arg: the new dev_config string
 *
 * Context: Process context.
 * Return: 0 or -EMSGSIZE.
 */
int tcmu_put_dev_cfg(struct sk_buff *skb, const void *arg)
{
	return nla_put_string(skb, TCMU_ATTR_DEV_CFG, arg);
}

/**
 * tcmu_put_dev_size() - @put for a new dev_size
 * @skb: the message
 * @arg: the new size in bytes, a u64
 *
 * Context: Process context.
 * Return: 0 or -EMSGSIZE.
 */
int tcmu_put_dev_size(struct sk_buff *skb, const void *arg)
{
	return nla_put_u64_64bit(skb, TCMU_ATTR_DEV_SIZE, *(const u64 *)arg,
				 TCMU_ATTR_PAD);
}

/**
 * tcmu_put_write_cache() - @put for a new emulate_write_cache
 * @skb: the message
 * @arg: the new value, a u8
 *
 * Context: Process context.
 * Return: 0 or -EMSGSIZE.
 */
int tcmu_put_write_cache(struct sk_buff *skb, const void *arg)
{
	return nla_put_u8(skb, TCMU_ATTR_WRITECACHE, *(const u8 *)arg);
}

/**
 * tcmu_nl_register() - register the TCM-USER generic netlink family
 *
 * Context: Module init.
 * Return: 0 or a negative errno.
 */
int tcmu_nl_register(void)
{
	return genl_register_family(&tcmu_nl_family);
}

/**
 * tcmu_nl_unregister() - unregister it
 *
 * Context: Module exit or failed init.
 */
void tcmu_nl_unregister(void)
{
	genl_unregister_family(&tcmu_nl_family);
}
