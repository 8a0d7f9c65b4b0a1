#!/bin/bash
# tcmu-test: KEEP_BUF and free_kept_buf (reclaim leaves kept buffers alone), kept buffers freed on close, TMR notification of a held command, late completion after timeout
# timeout: 300
# modules: stock ours
# tier: debug
#
# A tiny handler written here in Python (raw ring ABI, in-order
# completion, a cursor ahead of cmd_tail so it can hold a command) serves
# a LUN just well enough for sd to attach; commands go in with sg_raw.
. /tcmu/lib.sh

dev=$CFS/core/user_9/k0
wwn=naa.5001405000000090
hlog=/tmp/pyh.log
command -v sg_raw >/dev/null || skip "no sg_raw"

cat >/tmp/pyh.py <<'PY'
import glob, mmap, os, select, struct, sys
name, mode, logf = sys.argv[1:4]
for n in glob.glob('/sys/class/uio/uio*/name'):
    if open(n).read().strip() == name:
        d = os.path.dirname(n)
        break
else:
    sys.exit('no uio device ' + name)
size = int(open(d + '/maps/map0/size').read(), 16)
fd = os.open('/dev/' + os.path.basename(d), os.O_RDWR)
m = mmap.mmap(fd, size)
ver, flags, cmdr_off, cmdr_size = struct.unpack_from('<HHII', m, 0)
log = open(logf, 'a', buffering=1)
log.write('mailbox version %d flags %#x cmdr_off %d cmdr_size %d\n' %
          (ver, flags, cmdr_off, cmdr_size))
INQ = bytes([0, 0, 5, 2, 31, 0, 0, 2]) + b'PYH     KEEPBUF TEST    0001'
cur = struct.unpack_from('<I', m, 64)[0]
pending = []        # [offset, length, done] from cmd_tail on
held = []
held_once = False

def complete(e, uflags=0):
    off = cmdr_off + e[0]
    m[off + 8] = 0                      # GOOD
    m[off + 7] = m[off + 7] | uflags
    e[2] = True

def advance():
    t = struct.unpack_from('<I', m, 64)[0]
    while pending and pending[0][2]:
        t = (t + pending.pop(0)[1]) % cmdr_size
    struct.pack_into('<I', m, 64, t)
    os.write(fd, b'\0\0\0\0')

while True:
    r, _, _ = select.select([fd], [], [], 0.3)
    if r:
        os.read(fd, 4)
    if held and os.path.exists('/tmp/pyh-release'):
        for e in held:
            log.write('late completion of %d\n' % e[3])
            complete(e)
        held = []
        advance()
    head = struct.unpack_from('<I', m, 12)[0]
    work = False
    while cur != head:
        off = cmdr_off + cur
        len_op, cid = struct.unpack_from('<IH', m, off)
        op, ln = len_op & 7, len_op & ~7
        e = [cur, ln, True, cid]
        pending.append(e)
        cur = (cur + ln) % cmdr_size
        work = True
        if op == 2:
            typ, = struct.unpack_from('<B', m, off + 8)
            cnt, = struct.unpack_from('<I', m, off + 12)
            ids = struct.unpack_from('<%dH' % cnt, m, off + 32)
            log.write('TMR type %d ids %s\n' % (typ, ' '.join(map(str, ids))))
            continue
        if op != 1:
            continue
        e[2] = False
        niov, = struct.unpack_from('<I', m, off + 8)
        cdb_off, = struct.unpack_from('<Q', m, off + 24)
        iovs = [struct.unpack_from('<QQ', m, off + 48 + 16 * i)
                for i in range(niov)]
        opc = m[cdb_off]
        if opc == 0x12 and iovs:
            b, l = iovs[0]
            data = INQ if not m[cdb_off + 1] & 1 else bytes([0, m[cdb_off + 2], 0, 0])
            n = min(l, len(data))
            m[b:b + n] = data[:n]
        elif opc == 0x25 and iovs:
            b, l = iovs[0]
            m[b:b + 8] = struct.pack('>II', 2047, 512)
        elif opc == 0x9e and iovs:
            b, l = iovs[0]
            m[b:b + 12] = struct.pack('>QI', 2047, 512)
        if opc in (0x28, 0x2a):
            for b, l in iovs:                   # touch the data pages
                m[b] = m[b]
            if mode == 'keep':
                log.write('kept %d\n' % cid)
                complete(e, 4)                  # TCMU_UFLAG_KEEP_BUF
                continue
            if mode == 'hold' and opc == 0x28 and not held_once:
                held_once = True
                log.write('held %d\n' % cid)
                held.append(e)
                continue
        complete(e)
    if work:
        advance()
PY

start_h() {	# mode
	python3 /tmp/pyh.py tcm-user/9/k0/pyh/k0 "$1" $hlog >>/tmp/pyh.out 2>&1 &
	hpid=$!
	wait_for 10 grep -q mailbox $hlog || { cat /tmp/pyh.out; fail "handler did not start"; }
}
stop_h() { kill "$hpid" 2>/dev/null; wait "$hpid" 2>/dev/null; }
inuse() { ours && cat "$dev/attrib/data_pages_in_use" || echo "-"; }
read10() { sg_raw -r 4096 "$sg" 28 00 00 00 00 10 00 00 08 00 >/dev/null 2>&1; }

run mkdir -p "$dev"
echo "dev_config=pyh/k0,dev_size=1048576,nl_reply_supported=-1" >"$dev/control" ||
	fail "control"
echo 1 >"$dev/enable" || fail "enable"
echo 5 >"$dev/attrib/cmd_time_out" || fail "cmd_time_out"

: >$hlog
start_h keep
grep -q 'flags 0xf ' $hlog || fail "mailbox flags: $(head -n1 $hlog)"
run mkdir -p "$CFS/loopback/$wwn/tpgt_1/lun/lun_0"
echo naa.5001405000000091 >"$CFS/loopback/$wwn/tpgt_1/nexus" || fail "nexus"
run ln -s "$dev" "$CFS/loopback/$wwn/tpgt_1/lun/lun_0/k0"
sg=
for ((i = 0; i < 100; i++)); do
	for v in /sys/class/scsi_generic/sg*/device/vendor; do
		grep -q PYH "$v" 2>/dev/null && sg=/dev/$(basename "$(dirname "$(dirname "$v")")")
	done
	[ -n "$sg" ] && break
	sleep 0.2
done
[ -n "$sg" ] || fail "no sg device for the PYH LUN"
log "sg: $sg"

# KEEP_BUF: the buffer stays until free_kept_buf names the id.
read10 || fail "READ(10) failed"
id=$(sed -n 's/^kept //p' $hlog | tail -n1)
[ -n "$id" ] || fail "handler kept nothing"
log "kept cmd_id $id, pages in use: $(inuse)"
# (sd's own partition-table reads were kept too: count the difference.)
before=$(inuse)
ours && { [ "$before" -ge 1 ] || fail "kept buffer holds no pages"; }
echo "$id" >"$dev/action/free_kept_buf" || fail "free_kept_buf $id failed"
ours && { [ "$(inuse)" = $((before - 1)) ] ||
	fail "$(inuse) pages in use after free_kept_buf, expected $((before - 1))"; }
echo "$id" >"$dev/action/free_kept_buf" 2>/dev/null && fail "free_kept_buf $id twice succeeded"
# Reclaim (idle, decay and the shrinker) takes the page free_kept_buf
# just freed, never a kept buffer's.
if ours; then
	kept=$(inuse)
	echo 1 >"$dev/attrib/data_idle_timeout" || fail "data_idle_timeout"
	echo 1 >"$dev/attrib/data_hwm_half_life" || fail "data_hwm_half_life"
	echo 2 >/proc/sys/vm/drop_caches
	wait_for 10 sh -c "[ \$(cat $dev/attrib/data_pages_free) = 0 ]" ||
		fail "$(cat "$dev/attrib/data_pages_free") free pages not reclaimed"
	[ "$(inuse)" = "$kept" ] ||
		fail "reclaim took kept pages: $(inuse) in use, was $kept"
	[ "$(cat "$dev/attrib/data_pages_allocated")" = "$kept" ] ||
		fail "$(cat "$dev/attrib/data_pages_allocated") pages allocated, $kept kept"
fi
echo 12345 >"$dev/action/free_kept_buf" 2>/dev/null && fail "free_kept_buf of an unknown id succeeded"

# A kept buffer goes when the handler closes.
read10 || fail "second READ(10) failed"
stop_h
sleep 0.5
log "after close, pages in use: $(inuse)"
ours && { [ "$(inuse)" = 0 ] || fail "$(inuse) pages in use after the handler closed"; }

# TMR notification of a held command; it times out, then completes late.
echo 1 >"$dev/attrib/tmr_notification" || fail "tmr_notification"
rm -f /tmp/pyh-release
start_h hold
read10 &
rpid=$!
wait_for 10 grep -q '^held' $hlog || fail "handler did not hold a READ"
held=$(sed -n 's/^held //p' $hlog | tail -n1)
log "held cmd_id $held; LUN reset"
timeout 60 sg_reset -d "$sg" || log "sg_reset rc $?"
wait_for 20 grep -q '^TMR' $hlog || fail "no TMR entry reached the handler"
grep '^TMR' $hlog
grep -q "^TMR type 5 ids .*\b$held\b" $hlog || fail "LUN RESET TMR does not name cmd_id $held"
wait $rpid
log "held READ returned $?; pages in use: $(inuse)"
touch /tmp/pyh-release
wait_for 10 grep -q '^late completion' $hlog || fail "no late completion"
sleep 0.5
ours && { [ "$(inuse)" = 0 ] || fail "$(inuse) pages in use after the late completion"; }
echo 0 >"$dev/attrib/tmr_notification"
rm -f /tmp/pyh-release

# And the device still works (the first command may get the reset's
# UNIT ATTENTION).
read10 || read10 || fail "READ(10) after the reset failed"
stop_h
cat $hlog
lio_cleanup
log "ok"
