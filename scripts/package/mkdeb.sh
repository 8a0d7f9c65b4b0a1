#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkdeb.sh [OUTDIR] - "make deb": tcmu-lazy-dkms_<version>_all.deb, a
# DKMS package of drivers/target/tcmu.  Installed, it builds our
# target_core_user for every kernel with headers and puts it in
# /lib/modules/<kernel>/updates/dkms/, ahead of the kernel's own module;
# purged, the kernel's own is found again.  Prints the .deb's path.
#
# The version is 0.1+git<commit date>.<commit> of this tree's HEAD
# (".dirty" appended when drivers/target/tcmu differs from it), so a
# newer commit upgrades an older one.  Only dpkg-deb and git are needed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/results/deb}
pkg=tcmu-lazy-dkms
name=tcmu-lazy

rev=$(git -C "$top" rev-parse --short=7 HEAD)
day=$(git -C "$top" log -1 --format=%cd --date=format:%Y%m%d HEAD)
version=0.1+git$day.$rev
git -C "$top" diff --quiet HEAD -- drivers/target/tcmu || version=$version.dirty
# file dates in the package: the commit's
SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
src=$root/usr/src/$name-$version
doc=$root/usr/share/doc/$pkg
mkdir -p "$src" "$doc" "$root/DEBIAN"

# The driver's source as the kernel builds it; nothing generated.
git -C "$top" ls-files -z drivers/target/tcmu | (cd "$top" && xargs -0 cp -t "$src")
# DKMS will not install a module whose version equals the kernel's own,
# and neither ours nor the kernel's target_core_user has a
# MODULE_VERSION: ask it to skip that check for this package (DKMS's own
# mechanism, a file naming "<module>_version-override").
force=$root/usr/share/dkms/modules_to_force_install
mkdir -p "$force"
echo "${name}_version-override" >"$force/$name"

subst() { sed "s/@VERSION@/$version/g" "$here/$1"; }
subst dkms.conf >"$src/dkms.conf"
subst postinst >"$root/DEBIAN/postinst"
subst prerm >"$root/DEBIAN/prerm"
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm"

cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name
Source: the drivers/target/tcmu tree this package was built from ($rev)

Files: *
License: GPL-2
 On Debian systems, the full text of the GNU General Public License
 version 2 can be found in the file /usr/share/common-licenses/GPL-2.
COPYRIGHT
{
	echo "$pkg ($version) unstable; urgency=medium"
	echo
	echo "  * Built from $rev: $(git -C "$top" log -1 --format=%s HEAD)"
	echo
	echo " -- $(git -C "$top" log -1 --format='%an <%ae>  %cD' HEAD)"
} | gzip -9n >"$doc/changelog.gz"

size=$(du -sk "$root/usr" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: all
Section: kernel
Priority: optional
Maintainer: $(git -C "$top" log -1 --format='%an <%ae>' HEAD)
Depends: dkms (>= 2.1.0.0)
Installed-Size: $size
Description: LIO's userspace backstore (target_core_user), data area filled lazily (DKMS)
 A target_core_user for Linux 6.1 and 6.12 whose 1 GiB data area and
 512 MiB command ring are address space filled with pages on demand and
 given back when the device is idle, with the userspace ABI unchanged:
 tcmu-runner, its handlers and targetcli-fb work as with the kernel's
 own module.
 .
 DKMS builds it for every installed kernel that has its headers
 (linux-headers-<version>) and installs it in updates/dkms, where
 modprobe finds it before the kernel's module.  Removing this package
 brings the kernel's module back at the next load.
CONTROL

mkdir -p "$out"
deb=$out/${pkg}_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
