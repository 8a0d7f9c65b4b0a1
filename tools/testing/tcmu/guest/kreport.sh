# SPDX-License-Identifier: GPL-2.0
#
# Kernel messages that fail a test: a report's first line
# (KREPORT_HEAD), or a stack trace on its own (KREPORT_RE).  Sourced by
# guest/lib.sh, whose runner (guest/init.sh) checks each test's kernel
# log with them, and by vm.sh, which finds a hung guest's first report
# in its console log.
# shellcheck shell=bash disable=SC2034
KREPORT_HEAD='BUG:|WARNING:|Oops|general protection fault|kernel BUG|KASAN|UBSAN'
KREPORT_HEAD="$KREPORT_HEAD|possible circular locking|possible recursive locking"
KREPORT_HEAD="$KREPORT_HEAD|INFO: task .* blocked for more than|soft lockup|hard LOCKUP"
KREPORT_HEAD="$KREPORT_HEAD|unreferenced object"
KREPORT_RE="$KREPORT_HEAD|Call Trace:"
