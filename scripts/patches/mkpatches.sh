#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkpatches.sh [6.1|6.12]... - "make patches": this tree's committed
# driver, documentation and userspace tests as a git format-patch series
# with a cover letter, against the pristine linux-source of each of
# Debian 12's kernels (default: both), in results/patches/<series>/.
#
# The base is Debian's linux-source-<series> package of the kernel
# fetch-kernel.sh resolves, unpacked and committed once into a scratch
# repository ($TCMU_CACHE/patches/<abi>/tree).  The series is built from
# HEAD (git archive: uncommitted changes are not in it) by the steps
# below, one commit each, with the message of scripts/patches/NN-*.msg
# (subject line, blank line, body).  The new driver comes in files of
# its own under drivers/target/tcmu/, one concern a patch, and replaces
# drivers/target/target_core_user.c in one switch patch, so that every
# patch builds (make check-patches proves it) and a reviewer reads the
# allocator, the decoder, the command area and reclaim before the code
# that uses them.
#
# compat.h (what differs between 6.1 and 6.12) is resolved for the base
# with the kernel's own scripts/unifdef.c: only the branch of that tree
# remains.  The out-of-tree Kbuild becomes drivers/target/tcmu/Makefile.
#
# Prints the series directories.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export TCMU_CACHE=${TCMU_CACHE:-$top/.cache}
out_top=${PATCHES_OUT:-$top/results/patches}
[ $# -gt 0 ] || set -- 6.1 6.12

log() { echo "mkpatches: $*" >&2; }
# Who the series is from, and when: HEAD's author and date, so that the
# same HEAD gives the same patches.
author=$(git -C "$top" log -1 --format='%an <%ae>' HEAD)
export GIT_AUTHOR_NAME=${author% <*} GIT_AUTHOR_EMAIL=${author##*<}
GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL%>}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
GIT_AUTHOR_DATE=$(git -C "$top" log -1 --format=%aD HEAD)
GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
rev=$(git -C "$top" rev-parse --short=12 HEAD)

# pristine SERIES: the scratch repository of that series' linux-source,
# its one commit tagged "base"; prints the tree.
pristine() {
	local kdir deb repo tmp ver
	kdir=$("$top/scripts/fetch-kernel.sh" --kernel "$1" --source | tail -n1)
	deb=$(cat "$kdir/source/.unpacked")
	repo=$TCMU_CACHE/patches/$(basename "$kdir")
	if [ "$(cat "$repo/.deb" 2>/dev/null)" = "$deb" ] &&
	   git -C "$repo/tree" rev-parse -q --verify base >/dev/null; then
		echo "$repo/tree"
		return
	fi
	log "importing $(basename "$deb") into $repo (once)"
	rm -rf "$repo"
	mkdir -p "$repo/tree"
	tmp=$(mktemp -d "$TCMU_CACHE/patches/src.XXXXXX")
	dpkg -x "$deb" "$tmp"
	tar -xf "$tmp/usr/src/linux-source-$1.tar.xz" -C "$repo/tree" --strip-components=1
	rm -rf "$tmp"
	ver=$(dpkg-deb -f "$deb" Version)
	(
		cd "$repo/tree"
		git init -q
		# -f: Debian's top-level .gitignore ignores the whole tree
		git add -f -A
		GIT_AUTHOR_DATE="@0 +0000" GIT_COMMITTER_DATE="@0 +0000" \
			git commit -q -m "Linux $(make -s kernelversion) as Debian's linux-source-$1 $ver"
		git tag base
	)
	echo "$deb" >"$repo/.deb"
	echo "$repo/tree"
}

# put PATH...: copy files or folders of HEAD (the stage) into the tree,
# to be added (by name: Debian's .gitignore ignores everything).
put() {
	local p
	for p in "$@"; do
		mkdir -p "$tree/$(dirname "$p")"
		cp -a "$stage/$p" "$tree/$p"
		added+=("$p")
	done
}

# The steps, in the order of the series; each ends in one commit.
step_01() { put drivers/target/tcmu/data_area.c drivers/target/tcmu/data_area.h \
		tools/testing/tcmu/alloc; }
step_02() { put drivers/target/tcmu/ring_decode.h tools/testing/tcmu/fuzz; }
step_03() { put drivers/target/tcmu/tcmu.h drivers/target/tcmu/cmd_area.c; }
step_04() {
	put drivers/target/tcmu/reclaim.c
	# compat.h for this tree: each TCMU_HAS_* decided by the Kbuild's
	# own test, "$(call tcmu_has,FILE,SYMBOL,MACRO)", read from it
	local defs=() file sym macro
	while IFS=, read -r file sym macro; do
		if grep -qsw "$sym" "$tree/$file"; then
			defs+=("-D$macro")
		else
			defs+=("-U$macro")
		fi
	done < <(sed -n 's/.*$(call tcmu_has,\([^)]*\)).*/\1/p' \
		 "$stage/drivers/target/tcmu/Kbuild")
	[ ${#defs[@]} -gt 0 ] || { log "no tcmu_has tests in the Kbuild"; exit 1; }
	"$unifdef" "${defs[@]}" "$stage/drivers/target/tcmu/compat.h" \
		>"$tree/drivers/target/tcmu/compat.h" || [ $? = 1 ]
	added+=(drivers/target/tcmu/compat.h)
}
step_05() {
	put drivers/target/tcmu/main.c drivers/target/tcmu/ring.c \
		drivers/target/tcmu/configfs.c drivers/target/tcmu/netlink.c
	{
		echo "# SPDX-License-Identifier: GPL-2.0"
		echo
		echo "obj-\$(CONFIG_TCM_USER2) += target_core_user.o"
		grep '^target_core_user-y' "$stage/drivers/target/tcmu/Kbuild"
	} >"$tree/drivers/target/tcmu/Makefile"
	added+=(drivers/target/tcmu/Makefile)
	sed -i 's|^obj-$(CONFIG_TCM_USER2)\t\t+= target_core_user.o$|obj-$(CONFIG_TCM_USER2)\t\t+= tcmu/|' \
		"$tree/drivers/target/Makefile"
	grep -q 'tcmu/$' "$tree/drivers/target/Makefile" ||
		{ log "drivers/target/Makefile: no target_core_user.o line"; exit 1; }
	git -C "$tree" rm -q drivers/target/target_core_user.c
}
step_06() {
	put Documentation/target/tcmu-data-area.rst Documentation/target/tcmu-design.rst
	sed -i 's/^    tcmu-design$/    tcmu-design\n    tcmu-data-area/' \
		"$tree/Documentation/target/index.rst"
	grep -q '^    tcmu-data-area$' "$tree/Documentation/target/index.rst" ||
		{ log "Documentation/target/index.rst: no tcmu-design entry"; exit 1; }
}
step_07() {
	# The driver's entry: its files now, and who else answers for them.
	awk -v who="$author" '
	/^SCSI TARGET CORE USER DRIVER$/ { on = 1 }
	on && /^L:/ && !done { print "R:\t" who; done = 1 }
	on && /^F:\tDocumentation\/target\/tcmu-design.rst$/ {
		print "F:\tDocumentation/target/tcmu-*.rst"; next }
	on && /^F:\tdrivers\/target\/target_core_user.c$/ {
		print "F:\tdrivers/target/tcmu/"; next }
	on && /^F:\tinclude\/uapi\/linux\/target_core_user.h$/ {
		print; print "F:\ttools/testing/tcmu/"; on = 0; next }
	{ print }' "$tree/MAINTAINERS" >"$tree/MAINTAINERS.new"
	mv "$tree/MAINTAINERS.new" "$tree/MAINTAINERS"
	grep -q '^F:	drivers/target/tcmu/$' "$tree/MAINTAINERS" ||
		{ log "MAINTAINERS: no SCSI TARGET CORE USER DRIVER entry"; exit 1; }
}
step_08() { put tools/testing/tcmu/handler; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
git -C "$top" archive HEAD | tar -x -C "$stage"

for s in "$@"; do
	case $s in 6.1|6.12) ;; *) log "unknown series $s: 6.1 or 6.12"; exit 2 ;; esac
	tree=$(pristine "$s")
	unifdef=$(dirname "$tree")/unifdef
	[ -x "$unifdef" ] || gcc -O2 -o "$unifdef" "$tree/scripts/unifdef.c"
	git -C "$tree" checkout -q -f -B tcmu base
	git -C "$tree" clean -q -fdx
	for msg in "$here"/[0-9][0-9]-*.msg; do
		n=$(basename "$msg" | cut -c1-2)
		added=()
		"step_$n"
		git -C "$tree" add -u
		[ ${#added[@]} = 0 ] || git -C "$tree" add -f -- "${added[@]}"
		git -C "$tree" commit -q -s -F "$msg"
	done
	out=$out_top/$s
	rm -rf "$out"
	mkdir -p "$out"
	git -C "$tree" format-patch -q --cover-letter --base=base \
		-o "$out" base..tcmu
	# The cover letter: its subject and text, with this base and HEAD.
	cover=$out/0000-cover-letter.patch
	base_subject=$(git -C "$tree" log -1 --format=%s base)
	python3 - "$cover" "$here/cover.txt" "$base_subject" "$rev" <<'PY'
import sys
cover, text, base, rev = sys.argv[1:]
body = open(text).read().replace("@BASE@", base).replace("@REV@", rev)
subject, _, blurb = body.partition("\n\n")
s = open(cover).read()
s = s.replace("*** SUBJECT HERE ***", subject.strip())
s = s.replace("*** BLURB HERE ***", blurb.rstrip("\n"))
open(cover, "w").write(s)
PY
	log "$s: $(ls "$out" | wc -l) files in $out"
	echo "$out"
done
