#!/bin/bash
# tcmu-test: reliability: boundary and random values in every configfs attribute, control key, action and module parameter get an error or take effect whole, and the device still serves fio verify
# timeout: 600
# modules: stock ours
# tier: stock
# xfail: stock "data_pages_per_blk=0" in control divides by zero (an oops)
#
# A user backstore is poked in three states: created but not enabled,
# enabled with no handler, enabled with tcmu-ramd attached (idle); then,
# exported with fio verify running, with the values that must fail.
# Each value goes into every writable attribute of attrib/ (ours and
# LIO's passthrough ones), every key of "control", every action and
# the module's parameters.  For ours, a write must
#   - fail with nothing changed, if the value is bad for that file;
#   - succeed and read back as the value written (clamped where the
#     documentation says so), if it is good;
# and a failed control write changes no key at all.  Stock's answers are
# checked the same way and each difference is logged ("stock differs:"),
# not failed: stock accepts values ours refuses (a control key after
# enable, trailing garbage that makes stock ignore a key, ...) and
# half-applies control writes.  On both, any kernel report or hang fails
# the test, and at the end, with the good values restored, the device
# must serve fio verify.  LIO's own attributes are only checked for
# reports and hangs.  Stock divides by zero on data_pages_per_blk=0 (or
# "-", or 2^64): those are left out of its loops, and 0 is written last,
# on a new device.
. /tcmu/lib.sh

export LC_ALL=C	# lengths in bytes
hba=31
name=cf0
d=$CFS/core/user_$hba/$name
wwn=naa.50014050000000c1
P=/sys/module/target_core_user/parameters
NW=0		# writes done
NBAD=0		# wrong answers (ours: each fails the test at the end)
declare -a DIFFS

# The values: boundaries of every integer type, bases, signs, spaces,
# garbage, long strings, a newline inside (one write; see put_val); two
# random binary strings are added below.
VALS=(0 1 2 -1 -2 7 255 256 511 512 513 4096 8192 65535 65536
      86400 86401 2147483 2147484 4294967 4294968 2147483647 2147483648
      -2147483648 -2147483649 4294967295 4294967296 9223372036854775807
      18446744073709551615 18446744073709551616 99999999999999999999999
      0x10 0X1f 0xffffffffffffffff 010 08 +5 -0 $'1\n' " 1" "1 "
      1abc abc "" - + 0x "$(printf '%0300d' 0)" "$(printf '%0255d' 0)"
      "ramd/$name" "a,b" "1,dev_size=1" $'ab\ncd')
r=$(head -c 48 /dev/urandom | tr -d '\000')
VALS+=("$r" "$(head -c 512 /dev/urandom | tr -d '\000' | tr -c -d '[:print:]')")

# The checks below run thousands of times under emulation: they set
# globals (N, W, R, S, F) instead of printing into $(...), which would
# fork for each.

# num V [SIGNED]: N = the number kstrto{u,}ll(V, 0) reads from V (one
# trailing newline allowed), in decimal; "big" past 2^59; empty if V is
# not a number.
num() {
	local v=${1%$'\n'} s= d
	N=
	case $v in
	+*) v=${v:1} ;;
	-*) [ -n "$2" ] || return 0; s=-; v=${v:1} ;;
	esac
	if [[ $v =~ ^0[xX]0*([0-9a-fA-F]*)$ ]] && [ ${#v} -gt 2 ]; then
		d=${BASH_REMATCH[1]}
		[ ${#d} -le 15 ] && N=$((${s}16#${d:-0})) || N=big
	elif [[ $v =~ ^0+([0-7]*)$ ]]; then
		d=${BASH_REMATCH[1]}
		[ ${#d} -le 20 ] && N=$((${s}8#${d:-0})) || N=big
	elif [[ $v =~ ^[1-9][0-9]*$ ]]; then
		[ ${#v} -le 18 ] && N=$((${s}10#$v)) || N=big
	fi
}
# u64 V: N = its decimal value if kstrtoull reads it, else empty.
u64() {
	local v=${1%$'\n'}
	v=${v#+}
	num "$v"
	[ "$N" = big ] || return 0
	N=
	if [[ $v =~ ^0[xX]0*([0-9a-fA-F]{1,16})$ ]]; then
		printf -v N '%u' "0x${BASH_REMATCH[1]}"
	elif [[ $v =~ ^[1-9][0-9]*$ ]] && { [ ${#v} -lt 20 ] ||
	     { [ ${#v} = 20 ] && [[ $v < 18446744073709551616 ]]; }; }; then
		N=$v
	fi
}

# rd FILE: R = FILE's text without its trailing newlines, as $(cat)
# gives it; fails if FILE cannot be read.
rd() {
	local -a l
	R=
	{ mapfile -t l <"$1"; } 2>/dev/null || return 1
	printf -v R '%s\n' "${l[@]}"
	while [[ $R == *$'\n' ]]; do R=${R%$'\n'}; done
}

# want TYPE V: W = what reading the file back must give after writing
# V: "err" if the write must fail.  TYPE is lo:hi[:signed] for integers
# (num's rules), "u64", "str" (1-255 bytes; nothing after a NUL),
# "blk" (block_dev), "err" (never good) or "ro" (not writable).
want() {
	local t=$1 v=$2 lo hi s
	case $t in
	err|ro) W=err ;;
	u64) u64 "$v"; W=${N:-err} ;;
	str)	# sysfs_emit adds a newline, $(...) takes them all away
		W=$v
		while [[ $W == *$'\n' ]]; do W=${W%$'\n'}; done
		[ -n "$v" ] && [ ${#v} -le 255 ] || W=err ;;
	blk)
		num "$v"
		case $N in 0) W=unblocked ;; 1) W=blocked ;; *) W=err ;; esac ;;
	*)
		IFS=: read -r lo hi s <<<"$t"
		num "$v" "$s"
		if [ -n "$N" ] && [ "$N" != big ] && [ "$N" -ge "$lo" ] &&
		   [ "$N" -le "$hi" ]; then
			W=$N
		else
			W=err
		fi ;;
	esac
}

# bad MSG: a wrong answer; fails the test at the end for ours.
bad() {
	if ours; then
		echo "WRONG: $*"
		NBAD=$((NBAD + 1))
	else
		DIFFS+=("$*")
	fi
}

# put_val FILE VALUE: VALUE in one write(2), as a tool writing a whole
# value does.  bash's printf writes line by line, so a value with a
# newline inside would reach the store as two writes, the second
# overwriting the first.
put_val() {
	if [[ $2 == *$'\n'?* ]]; then
		printf '%s' "$2" |
			dd of="$1" bs=65536 iflag=fullblock conv=notrunc status=none 2>/dev/null
	else
		printf '%s' "$2" 2>/dev/null >"$1"
	fi
}

# poke FILE TYPE V: write V to FILE, check the answer against want; the
# file's value before and after must match the outcome.
poke() {
	local f=$1 t=$2 v=$3 before after rc readable=1
	[ -n "$v" ] || return 0		# printf writes nothing: no store
	rd "$f" || readable=0		# write-only
	before=$R
	want "$t" "$v"
	put_val "$f" "$v"
	rc=$?
	NW=$((NW + 1))
	rd "$f"
	after=$R
	if [ "$W" = err ]; then
		[ $rc != 0 ] || bad "${f#"$CFS"/} accepted $(printf %q "$v")"
		[ "$after" = "$before" ] ||
			bad "${f#"$CFS"/}: refused $(printf %q "$v") but changed '$before' to '$after'"
	elif [ $rc != 0 ]; then
		bad "${f#"$CFS"/} refused $(printf %q "$v")"
	elif [ $readable = 1 ] && [ "$after" != "$W" ]; then
		bad "${f#"$CFS"/}: wrote $(printf %q "$v"), reads '$after', not '$W'"
	fi
}

# The device's own attributes and their types; LIO's passthrough ones
# are everything else writable in attrib/.
declare -A TYPE=(
	[cmd_time_out]=0:4294967 [qfull_time_out]=-1:2147483:s
	[data_idle_timeout]=0:86400 [data_hwm_half_life]=0:86400
	[data_keep_pages]=0:1 [tmr_notification]=0:1
	[wake_delay_us]=0:10000000 [wake_batch]=0:65535
	[emulate_write_cache]=0:1 [nl_reply_supported]=-128:127:s
	[dev_config]=str [dev_size]=u64
)

# poke_attrib SKIP_RE: every value into every attribute of attrib/ but
# those matching SKIP_RE; the good values are put back after each.
poke_attrib() {
	local f a v orig
	for f in "$d"/attrib/*; do
		a=${f##*/}
		[[ $a =~ $1 ]] && continue
		rd "$f"
		orig=$R
		if [ -n "${TYPE[$a]}" ]; then
			for v in "${VALS[@]}"; do
				poke "$f" "${TYPE[$a]}" "$v"
			done
		elif [ -w "$f" ]; then
			# LIO's: only no report and no hang.
			for v in "${VALS[@]}"; do
				put_val "$f" "$v"
				NW=$((NW + 1))
			done
		else
			poke "$f" ro 1
		fi
		put_val "$f" "$orig"
		rd "$f"
		[ "$R" = "$orig" ] || log "${f#"$CFS"/}: '$orig' not restored: '$R'"
	done
}

# state: S = the device's info line and the control keys kept in attrib/.
state() {
	local a
	rd "$d/info"
	S=${R//$'\n'/ }
	for a in hw_block_size hw_max_sectors nl_reply_supported; do
		rd "$d/attrib/$a"
		S+=" $a=$R"
	done
}
# field KEY: F = KEY's value in $S.
field() {
	local k
	case $1 in
	dev_config) k=Config: ;; dev_size) k=Size: ;;
	max_data_area_mb) k=MaxDataAreaMB: ;;
	data_pages_per_blk) k=DataPagesPerBlk: ;;
	cmd_ring_size_mb) k=CmdRingSizeMB: ;;
	*) k=$1= ;;
	esac
	F=
	if [[ $S =~ (^|[[:space:]])"$k"[[:space:]]*([^[:space:]]*) ]]; then
		F=${BASH_REMATCH[2]}
	fi
}
# want_ctl KEY V ENABLED: W = the value KEY must then show, err or skip.
# The control keys: ours' rules; global_max_data_area_mb and the
# current sizes (in $S) bound max_data_area_mb and data_pages_per_blk.
want_ctl() {
	local k=$1 v=$2 n g mb ppb bs ms
	case $v in *,* | *$'\n'*) W=skip; return ;; esac
	W=err
	[ "$3" = 1 ] && [ "$k" != nl_reply_supported ] && return
	case $k in
	dev_config) [ -n "$v" ] && [ ${#v} -le 255 ] && W=$v; return ;;
	dev_size) u64 "$v"; W=${N:-err}; return ;;
	esac
	num "$v" s
	n=$N
	if [ -z "$n" ] || [ "$n" = big ] || [ "$n" -lt -2147483648 ] ||
	   [ "$n" -gt 2147483647 ]; then
		return
	fi
	[ "$k" = nl_reply_supported ] && { W=$n; return; }
	[ "$n" -le 0 ] && return
	read -r g <$P/global_max_data_area_mb
	field max_data_area_mb; mb=$F
	field data_pages_per_blk; ppb=$F
	field hw_block_size; bs=$F
	field hw_max_sectors; ms=$F
	[ "$bs" = 0 ] && bs=512		# the defaults, set at enable
	[ "$ms" = 0 ] && ms=128
	case $k in
	hw_block_size)
		case $n in 512|1024|2048|4096) ;; *) return ;; esac
		[ $((ms * n)) -ge 4096 ] && [ $((ms * n)) -le $((1 << 30)) ] &&
			W=$n ;;
	hw_max_sectors)
		[ $((n * bs)) -ge 4096 ] && [ $((n * bs)) -le $((1 << 30)) ] &&
			W=$n ;;
	max_data_area_mb)
		[ "$n" -gt "$g" ] && n=$g
		[ "$n" -gt 1024 ] && n=1024
		[ $((n * 256)) -ge "$ppb" ] && W=$n ;;
	data_pages_per_blk)
		[ "$n" -le $((mb * 256)) ] && W=$n ;;
	cmd_ring_size_mb)
		[ "$n" -gt 512 ] && n=512
		W=$n ;;
	esac
}

CTL_KEYS=(dev_config dev_size hw_block_size hw_max_sectors nl_reply_supported
	  max_data_area_mb data_pages_per_blk cmd_ring_size_mb)
# poke_control ENABLED: every key with every value, then mixed writes
# whose last key is bad: nothing may change.
poke_control() {
	local k v rc before good got
	for k in "${CTL_KEYS[@]}"; do
		state
		field "$k"
		good=$F
		[ "$k" = dev_config ] && rd "$d/attrib/dev_config" && good=$R
		for v in "${VALS[@]}"; do
			state
			want_ctl "$k" "$v" "$1"
			[ "$W" = skip ] && continue
			if [ "$k" = data_pages_per_blk ] && ! ours; then
				# stock reads "-" and 2^64 as 0 too:
				# simple_strtol, which wraps
				num "$v" s
				[ "$N" = 0 ] || [ "$v" = - ] ||
				[ "$v" = 18446744073709551616 ] &&
					continue	# the oops, see the end
			fi
			before=$S
			put_val "$d/control" "$k=$v"
			rc=$?
			NW=$((NW + 1))
			state
			field "$k"
			got=$F
			[ "$k" = dev_config ] && rd "$d/attrib/dev_config" && got=$R
			if [ "$W" = err ]; then
				[ $rc != 0 ] || bad "control $k=$(printf %q "$v") accepted"
				[ "$S" = "$before" ] ||
					bad "control $k=$(printf %q "$v"): refused but changed '$before' to '$S'"
			elif [ $rc != 0 ]; then
				bad "control $k=$(printf %q "$v") refused"
			elif [ "$got" != "$W" ]; then
				bad "control $k=$(printf %q "$v"): reads '$got', not '$W'"
			fi
		done
		# Back to the good value (the test's device needs it; 0 is
		# the default, which cannot be written).
		[ "$good" = 0 ] && continue
		if ! put_val "$d/control" "$k=$good"; then
			[ "$1" = 1 ] && [ "$k" != nl_reply_supported ] ||
				bad "control $k=$good refused when restoring"
		fi
	done
	for v in "dev_size=4096,max_data_area_mb=0" \
		 "dev_config=ramd/zz,hw_block_size=3" \
		 "nl_reply_supported=1,cmd_ring_size_mb=x" \
		 "max_data_area_mb=1,data_pages_per_blk=512"; do
		state
		before=$S
		put_val "$d/control" "$v" &&
			bad "control $v accepted"
		NW=$((NW + 1))
		state
		[ "$S" = "$before" ] || bad "control $v: refused but changed '$before' to '$S'"
	done
}

# poke_actions CONFIGURED: block_dev, reset_ring (RESET=1: the valid
# values too), free_kept_buf (no buffer is kept: always an error).
poke_actions() {
	local v t
	for v in "${VALS[@]}"; do
		t=err
		[ "$1" = 1 ] && t=blk
		poke "$d/action/block_dev" $t "$v"
		t=err
		[ "$1" = 1 ] && [ "$RESET" = 1 ] && t=1:2
		if [ "$1" = 1 ] && [ "$RESET" != 1 ]; then
			want 1:2 "$v"
			[ "$W" != err ] && continue
		fi
		poke "$d/action/reset_ring" $t "$v"
		poke "$d/action/free_kept_buf" err "$v"
	done
	echo 0 >"$d/action/block_dev" 2>/dev/null
}

# The module parameters: global_max_data_area_mb (decimal, > 0),
# block_netlink (0/1), reset_netlink (1 while blocked; write-only).
poke_params() {
	local v w orig rc
	read -r orig <$P/global_max_data_area_mb
	for v in "${VALS[@]}"; do
		[ -n "$v" ] || continue
		# kstrtoint(v, 10): decimal only, from 1
		w=${v%$'\n'}
		w=${w#+}
		if [[ $w =~ ^[0-9]{1,18}$ ]] && [ $((10#$w)) -ge 1 ] &&
		   [ $((10#$w)) -le 2147483647 ]; then
			w=$((10#$w))
		else
			w=err
		fi
		put_val $P/global_max_data_area_mb "$v"
		rc=$?
		NW=$((NW + 1))
		read -r R <$P/global_max_data_area_mb
		if [ "$w" = err ] && [ $rc = 0 ]; then
			bad "global_max_data_area_mb accepted $(printf %q "$v")"
		elif [ "$w" != err ] && [ "$R" != "$w" ]; then
			bad "global_max_data_area_mb: wrote $(printf %q "$v"), reads $R"
		fi
		echo "$orig" >$P/global_max_data_area_mb
	done
	for v in "${VALS[@]}"; do
		[ -n "$v" ] || continue
		want 0:1 "$v"
		put_val $P/block_netlink "$v"
		rc=$?
		NW=$((NW + 1))
		read -r R <$P/block_netlink
		case $W:$rc in
		err:0) bad "block_netlink accepted $(printf %q "$v")" ;;
		err:*) ;;
		0:0) [ "$R" = unblocked ] || bad "block_netlink $v" ;;
		1:0) [ "$R" = blocked ] || bad "block_netlink $v" ;;
		*) bad "block_netlink refused $(printf %q "$v")" ;;
		esac
		put_val $P/reset_netlink "$v"
		rc=$?
		NW=$((NW + 1))
		want 1:1 "$v"
		[ "$W" = err ] && [ $rc = 0 ] &&
			bad "reset_netlink accepted $(printf %q "$v")"
		echo 0 >$P/block_netlink
	done
}

nlpid=
trap 'echo 0 >$P/block_netlink 2>/dev/null; [ -n "$nlpid" ] && kill $nlpid
      tail -n 20 /tmp/ramd-$name.out 2>/dev/null' EXIT
mkdir -p "$d" || fail "mkdir $d"
for p in "dev_config=ramd/$name" dev_size=67108864 nl_reply_supported=-1; do
	echo -n "$p" >"$d/control" || fail "control $p"
done

log "1: created, not enabled"
poke_control 0
poke_attrib '^$'
poke_actions 0
poke_params
n1=$NW

log "2: enabled, no handler"
# A change to an enabled device's dev_config, dev_size or
# emulate_write_cache is sent to the handler daemon first, and fails
# with ESRCH if no daemon listens: one listens here, and does not reply
# (nor asks for replies).
/tcmu/bin/tcmu-nl --reply none >/tmp/cf-nl.out 2>&1 &
nlpid=$!
wait_for 10 grep -q '^ready' /tmp/cf-nl.out || fail "tcmu-nl did not start"
# The control tests may have left other good values: the defaults back.
printf 'dev_config=ramd/%s,dev_size=67108864,hw_block_size=512,hw_max_sectors=128,max_data_area_mb=64,data_pages_per_blk=1,cmd_ring_size_mb=8,nl_reply_supported=-1' "$name" >"$d/control" ||
	fail "cannot set the defaults back"
echo 1 >"$d/enable" || fail "enabling $d failed"
[ -e "$d/attrib/data_keep_pages" ] && echo 0 >"$d/attrib/data_keep_pages"
RESET=1
poke_control 1
poke_attrib '^$'
poke_actions 1
n2=$((NW - n1))

log "3: enabled, tcmu-ramd attached and idle"
# Stock takes dev_config in control after enable, and half-applies the
# mixed writes: put it back (ours refused them all).
ours || printf 'dev_config=ramd/%s' "$name" >"$d/control"
rd "$d/attrib/dev_config"
[ "$R" = "ramd/$name" ] || fail "dev_config not restored: '$R'"
ramd_start "$name" 67108864
RESET=0
poke_control 1
poke_attrib '^$'
poke_actions 1
poke_params
n3=$((NW - n1 - n2))
kill -0 "$RAMD_PID" || fail "tcmu-ramd died: $(tail -n 5 /tmp/ramd-$name.out)"

log "4: exported, fio verify running: the values that must fail"
echo 0 >"$d/action/block_dev"
disk=$(loop_lun $wwn "$d") || exit 1
fio_verify_bg "$disk" cf-io --rw=randrw --bs=4k --iodepth=16 --size=32m \
	--time_based --runtime=30
VALS=(abc -5 1abc 4294967296 " 1" "" 0x "$r")
while fio_running; do
	poke_control 1
	poke_actions 1
	for a in cmd_time_out qfull_time_out data_idle_timeout emulate_write_cache \
		 nl_reply_supported dev_size tmr_notification data_keep_pages; do
		[ -e "$d/attrib/$a" ] || continue
		for v in "${VALS[@]}"; do
			t=${TYPE[$a]}
			[ $a = cmd_time_out ] && t=ro	# refused while exported
			poke "$d/attrib/$a" "$t" "$v"
		done
	done
done
fio_wait
log "after the pokes: fio verify once more"
fio_verify "$disk" cf-after --rw=randwrite --bs=64k --iodepth=8 --size=32m
loop_lun_remove $wwn || fail "cannot remove the LUN"
ramd_stop || fail "tcmu-ramd ended $RAMD_ENDED"
rmdir "$d" "$CFS/core/user_$hba" || fail "cannot remove $d"

log "writes: $n1 not enabled, $n2 enabled, $n3 with the handler, $((NW - n1 - n2 - n3)) under I/O"
if ! ours; then
	log "stock differs in ${#DIFFS[@]} answers:"
	printf 'stock differs: %s\n' "${DIFFS[@]}" | sort | uniq -c | sort -rn | head -n 60
fi
[ $NBAD = 0 ] || fail "$NBAD wrong answers"

log "5: data_pages_per_blk=0 on a new device"
mkdir -p "$d" || fail "mkdir $d"
known_bug "data_pages_per_blk=0"
printf 'data_pages_per_blk=0' 2>/dev/null >"$d/control" &&
	fail "data_pages_per_blk=0 accepted"
rd "$d/info"
[[ $R == *"DataPagesPerBlk: 1 "* ]] || fail "data_pages_per_blk changed: $R"
rmdir "$d" "$CFS/core/user_$hba" || fail "cannot remove $d"
log "ok"
