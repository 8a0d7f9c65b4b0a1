#!/bin/bash
# tcmu-test: bench smoke: tests/bench.sh in one tiny round (stock then ours, 1 s fio runs); asserts only that results were produced and parse
# timeout: 420
# modules: ours
#
# Keeps make bench from rotting: every part of tests/bench.sh runs, with
# one round, one 1 s fio job on tcmu-ramd, one on its --no-data floor,
# one on qcow, the ramd and floor jobs on rd_mcp, one with
# max_data_area_mb 1, a 16 MiB burst and no idle wait, one 16 MiB
# periodic burst per module (ours: with reclaim and without), 4 idle devices,
# the traced job on ours only.  Nothing about speed is asserted; the records it
# prints are checked here to be present and well-formed, and make check
# runs bench/report.py on this log on the host too.
. /tcmu/lib.sh

export TCMU_BENCH_SMOKE=1
export TCMU_BENCH_PARTS="fio small mem1 burst devs trace"
(. /tcmu/tests/bench.sh) | tee /tmp/bench-smoke.out
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || { [ "$rc" = 4 ] && exit 4; fail "bench.sh exited with $rc"; }
python3 - /tmp/bench-smoke.out <<'PY' || fail "bench records missing or malformed"
import json, sys
recs = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1])
        if l.startswith("@@BENCH ")]
kinds = {}
for r in recs:
    kinds.setdefault(r["kind"], []).append(r)
# per module: ramd, floor, qcow and small; rd_mcp: ramd and floor; trace
need = {"info": 1, "fio": 2 * 4 + 2 + 1, "mem1": 4, "devs": 4,
        "maxdevs": 2, "burst": 3, "burstmem": 3, "ramdstats": 1,
        "ftrace": 1, "done": 1}
bad = [f"{k}: {len(kinds.get(k, []))} < {n}" for k, n in need.items()
       if len(kinds.get(k, [])) < n]
for r in kinds.get("fio", []):
    s = r["res"].get("read") or r["res"].get("write")
    if not s or not s["ios"] or s["clat_p50_ns"] is None:
        bad.append(f"fio {r['handler']}/{r['module']}/{r['job']}: no I/O")
    c = r.get("cnt") or {}
    if c.get("ios", 0) < s["ios"] or c.get("ctxt", 0) <= 0 or \
            c.get("sys_ticks", -1) < 0 or \
            (r["module"] != "rd_mcp" and c.get("handler_ticks", -1) < 0):
        bad.append(f"fio {r['handler']}/{r['module']}/{r['job']}: bad counts {c}")
for m in ("stock", "ours", "rd_mcp"):
    if not any(r["module"] == m for r in kinds.get("fio", [])):
        bad.append(f"no fio record for {m}")
print("bench records:", {k: len(v) for k, v in kinds.items()})
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
log "ok"
