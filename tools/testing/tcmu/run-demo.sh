#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-demo.sh - "make run": boot the VM with our target_core_user, make a
# user:qcow LUN with targetcli, show its data area, drive fio through it.
# MODULE=stock shows the same with Debian's module.
here=$(cd "$(dirname "$0")" && pwd)
module=${MODULE:-ours}
if [ "$module" = ours ] &&
   modinfo -F description "$here/../../../drivers/target/tcmu/target_core_user.ko" | grep -qi placeholder; then
	echo "run-demo: our driver is still the placeholder module; showing the stock one" >&2
	module=stock
fi
exec "$here/vm.sh" --module "$module" --show --results "$here/../../../results/demo" demo
