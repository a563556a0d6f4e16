#!/usr/bin/env python3
"""Tables for Docs/BENCHMARKS.md from one run of scripts/bench-hnsw-vs-anchors.

    scripts/report-hnsw.py DATASET [RESULTS_DIR]     (default RESULTS_DIR: .bench/results)

Reads the harness's anchors_<ds>.csv (hnswlib, faiss-hnsw, usearch rows) and engram_hnsw_<ds>.jsonl,
prints markdown: the recall@10 -> QPS sweep, QPS at equal recall (log-QPS interpolated linearly in
recall between neighbouring sweep points) with the Engram / hnswlib ratio, builds and memory, filters.
Uses the tag of the latest run in the CSV; engram_hnsw_<ds>.jsonl holds one run (the script starts it afresh). No
third-party packages.
"""
import csv
import json
import math
import sys
from pathlib import Path

ds = sys.argv[1]
res = Path(sys.argv[2] if len(sys.argv) > 2 else ".bench/results")
rows = list(csv.DictReader(open(res / f"anchors_{ds}.csv")))
latest = max((r["started"], r["tag"]) for r in rows if r["anchor"] in ("hnswlib", "faiss-hnsw", "usearch"))[1]
rows = [r for r in rows if r["tag"] == latest]
engram = [json.loads(l) for l in open(res / f"engram_hnsw_{ds}.jsonl")]

def sweep(anchor):
    pts = [(float(r["recall_at_10"]), float(r["loop_qps"]), int(float(r["search_value"])), float(r["p50_us"]), float(r["p99_us"]))
           for r in rows if r["anchor"] == anchor and r["build_threads"] == "1" and r["search_param"] not in ("", "build")
           and r["loop_qps"]]
    return sorted(pts, key=lambda p: p[2])

series = {a: sweep(a) for a in ("hnswlib", "faiss-hnsw", "usearch")}
def engram_sweep(kind, threads=None):
    pts = [e for e in engram if e.get("index", "hnsw") == kind and "filter" not in e["params"]
           and (threads is None or e["build_threads"] == threads)]
    return sorted([(e["recall_at_10"], e["qps"], e["search_value"], e["p50_us"], e["p99_us"]) for e in pts], key=lambda p: p[2])
series["engram"] = engram_sweep("hnsw", 1)
# The same graph walked on its floats, and the store's search path (2-thread builds), when the run has them.
for kind, label in (("hnsw-float", "engram floats"), ("store-hnsw", "engram store")):
    if engram_sweep(kind):
        series[label] = engram_sweep(kind)

def at_recall(pts, target):
    pts = sorted(pts)
    for (r1, q1, *_), (r2, q2, *_) in zip(pts, pts[1:]):
        if r1 <= target <= r2 and r2 > r1:
            t = (target - r1) / (r2 - r1)
            return math.exp(math.log(q1) + t * (math.log(q2) - math.log(q1)))
    return None

print(f"#### {ds}: recall@10 -> QPS (one query at a time, one thread; tag {latest})\n")
print("| efSearch | " + " | ".join(f"{a} recall / QPS" for a in series) + " |")
print("|---|" + "---|" * len(series))
for ef in [10, 20, 40, 80, 120, 200, 400]:
    cells = []
    for a, pts in series.items():
        p = next((p for p in pts if p[2] == ef), None)
        cells.append(f"{p[0]:.4f} / {p[1]:,.0f}" if p else "-")
    print(f"| {ef} | " + " | ".join(cells) + " |")

print(f"\n#### {ds}: QPS at equal recall@10 (interpolated)\n")
print("| recall | " + " | ".join(series) + " | Engram / hnswlib |")
print("|---|" + "---|" * len(series) + "---|")
for target in (0.90, 0.95, 0.99):
    vals = {a: at_recall(pts, target) for a, pts in series.items()}
    ratio = vals["engram"] / vals["hnswlib"] if vals["engram"] and vals["hnswlib"] else None
    cells = [f"{v:,.0f}" if v else "not reached" for v in vals.values()]
    print(f"| {target:.2f} | " + " | ".join(cells) + f" | {'%.2f×' % ratio if ratio else '-'} |")

print(f"\n#### {ds}: build time and memory\n")
print("| engine | build threads | build s | index MiB | source |")
print("|---|---|---|---|---|")
for a in ("hnswlib", "faiss-hnsw", "usearch"):
    seen = set()
    for r in rows:
        if r["anchor"] == a and r["build_threads"] not in seen and r["build_s"]:
            seen.add(r["build_threads"])
            print(f"| {a} | {r['build_threads']} | {float(r['build_s']):.1f} | {int(r['mem_bytes']) / 2**20:.1f} | {r['mem_source']} |")
seen = set()
for e in engram:
    key = (e.get("index", "hnsw"), e["build_threads"])
    if key not in seen:
        seen.add(key)
        split = ""
        if "mem_floats_bytes" in e:
            split = " (floats %.1f, codes %.1f, links %.1f, other %.1f)" % tuple(
                e[f"mem_{part}_bytes"] / 2**20 for part in ("floats", "codes", "links", "other"))
        print(f"| engram {key[0]} | {e['build_threads']} | {e['build_s']:.1f} | {e['mem_bytes'] / 2**20:.1f}{split} | IndexMemory |")

filt = [e for e in engram if "filter" in e["params"]]
rerun = res / f"engram_hnsw_filter_{ds}.jsonl"  # a later filtered-search run, if any, replaces these rows
if rerun.exists():
    filt = [json.loads(l) for l in open(rerun) if "filter" in l]
if filt:
    print(f"\n#### {ds}: filtered search (efSearch {filt[0]['search_value']}, exact filtered ground truth)\n")
    print("| allowed fraction | plan | recall@10 | QPS | p50 µs | p99 µs |")
    print("|---|---|---|---|---|---|")
    for e in filt:
        parts = dict(p.split("=") for p in e["params"].split() if "=" in p)
        print(f"| {parts['filter']} | {parts['plan']} | {e['recall_at_10']:.4f} | {e['qps']:,.0f} | {e['p50_us']:,.1f} | {e['p99_us']:,.1f} |")
