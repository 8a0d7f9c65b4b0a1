#!/bin/bash
# tcmu-test: uio sysfs: map0 shows no kernel address
# timeout: 300
# modules: stock ours
#
# maps/map0/addr: stock shows the ring's kernel (vmalloc) address there,
# which nothing uses (handlers read map0/size); ours shows 0.  Logged for
# both, checked for ours.
. /tcmu/lib.sh

dev=$(ramd_dev 16 name 16777216)
uio=$(uio_of 16 name)
addr=$(cat "$uio/maps/map0/addr")
log "$MODULE: map0 addr $addr size $(cat "$uio/maps/map0/size") name $(cat "$uio/name")"
if ours; then
	[ $((addr)) = 0 ] || fail "map0 addr shows $addr"
fi

lio_cleanup
log "ok"
