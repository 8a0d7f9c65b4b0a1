// SPDX-License-Identifier: GPL-2.0
/*
 * target_core_user: configfs: the control parameters, the attrib group's
 * attributes and the action group's actions.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/configfs.h>
#include <linux/parser.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "tcmu.h"

/* ---------------------------------------------------------------------
 * Configfs: control parameters
 */

enum {
	TCMU_OPT_DEV_CONFIG,
	TCMU_OPT_DEV_SIZE,
	TCMU_OPT_HW_BLOCK_SIZE,
	TCMU_OPT_HW_MAX_SECTORS,
	TCMU_OPT_NL_REPLY_SUPPORTED,
	TCMU_OPT_MAX_DATA_AREA_MB,
	TCMU_OPT_DATA_PAGES_PER_BLK,
	TCMU_OPT_CMD_RING_SIZE_MB,
	TCMU_OPT_ERR,
};

/*
 * Every value is taken as a string and parsed strictly by
 * tcmu_opt_parse(): with "%d", a value such as "12abc" would not match
 * and the key would be ignored silently.
 */
static const match_table_t tcmu_opt_tokens = {
	{TCMU_OPT_DEV_CONFIG, "dev_config=%s"},
	{TCMU_OPT_DEV_SIZE, "dev_size=%s"},
	{TCMU_OPT_HW_BLOCK_SIZE, "hw_block_size=%s"},
	{TCMU_OPT_HW_MAX_SECTORS, "hw_max_sectors=%s"},
	{TCMU_OPT_NL_REPLY_SUPPORTED, "nl_reply_supported=%s"},
	{TCMU_OPT_MAX_DATA_AREA_MB, "max_data_area_mb=%s"},
	{TCMU_OPT_DATA_PAGES_PER_BLK, "data_pages_per_blk=%s"},
	{TCMU_OPT_CMD_RING_SIZE_MB, "cmd_ring_size_mb=%s"},
	{TCMU_OPT_ERR, NULL}
};

/* The values of one control write: applied only if all of them are good. */
struct tcmu_opts {
	unsigned long given;		/* BIT(TCMU_OPT_*) of the keys seen */
	char dev_config[TCMU_CONFIG_LEN];
	u64 dev_size;
	int val[TCMU_OPT_ERR];		/* the int keys' values */
};

static const char *const tcmu_opt_names[TCMU_OPT_ERR] = {
	[TCMU_OPT_DEV_CONFIG] = "dev_config",
	[TCMU_OPT_DEV_SIZE] = "dev_size",
	[TCMU_OPT_HW_BLOCK_SIZE] = "hw_block_size",
	[TCMU_OPT_HW_MAX_SECTORS] = "hw_max_sectors",
	[TCMU_OPT_NL_REPLY_SUPPORTED] = "nl_reply_supported",
	[TCMU_OPT_MAX_DATA_AREA_MB] = "max_data_area_mb",
	[TCMU_OPT_DATA_PAGES_PER_BLK] = "data_pages_per_blk",
	[TCMU_OPT_CMD_RING_SIZE_MB] = "cmd_ring_size_mb",
};

/* Every key but nl_reply_supported sets up the device: only before enable. */
#define TCMU_OPTS_SETUP	(~BIT(TCMU_OPT_NL_REPLY_SUPPORTED))

/* Unlike match_int(), nothing may follow the number. */
static int tcmu_match_int(substring_t *arg, int *val)
{
	char *buf = match_strdup(arg);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = kstrtoint(buf, 0, val);
	kfree(buf);
	return ret;
}

/* Parse one "key=value" into @o; -EINVAL for a value that does not parse. */
static int tcmu_opt_parse(struct tcmu_opts *o, char *p)
{
	substring_t args[MAX_OPT_ARGS];
	int token, ret;

	token = match_token(p, tcmu_opt_tokens, args);
	switch (token) {
	case TCMU_OPT_ERR:
		/* "%s" needs one byte: a known key with nothing after '=' */
		for (token = 0; token < TCMU_OPT_ERR; token++) {
			size_t len = strlen(tcmu_opt_names[token]);

			if (!strncmp(p, tcmu_opt_names[token], len) &&
			    p[len] == '=') {
				pr_err("No value for %s\n", tcmu_opt_names[token]);
				return -EINVAL;
			}
		}
		return 0;	/* unknown keys are ignored, as in stock */
	case TCMU_OPT_DEV_CONFIG:
		ret = match_strlcpy(o->dev_config, &args[0], TCMU_CONFIG_LEN);
		if (!ret || ret >= TCMU_CONFIG_LEN)
			ret = -EINVAL;
		else
			ret = 0;
		break;
	case TCMU_OPT_DEV_SIZE:
		ret = match_u64(&args[0], &o->dev_size);
		break;
	default:
		ret = tcmu_match_int(&args[0], &o->val[token]);
		if (!ret && token != TCMU_OPT_NL_REPLY_SUPPORTED &&
		    o->val[token] <= 0)
			ret = -EINVAL;
		break;
	}
	if (ret) {
		pr_err("Invalid %s in \"%s\": %d\n", tcmu_opt_names[token], p,
		       ret);
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	o->given |= BIT(token);
	return 0;
}

/* The final value of int key @token: the one given, or @cur. */
static int tcmu_opt_val(const struct tcmu_opts *o, int token, int cur)
{
	return o->given & BIT(token) ? o->val[token] : cur;
}

/*
 * Check @o against @td as it would be after the write and fill in the
 * clamped sizes; nothing is changed yet.
 */
static int tcmu_opts_check(struct tcmu_device *td, struct tcmu_opts *o)
{
	struct se_dev_attrib *da = &td->se_dev.dev_attrib;
	int bs, ms, mb, ppb, global = tcmu_global_max_data_mb();

	lockdep_assert_held(&td->cmdr_lock);

	if (td->ready && (o->given & TCMU_OPTS_SETUP)) {
		pr_err("Cannot set %s after the device has been enabled.\n",
		       tcmu_opt_names[__ffs(o->given & TCMU_OPTS_SETUP)]);
		return -EINVAL;
	}

	bs = tcmu_opt_val(o, TCMU_OPT_HW_BLOCK_SIZE, da->hw_block_size ?: 512);
	if (bs != 512 && bs != 1024 && bs != 2048 && bs != 4096) {
		pr_err("Invalid hw_block_size %d: 512, 1024, 2048 or 4096.\n",
		       bs);
		return -EINVAL;
	}
	/* Whole pages per command, and no more than the data window. */
	ms = tcmu_opt_val(o, TCMU_OPT_HW_MAX_SECTORS, da->hw_max_sectors ?: 128);
	if ((u64)ms * bs < PAGE_SIZE || (u64)ms * bs > TCMU_DATA_WIN) {
		pr_err("Invalid hw_max_sectors %d: %d-byte sectors make %llu bytes, not %lu to %lu.\n",
		       ms, bs, (u64)ms * bs, PAGE_SIZE, (unsigned long)TCMU_DATA_WIN);
		return -EINVAL;
	}

	mb = tcmu_opt_val(o, TCMU_OPT_MAX_DATA_AREA_MB, td->data_mb);
	/* Only a value given in this write is clamped, as in stock. */
	if (o->given & BIT(TCMU_OPT_MAX_DATA_AREA_MB)) {
		if (mb > global) {
			pr_err("%d is too large. Adjusting max_data_area_mb to global limit of %d\n",
			       mb, global);
			mb = global;
		}
		if (mb > TCMU_DATA_MB_MAX) {
			pr_err("%d is too large. Adjusting max_data_area_mb to the data window of %u\n",
			       mb, TCMU_DATA_MB_MAX);
			mb = TCMU_DATA_MB_MAX;
		}
	}
	ppb = tcmu_opt_val(o, TCMU_OPT_DATA_PAGES_PER_BLK, td->pages_per_blk);
	if (ppb > TCMU_MB_TO_PAGES(mb)) {
		pr_err("Invalid data_pages_per_blk %d: greater than max_data_area_mb %d -> %zu pages.\n",
		       ppb, mb, TCMU_MB_TO_PAGES(mb));
		return -EINVAL;
	}
	o->val[TCMU_OPT_MAX_DATA_AREA_MB] = mb;

	if (o->val[TCMU_OPT_CMD_RING_SIZE_MB] > TCMU_RING_MB_MAX) {
		pr_err("%d is too large. Adjusting cmd_ring_size_mb to global limit of %u\n",
		       o->val[TCMU_OPT_CMD_RING_SIZE_MB], TCMU_RING_MB_MAX);
		o->val[TCMU_OPT_CMD_RING_SIZE_MB] = TCMU_RING_MB_MAX;
	}
	return 0;
}

/* Apply a checked @o. */
static void tcmu_opts_apply(struct tcmu_device *td, const struct tcmu_opts *o)
{
	struct se_dev_attrib *da = &td->se_dev.dev_attrib;
	const int *v = o->val;

	lockdep_assert_held(&td->cmdr_lock);

	if (o->given & BIT(TCMU_OPT_DEV_CONFIG))
		strscpy(td->dev_config, o->dev_config, TCMU_CONFIG_LEN);
	if (o->given & BIT(TCMU_OPT_DEV_SIZE))
		td->dev_size = o->dev_size;
	if (o->given & BIT(TCMU_OPT_HW_BLOCK_SIZE))
		da->hw_block_size = v[TCMU_OPT_HW_BLOCK_SIZE];
	if (o->given & BIT(TCMU_OPT_HW_MAX_SECTORS))
		da->hw_max_sectors = v[TCMU_OPT_HW_MAX_SECTORS];
	if (o->given & BIT(TCMU_OPT_NL_REPLY_SUPPORTED))
		td->nl_reply_supported = v[TCMU_OPT_NL_REPLY_SUPPORTED];
	if (o->given & BIT(TCMU_OPT_MAX_DATA_AREA_MB))
		td->data_mb = v[TCMU_OPT_MAX_DATA_AREA_MB];
	if (o->given & BIT(TCMU_OPT_DATA_PAGES_PER_BLK))
		td->pages_per_blk = v[TCMU_OPT_DATA_PAGES_PER_BLK];
	if (o->given & BIT(TCMU_OPT_CMD_RING_SIZE_MB))
		td->ring_mb = v[TCMU_OPT_CMD_RING_SIZE_MB];
}

/**
 * tcmu_set_configfs_dev_params() - parse a control string
 * @dev: the device
 * @page: what was written to the device's "control" file: comma or newline
 *        separated key=value pairs
 * @count: its length
 *
 * All or nothing: the keys are parsed and checked together, and applied
 * only if every one is good (a key given twice takes the last value).
 * Every key but nl_reply_supported sets the device up and is refused
 * once the device is enabled (dev_config and dev_size have attributes
 * that tell the handler).  Unknown keys are ignored, as in stock.
 *
 * Context: Process context (configfs store).  Takes cmdr_lock.
 * Return: @count, or -EINVAL (-ENOMEM) with nothing changed.
 */
ssize_t tcmu_set_configfs_dev_params(struct se_device *dev,
				     const char *page, ssize_t count)
{
	struct tcmu_device *td = TCMU_DEV(dev);
	struct tcmu_opts *o;
	char *opts, *orig, *p;
	int ret = 0;

	o = kzalloc(sizeof(*o), GFP_KERNEL);
	opts = kstrdup(page, GFP_KERNEL);
	orig = opts;
	if (!o || !opts) {
		ret = -ENOMEM;
		goto out;
	}
	while (!ret && (p = strsep(&opts, ",\n")) != NULL) {
		if (*p)
			ret = tcmu_opt_parse(o, p);
	}
	if (ret)
		goto out;

	mutex_lock(&td->cmdr_lock);
	ret = tcmu_opts_check(td, o);
	if (!ret)
		tcmu_opts_apply(td, o);
	mutex_unlock(&td->cmdr_lock);
out:
	kfree(orig);
	kfree(o);
	return ret ? ret : count;
}

/**
 * tcmu_show_configfs_dev_params() - the "info" line of the device
 * @dev: the device
 * @b: a page to write to
 *
 * Context: Process context (configfs show).
 * Return: the number of bytes written.
 */
ssize_t tcmu_show_configfs_dev_params(struct se_device *dev, char *b)
{
	struct tcmu_device *td = TCMU_DEV(dev);

	ssize_t n;

	n = sprintf(b, "Config: %s Size: %llu ",
		    td->dev_config[0] ? td->dev_config : "NULL", td->dev_size);
	n += sprintf(b + n, "MaxDataAreaMB: %u DataPagesPerBlk: %u ",
		     td->data_mb, td->pages_per_blk);
	n += sprintf(b + n, "CmdRingSizeMB: %u\n", td->ring_mb);
	return n;
}

/* ---------------------------------------------------------------------
 * Configfs: attributes (attrib group) and actions (action group)
 */

static struct se_dev_attrib *tcmu_item_attrib(struct config_item *item)
{
	return container_of(to_config_group(item), struct se_dev_attrib,
			    da_group);
}

static struct tcmu_device *tcmu_item_dev(struct config_item *item)
{
	return TCMU_DEV(tcmu_item_attrib(item)->da_dev);
}

static struct tcmu_device *tcmu_action_dev(struct config_item *item)
{
	return TCMU_DEV(container_of(to_config_group(item), struct se_device,
				     dev_action_group));
}

static ssize_t tcmu_cmd_time_out_show(struct config_item *item, char *page)
{
	u32 ms = READ_ONCE(tcmu_item_dev(item)->cmd_time_out);

	return sysfs_emit(page, "%u\n", ms / (u32)MSEC_PER_SEC);
}

static ssize_t tcmu_cmd_time_out_store(struct config_item *item,
				       const char *page, size_t count)
{
	struct se_dev_attrib *da = tcmu_item_attrib(item);
	u32 val;
	int ret;

	if (da->da_dev->export_count) {
		pr_err("Unable to set tcmu cmd_time_out while exports exist\n");
		return -EINVAL;
	}
	ret = kstrtou32(page, 0, &val);
	if (ret < 0)
		return ret;
	/* Kept in ms in a u32: up to 49 days. */
	if (val > U32_MAX / MSEC_PER_SEC) {
		pr_err("Invalid cmd_time_out %u s: at most %lu\n", val,
		       U32_MAX / MSEC_PER_SEC);
		return -EINVAL;
	}
	WRITE_ONCE(TCMU_DEV(da->da_dev)->cmd_time_out, val * MSEC_PER_SEC);
	return count;
}
CONFIGFS_ATTR(tcmu_, cmd_time_out);

static ssize_t tcmu_qfull_time_out_show(struct config_item *item, char *page)
{
	int v = READ_ONCE(tcmu_item_dev(item)->qfull_time_out);

	return sysfs_emit(page, "%d\n", v <= 0 ? v : v / (int)MSEC_PER_SEC);
}

static ssize_t tcmu_qfull_time_out_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	s32 val;
	int ret;

	ret = kstrtos32(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val >= 0 && val <= INT_MAX / MSEC_PER_SEC) {
		WRITE_ONCE(td->qfull_time_out, val * MSEC_PER_SEC);
	} else if (val == -1) {
		WRITE_ONCE(td->qfull_time_out, val);
	} else {
		pr_err("Invalid qfull timeout value %d\n", val);
		return -EINVAL;
	}
	return count;
}
CONFIGFS_ATTR(tcmu_, qfull_time_out);

/* Attribute @name, a number from 0 to @max. */
static ssize_t tcmu_u32_store(const char *page, size_t count, u32 *what,
			      u32 max, const char *name)
{
	u32 val;
	int ret;

	ret = kstrtou32(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > max) {
		pr_err("%s: %u is too large: at most %u\n", name, val, max);
		return -EINVAL;
	}
	WRITE_ONCE(*what, val);
	return count;
}

static u32 *tcmu_u32_ptr(struct config_item *item, size_t off)
{
	return (void *)tcmu_item_dev(item) + off;
}

/* A number from 0 to @_max that takes effect at once: td->@_field. */
#define TCMU_U32_ATTR(_name, _field, _max)				\
static const size_t tcmu_##_name##_off =				\
	offsetof(struct tcmu_device, _field);				\
static ssize_t tcmu_##_name##_show(struct config_item *item, char *page) \
{									\
	u32 *p = tcmu_u32_ptr(item, tcmu_##_name##_off);		\
									\
	return sysfs_emit(page, "%u\n", READ_ONCE(*p));			\
}									\
static ssize_t tcmu_##_name##_store(struct config_item *item,		\
				    const char *page, size_t count)	\
{									\
	u32 *p = tcmu_u32_ptr(item, tcmu_##_name##_off);		\
									\
	return tcmu_u32_store(page, count, p, _max, #_name);		\
}									\
CONFIGFS_ATTR(tcmu_, _name)

/* Reclaim times, in seconds (0 turns each off). */
TCMU_U32_ATTR(data_idle_timeout, idle_timeout, TCMU_RECLAIM_S_MAX);
TCMU_U32_ATTR(data_hwm_half_life, hwm_half_life, TCMU_RECLAIM_S_MAX);
/* Doorbell moderation, in microseconds and entries (0: off, no limit). */
TCMU_U32_ATTR(wake_delay_us, wake_delay_us, TCMU_WAKE_DELAY_US_MAX);
TCMU_U32_ATTR(wake_batch, wake_batch, TCMU_WAKE_BATCH_MAX);

static ssize_t tcmu_max_data_area_mb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_item_dev(item)->data_mb);
}
CONFIGFS_ATTR_RO(tcmu_, max_data_area_mb);

static ssize_t tcmu_data_pages_per_blk_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_item_dev(item)->pages_per_blk);
}
CONFIGFS_ATTR_RO(tcmu_, data_pages_per_blk);

static ssize_t tcmu_cmd_ring_size_mb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_item_dev(item)->ring_mb);
}
CONFIGFS_ATTR_RO(tcmu_, cmd_ring_size_mb);

/*
 * A change to a configured device goes to the handler first (RECONFIG,
 * with one attribute that @put adds); it takes effect if the handler
 * does not refuse it.  Nothing to ask before the device is configured.
 */
static int tcmu_reconfig(struct tcmu_device *td,
			 int (*put)(struct sk_buff *skb, const void *arg),
			 const void *arg)
{
	int ret;

	if (!target_dev_configured(&td->se_dev))
		return 0;
	ret = tcmu_nl_send_reconfig(td, put, arg);
	if (ret)
		pr_err("Unable to reconfigure device\n");
	return ret;
}

static ssize_t tcmu_dev_config_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%s\n", tcmu_item_dev(item)->dev_config);
}

static ssize_t tcmu_dev_config_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	size_t len = strlen(page);
	int ret;

	if (!len || len > TCMU_CONFIG_LEN - 1)
		return -EINVAL;
	ret = tcmu_reconfig(td, tcmu_put_dev_cfg, page);
	if (ret)
		return ret;
	strscpy(td->dev_config, page, TCMU_CONFIG_LEN);
	if (target_dev_configured(&td->se_dev)) {
		ret = tcmu_swap_uio_name(td);
		if (ret)
			return ret;
	}
	return count;
}
CONFIGFS_ATTR(tcmu_, dev_config);

static ssize_t tcmu_dev_size_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%llu\n", tcmu_item_dev(item)->dev_size);
}

static ssize_t tcmu_dev_size_store(struct config_item *item,
				   const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	u64 val;
	int ret;

	ret = kstrtou64(page, 0, &val);
	if (ret < 0)
		return ret;
	ret = tcmu_reconfig(td, tcmu_put_dev_size, &val);
	if (ret)
		return ret;
	td->dev_size = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, dev_size);

static ssize_t tcmu_nl_reply_supported_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%d\n",
			  tcmu_item_dev(item)->nl_reply_supported);
}

static ssize_t tcmu_nl_reply_supported_store(struct config_item *item,
					     const char *page, size_t count)
{
	s8 val;
	int ret;

	ret = kstrtos8(page, 0, &val);
	if (ret < 0)
		return ret;
	tcmu_item_dev(item)->nl_reply_supported = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, nl_reply_supported);

static ssize_t tcmu_emulate_write_cache_show(struct config_item *item,
					     char *page)
{
	return sysfs_emit(page, "%i\n",
			  tcmu_item_attrib(item)->emulate_write_cache);
}

static ssize_t tcmu_emulate_write_cache_store(struct config_item *item,
					      const char *page, size_t count)
{
	struct se_dev_attrib *da = tcmu_item_attrib(item);
	struct tcmu_device *td = TCMU_DEV(da->da_dev);
	u8 val;
	int ret;

	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > 1) {
		pr_err("Invalid emulate_write_cache %u: 0 or 1\n", val);
		return -EINVAL;
	}
	ret = tcmu_reconfig(td, tcmu_put_write_cache, &val);
	if (ret)
		return ret;
	da->emulate_write_cache = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, emulate_write_cache);

/* A device flag as a 0/1 attribute: td->flags bit @bit. */
static ssize_t tcmu_flag_show(struct config_item *item, char *page, int bit)
{
	return sysfs_emit(page, "%i\n",
			  test_bit(bit, &tcmu_item_dev(item)->flags));
}

static ssize_t tcmu_flag_store(struct config_item *item, const char *page,
			       size_t count, int bit)
{
	u8 val;
	int ret;

	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > 1)
		return -EINVAL;
	assign_bit(bit, &tcmu_item_dev(item)->flags, val);
	return count;
}

#define TCMU_FLAG_ATTR(_name, _bit)					\
static const int tcmu_##_name##_bit = (_bit);				\
static ssize_t tcmu_##_name##_show(struct config_item *item, char *page) \
{									\
	return tcmu_flag_show(item, page, tcmu_##_name##_bit);		\
}									\
static ssize_t tcmu_##_name##_store(struct config_item *item,		\
				    const char *page, size_t count)	\
{									\
	return tcmu_flag_store(item, page, count, tcmu_##_name##_bit);	\
}									\
CONFIGFS_ATTR(tcmu_, _name)

TCMU_FLAG_ATTR(tmr_notification, TCMU_DEV_TMR_NOTIFY);
/*
 * data_keep_pages=1: the device's data pages are never given back while
 * it lives (no idle, decay, global limit or shrinker reclaim), for
 * handlers that pin the data window (io_uring fixed buffers, RDMA, ...),
 * which a block given new memory would leave pointing at the old pages.
 */
TCMU_FLAG_ATTR(data_keep_pages, TCMU_DEV_KEEP_PAGES);

/* Data area statistics, read-only; 0 before the device is enabled. */
enum tcmu_stat {
	TCMU_STAT_ALLOCATED,
	TCMU_STAT_IN_USE,
	TCMU_STAT_FREE,
	TCMU_STAT_PEAK,
	TCMU_STAT_RECLAIMED,
	TCMU_STAT_RECLAIMED_DECAY,
	TCMU_STAT_RECLAIMED_IDLE,
	TCMU_STAT_RECLAIMED_BUDGET,
	TCMU_STAT_RECLAIMED_PRESSURE,
	TCMU_STAT_NOMEM_DATA,
	TCMU_STAT_NOMEM_CMD_ID,
	TCMU_STAT_NOMEM_RING,
	TCMU_STAT_RING_ALLOCATED,
	TCMU_STAT_RING_SPAN,
	TCMU_STAT_RING_RECLAIMED,
};

static ssize_t tcmu_stat_show(struct config_item *item, char *page,
			      enum tcmu_stat which)
{
	struct tcmu_device *td = tcmu_item_dev(item);
	u64 reclaimed[TCMU_RECLAIM_NR], nomem[TCMU_NOMEM_NR];
	struct tcmu_da_stats st = {};
	u64 ring_pages, ring_span, ring_reclaimed;
	u64 v = 0;

	mutex_lock(&td->cmdr_lock);
	if (td->ready)
		tcmu_da_get_stats(&td->da, &st);
	memcpy(reclaimed, td->reclaimed, sizeof(reclaimed));
	memcpy(nomem, td->nomem_waits, sizeof(nomem));
	ring_pages = td->span_pages;
	ring_span = td->cmdr_span;
	ring_reclaimed = td->ring_reclaimed;
	mutex_unlock(&td->cmdr_lock);

	switch (which) {
	case TCMU_STAT_ALLOCATED:
		v = st.pages_allocated;
		break;
	case TCMU_STAT_IN_USE:
		v = st.pages_in_use;
		break;
	case TCMU_STAT_FREE:
		v = st.pages_free;
		break;
	case TCMU_STAT_PEAK:
		v = st.pages_peak;
		break;
	case TCMU_STAT_RECLAIMED:
		v = st.pages_reclaimed;
		break;
	case TCMU_STAT_RECLAIMED_DECAY:
		v = reclaimed[TCMU_RECLAIM_DECAY];
		break;
	case TCMU_STAT_RECLAIMED_IDLE:
		v = reclaimed[TCMU_RECLAIM_IDLE];
		break;
	case TCMU_STAT_RECLAIMED_BUDGET:
		v = reclaimed[TCMU_RECLAIM_BUDGET];
		break;
	case TCMU_STAT_RECLAIMED_PRESSURE:
		v = reclaimed[TCMU_RECLAIM_PRESSURE];
		break;
	case TCMU_STAT_NOMEM_DATA:
		v = nomem[TCMU_NOMEM_DATA];
		break;
	case TCMU_STAT_NOMEM_CMD_ID:
		v = nomem[TCMU_NOMEM_CMD_ID];
		break;
	case TCMU_STAT_NOMEM_RING:
		v = nomem[TCMU_NOMEM_RING];
		break;
	case TCMU_STAT_RING_ALLOCATED:
		v = ring_pages;
		break;
	case TCMU_STAT_RING_SPAN:
		v = ring_span;
		break;
	case TCMU_STAT_RING_RECLAIMED:
		v = ring_reclaimed;
		break;
	}
	return sysfs_emit(page, "%llu\n", v);
}

#define TCMU_STAT_ATTR(_name, _which)					\
static ssize_t tcmu_##_name##_show(struct config_item *item, char *page) \
{									\
	return tcmu_stat_show(item, page, _which);			\
}									\
CONFIGFS_ATTR_RO(tcmu_, _name)

TCMU_STAT_ATTR(data_pages_allocated, TCMU_STAT_ALLOCATED);
TCMU_STAT_ATTR(data_pages_in_use, TCMU_STAT_IN_USE);
TCMU_STAT_ATTR(data_pages_free, TCMU_STAT_FREE);
TCMU_STAT_ATTR(data_pages_peak, TCMU_STAT_PEAK);
TCMU_STAT_ATTR(data_pages_reclaimed, TCMU_STAT_RECLAIMED);
TCMU_STAT_ATTR(data_pages_reclaimed_decay, TCMU_STAT_RECLAIMED_DECAY);
TCMU_STAT_ATTR(data_pages_reclaimed_idle, TCMU_STAT_RECLAIMED_IDLE);
TCMU_STAT_ATTR(data_pages_reclaimed_budget, TCMU_STAT_RECLAIMED_BUDGET);
TCMU_STAT_ATTR(data_pages_reclaimed_pressure, TCMU_STAT_RECLAIMED_PRESSURE);
TCMU_STAT_ATTR(data_nomem_waits, TCMU_STAT_NOMEM_DATA);
TCMU_STAT_ATTR(cmd_id_nomem_waits, TCMU_STAT_NOMEM_CMD_ID);
TCMU_STAT_ATTR(ring_nomem_waits, TCMU_STAT_NOMEM_RING);
TCMU_STAT_ATTR(ring_pages_allocated, TCMU_STAT_RING_ALLOCATED);
TCMU_STAT_ATTR(ring_span_bytes, TCMU_STAT_RING_SPAN);
TCMU_STAT_ATTR(ring_pages_reclaimed, TCMU_STAT_RING_RECLAIMED);

/* An action's device, if it is configured (it has a ring); else NULL. */
static struct tcmu_device *tcmu_action_ready(struct config_item *item)
{
	struct tcmu_device *td = tcmu_action_dev(item);

	if (!target_dev_configured(&td->se_dev)) {
		pr_err("Device is not configured.\n");
		return NULL;
	}
	return td;
}

static ssize_t tcmu_block_dev_show(struct config_item *item, char *page)
{
	struct tcmu_device *td = tcmu_action_dev(item);

	return sysfs_emit(page, "%s\n",
			  test_bit(TCMU_DEV_BLOCKED, &td->flags) ?
			  "blocked" : "unblocked");
}

static ssize_t tcmu_block_dev_store(struct config_item *item,
				    const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_action_ready(item);
	u8 val;
	int ret;

	if (!td)
		return -EINVAL;
	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val > 1) {
		pr_err("Invalid block value %d\n", val);
		return -EINVAL;
	}
	if (val)
		tcmu_block(td);
	else
		tcmu_unblock(td);
	return count;
}
CONFIGFS_ATTR(tcmu_, block_dev);

static ssize_t tcmu_reset_ring_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_action_ready(item);
	u8 val;
	int ret;

	if (!td)
		return -EINVAL;
	ret = kstrtou8(page, 0, &val);
	if (ret < 0)
		return ret;
	if (val != 1 && val != 2) {
		pr_err("Invalid reset ring value %d\n", val);
		return -EINVAL;
	}
	tcmu_reset_ring(td, val);
	return count;
}
CONFIGFS_ATTR_WO(tcmu_, reset_ring);

static ssize_t tcmu_free_kept_buf_store(struct config_item *item,
					const char *page, size_t count)
{
	struct tcmu_device *td = tcmu_action_ready(item);
	u16 id;
	int ret;

	if (!td)
		return -EINVAL;
	ret = kstrtou16(page, 0, &id);
	if (ret < 0)
		return ret;
	ret = tcmu_free_kept(td, id);
	return ret ? ret : count;
}
CONFIGFS_ATTR_WO(tcmu_, free_kept_buf);

static struct configfs_attribute *tcmu_own_attrib_attrs[] = {
	&tcmu_attr_cmd_time_out,
	&tcmu_attr_qfull_time_out,
	&tcmu_attr_max_data_area_mb,
	&tcmu_attr_data_pages_per_blk,
	&tcmu_attr_cmd_ring_size_mb,
	&tcmu_attr_data_pages_allocated,
	&tcmu_attr_data_pages_in_use,
	&tcmu_attr_data_pages_free,
	&tcmu_attr_data_pages_peak,
	&tcmu_attr_data_pages_reclaimed,
	&tcmu_attr_data_pages_reclaimed_decay,
	&tcmu_attr_data_pages_reclaimed_idle,
	&tcmu_attr_data_pages_reclaimed_budget,
	&tcmu_attr_data_pages_reclaimed_pressure,
	&tcmu_attr_data_nomem_waits,
	&tcmu_attr_cmd_id_nomem_waits,
	&tcmu_attr_ring_nomem_waits,
	&tcmu_attr_ring_pages_allocated,
	&tcmu_attr_ring_span_bytes,
	&tcmu_attr_ring_pages_reclaimed,
	&tcmu_attr_data_idle_timeout,
	&tcmu_attr_data_hwm_half_life,
	&tcmu_attr_data_keep_pages,
	&tcmu_attr_wake_delay_us,
	&tcmu_attr_wake_batch,
	&tcmu_attr_dev_config,
	&tcmu_attr_dev_size,
	&tcmu_attr_emulate_write_cache,
	&tcmu_attr_tmr_notification,
	&tcmu_attr_nl_reply_supported,
	NULL,
};

static struct configfs_attribute *tcmu_action_attrs[] = {
	&tcmu_attr_block_dev,
	&tcmu_attr_reset_ring,
	&tcmu_attr_free_kept_buf,
	NULL,
};

/* passthrough_attrib_attrs + passthrough_pr_attrib_attrs + ours */
static struct configfs_attribute **tcmu_attrib_attrs;

static size_t tcmu_attrs_count(struct configfs_attribute **attrs)
{
	size_t n = 0;

	while (attrs[n])
		n++;
	return n;
}

/**
 * tcmu_build_attrs() - the backend's configfs attributes
 * @ops: the backend ops to fill in
 *
 * The attrib group gets LIO's passthrough attributes and ours, the action
 * group ours.
 *
 * Context: Module init.
 * Return: 0 or -ENOMEM.
 */
int tcmu_build_attrs(struct target_backend_ops *ops)
{
	struct configfs_attribute **lists[] = {
		passthrough_attrib_attrs,
		passthrough_pr_attrib_attrs,
		tcmu_own_attrib_attrs,
	};
	size_t i, n = 0, k;

	for (i = 0; i < ARRAY_SIZE(lists); i++)
		n += tcmu_attrs_count(lists[i]);
	tcmu_attrib_attrs = kcalloc(n + 1, sizeof(*tcmu_attrib_attrs),
				    GFP_KERNEL);
	if (!tcmu_attrib_attrs)
		return -ENOMEM;
	n = 0;
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		for (k = 0; lists[i][k]; k++)
			tcmu_attrib_attrs[n++] = lists[i][k];
	ops->tb_dev_attrib_attrs = tcmu_attrib_attrs;
	ops->tb_dev_action_attrs = tcmu_action_attrs;
	return 0;
}

/**
 * tcmu_free_attrs() - free what tcmu_build_attrs() allocated
 *
 * Context: Module exit or failed init, once the backend is unregistered.
 */
void tcmu_free_attrs(void)
{
	kfree(tcmu_attrib_attrs);
}
