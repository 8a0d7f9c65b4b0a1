#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-demo.sh - "make run": boot the VM with our target_core_user, make a
# user:qcow LUN with targetcli, show its data area, drive fio through it.
# MODULE=stock shows the same with Debian's module.
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/vm.sh" --module "${MODULE:-ours}" --show --results "$here/../../../results/demo" demo
