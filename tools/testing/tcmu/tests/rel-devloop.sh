#!/bin/bash
# tcmu-test: reliability: create, use and remove many devices in a loop; nothing is left behind (kmemleak on the debug kernel)
# timeout: 420
# soak-timeout: 900
# modules: stock ours
# tier: debug
#
# Each round: a user: backstore, a tcmu-ramd handler and a tcm_loop LUN;
# INQUIRY (sg_inq: vendor TCMUTEST) and 64 KiB written and read back
# (O_DIRECT, compared); then LUN, handler and backstore go.  Afterwards
# no uio device, backstore or data page (ours: global_data_pages) may be
# left, and the module must unload.  On the debug kernel the runner's
# kmemleak scan after the test fails it on any leak naming our driver.
. /tcmu/lib.sh

ROUNDS=$(soak_rounds 100 25 30 10)
HBA=$CFS/core/user_24
wwn=naa.5001405000000240
tpg=$CFS/loopback/$wwn/tpgt_1
uio0=$(ls /sys/class/uio | wc -l)
head -c 64K /dev/urandom >/tmp/devloop.pat
t0=$SECONDS

for ((i = 1; i <= ROUNDS; i++)); do
	name=dl$i
	dev=$(ramd_dev 24 $name 16777216) || exit 1
	ramd_start $name 16M
	if [ $i = 1 ]; then
		disk=$(loop_lun $wwn "$dev") || exit 1
	else	# same target and nexus, a new LUN 0
		mkdir "$tpg/lun/lun_0" && ln -s "$dev" "$tpg/lun/lun_0/$name" ||
			fail "round $i: LUN"
		disk=$(wait_disk "$dev") || exit 1
	fi
	sg_inq "$disk" 2>&1 | grep -q TCMUTEST || fail "round $i: INQUIRY failed on $disk"
	dd if=/tmp/devloop.pat of="$disk" bs=64k seek=$((i % 200)) oflag=direct status=none ||
		fail "round $i: write failed"
	dd if="$disk" of=/tmp/devloop.in bs=64k skip=$((i % 200)) count=1 iflag=direct status=none ||
		fail "round $i: read failed"
	cmp -s /tmp/devloop.pat /tmp/devloop.in || fail "round $i: data read back differs"
	# teardown: LUN (handler still serving), handler, backstore
	find "$tpg/lun/lun_0" -maxdepth 1 -type l -delete
	rmdir "$tpg/lun/lun_0" || fail "round $i: cannot remove the LUN"
	kill $RAMD_PID
	wait $RAMD_PID 2>/dev/null
	rmdir "$dev" || fail "round $i: cannot remove the backstore"
	((i % 20)) || log "round $i: $(ls /sys/class/uio | wc -l) uio devices, $(grep -E '^(Slab|VmallocUsed)' /proc/meminfo | tr -s ' \n' ' ')"
done
log "devices cycled: $ROUNDS in $((SECONDS - t0)) s"
echo NULL >"$tpg/nexus"
rmdir "$tpg" "$CFS/loopback/$wwn" "$HBA" || fail "cannot remove the loopback target or HBA"
[ "$(ls /sys/class/uio | wc -l)" = "$uio0" ] || fail "uio devices left behind: $(ls /sys/class/uio)"
p=/sys/module/target_core_user/parameters
if [ -e $p/global_data_pages ]; then
	log "global_data_pages $(cat $p/global_data_pages) in_use $(cat $p/global_data_pages_in_use)"
	[ "$(cat $p/global_data_pages)" = 0 ] || fail "data pages left after every device went"
fi
run modprobe -r target_core_user
run modprobe target_core_user
log "ok"
