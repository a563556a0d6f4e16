import EngramIndex
import EngramKernels

/// Exact top-k label lists for `queries`, from the flat index over the same (label, vector) pairs.
func exactNeighbours(
    base: [Float], labels: [VectorID], queries: [Float], dimension d: Int, metric: Metric, k: Int,
    filter: CandidateFilter? = nil
) throws -> [[VectorID]] {
    let flat = try FlatIndex(dimension: d, metric: metric)
    try flat.add(contentsOf: base)
    let mapped: CandidateFilter? = filter.map { f in .predicate { f.allows(labels[Int($0)]) } }
    return try flat.search(batch: queries, k: k, filter: mapped).map { $0.map { labels[Int($0.id)] } }
}

/// Mean |found ∩ truth| / |truth| over queries.
func recall(_ found: [[VectorID]], _ truth: [[VectorID]]) -> Double {
    var hits = 0, total = 0
    for (f, t) in zip(found, truth) {
        hits += Set(f).intersection(t).count
        total += t.count
    }
    return total == 0 ? 1 : Double(hits) / Double(total)
}

func searchAll(_ index: HNSWIndex, _ queries: [Float], dimension d: Int, k: Int, ef: Int, filter: CandidateFilter? = nil) throws -> [[VectorID]] {
    try (0..<(queries.count / d)).map { q in
        try index.search(Array(queries[(q * d)..<((q + 1) * d)]), k: k, efSearch: ef, filter: filter).map(\.id)
    }
}
