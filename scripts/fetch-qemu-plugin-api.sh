#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-qemu-plugin-api.sh - the QEMU plugin header (qemu-plugin.h) of
# the installed qemu-system-x86, from Debian's source package of that
# very version, for make bench's instruction counter
# (tools/testing/tcmu/bench/insn-count.c).  Prints the directory that
# holds qemu-plugin.h.
#
# Nothing is installed: the source package is fetched with apt-get
# source --download-only through a private deb-src list (signatures
# checked as for any apt download) into $TCMU_CACHE/qemu/<version>/.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCMU_CACHE:-$top/.cache}/qemu
log() { echo "fetch-qemu-plugin-api: $*" >&2; }

bin=$(dpkg-query -W -f '${Version}' qemu-system-x86 2>/dev/null) ||
	{ log "qemu-system-x86 is not installed"; exit 1; }
# The binary's source version ("+bN" binNMUs build the same source).
src=$(apt-cache show "qemu-system-x86=$bin" |
	sed -n 's/^Source: qemu (\(.*\))$/\1/p' | head -n1)
src=${src:-$bin}
dir=$cache/${src//:/_}
if [ -f "$dir/qemu-plugin.h" ]; then
	echo "$dir"
	exit 0
fi

apt=$cache/apt
mkdir -p "$apt/lists/partial" "$dir/src"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
	echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm main"
	echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian bookworm-updates main"
	echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main"
} >"$apt/sources.list"
opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list"
      -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists"
      -o APT::Sandbox::User=root)
log "qemu $src: fetching the source package"
apt-get "${opts[@]}" update >&2
(cd "$dir/src" && apt-get "${opts[@]}" source --download-only "qemu=$src" >&2)
orig=$(ls "$dir"/src/qemu_*.orig.tar.*)
member=$(tar -tf "$orig" | grep '/include/qemu/qemu-plugin\.h$' | head -n1)
tar -xf "$orig" -O "$member" >"$dir/qemu-plugin.h.tmp"
mv "$dir/qemu-plugin.h.tmp" "$dir/qemu-plugin.h"
rm -rf "$dir/src"
echo "$dir"
