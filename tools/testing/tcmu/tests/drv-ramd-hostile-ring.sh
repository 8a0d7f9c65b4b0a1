#!/bin/bash
# tcmu-test: driver: a handler corrupting the ring (cmd_tail out of range, unaligned or backwards; entry lengths; opcodes) never hurts the kernel
# timeout: 300
# modules: stock ours
# xfail: stock the stock driver's completion loop never ends on such a ring (soft lockup) and WARNs on an unknown opcode
# xfail-timeout: 150
#
# The steps of drv-ramd-hostile, for the modes that corrupt the ring's
# structure.  The stock module walks the ring until it meets cmd_tail,
# trusting every length it reads, so each of these modes hangs a CPU in
# the kernel: on stock this runs in a boot of its own and must fail.
HOSTILE_MODES="bad-tail:range bad-tail:unaligned bad-tail:back \
	truncated-entry truncated-entry:+8 oversized-entry zero-pad bad-op"
. /tcmu/tests/drv-ramd-hostile.sh
