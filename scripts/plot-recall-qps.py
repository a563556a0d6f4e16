#!/usr/bin/env python3
"""Draws recall@k against QPS (log scale) from `engram bench --json` lines and, optionally, the
harness's anchor CSV (`../shared/harness` writes `anchors_<dataset>.csv`), for Docs/BENCHMARKS.md.

    scripts/plot-recall-qps.py OUT.png TITLE ENGRAM.jsonl[=LABEL] ... [--anchors anchors_<ds>.csv[=ANCHOR,...]]

Each JSON lines file is one curve (its points in file order, labelled LABEL or "engram <index>"); an anchor
CSV adds one curve per anchor named (default: every anchor in it), from its 1-thread build rows.
Needs matplotlib (pip install matplotlib).
"""
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def engram_curve(path):
    points = []
    label = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            label = label or f"engram {row['index']}"
            points.append((row["recall_at_k"], row["qps"]))
    return label, points


def anchor_curves(path, wanted):
    curves = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["build_threads"] != "1" or not row["loop_qps"]:
                continue
            if wanted and row["anchor"] not in wanted:
                continue
            curves.setdefault(row["anchor"], []).append((float(row["recall_at_10"]), float(row["loop_qps"])))
    return curves


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, title, rest = argv[1], argv[2], argv[3:]
    curves = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--anchors":
            spec = rest[i + 1]
            path, _, names = spec.partition("=")
            for name, points in anchor_curves(path, set(filter(None, names.split(",")))).items():
                curves.append((name, points))
            i += 2
            continue
        path, _, label = arg.partition("=")
        default, points = engram_curve(path)
        curves.append((label or default, points))
        i += 1
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, points in curves:
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (one at a time, one thread)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
