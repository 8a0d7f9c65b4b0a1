// SPDX-License-Identifier: GPL-2.0
/*
 * Placeholder for the new target_core_user: it only proves the build.
 * The driver replaces this file.
 */
#include <linux/module.h>

static int __init tcmu_module_init(void)
{
	return 0;
}

static void __exit tcmu_module_exit(void)
{
}

module_init(tcmu_module_init);
module_exit(tcmu_module_exit);
MODULE_DESCRIPTION("TCM USER subsystem backend (placeholder)");
MODULE_LICENSE("GPL");
