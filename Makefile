# SPDX-License-Identifier: GPL-2.0
#
# make            build drivers/target/tcmu/target_core_user.ko against KDIR
# make run        build, boot a VM, make a user-backed LUN and drive I/O
# make check      run the test suite (unit + VM: ours, a stock tier, a
#                 6.12 tier and the debug tier on the debug kernel)
# make check-all  make check with every VM test on stock, and on 6.12
#                 with both modules
# make check-debug  every VM test with ours on the debug kernel
# make soak       the reliability tests with full round counts (hours)
# make bench      benchmark ours against stock (tools/testing/tcmu/bench)
# make fuzz       fuzz the ring decoder in userspace (tools/testing/tcmu/fuzz)
#                 for FUZZ_TIME seconds (default 600); no VM
# make deb        the DKMS package, results/deb/tcmu-lazy-dkms_<version>_all.deb
# make check-deb  install, use and purge it in the guest, on 6.1 and 6.12
# make patches    the driver as a patch series for each Debian kernel
#                 source (6.1, 6.12; BASES=6.1 picks one): results/patches/
# make check-patches  apply each series to its pristine tree, build after
#                 every patch (W=1), checkpatch --strict, get_maintainer,
#                 and the in-tree module in the VM
# make sparse     a W=1 build under sparse
# make checkpatch checkpatch.pl --strict on the driver
# make kernel-doc the driver's kernel-doc comments, warnings as errors
#
# KERNEL=6.12 builds for Debian 12's 6.12 kernel instead of its 6.1 (and
# make run boots it).  KDIR defaults to that kernel's headers, fetched
# into $(TCMU_CACHE) by scripts/fetch-kernel.sh.  Pass KDIR=/path for any
# other tree.

TOP := $(CURDIR)
export TCMU_CACHE ?= $(TOP)/.cache
SERIES := $(if $(filter 6.12,$(KERNEL)),6.12,6.1)

# Evaluated (and the kernel fetched) only by the targets that build, after
# scripts/host-deps.sh has made sure the host has what it takes.
KERNEL_DIR = $(shell $(TOP)/scripts/fetch-kernel.sh --kernel $(SERIES) 2>/dev/null | tail -n1)
KDIR ?= $(KERNEL_DIR)/headers/usr/src/linux-headers-$(notdir $(KERNEL_DIR))-amd64

MOD_DIR := $(TOP)/drivers/target/tcmu

.PHONY: all modules clean run check check-all check-debug check-deb deb patches check-patches soak sparse checkpatch kernel-doc bench fuzz deps-run deps-check

all: modules

modules:
	@kdir='$(KDIR)'; [ -d "$$kdir" ] || { echo "no kernel build directory '$$kdir': scripts/fetch-kernel.sh --kernel $(SERIES) says why" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(MOD_DIR) modules

# The host packages the VM runs and the checks need (installed as root).
deps-run:
	@$(TOP)/scripts/host-deps.sh run
deps-check:
	@$(TOP)/scripts/host-deps.sh check

clean:
	$(MAKE) -C $(KDIR) M=$(MOD_DIR) clean

run: deps-run
	$(MAKE) modules
	$(TOP)/tools/testing/tcmu/run-demo.sh

check: deps-check
	$(MAKE) modules
	KDIR=$(KDIR) $(TOP)/tools/testing/tcmu/check.sh

check-all: deps-check
	$(MAKE) modules
	CHECK_612=all CHECK_STOCK=all CHECK_PATCHES=no KDIR=$(KDIR) \
		$(TOP)/tools/testing/tcmu/check.sh
	$(MAKE) check-deb
	$(MAKE) check-patches

# The package for servers: DKMS builds the module for each kernel there.
deb:
	@$(TOP)/scripts/package/mkdeb.sh

# The package installed, used and purged in the guest, as an admin would,
# on both kernels (the guest builds the module: minutes under emulation).
check-deb: deps-check
	$(TOP)/tools/testing/tcmu/vm.sh --kernel 6.1 --module stock -r $(TOP)/results/deb-6.1 pkg-dkms
	$(TOP)/tools/testing/tcmu/vm.sh --kernel 6.12 --module stock -r $(TOP)/results/deb-6.12 pkg-dkms

# For kernel maintainers: a git format-patch series per base tree, and
# its proof (scripts/patches/).
patches: deps-check
	$(TOP)/scripts/patches/mkpatches.sh $(BASES)
check-patches: patches
	$(TOP)/scripts/patches/check-patches.sh $(BASES)

# Every VM test with our module on the debug kernel (check runs a subset).
check-debug: deps-check
	$(MAKE) modules
	$(TOP)/tools/testing/tcmu/vm.sh --kernel debug --module ours

# The reliability tests (tests/rel-*.sh) with their full round counts
# (100 kill-restarts of each handler, 100 removals, 100 devices, 100
# fuzz rounds on the debug kernel; make check runs fewer), on ours, ours
# on the debug kernel and stock; SOAK_LEGS="ours debug" picks legs.
# Prints the rounds of each kind in results/soak/summary.
soak: deps-check
	$(MAKE) modules
	$(TOP)/tools/testing/tcmu/soak.sh $(SOAK_LEGS)

bench: deps-check
	$(MAKE) modules
	KDIR=$(KDIR) $(TOP)/tools/testing/tcmu/bench/bench.sh

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
