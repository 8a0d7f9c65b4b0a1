#!/bin/bash
# tcmu-test: the DKMS package installed and purged as an admin would, with a LUN and fio verify in between
# timeout: 1500
# modules: stock
# rootfs: dkms
# default: no
#
# On an image where the kernels are installed Debian packages with their
# headers, the guest boots with the kernel's own target_core_user; then:
# dpkg -i tcmu-lazy-dkms (DKMS builds our module for every kernel with
# headers, so for both), reload, check ours is loaded, a user:qcow LUN
# made with targetcli, fio verify through it, dpkg --purge, reload, and
# check the kernel's own module is back.  Building in the guest under
# emulation takes minutes: make check-deb runs it, on 6.1 and 6.12.
. /tcmu/lib.sh

kver=$(uname -r)
own=/lib/modules/$kver/kernel/drivers/target/target_core_user.ko
[ -e "$own" ] || own=$own.xz
# the module modprobe picks, and whether the one loaded is ours (only
# ours has the module-wide page counters)
picked() { modinfo -n target_core_user; }
loaded_is_ours() { [ -e /sys/module/target_core_user/parameters/global_data_pages ]; }
reload() {
	run rmmod target_core_user
	run modprobe target_core_user
}

[ -e "/lib/modules/$kver/build/include" ] || fail "no headers for $kver in the image"
[ "$(picked)" = "$own" ] || fail "modprobe picks $(picked), not $own"
loaded_is_ours && fail "ours is loaded before the package is installed"

deb=$(ls /tcmu/tcmu-lazy-dkms_*_all.deb) || fail "no package in /tcmu"
log "installing $deb"
dpkg -i "$deb" >/tmp/dpkg.out 2>&1
rc=$?
cat /tmp/dpkg.out
[ $rc = 0 ] || fail "dpkg -i exited with $rc"
run dkms status
# every kernel with headers got it
for k in /lib/modules/*/; do
	k=$(basename "$k")
	[ -e "/lib/modules/$k/build/include" ] || continue
	[ -e "/lib/modules/$k/updates/dkms/target_core_user.ko" ] ||
		[ -e "/lib/modules/$k/updates/dkms/target_core_user.ko.xz" ] ||
		fail "no module installed for $k"
	dkms status -m tcmu-lazy -k "$k" | grep -q ': installed' ||
		fail "dkms does not say installed for $k"
done
case $(picked) in
"/lib/modules/$kver/updates/dkms/"*) log "modprobe picks $(picked)" ;;
*) fail "modprobe picks $(picked), not ours in updates/dkms" ;;
esac

reload
loaded_is_ours || fail "the module loaded after install is not ours"
[ "$(cat /sys/module/target_core_user/srcversion)" = "$(modinfo -F srcversion target_core_user)" ] ||
	fail "the loaded module is not the one modprobe picks"
log "ours is loaded: $(modinfo -F description target_core_user)"

img=$TCMU_DATA/pkg.qcow2
make_qcow "$img" 512M
start_runner
disk=$(qcow_lun p0 512M "$img" naa.5001405000000007) || exit 1
fio_verify "$disk" rand4k --rw=randwrite --bs=4k --iodepth=16 --size=16M
fio_verify "$disk" seq1m --rw=write --bs=1M --iodepth=8 --size=32M --offset=64M
qcow_lun_delete p0 naa.5001405000000007
stop_runner

log "purging the package"
dpkg --purge tcmu-lazy-dkms >/tmp/dpkg.out 2>&1
rc=$?
cat /tmp/dpkg.out
[ $rc = 0 ] || fail "dpkg --purge exited with $rc"
[ -z "$(dkms status -m tcmu-lazy)" ] || fail "dkms still lists tcmu-lazy"
ls /lib/modules/*/updates/dkms/target_core_user.ko* 2>/dev/null &&
	fail "a module is left in updates/dkms"
[ "$(picked)" = "$own" ] || fail "after purge modprobe picks $(picked), not $own"
reload
loaded_is_ours && fail "the module loaded after purge is still ours"
log "the kernel's own module is back"
