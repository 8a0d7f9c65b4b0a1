#!/bin/bash
# tcmu-test: uio sysfs: map0 shows no kernel address, and the name read while dev_config changes is always a whole name
# timeout: 300
# modules: stock ours
# tier: debug
#
# maps/map0/addr: stock shows the ring's kernel (vmalloc) address there,
# which nothing uses (handlers read map0/size); ours shows 0.  Logged for
# both, checked for ours.
#
# dev_config on an enabled device renames its UIO device, which frees the
# old name; UIO's sysfs "name" reads it under the UIO device's info_lock.
# tcmu-nl listens (no reply support, no replies) so that the RECONFIG
# events are delivered; one loop writes dev_config 400 times, alternating
# two values, while another reads "name" as fast as it can.  Every name
# read must be one of the two; on the debug kernel a read of a freed name
# is a KASAN report.  Not on stock, which frees the name under the
# reader: there the result is a race (5 of 1225 reads were garbage in one
# run on Debian's kernel).
. /tcmu/lib.sh

NL=/tcmu/bin/tcmu-nl
[ -x $NL ] || skip "tcmu-nl not built"
$NL --reply none >/tmp/nl.out 2>&1 &
nlpid=$!
trap 'kill $nlpid 2>/dev/null' EXIT
wait_for 10 grep -q '^ready' /tmp/nl.out || { cat /tmp/nl.out; fail "tcmu-nl did not start"; }

dev=$(ramd_dev 16 name 16777216)
uio=$(uio_of 16 name)
addr=$(cat "$uio/maps/map0/addr")
log "$MODULE: map0 addr $addr size $(cat "$uio/maps/map0/size") name $(cat "$uio/name")"
if ours; then
	[ $((addr)) = 0 ] || fail "map0 addr shows $addr"
fi

if ! ours; then
	lio_cleanup
	log "ok (the name's race is not run on stock)"
	exit 0
fi
a=tcm-user/16/name/ramd/name b=tcm-user/16/name/ramd/name-renamed
(for ((i = 0; i < 400; i++)); do
	echo -n ramd/name-renamed >"$dev/attrib/dev_config" || exit 1
	echo -n ramd/name >"$dev/attrib/dev_config" || exit 1
done) 2>/tmp/writer.err &
wpid=$!
reads=0 bad=0
while kill -0 $wpid 2>/dev/null; do
	read -r n <"$uio/name"
	reads=$((reads + 1))
	[ "$n" = "$a" ] || [ "$n" = "$b" ] || { bad=$((bad + 1)); log "read name '$n'"; }
done
wait $wpid || fail "a dev_config write failed: $(cat /tmp/writer.err)"
log "$reads reads of name during 800 renames, $bad not a whole name"
[ $bad = 0 ] || fail "$bad reads of the name were not a name"
[ "$(cat "$uio/name")" = "$a" ] || fail "name is $(cat "$uio/name") after the renames"
lio_cleanup
log "ok"
