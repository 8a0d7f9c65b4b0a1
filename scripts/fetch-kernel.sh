#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch one of Debian 12's kernels -- Linux 6.1 (the release's own) or
# 6.12 (linux-image-6.12-amd64, from bookworm-security: the series of
# Debian 13) -- its headers for out-of-tree builds and (with --source)
# its linux-source package into the cache.  Nothing is installed on the
# host: packages are fetched with "apt-get download" and unpacked with
# "dpkg -x".
#
# The ABI (6.1.0-NN, 6.12.NN+deb12) is resolved through the series'
# meta-package (linux-image-amd64, linux-image-6.12-amd64) on every run;
# a second run for an ABI already unpacked downloads nothing.  Both
# series live side by side in the cache.
#
# Usage: scripts/fetch-kernel.sh [--kernel 6.1|6.12] [--source] [--print-abi]
# Env:   TCMU_CACHE (default: <repo>/.cache)
#
# Prints, as its last line, the kernel directory: $TCMU_CACHE/kernel/<abi>.
# That folder holds:
#   root/      the unpacked image (boot/vmlinuz-*, lib/modules/<abi>/)
#   headers/   the unpacked headers (KDIR: headers/usr/src/linux-headers-<abi>)
#   source/    linux-source-<series> unpacked (with --source)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCMU_CACHE:-$top/.cache}
series=6.1
want_source=0
print_abi=0
usage() {
	echo "usage: $0 [--kernel 6.1|6.12] [--source] [--print-abi]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) [ $# -ge 2 ] || usage; series=$2; shift ;;
	--source) want_source=1 ;;
	--print-abi) print_abi=1 ;;
	*) usage ;;
	esac
	shift
done

log() { echo "fetch-kernel: $*" >&2; }

# The series' meta-package, and the pattern of the ABIs it depends on.
case $series in
6.1) meta=linux-image-amd64 abi_re='6\.1\.0-[0-9]*' ;;
6.12) meta=linux-image-6.12-amd64 abi_re='6\.12\.[0-9]*+deb12' ;;
*) log "unknown kernel series '$series': 6.1 or 6.12"; exit 2 ;;
esac

# The ABI package the meta-package depends on, e.g. linux-image-6.1.0-56-amd64.
resolve_abi() {
	local pkg
	pkg=$(apt-cache depends "$meta" 2>/dev/null |
	      sed -n "s/^ *Depends: linux-image-\($abi_re-amd64\)\$/\1/p" |
	      head -n1)
	if [ -z "$pkg" ]; then
		log "cannot resolve $meta; run 'apt-get update' first (6.12 needs bookworm-security in the sources)"
		exit 1
	fi
	echo "${pkg%-amd64}"
}

abi=$(resolve_abi)		# 6.1.0-NN
if [ "$print_abi" = 1 ]; then
	echo "$abi"
	exit 0
fi
kdir=$cache/kernel/$abi
debs=$cache/debs
mkdir -p "$kdir" "$debs"

# fetch PKG [VERSION]: apt-get download PKG at VERSION (default: the
# candidate) into the deb cache, unless already there; print the file.
fetch() {
	local pkg=$1 ver=${2:-} file
	[ -n "$ver" ] || ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		log "package $pkg not found"
		exit 1
	fi
	file=$(ls "$debs/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$file" ]; then
		log "downloading $pkg $ver"
		(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2)
		file=$(ls "$debs/${pkg}_${ver//:/%3a}_"*.deb | head -n1)
	fi
	echo "$file"
}

# Unpack packages into $1 once; a stamp records what was unpacked.
unpack() {
	local dest=$1 stamp=$1/.unpacked f
	shift
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ]; then
		return 0
	fi
	rm -rf "$dest"
	mkdir -p "$dest"
	for f in "$@"; do
		log "unpacking $(basename "$f")"
		dpkg -x "$f" "$dest"
	done
	echo "$*" >"$stamp"
}

image=$(fetch "linux-image-$abi-amd64")
unpack "$kdir/root" "$image"

h_arch=$(fetch "linux-headers-$abi-amd64")
h_common=$(fetch "linux-headers-$abi-common")
# linux-kbuild-6.1 for 6.1, linux-kbuild-<abi> for 6.12: ask the headers.
kbuild=$(apt-cache depends "linux-headers-$abi-amd64" |
	 sed -n 's/^ *Depends: \(linux-kbuild-[^ ]*\)$/\1/p' | head -n1)
h_kbuild=$(fetch "${kbuild:-linux-kbuild-$series}")
unpack "$kdir/headers" "$h_arch" "$h_common" "$h_kbuild"

# The arch headers' Makefile includes the common tree by absolute path;
# point it at the unpacked copy.
hdir=$kdir/headers/usr/src/linux-headers-$abi-amd64
echo "include $kdir/headers/usr/src/linux-headers-$abi-common/Makefile" >"$hdir/Makefile"
# The Debian linux-kbuild package installs its tools under /usr/lib; the
# headers' scripts/tools symlinks are relative and resolve inside the copy.

if [ "$want_source" = 1 ]; then
	# The source of the image we run, not whatever upload is newest:
	# Debian can publish linux-source-<series> before the image it matches.
	ver=${image##*/linux-image-"$abi"-amd64_}
	ver=${ver%%_*}
	if ! apt-cache madison "linux-source-$series" |
	     awk -F' *[|] *' -v v="$ver" '$2 == v { f = 1 } END { exit !f }'; then
		log "linux-source-$series $ver is gone from the archive; taking the newest"
		ver=
	fi
	src=$(fetch "linux-source-$series" "$ver")
	if [ ! -f "$kdir/source/.unpacked" ] || [ "$(cat "$kdir/source/.unpacked")" != "$src" ]; then
		rm -rf "$kdir/source"
		mkdir -p "$kdir/source"
		tmp=$(mktemp -d "$cache/src.XXXXXX")
		dpkg -x "$src" "$tmp"
		log "unpacking the linux-source tarball"
		tar -xf "$tmp/usr/src/linux-source-$series.tar.xz" -C "$kdir/source" --strip-components=1
		rm -rf "$tmp"
		echo "$src" >"$kdir/source/.unpacked"
	fi
fi

echo "$kdir"
