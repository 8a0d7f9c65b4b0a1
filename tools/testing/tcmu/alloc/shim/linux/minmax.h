/* SPDX-License-Identifier: GPL-2.0 */
/* tools/include keeps min(), max() and clamp() in <linux/kernel.h>. */
#include <linux/kernel.h>
