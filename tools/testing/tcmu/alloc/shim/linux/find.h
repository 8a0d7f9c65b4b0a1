/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tools/include's <linux/find.h>; shim.c defines what it only declares
 * (_find_next_bit(), _find_first_bit()) and find_last_bit().
 */
#ifndef TCMU_SHIM_LINUX_FIND_H
#define TCMU_SHIM_LINUX_FIND_H

#include_next <linux/find.h>

unsigned long find_last_bit(const unsigned long *addr, unsigned long size);

#endif
