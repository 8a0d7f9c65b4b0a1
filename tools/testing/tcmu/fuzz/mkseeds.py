#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of fuzz.c: valid rings and well-behaved handlers.

Usage: mkseeds.py DIR.  The input format is fuzz.c's (fz_setup(),
fz_step()); keep the two in step.
"""
import os
import struct
import sys

MB, PAGE, CMD = 128, 4096, 112
(COMPLETE, WRITE, TAIL, REAP, TIMEOUT, FREE_KEPT, SUBMIT, TMR, GROW, SHRINK,
 RESET, RACE) = range(12)
DATA_IN, TIMEDOUT = 1, 2
UNKNOWN_OP, READ_LEN, KEEP_BUF = 1, 2, 4
GOOD, CHECK_CONDITION = 0, 2


def setup(pages=1, tail=0, ents=(), kept=()):
    """ents: ('cmd', flags, size_sel, data_len) or ('tmr', size_sel)."""
    b = bytes([pages - 1]) + struct.pack('<H', tail // 8) + bytes([len(ents)])
    for e in ents:
        if e[0] == 'tmr':
            b += bytes([1, 0, e[1]]) + struct.pack('<H', 0)
        else:
            b += bytes([0, e[1], e[2]]) + struct.pack('<H', e[3] // 8)
    b += bytes([len(kept)])
    for dl in kept:
        b += struct.pack('<H', dl // 8)
    return b


def complete(status=GOOD, uflags=0, read_len=0, sense=0, oooc=None):
    return bytes([COMPLETE, 1 if oooc is not None else 0, status, uflags]) + \
        struct.pack('<I', read_len) + bytes([sense, oooc or 0])


def op(o, *args):
    return bytes([o, *args])


def write(pos, data):
    """The handler writes @data at ring offset @pos."""
    return bytes([WRITE]) + struct.pack('<H', MB + pos) + \
        bytes([len(data) - 1]) + data


RAW, HEAD = 0, 1


def tail(mode, value=0):
    """The handler sets cmd_tail: to @value (RAW) or to the head."""
    return bytes([TAIL, mode]) + struct.pack('<I', value)


def cmd(flags=DATA_IN, size=0, dl=4096):
    return ('cmd', flags, size, dl)


SEEDS = {
    'in-order': setup(ents=[cmd(), cmd(0), cmd(size=3, dl=65536), cmd()]) +
    complete() * 4 + op(REAP),
    'in-order-reap-each': setup(ents=[cmd()] * 6) +
    (complete() + op(REAP)) * 6,
    'out-of-order': setup(ents=[cmd()] * 5) +
    complete(oooc=3) + complete(oooc=1) + op(REAP) +
    complete(oooc=0) + complete(oooc=2) + complete(oooc=4) + op(REAP),
    'keep-buf': setup(ents=[cmd()] * 3, kept=[8192]) +
    complete(uflags=KEEP_BUF) + complete() + op(REAP) + op(FREE_KEPT, 0) +
    complete(uflags=KEEP_BUF | READ_LEN, read_len=100) + op(REAP) +
    op(FREE_KEPT, 1) + op(FREE_KEPT, 2),
    'tmr': setup(ents=[cmd(), ('tmr', 3), cmd(), ('tmr', 0), cmd()]) +
    complete() * 5 + op(REAP),
    'status-sense-read-len': setup(ents=[cmd(), cmd(), cmd(0), cmd()]) +
    complete(CHECK_CONDITION, READ_LEN, 512, 0x70) +
    complete(CHECK_CONDITION, 0, 0, 0x71) +
    complete(GOOD, READ_LEN, 1 << 30) +
    complete(GOOD, UNKNOWN_OP) + op(REAP),
    'timed-out': setup(ents=[cmd(TIMEDOUT | DATA_IN), cmd(), cmd()]) +
    op(TIMEOUT, 0) + complete() + complete(uflags=KEEP_BUF) +
    complete(READ_LEN, 8) + op(REAP),
    # the head wraps with a PAD well before the span's end
    'pad-wrap': setup(tail=3968 - 400, ents=[cmd(size=4)] * 4) +
    complete() * 5 + op(REAP),
    # the head reaches span - 8: the PAD is the span's last 8 bytes
    'pad-span-end': setup(tail=3968 - 8 - CMD, ents=[cmd(), cmd()]) +
    complete() * 3 + op(REAP),
    # the same at the end of a grown span
    'pad-grown-span-end': setup(pages=2, tail=2 * PAGE - MB - 8 - 2 * CMD,
                                ents=[cmd(), cmd(), cmd()]) +
    complete() + op(REAP) + complete() * 3 + op(REAP),
    'submit-grow-shrink-reset': setup(ents=[cmd()] * 2) +
    complete() * 2 + op(REAP) + op(GROW, 1) +
    op(SUBMIT, DATA_IN, 2, 0, 2) + op(TMR, 0, 1, 0, 0) +
    op(SUBMIT, 0, 0, 0, 1) + complete() * 3 + op(REAP) + op(SHRINK) +
    op(SUBMIT, DATA_IN, 0, 0, 1) + complete() + op(REAP) + op(RESET) +
    op(SUBMIT, DATA_IN, 0, 0, 1) + complete() + op(REAP),
    'full-ring': setup(ents=[cmd()] * 40) + (complete() * 8 + op(REAP)) * 5,
    'race': setup(ents=[cmd()] * 3) + complete() * 3 +
    op(RACE, 2, MB + 1, 0, 1, 0xff) + op(REAP),
    'hostile-tail': setup(ents=[cmd()] * 2) + complete() +
    op(TAIL, 0) + struct.pack('<I', 3968) + op(REAP) + op(RESET) +
    op(SUBMIT, DATA_IN, 0, 0, 1) + complete() + op(REAP),
    # hostile rings, one per reason the decoder breaks it (a length is
    # always 8-aligned: len_op's low bits are the opcode)
    'broken-zero-length': setup(ents=[cmd()] * 2) +
    write(0, bytes(4)) + tail(HEAD) + op(REAP),
    'broken-opcode': setup(ents=[cmd()] * 2) +
    write(0, b'\x73') + tail(HEAD) + op(REAP),
    'broken-short-cmd': setup(ents=[cmd()] * 2) +
    write(0, b'\x61') + tail(HEAD) + op(REAP),
    'broken-past-span': setup(tail=3968 - 8 - CMD, ents=[cmd(), cmd()]) +
    write(3960, b'\x10\0\0\0') + tail(HEAD) + op(REAP),
    'broken-tail-beyond-head': setup(ents=[cmd()] * 2) +
    tail(RAW, 3 * CMD) + op(REAP),
    'broken-unknown-id': setup(ents=[cmd()] * 2) +
    write(4, b'\x34\x12') + complete() + op(REAP),
    'broken-kept-twice': setup(ents=[cmd()] * 2) +
    complete(uflags=KEEP_BUF) + op(REAP) +
    write(CMD + 4, b'\x01\x00') + complete() + op(REAP),
}

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(sys.argv[1], name), 'wb') as f:
        f.write(data)
