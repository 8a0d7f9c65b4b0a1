/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's <linux/stddef.h>: offsetof() and size_t, from libc here. */
#include <stddef.h>
