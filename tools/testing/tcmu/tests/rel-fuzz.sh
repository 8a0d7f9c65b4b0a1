#!/bin/bash
# tcmu-test: reliability: a handler fuzzing what it writes into the ring (seeded, counted rounds) breaks only its own device, while another device keeps verifying
# timeout: 480
# soak-timeout: 1500
# modules: stock ours
# tier: debug
# xfail: stock a fuzzed cmd_tail or entry length makes stock's completion loop spin forever (soft lockup, I/O hangs)
# xfail-timeout: 200
#
# Device f0 is served by tcmu-ramd --fuzz SEED+round: about one completion
# in 4 is corrupted at random (cmd_tail, entry length, opcode, cmd_id,
# status, sense, read_len, data, completing twice, never completing).
# Each round: a fresh fuzzing handler, 4 s of unverified fio (errors
# expected), SIGKILL, reset_ring.  Meanwhile device v0, a good tcmu-ramd,
# runs fio write+verify (crc32c) passes back to back; every pass must
# verify.  After the rounds f0 must work again with a good handler (fio
# verify) and be removable; the runner fails the test on any kernel
# report (and, on the debug kernel, on a kmemleak report).
# The handler's choices are reproducible from the seed (the kernel's
# timing decides which command each lands on); replay a run's seed with
#   TCMU_FUZZ_SEED=N tools/testing/tcmu/vm.sh rel-fuzz
. /tcmu/lib.sh

SEED=${TCMU_FUZZ_SEED:-6001}
ROUNDS=$(soak_rounds 16 100 6 3)

fdev=$(ramd_dev 20 f0 67108864) || exit 1
vdev=$(ramd_dev 21 v0 67108864) || exit 1
for d in "$fdev" "$vdev"; do
	echo 3 >"$d/attrib/cmd_time_out" || fail "cmd_time_out"
done
ramd_start v0 64M
ramd_start f0 64M
fpid=$RAMD_PID
fdisk=$(loop_lun naa.5001405000000200 "$fdev") || exit 1
vdisk=$(loop_lun naa.5001405000000210 "$vdev") || exit 1
kill $fpid
wait $fpid 2>/dev/null
log "fuzzed disk $fdisk, verified disk $vdisk"
fsd=${fdisk#/dev/}
echo 20 >/sys/block/$fsd/device/timeout

# The verified device: fio passes until /tmp/fuzz.stop exists.
rm -f /tmp/fuzz.stop /tmp/fuzz.passes
(
	k=0
	while [ ! -e /tmp/fuzz.stop ]; do
		k=$((k + 1))
		fio_verify "$vdisk" verify$k --rw=randwrite --bssplit=4k/50:64k/50 \
			--iodepth=16 --size=8M >/tmp/verify-last.out 2>&1 ||
			{ cat /tmp/verify-last.out; exit 1; }
		echo $k >/tmp/fuzz.passes
	done
) &
vpid=$!

action=$fdev/action
known_bug "fuzzed rings"
fuzz_total=0
for ((i = 1; i <= ROUNDS; i++)); do
	hlog=/tmp/ramd-fuzz-$i.out
	$RAMD --dev f0 --size 64M --fuzz $((SEED + i)) --fuzz-every 4 \
		--count 0 >"$hlog" 2>&1 &
	hpid=$!
	# a disk SCSI EH took offline comes back for the next round
	sdev_running "$fdisk" >/dev/null
	timeout -k 5 90 fio --name=fuzz$i --filename="$fdisk" --direct=1 \
		--ioengine=libaio --rw=randrw --bssplit=4k/50:64k/40:256k/10 \
		--iodepth=8 --size=32M --time_based --runtime=4 \
		--continue_on_error=all >/tmp/fio-fuzz.out 2>&1
	rc=$?
	[ $rc = 124 ] || [ $rc = 137 ] && fail "round $i: fio on the fuzzed device hung"
	kill -9 $hpid 2>/dev/null
	wait $hpid 2>/dev/null
	echo 2 >"$action/reset_ring" || fail "round $i: reset_ring"
	n=$(grep -c '^tcmu-ramd.*fuzz [0-9]*:' "$hlog")
	fuzz_total=$((fuzz_total + n))
	log "round $i seed $((SEED + i)): $n corruptions ($(grep -o 'fuzz [0-9]*: [a-z-]*' "$hlog" |
		cut -d' ' -f3 | sort | uniq -c | tr -s ' \n' ' ')), fio $(grep -o 'err=[^:]*' /tmp/fio-fuzz.out | head -n1)"
	kill -0 $vpid 2>/dev/null || break
done
touch /tmp/fuzz.stop
timeout 180 tail --pid=$vpid -f /dev/null || fail "the verified device's fio did not end"
wait $vpid || fail "fio verify on the other device failed while f0 was fuzzed"
passes=$(cat /tmp/fuzz.passes 2>/dev/null)
[ "${passes:-0}" -ge 1 ] || fail "no verify pass completed on the other device"
[ $i -gt $ROUNDS ] || fail "fuzzing stopped after round $i"
log "fuzz rounds: $ROUNDS seed: $SEED (handler seeds $((SEED + 1))..$((SEED + ROUNDS))) corruptions: $fuzz_total, verify passes on the other device: $passes"
all=$(cat /tmp/ramd-fuzz-*.out | grep -o 'fuzz [0-9]*: [a-z-]*' | cut -d' ' -f3 | sort | uniq -c | tr -s ' \n' ' ')
log "corruptions by kind: $all"
log "kernel: $(dmesg | grep -c 'ring is broken') 'ring is broken' reports"
[ "$fuzz_total" -ge $ROUNDS ] || fail "too few corruptions ($fuzz_total)"

# Recovery: a good handler after reset_ring serves verified I/O.
echo 2 >"$action/reset_ring" || fail "reset_ring"
ramd_start f0 64M
sdev_running "$fdisk"
fio_verify "$fdisk" after-fuzz --rw=randwrite --bs=4k --iodepth=8 --size=4M
log "the fuzzed device works again after reset_ring and a good handler"

# Removal: everything goes, within bounds.
timeout 120 bash -c ". /tcmu/lib.sh; lio_cleanup" || fail "removal after fuzzing hung or failed"
[ -e "$fdev" ] && fail "fuzzed backstore still there"
kill $RAMD_PID 2>/dev/null
log "ok"
