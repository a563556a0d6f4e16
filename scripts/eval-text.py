#!/usr/bin/env python3
"""Retrieval quality and speed of the text anchors on a set made by scripts/make-text-set.py (issue 16):
BM25 with bm25s (PyStemmer's English stemmer, English stop words) and with tantivy (its `en_stem`
tokenizer), and exact vector search over the embeddings, each scored by nDCG@10 and recall@100 against
the set's judgements; queries run one at a time on one thread (QPS), after the index is built (seconds).

    .bench/embed-venv/bin/python scripts/eval-text.py [SET_DIR] [--json OUT.jsonl] [--engram RESULTS.jsonl ...]

--engram reads result lines written by `engram search --json` ({"query": q, "hits": [{"id": ...}, ...]})
and scores them the same way, so Engram's rankings sit in the same table.
Needs: pip install bm25s PyStemmer tantivy numpy.
"""
import argparse
import json
import math
import os
import struct
import time


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_fvecs(path):
    import numpy as np

    data = np.fromfile(path, dtype=np.int32)
    d = data[0]
    return data.reshape(-1, d + 1)[:, 1:].view(np.float32)


def scores(rankings, queries):
    """Mean nDCG@10 and recall@100 of `rankings` (query id -> ranked doc ids)."""
    ndcg, recall = 0.0, 0.0
    for q in queries:
        ranked = rankings.get(q["id"], [])
        relevant = set(q["relevant"])
        dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
        ndcg += dcg / ideal
        recall += len(relevant & set(ranked[:100])) / len(relevant)
    return ndcg / len(queries), recall / len(queries)


def run_bm25s(corpus, queries):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    t = time.perf_counter()
    tokens = bm25s.tokenize([d["text"] for d in corpus], stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - t
    rankings, latencies = {}, []
    for q in queries:
        t = time.perf_counter()
        qt = bm25s.tokenize([q["text"]], stopwords="en", stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(qt, k=100, show_progress=False, n_threads=1)
        latencies.append(time.perf_counter() - t)
        rankings[q["id"]] = [int(d) for d in docs[0]]
    return rankings, build, latencies


def run_tantivy(corpus, queries):
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="en_stem")
    builder.add_integer_field("doc", stored=True, indexed=False, fast=True)
    schema = builder.build()
    t = time.perf_counter()
    index = tantivy.Index(schema)
    writer = index.writer(num_threads=1)
    for d in corpus:
        writer.add_document(tantivy.Document(body=d["text"], doc=d["id"]))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    build = time.perf_counter() - t
    searcher = index.searcher()
    # One segment, written in corpus order: a hit's document number is its corpus id. Checked on every
    # hit of the first 50 queries against the stored id, so the timed loop need not fetch stored fields.
    def parsed(q):
        text = "".join(c if c.isalnum() or c.isspace() else " " for c in q["text"])  # no query syntax
        return index.parse_query(text, ["body"]) if text.strip() else None
    for q in queries[:50]:
        query = parsed(q)
        for _, address in (searcher.search(query, 100).hits if query else []):
            assert searcher.doc(address)["doc"][0] == address.doc, "more than one segment: map ids through the stored field"
    rankings, latencies = {}, []
    for q in queries:
        t = time.perf_counter()
        query = parsed(q)
        hits = searcher.search(query, 100).hits if query else []
        ranked = [address.doc for _, address in hits]
        latencies.append(time.perf_counter() - t)
        rankings[q["id"]] = ranked
    return rankings, build, latencies


def run_exact_vectors(folder, queries):
    import numpy as np

    base = read_fvecs(os.path.join(folder, "base.fvecs"))
    qv = read_fvecs(os.path.join(folder, "query.fvecs"))
    rankings, latencies = {}, []
    for q in queries:
        t = time.perf_counter()
        sims = base @ qv[q["id"]]
        top = np.argsort(-sims, kind="stable")[:100]
        latencies.append(time.perf_counter() - t)
        rankings[q["id"]] = [int(i) for i in top]
    return rankings, 0.0, latencies


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set", nargs="?", default=".bench/data/pydoc-text")
    ap.add_argument("--json")
    ap.add_argument("--engram", action="append", default=[], help="LABEL=RESULTS.jsonl from engram search --json")
    args = ap.parse_args()
    corpus = load(os.path.join(args.set, "corpus.jsonl"))
    queries = load(os.path.join(args.set, "queries.jsonl"))
    rows = []
    runners = [("bm25s", lambda: run_bm25s(corpus, queries)), ("tantivy", lambda: run_tantivy(corpus, queries))]
    if os.path.exists(os.path.join(args.set, "base.fvecs")):  # absent in a --no-embeddings set
        runners.append(("numpy exact vectors", lambda: run_exact_vectors(args.set, queries)))
    for name, runner in runners:
        rankings, build, latencies = runner()
        ndcg, recall = scores(rankings, queries)
        latencies.sort()
        rows.append({"engine": name, "ndcg_at_10": round(ndcg, 4), "recall_at_100": round(recall, 4),
                     "qps": round(len(latencies) / sum(latencies), 1), "p50_us": round(latencies[len(latencies) // 2] * 1e6, 1),
                     "p99_us": round(latencies[int(len(latencies) * 0.99)] * 1e6, 1), "build_s": round(build, 3),
                     "documents": len(corpus), "queries": len(queries)})
    for spec in args.engram:
        label, _, path = spec.partition("=")
        rankings = {line["query"]: [int(h["id"]) for h in line["hits"]] for line in load(path)}
        ndcg, recall = scores(rankings, queries)
        rows.append({"engine": label, "ndcg_at_10": round(ndcg, 4), "recall_at_100": round(recall, 4),
                     "documents": len(corpus), "queries": len(queries)})
    print("| engine | nDCG@10 | recall@100 | QPS | p50 µs | p99 µs | build s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['ndcg_at_10']} | {r['recall_at_100']} | {r.get('qps', '')} | {r.get('p50_us', '')} | "
              f"{r.get('p99_us', '')} | {r.get('build_s', '')} |")
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
