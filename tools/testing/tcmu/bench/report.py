#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py - tables and plots from a make bench run.

  report.py --vm LOG [--insns FILE] [--alloc TSV] [--callgrind DIR] --out DIR
            [--meta K=V...]
  report.py --check LOG      parse a bench log (the smoke's), print the
                             tables, exit 1 if records are missing or bad

LOG is the guest's log of tests/bench.sh (or bench-smoke), as vm.sh wrote
it: one "@@BENCH <json>" line per figure.  FILE holds the snapshots of
bench/insn-count.c, the QEMU plugin that counts the guest kernel's
instructions per module page.  TSV is tcmu-alloc-bench's
output, DIR holds its callgrind dumps (one per cell).  Writes
DIR/RESULTS.md (Markdown), DIR/summary.json and, when gnuplot is
installed, DIR/*.png.  Only the standard library is used.
"""
import argparse
import bisect
import glob
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys

# "base": our module at an earlier revision (make bench BENCH_BASE=...);
# "rd_mcp": the in-kernel RAM disk on the same tcm_loop path (the ceiling)
MODULES = ("stock", "ours", "base", "rd_mcp")
HANDLERS = ("ramd", "floor", "qcow")
HANDLER_DESC = {
    "ramd": "tcmu-ramd",
    "floor": "the ring's round trip: tcmu-ramd --no-data, 512 B",
    "qcow": "tcmu-runner qcow",
}
# The ceiling stands beside these handlers' jobs (rd_mcp runs them too).
RD_HANDLERS = ("ramd", "floor")
JOB_DESC = {
    "fl512-qd1": "512 B randread, QD1",
    "fl512-qd32": "512 B randread, QD32",
    "rr4k-qd1": "4k randread, QD1",
    "rr4k-qd32": "4k randread, QD32",
    "rw4k-qd1": "4k randwrite, QD1",
    "rw4k-qd32": "4k randwrite, QD32",
    "rrw64k-qd16": "64k randrw 50/50, QD16",
    "sw1m-qd64": "1M seq write, QD64",
    "sw1m-qd64-mda1": "1M seq write, QD64, max_data_area_mb=1",
    "sw1m-qd64-mda4": "1M seq write, QD64, max_data_area_mb=4",
}
JOB_ORDER = list(JOB_DESC)


def records(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.startswith("@@BENCH "):
                continue
            out.append(json.loads(line[8:]))
    return out


def fio_figures(res):
    """IOPS and KiB/s summed over directions; latency of the read side
    if there is one (mixed jobs), else the write side; in microseconds."""
    sides = [res[k] for k in ("read", "write") if k in res]
    if not sides:
        raise ValueError("fio record without I/O")
    lat = sides[0]
    return {
        "iops": sum(s["iops"] for s in sides),
        "bw_mib": sum(s["bw_kib"] for s in sides) / 1024.0,
        "p50_us": (lat["clat_p50_ns"] or 0) / 1000.0,
        "p99_us": (lat["clat_p99_ns"] or 0) / 1000.0,
    }


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, digits=None):
    if x is None:
        return "-"
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


def spread(xs):
    """min-max as a percentage of the median: the run-to-run noise."""
    if len(xs) < 2 or not med(xs):
        return "-"
    return f"±{100.0 * (max(xs) - min(xs)) / 2 / med(xs):.0f}%"


def fio_table(recs):
    """{(handler, job): {module: {round: figures}}} of the measured rounds."""
    t = {}
    for r in recs:
        if r["kind"] != "fio" or r["round"] == 0:
            continue
        f = fio_figures(r["res"])
        h = "rd" if r["module"] == "rd_mcp" else r["handler"]
        t.setdefault((h, r["job"]), {}).setdefault(
            r["module"], {})[r["round"]] = f
    return t


# Student's t, two-sided 95%, by degrees of freedom (then 1.96).
T975 = (None, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
        2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
        2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def pair_ci(pairs):
    """Geometric mean of the per-round ratios and its 95% confidence
    interval (t on the logs: a ratio's noise is multiplicative); the
    interval is None below two pairs."""
    logs = [math.log(p) for p in pairs if p and p > 0]
    if not logs:
        return None, None
    m = statistics.mean(logs)
    if len(logs) < 2:
        return math.exp(m), None
    n = len(logs)
    h = (T975[n - 1] if n - 1 < len(T975) else 1.96) * \
        statistics.stdev(logs) / math.sqrt(n)
    return math.exp(m), (math.exp(m - h), math.exp(m + h))


def ratios(cell, metric, den="stock", num="ours"):
    """Per-round NUM/DEN (the ABBA pairs), their geometric mean and its
    95% interval."""
    s, o = cell.get(den, {}), cell.get(num, {})
    pairs = [o[k][metric] / s[k][metric] for k in sorted(set(s) & set(o))
             if s[k][metric]]
    gm, ci = pair_ci(pairs)
    return gm, ci, pairs


def fmt_ci(gm, ci):
    """"1.08 [1.02–1.15] >1": the ratio, its interval, and on which side
    of 1 it lies when the interval excludes 1."""
    if gm is None:
        return "-"
    if ci is None:
        return f"**{gm:.2f}**"
    side = " >1" if ci[0] > 1 else (" <1" if ci[1] < 1 else "")
    return f"**{gm:.2f}** [{ci[0]:.2f}–{ci[1]:.2f}]{side}"


def fio_markdown(t, handlers):
    lines = []
    summary = {}
    for h in handlers:
        keys = sorted((k for k in t if k[0] == h),
                      key=lambda k: JOB_ORDER.index(k[1])
                      if k[1] in JOB_ORDER else 99)
        if not keys:
            continue
        lines += [f"#### {HANDLER_DESC.get(h, h)}", "",
                  "| job | module | rounds | IOPS (median, spread) | MiB/s | p50 µs | p99 µs |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for k in keys:
            cell = dict(t[k])
            rd = t.get(("rd", k[1]), {}).get("rd_mcp") \
                if h in RD_HANDLERS else None
            if rd:
                cell["rd_mcp"] = rd
            for m in MODULES:
                v = list(cell.get(m, {}).values())
                if not v:
                    continue
                iops = [x["iops"] for x in v]
                lines.append(
                    f"| {JOB_DESC.get(k[1], k[1])} | {m} | {len(v)} | "
                    f"{fmt(med(iops))} {spread(iops)} | "
                    f"{fmt(med([x['bw_mib'] for x in v]))} | "
                    f"{fmt(med([x['p50_us'] for x in v]))} | "
                    f"{fmt(med([x['p99_us'] for x in v]))} |")
            sm = summary[f"{h}/{k[1]}"] = {}
            for den in ("stock", "base", "rd_mcp"):
                if not cell.get(den) or not cell.get("ours"):
                    continue
                ri, ci, pi = ratios(cell, "iops", den)
                r50, c50, _ = ratios(cell, "p50_us", den)
                r99, c99, _ = ratios(cell, "p99_us", den)
                lines.append(
                    f"| | **ours/{den}** | {len(pi)} pairs | {fmt_ci(ri, ci)} | "
                    f"{fmt(ratios(cell, 'bw_mib', den)[0], 2)} | "
                    f"{fmt_ci(r50, c50)} | {fmt_ci(r99, c99)} |")
                sfx = "" if den == "stock" else "_" + den.split("_")[0]
                sm.update({
                    f"iops_ratio{sfx}": ri, f"iops_ci{sfx}": ci,
                    f"iops_ratio{sfx}_rounds": pi,
                    f"p50_ratio{sfx}": r50, f"p50_ci{sfx}": c50,
                    f"p99_ratio{sfx}": r99,
                    f"{den}_iops": med([x["iops"] for x in cell[den].values()]),
                })
            sm["ours_iops"] = med([x["iops"] for x in cell.get("ours", {}).values()])
        lines.append("")
    return lines, summary


def insn_snapshots(path):
    """bench/insn-count.c's output: {seq: ((core, core rep iterations),
    {page address: (count, rep iterations)}, {slot address: count since
    the fine snapshot before})}.  A snapshot lists only the pages that
    changed since the one before; only fine ones list slots."""
    snaps, pages, cur, slots = {}, {}, None, {}
    if not path or not os.path.exists(path):
        return snaps
    with open(path) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "mark":
                cur = (int(w[1]), (int(w[3]), int(w[5]) if len(w) > 5 else 0))
                slots = {}
            elif w[0] == "pg" and cur:
                pages[int(w[1], 16)] = (int(w[2]), int(w[3]) if len(w) > 3 else 0)
            elif w[0] == "sl" and cur:
                slots[int(w[1], 16)] = int(w[2])
            elif w[0] == "end" and cur:
                snaps[cur[0]] = (cur[1], dict(pages), slots)
                cur = None
    return snaps


def add_insns(recs, snaps):
    """Each fio record's instructions, from the snapshots around it: per
    module of its "mods" (pages in [base, base + size)), and the rest of
    the kernel ("core"), into its "cnt" as insn_<module>, and the rep
    string iterations (copies and clears the compiler inlined) as
    rep_<module>."""
    for r in recs:
        mk = r.get("marks")
        if r["kind"] != "fio" or not r.get("cnt") or not mk or \
                None in mk or mk[0] not in snaps or mk[1] not in snaps:
            continue
        (c0, p0, _), (c1, p1, _) = snaps[mk[0]], snaps[mk[1]]
        r["cnt"]["insn_core"] = c1[0] - c0[0]
        r["cnt"]["rep_core"] = c1[1] - c0[1]
        for name, (base, size) in (r.get("mods") or {}).items():
            b = int(base, 16)
            d = [(n[0] - p0.get(a, (0, 0))[0], n[1] - p0.get(a, (0, 0))[1])
                 for a, n in p1.items() if b <= a < b + size]
            r["cnt"][f"insn_{name}"] = sum(x[0] for x in d)
            r["cnt"][f"rep_{name}"] = sum(x[1] for x in d)


def func_insns(recs, snaps):
    """Per fine fio record (the first round), target_core_user's
    instructions per command by function: {(handler, job, module):
    {function: instructions per command}}.  A slot goes to the nearest
    symbol at or below it (/proc/kallsyms of that load of the module)."""
    syms, out = {}, {}
    for r in recs:
        if r["kind"] == "syms":
            syms[r["base"]] = sorted((int(a, 16), n) for a, n in r["syms"])
            continue
        mk = r.get("marks")
        if r["kind"] != "fio" or not r.get("fine") or not mk or \
                mk[1] not in snaps or not r.get("cnt", {}).get("ios"):
            continue
        base, size = (r.get("mods") or {}).get("target_core_user", (None, 0))
        table = syms.get(base)
        if not table:
            continue
        b = int(base, 16)
        addrs = [a for a, _ in table]
        per = {}
        for a, n in snaps[mk[1]][2].items():
            if not b <= a < b + size:
                continue
            i = bisect.bisect_right(addrs, a) - 1
            name = table[i][1] if i >= 0 else "?"
            per[name] = per.get(name, 0) + n
        ios = r["cnt"]["ios"]
        out[(r["handler"], r["job"], r["module"])] = \
            {k: v / ios for k, v in per.items()}
    return out


FUNC_JOBS = ("fl512-qd1", "rr4k-qd32", "rw4k-qd32", "sw1m-qd64")


def func_markdown(fi):
    lines = []
    for job in FUNC_JOBS:
        h = "floor" if job.startswith("fl") else "ramd"
        cols = [m for m in ("stock", "ours", "base") if (h, job, m) in fi]
        if not cols:
            continue
        lines += [f"#### {JOB_DESC.get(job, job)} ({h}): instructions per command in target_core_user, by function", ""]
        tops = {m: sorted(fi[(h, job, m)].items(), key=lambda kv: -kv[1])[:15]
                for m in cols}
        lines += ["| " + " | ".join(f"{m} | insns" for m in cols) + " |",
                  "| " + " | ".join("--- | ---" for _ in cols) + " |"]
        for i in range(max(len(t) for t in tops.values())):
            row = []
            for m in cols:
                row += list(tops[m][i]) if i < len(tops[m]) else ["", None]
            lines.append("| " + " | ".join(
                fmt(x) if isinstance(x, float) else (x or "") for x in row) + " |")
        lines.append("| " + " | ".join(
            f"**total** | **{fmt(sum(fi[(h, job, m)].values()))}**" for m in cols) + " |")
        lines.append("")
    return lines


# Work per command, from the "cnt" of each measured fio record.
WORK = (
    ("i_tcmu", "insns in target_core_user", lambda c: c.get("insn_target_core_user")),
    ("i_core", "insns in target_core_mod", lambda c: c.get("insn_target_core_mod")),
    ("i_loop", "insns in tcm_loop", lambda c: c.get("insn_tcm_loop")),
    ("i_kern", "insns in the rest of the kernel", lambda c: c.get("insn_core")),
    ("r_tcmu", "rep iterations in target_core_user", lambda c: c.get("rep_target_core_user")),
    ("r_kern", "rep iterations in the rest of the kernel", lambda c: c.get("rep_core")),
    ("ctxt", "context switches", lambda c: c["ctxt"]),
    ("ipi", "IPIs (RES+CAL+TLB)", lambda c: c["ipi_res"] + c["ipi_cal"] + c["ipi_tlb"]),
    ("flt", "handler minor faults", lambda c: c["handler_minflt"]),
    ("h_us", "handler CPU µs", lambda c: c["handler_ticks"] * 1e6 / c["hz"]),
    ("sys_us", "system CPU µs", lambda c: c["sys_ticks"] * 1e6 / c["hz"]),
    ("usr_us", "user CPU µs", lambda c: c["usr_ticks"] * 1e6 / c["hz"]),
    ("mtx", "mutex contentions", lambda c: c["mutex_contended"]),
)


def work_table(recs):
    """{(handler, job): {module: {key: [per-command figure per round]}}}"""
    t = {}
    for r in recs:
        c = r.get("cnt")
        if r["kind"] != "fio" or r["round"] == 0 or not c or not c["ios"]:
            continue
        row = t.setdefault((r["handler"], r["job"]), {}).setdefault(r["module"], {})
        for k, _, f in WORK:
            v = f(c)
            if v is not None:
                row.setdefault(k, []).append(v / c["ios"])
    return t


def work_markdown(recs):
    t = work_table(recs)
    if not t:
        return [], {}
    lines = ["Per command (fio's I/Os as the block layer completed them, the"
             " ramp included), medians over the rounds; ours/stock is the"
             " ratio of the medians.  Instructions are those bench/insn-count.c"
             " counted, a rep string instruction (an inlined copy or clear) once"
             " however many elements it moves: its iterations are the \"rep\""
             " columns.  CPU times are tick-sampled (1/USER_HZ):"
             " read them over many commands only.", "",
             "| handler | job | module | " + " | ".join(d for _, d, _ in WORK) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in WORK) + " |"]
    summary = {}
    keys = sorted(t, key=lambda k: (HANDLERS.index(k[0]) if k[0] in HANDLERS else 9,
                                    JOB_ORDER.index(k[1]) if k[1] in JOB_ORDER else 99))
    for k in keys:
        cell = t[k]
        for m in MODULES:
            if m not in cell:
                continue
            fig = {w: med(cell[m].get(w, [])) for w, _, _ in WORK}
            summary.setdefault(f"{k[0]}/{k[1]}", {})[m] = fig
            lines.append(f"| {k[0]} | {JOB_DESC.get(k[1], k[1])} | {m} | " +
                         " | ".join(fmt(fig[w], 2 if fig[w] is not None and fig[w] < 100 else None)
                                    for w, _, _ in WORK) + " |")
        if "ours" in cell and "stock" in cell:
            o, s_ = summary[f"{k[0]}/{k[1]}"]["ours"], summary[f"{k[0]}/{k[1]}"]["stock"]
            lines.append("| | | **ours/stock** | " + " | ".join(
                fmt(o[w] / s_[w], 2) if o[w] is not None and s_[w] else "-"
                for w, _, _ in WORK) + " |")
    lines.append("")
    return lines, summary


def reclaim_markdown(recs):
    """Pages our reclaim gave back during each measured fio run."""
    t = {}
    for r in recs:
        b, a = r.get("da_before"), r.get("da_after")
        if r["kind"] != "fio" or r["round"] == 0 or not b or not a:
            continue
        if r["module"] != "ours":
            continue
        back = a["reclaimed"] - b["reclaimed"]
        made = a["allocated"] - b["allocated"] + back
        ring = [x.get("ring_pages_allocated") for x in (b, a)]
        t.setdefault((r["handler"], r["job"]), []).append(
            (back, a["reclaimed_decay"] - b["reclaimed_decay"], made, a["peak"],
             *ring))
    if not t:
        return []
    lines = ["#### Our data and ring pages during the fio runs (medians per run)", "",
             "| handler | job | data pages given back | of which by decay | data pages made | peak in use | ring pages at start | ring pages at end |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def col(v, i):
        xs = [x[i] for x in v if x[i] is not None]
        return fmt(med(xs), 0) if xs else "n/a"
    order = {j: i for i, j in enumerate(JOB_ORDER)}
    for (h, j), v in sorted(t.items(),
                            key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
        lines.append(f"| {h} | {JOB_DESC.get(j, j)} | " +
                     " | ".join(col(v, i) for i in range(6)) + " |")
    return lines + [""]


def mem_markdown(recs):
    lines = []
    m1 = {}
    for r in recs:
        if r["kind"] == "mem1":
            m1.setdefault((r["module"], r["phase"]), []).append(r)
    if m1:
        lines += ["#### One tcmu-ramd device on a LUN (medians over the rounds)", "",
                  "| module | when | VmallocUsed Δ KiB | MemFree drop KiB | data pages (ours) | ring pages (ours) | handler's mapped uio pages |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for m in MODULES:
            for ph, what in (("created", "right after creation"),
                             ("burst", "after a 1M QD64 burst"),
                             ("idle", "after idle (15 s)")):
                v = m1.get((m, ph))
                if not v:
                    continue
                dp = [x["data_pages"] for x in v if x["data_pages"] is not None]
                rp = [x["ring_pages"] for x in v if x.get("ring_pages") is not None]
                lines.append(
                    f"| {m} | {what} | {fmt(med([x['vmalloc_kib'] for x in v]), 0)} | "
                    f"{fmt(med([x['memfree_drop_kib'] for x in v]), 0)} | "
                    f"{fmt(med(dp), 0) if dp else 'n/a'} | "
                    f"{fmt(med(rp), 0) if rp else 'n/a'} | "
                    f"{fmt(med([x['uio_rss_pages'] for x in v]), 0)} |")
        lines.append("")
    devs = {}
    for r in recs:
        if r["kind"] == "devs":
            devs.setdefault(r["n"], {})[r["module"]] = r
    if devs:
        lines += ["#### Idle devices (configfs only: no handler, no LUN)", "",
                  "| devices | stock vmalloc MiB | stock MemFree drop MiB | ours vmalloc MiB | ours MemFree drop MiB | ours/stock (MemFree) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for n in sorted(devs):
            d = devs[n]
            s, o = d.get("stock"), d.get("ours")

            def mib(x, k):
                return fmt(x[k] / 1024.0, 1) if x else "not reached"
            ratio = (fmt(o["memfree_drop_kib"] / s["memfree_drop_kib"], 2)
                     if s and o and s["memfree_drop_kib"] > 0 else "-")
            lines.append(f"| {n} | {mib(s, 'vmalloc_kib')} | {mib(s, 'memfree_drop_kib')} | "
                         f"{mib(o, 'vmalloc_kib')} | {mib(o, 'memfree_drop_kib')} | {ratio} |")
        lines.append("")
    mx = {r["module"]: r for r in recs if r["kind"] == "maxdevs"}
    if mx:
        lines += ["#### The most idle devices in the guest", "",
                  "| module | devices | stopped by | guest RAM | vmalloc then |",
                  "| --- | --- | --- | --- | --- |"]
        for m in MODULES:
            r = mx.get(m)
            if r:
                lines.append(f"| {m} | {r['n']} | {r['reason']} (cap {r['cap']}) | "
                             f"{r['guest_mem_kib'] // 1024} MiB | {fmt(r['vmalloc_kib'] / 1024.0, 0)} MiB |")
        lines.append("")
    return lines, {"mem1": {f"{k[0]}/{k[1]}": med([x["memfree_drop_kib"] for x in v])
                            for k, v in m1.items()},
                   "devs": {n: {m: devs[n][m]["memfree_drop_kib"] for m in devs[n]}
                            for n in devs},
                   "devs_vmalloc": {n: {m: devs[n][m]["vmalloc_kib"] for m in devs[n]}
                                    for n in devs},
                   "maxdevs_at": {m: (mx[m]["n"], mx[m]["memfree_drop_kib"],
                                      mx[m]["vmalloc_kib"]) for m in mx},
                   "maxdevs": {m: mx[m]["n"] for m in mx}}


def burst_markdown(recs):
    """The periodic bursts: each variant's MiB/s (median over the
    bursts) and its time-averaged memory, against stock's."""
    bw, mem = {}, {}
    for r in recs:
        key = (r.get("module"), r.get("variant"))
        if r["kind"] == "burst":
            bw.setdefault(key, []).append(fio_figures(r["res"])["bw_mib"])
        elif r["kind"] == "burstmem":
            mem[key] = r
    if not mem:
        return [], {}
    st_bw = med(bw.get(("stock", "reclaim"), []))
    st_mem = mem.get(("stock", "reclaim"), {}).get("avg_memfree_drop_kib")
    any_m = next(iter(mem.values()))
    lines = ["#### Periodic bursts: the price of reclaim", "",
             f"A burst of 1M writes every {any_m['period_s']} s, "
             f"{any_m['cycles']} times, on one tcmu-ramd --no-data device; "
             "memory is the MemFree drop from before the device was made, "
             "sampled every second over the whole time.  keep: ours with "
             "data_keep_pages=1 (reclaim off).", "",
             "| module | reclaim | MiB/s (median) | /stock | average memory MiB | /stock | peak MiB | our data pages, average | peak |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    summary = {}
    for key in sorted(mem, key=lambda k: (MODULES.index(k[0]) if k[0] in MODULES else 9,
                                          k[1] != "reclaim")):
        m = mem[key]
        b = med(bw.get(key, []))
        avg = m["avg_memfree_drop_kib"]
        ours = key[0] != "stock"
        lines.append(
            f"| {key[0]} | {'off' if key[1] == 'keep' else 'on'} | {fmt(b)} | "
            f"{fmt(b / st_bw, 2) if b and st_bw else '-'} | {fmt(avg / 1024.0)} | "
            f"{fmt(avg / st_mem, 2) if st_mem and st_mem > 0 else '-'} | "
            f"{fmt(m['max_memfree_drop_kib'] / 1024.0)} | "
            f"{fmt(m['avg_data_pages']) if ours else 'n/a'} | "
            f"{fmt(m['max_data_pages']) if ours else 'n/a'} |")
        summary[f"{key[0]}/{key[1]}"] = {
            "mib_s": b, "avg_mem_kib": avg,
            "mib_s_ratio": b / st_bw if b and st_bw else None,
            "mem_ratio": avg / st_mem if st_mem and st_mem > 0 else None}
    lines.append("")
    return lines, summary


def trace_markdown(recs):
    lines = []
    fio = {(r["module"], r["job"], r["extra"]): fio_figures(r["res"])
           for r in recs if r["kind"] == "fio" and r["round"] == 0}
    st = [r for r in recs if r["kind"] == "ramdstats"]
    if st:
        lines += ["#### tcmu-ramd's own clock (per command, µs; --stats)", "",
                  "| module | job | mode | IOPS | cmds/wakeup | parse+execute | of which data copy | completion write() (kernel completes in it) | in poll() |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in st:
            s = r["stats"]
            n = s.get("cmds") or 0
            if not n:
                continue
            f = fio.get((r["module"], r["job"], r["mode"]))
            lines.append(
                f"| {r['module']} | {r['job']} | {r['mode']} | {fmt(f['iops']) if f else '-'} | "
                f"{fmt(n / max(s.get('wakeups', 1), 1), 2)} | "
                f"{fmt(s['parse_ns'] / n / 1000.0, 1)} | {fmt(s['copy_ns'] / n / 1000.0, 1)} | "
                f"{fmt(s['kick_ns'] / n / 1000.0, 1)} | {fmt(s['poll_ns'] / n / 1000.0, 1)} |")
        lines.append("")
    for r in recs:
        if r["kind"] != "ftrace" or not r["funcs"]:
            continue
        funcs = {}
        for name, (calls, tot) in r["funcs"].items():
            name = name.split("[")[0]	# "name[module]"
            c0, t0 = funcs.get(name, (0, 0.0))
            funcs[name] = (c0 + calls, t0 + tot)
        per = None
        for q in ("tcmu_queue_cmd",):
            if q in funcs:
                per = funcs[q][0]
        lines += [f"#### ftrace function_graph, {r['module']}, {r['job']} ({r['window_s']} s window)", "",
                  "| function | calls | per command | avg µs (children included) |",
                  "| --- | --- | --- | --- |"]
        for name, (calls, tot) in sorted(funcs.items(), key=lambda kv: -kv[1][1])[:16]:
            lines.append(f"| {name} | {calls} | {fmt(calls / per, 2) if per else '-'} | {fmt(tot / calls, 1)} |")
        lines.append("")
    return lines


def alloc_markdown(tsv, cgdir):
    lines = []
    ns = {}
    if tsv and os.path.exists(tsv):
        for line in open(tsv):
            p = line.rstrip("\n").split("\t")
            if p[0] == "cell" and len(p) == 6:
                ns[(p[1], int(p[2]), p[3])] = float(p[5])
    ir = {}
    if cgdir and os.path.isdir(cgdir):
        for fn in glob.glob(os.path.join(cgdir, "callgrind.out*")):
            desc = tot = None
            for line in open(fn, errors="replace"):
                m = re.match(r"desc: Trigger: Client Request: cell:([^:]+):(\d+):([^:]+):(\d+)", line)
                if m:
                    desc = m.groups()
                m = re.match(r"totals: (\d+)", line)
                if m:
                    tot = int(m.group(1))
            if desc and tot is not None:
                ir[(desc[0], int(desc[1]), desc[2])] = tot / int(desc[3])
    if not ns and not ir:
        return lines, {}
    algs = ("ours", "bitmap", "bitmap+xa")
    keys = sorted(set(ns) | set(ir), key=lambda k: (
        ["empty", "frag", "full-rand", "full-top"].index(k[0]), k[1]))
    rows = sorted({(k[0], k[1]) for k in keys}, key=lambda k: (
        ["empty", "frag", "full-rand", "full-top"].index(k[0]), k[1]))
    lines += ["| area | blocks per request | ours ns | bitmap ns | bitmap+xa ns | ours Ir | bitmap Ir | bitmap+xa Ir | bitmap+xa / ours (ns) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for sc, nr in rows:
        o = ns.get((sc, nr, "ours"))
        bx = ns.get((sc, nr, "bitmap+xa"))
        lines.append(f"| {sc} | {nr} | " +
                     " | ".join(fmt(ns.get((sc, nr, a))) for a in algs) + " | " +
                     " | ".join(fmt(ir.get((sc, nr, a)), 0) for a in algs) +
                     f" | {fmt(bx / o, 2) if o and bx else '-'} |")
    lines.append("")
    return lines, {"ns": {f"{k[0]}/{k[1]}/{k[2]}": v for k, v in ns.items()},
                   "ir": {f"{k[0]}/{k[1]}/{k[2]}": v for k, v in ir.items()}}


# ---------------------------------------------------------------- plots

def gnuplot(script, out):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode:
        sys.stderr.write(f"report.py: gnuplot failed for {out}:\n{r.stderr}")
        return False
    return True


def plots(outdir, fio_sum, mem_sum, alloc_sum):
    made = []
    term = "set terminal pngcairo size 900,500 font 'sans,10'\n"
    # 1. ours/stock IOPS per job and handler, with the per-round range
    dat = os.path.join(outdir, "fio-ratio.dat")
    rows = []
    for job in JOB_ORDER:
        row = [job]
        for h in ("ramd", "qcow"):
            s = fio_sum.get(f"{h}/{job}")
            if s and s.get("iops_ratio"):
                lo, hi = s.get("iops_ci") or (s["iops_ratio"],) * 2
                row += [s["iops_ratio"], lo, hi]
            else:
                row += ["NaN"] * 3
        if any(x != "NaN" for x in row[1:]):
            rows.append(row)
    if rows:
        with open(dat, "w") as f:
            for r in rows:
                f.write(" ".join(str(x) for x in r) + "\n")
        png = os.path.join(outdir, "fio-ratio.png")
        if gnuplot(term + f"""set output '{png}'
set title 'IOPS ours/stock (geometric mean of the ABBA pairs; bars: 95% interval)'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set yrange [0:*]
set ylabel 'ours / stock'
set xtics rotate by -20
set grid y
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
plot '{dat}' using 2:3:4:xtic(1) title 'tcmu-ramd', '' using 5:6:7 title 'tcmu-runner qcow'
""", png):
            made.append(png)
    # 2. memory of N idle devices
    devs = mem_sum.get("devs", {})
    if devs:
        dat = os.path.join(outdir, "mem-devs.dat")
        vm = mem_sum.get("devs_vmalloc", {})
        rows = {n: [devs[n].get(m) for m in MODULES] +
                [vm.get(n, {}).get(m) for m in MODULES] for n in devs}
        # the last point: the most devices that fit
        for i, m in enumerate(MODULES):
            at = mem_sum.get("maxdevs_at", {}).get(m)
            if at and at[0] not in rows:
                rows[at[0]] = [None] * 4
            if at:
                rows[at[0]][i], rows[at[0]][2 + i] = at[1], at[2]
        with open(dat, "w") as f:
            for n in sorted(rows):
                f.write(f"{n} " + " ".join(
                    str(x / 1024.0) if x is not None else "NaN"
                    for x in rows[n]) + "\n")
        png = os.path.join(outdir, "mem-devs.png")
        if gnuplot(term + f"""set output '{png}'
set title 'Kernel memory of N idle user: devices (last point: the most that fit)'
set logscale xy
set xlabel 'devices'
set ylabel 'MiB'
set grid
set key left top
set datafile missing 'NaN'
plot '{dat}' using 1:2 with linespoints lc 1 title 'stock, MemFree drop', \
     '' using 1:3 with linespoints lc 2 title 'ours, MemFree drop', \
     '' using 1:4 with linespoints lc 1 dt 2 title 'stock, VmallocUsed', \
     '' using 1:5 with linespoints lc 2 dt 2 title 'ours, VmallocUsed'
""", png):
            made.append(png)
    # 3. allocator: ns per allocate+free
    ns = alloc_sum.get("ns", {})
    if ns:
        dat = os.path.join(outdir, "alloc.dat")
        with open(dat, "w") as f:
            for sc in ("empty", "frag", "full-rand", "full-top"):
                for nr in (1, 16, 256):
                    v = [ns.get(f"{sc}/{nr}/{a}") for a in ("ours", "bitmap", "bitmap+xa")]
                    if any(v):
                        f.write(f"{sc}/{nr} " + " ".join(str(x) if x else "NaN" for x in v) + "\n")
        png = os.path.join(outdir, "alloc.png")
        if gnuplot(term + f"""set output '{png}'
set title 'Data area allocator: ns per allocate+free (256K blocks)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.6 border -1
set logscale y
set ylabel 'ns'
set xtics rotate by -30
set grid y
set key top left
plot '{dat}' using 2:xtic(1) title 'ours (XArray marks)', '' using 3 title 'bitmap', '' using 4 title 'bitmap + xa_load'
""", png):
            made.append(png)
    return made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vm")
    ap.add_argument("--insns")
    ap.add_argument("--alloc")
    ap.add_argument("--callgrind")
    ap.add_argument("--out")
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--check")
    a = ap.parse_args()

    log = a.check or a.vm
    if log and not os.path.exists(log):
        if a.check:
            print(f"report.py: no {log}", file=sys.stderr)
            return 1
        log = None	# no VM part (bench.sh --no-vm, or it failed early)
    recs = records(log) if log else []
    snaps = insn_snapshots(a.insns)
    add_insns(recs, snaps)
    info = next((r for r in recs if r["kind"] == "info"), {})
    md = []
    meta = dict(kv.split("=", 1) for kv in a.meta)
    md += ["# make bench results", ""]
    if meta or info:
        md += ["| | |", "| --- | --- |"]
        for k, v in meta.items():
            md.append(f"| {k} | {v} |")
        for k in ("kernel", "cpus", "cpu", "erms", "mem_kib", "rounds", "runtime_s", "ramp_s", "fio", "runner"):
            if k in info:
                md.append(f"| guest {k} | {info[k]} |")
        md.append("")
    t = fio_table(recs)
    fl, fio_sum = fio_markdown(t, HANDLERS)
    if fl:
        md += ["## fio through tcm_loop", "",
               "ours/X: the geometric mean of the per-round ratios (ours and X"
               " in the same round, ABBA order), in brackets its 95% confidence"
               " interval, then >1 or <1 when the interval excludes 1.  rd_mcp:"
               " the in-kernel RAM disk on the same path, the ceiling.", ""] + fl
    wl, work_sum = work_markdown(recs)
    if wl:
        md += ["## Work per command", ""] + wl
    fl = func_markdown(func_insns(recs, snaps))
    if fl:
        md += ["## Where the instructions go (the first round)", "",
               "bench/insn-count.c's 16-byte slots of target_core_user,"
               " summed per function (/proc/kallsyms), per command of the"
               " job; the top 15 of each module.", ""] + fl
    ml, mem_sum = mem_markdown(recs)
    ml += reclaim_markdown(recs)
    bl, burst_sum = burst_markdown(recs)
    ml += bl
    if ml:
        md += ["## Memory", ""] + ml
    tl = trace_markdown(recs)
    if tl:
        md += ["## Where the time goes (tcmu-ramd, QD32)", ""] + tl
    al, alloc_sum = alloc_markdown(a.alloc, a.callgrind)
    if al:
        md += ["## Allocator micro-benchmark (userspace, lib/xarray.c, -O2, XA_CHUNK_SHIFT 6)", ""] + al

    if a.check:
        print("\n".join(md))
        kinds = {}
        for r in recs:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        bad = [k for k in ("info", "fio", "mem1", "devs", "maxdevs", "done")
               if not kinds.get(k)]
        if not fio_sum or any(v.get("iops_ratio") is None for v in fio_sum.values()):
            bad.append("ratios")
        if not work_sum:
            bad.append("work counts")
        if bad:
            print(f"report.py: missing or bad: {', '.join(bad)}", file=sys.stderr)
            return 1
        print(f"report.py: {len(recs)} records parse: {kinds}")
        return 0

    os.makedirs(a.out, exist_ok=True)
    made = plots(a.out, fio_sum, mem_sum, alloc_sum)
    if made:
        md += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in made] + [""]
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump({"info": info, "meta": meta, "fio": fio_sum,
                   "work": work_sum, "burst": burst_sum, "mem": mem_sum,
                   "alloc": alloc_sum}, f, indent=1, default=str)
    print(f"report.py: wrote {a.out}/RESULTS.md" +
          (f" and {len(made)} plots" if made else " (no gnuplot: no plots)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
