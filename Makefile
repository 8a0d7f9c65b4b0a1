# SPDX-License-Identifier: GPL-2.0
#
# make            build drivers/target/tcmu/target_core_user.ko against KDIR
# make run        build, boot a VM, make a user-backed LUN and drive I/O
# make check      run the whole test suite (unit + VM, stock and ours,
#                 and the debug tier on the debug kernel)
# make check-debug  every VM test with ours on the debug kernel
# make soak       the reliability tests with full round counts (hours)
# make bench      benchmark ours against stock (tools/testing/tcmu/bench)
# make fuzz       fuzz the ring decoder in userspace (tools/testing/tcmu/fuzz)
#                 for FUZZ_TIME seconds (default 600); no VM
# make sparse     a W=1 build under sparse
# make checkpatch checkpatch.pl --strict on the driver
# make kernel-doc the driver's kernel-doc comments, warnings as errors
#
# KDIR defaults to Debian 6.1's headers, fetched into $(TCMU_CACHE)
# by scripts/fetch-kernel.sh.  Pass KDIR=/path for any other 6.1 tree.

TOP := $(CURDIR)
export TCMU_CACHE ?= $(TOP)/.cache

ifeq ($(KDIR),)
KERNEL_DIR := $(shell $(TOP)/scripts/fetch-kernel.sh 2>/dev/null | tail -n1)
ifeq ($(KERNEL_DIR),)
$(error scripts/fetch-kernel.sh failed: run it by hand to see why)
endif
KDIR := $(KERNEL_DIR)/headers/usr/src/linux-headers-$(notdir $(KERNEL_DIR))-amd64
endif
export KDIR

MOD_DIR := $(TOP)/drivers/target/tcmu

.PHONY: all modules clean run check check-debug soak sparse checkpatch kernel-doc bench fuzz

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(MOD_DIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(MOD_DIR) clean

run: modules
	$(TOP)/tools/testing/tcmu/run-demo.sh

check: modules
	$(TOP)/tools/testing/tcmu/check.sh

# Every VM test with our module on the debug kernel (check runs a subset).
check-debug: modules
	$(TOP)/tools/testing/tcmu/vm.sh --kernel debug --module ours

# The reliability tests (tests/rel-*.sh) with their full round counts
# (100 kill-restarts of each handler, 100 removals, 100 devices, 100
# fuzz rounds on the debug kernel; make check runs fewer), on ours, ours
# on the debug kernel and stock; SOAK_LEGS="ours debug" picks legs.
# Prints the rounds of each kind in results/soak/summary.
soak: modules
	$(TOP)/tools/testing/tcmu/soak.sh $(SOAK_LEGS)

bench: modules
	$(TOP)/tools/testing/tcmu/bench/bench.sh

fuzz:
	$(MAKE) -C $(TOP)/tools/testing/tcmu/fuzz fuzz

sparse:
	$(MAKE) -C $(KDIR) M=$(MOD_DIR) C=2 W=1 modules

# The kernel's own checkers, from the fetched source (only fetched when
# these targets run).
KSRC = $(shell $(TOP)/scripts/fetch-kernel.sh --source 2>/dev/null | tail -n1)/source
TCMU_SRCS = $(wildcard $(MOD_DIR)/*.[ch])

checkpatch:
	$(KSRC)/scripts/checkpatch.pl --strict --no-tree --terse -f \
		$(filter-out %.mod.c,$(TCMU_SRCS))

kernel-doc:
	$(KSRC)/scripts/kernel-doc -none -v -Werror \
		$(filter-out %.mod.c,$(TCMU_SRCS))
