import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

@Suite("HNSW-SQ8: layer 0 on 8-bit codes, re-ranked with the floats")
struct HNSWQuantizationTests {
    @Test("recall stays within budget of the float graph, distances are exact, and later inserts are encoded", arguments: Metric.allCases)
    func quantizedSearch(metric: Metric) throws {
        var rng = SeededGenerator.forTest("hnsw.sq8", defaultSeed: 503)
        let d = 24, n = 3000, labels = (0..<n).map { VectorID($0) }
        let centres = (0..<30).map { _ in (0..<d).map { _ in rng.gaussian() } }
        let base = (0..<n).flatMap { _ in centres[Int.random(in: 0..<30, using: &rng)].map { $0 + 0.5 * rng.gaussian() } }
        let queries = (0..<(100 * d)).map { _ in rng.gaussian() }
        let index = try HNSWIndex(dimension: d, metric: metric, configuration: HNSWConfiguration(m: 12, efConstruction: 100), walksOnCodes: false)
        try index.insert(contentsOf: base, labels: labels, threads: 2)
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: metric, k: 10)
        let floatRecall = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 64), truth)
        let floatBytes = index.memoryBytes
        #expect(throws: IndexError.nothingToQuantize) {  // nothing to train the ranges on
            try HNSWIndex(dimension: d, metric: metric).quantize()
        }
        try index.quantize()
        #expect(index.isQuantized)
        let codeRecall = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 64), truth)
        print("HNSW-SQ8 \(metric) recall@10 at ef 64: floats \(floatRecall), codes + re-rank \(codeRecall) (seed 503; budget: within 0.03)")
        #expect(codeRecall >= floatRecall - 0.03)
        // The codes add d bytes per slot (and ‖x̂‖² under squared L2).
        #expect(index.memoryBytes - floatBytes == index.quantizedBytes && index.quantizedBytes >= n * d)
        // Returned distances are the float ones (re-ranked), best first.
        let exact = try FlatIndex(dimension: d, metric: metric)
        try exact.add(contentsOf: base)
        let query = Array(queries[0..<d])
        let hits = try index.search(query, k: 10, efSearch: 64)
        let exactHits = try exact.search(query, k: n)
        let exactDistance = Dictionary(uniqueKeysWithValues: exactHits.map { ($0.id, $0.distance) })
        for hit in hits { #expect(abs(hit.distance - exactDistance[hit.id]!) <= 1e-4 * Swift.max(1, abs(hit.distance)), "\(hit)") }
        #expect(hits.map(\.distance) == hits.map(\.distance).sorted())
        // A vector inserted after quantising is encoded and found; one far outside the ranges counts as clipped.
        let far = (0..<d).map { _ in rng.gaussian() * 50 }
        try index.insert(far, label: VectorID(n))
        #expect(try index.search(far, k: 1, efSearch: 64).first?.id == VectorID(n))
        #expect(index.clippedFraction > 0)
    }

    @Test("codes only: the floats are freed; searches, re-ranking, inserts, deletes with compaction and snapshots work on the codes")
    func codesOnly() throws {
        var rng = SeededGenerator.forTest("hnsw.sq8.codes", defaultSeed: 509)
        let d = 64, n = 3000, labels = (0..<n).map { VectorID($0) }
        let centres = (0..<30).map { _ in (0..<d).map { _ in rng.gaussian() } }
        let base = (0..<n).flatMap { _ in centres[Int.random(in: 0..<30, using: &rng)].map { $0 + 0.5 * rng.gaussian() } }
        let queries = (0..<(100 * d)).map { _ in rng.gaussian() }
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: HNSWConfiguration(m: 12, efConstruction: 100), walksOnCodes: false)
        try index.insert(contentsOf: base, labels: labels, threads: 2)
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: .squaredL2, k: 10)
        let floatRecall = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 64), truth)
        let floatBytes = index.memoryBytes
        try index.quantize(keepingFloats: false)
        #expect(index.isCodesOnly)
        // Each slot drops 4·d bytes of floats and gains d (+4) of codes.
        #expect(floatBytes - index.memoryBytes >= n * (3 * d - 4), "\(floatBytes) → \(index.memoryBytes) bytes")
        let codeRecall = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 64), truth)
        let reranked = try base.withUnsafeBufferPointer { floats in
            try (0..<100).map { q in
                try index.searchReranked(Array(queries[(q * d)..<((q + 1) * d)]), k: 10, efSearch: 64, rerank: 40,
                                         fullPrecision: { floats.baseAddress! + Int($0) * d }).map(\.id)
            }
        }
        let rerankedRecall = recall(reranked, truth)
        print("HNSW-SQ8 codes only recall@10 at ef 64: floats \(floatRecall), codes \(codeRecall), codes + re-rank 40 \(rerankedRecall) (seed 509; budgets: within 0.05 and 0.02)")
        #expect(codeRecall >= floatRecall - 0.05)
        #expect(rerankedRecall >= floatRecall - 0.02)
        // A stored vector is what its codes stand for: within half a step (a small fraction of the spread) per coordinate.
        let stored = try index.vector(7)
        let largestError = zip(stored, base[(7 * d)..<(8 * d)]).map { abs($0 - $1) }.max() ?? 0
        #expect(largestError < 0.05, "largest error \(largestError)")
        // Inserts after: linked on the codes and found.
        let extra = (0..<(200 * d)).map { _ in rng.gaussian() }
        try index.insert(contentsOf: extra, labels: (n..<(n + 200)).map { VectorID($0) }, threads: 2)
        var found = 0
        for i in 0..<200 where try index.search(Array(extra[(i * d)..<((i + 1) * d)]), k: 1, efSearch: 64).first?.id == VectorID(n + i) { found += 1 }
        #expect(found >= 190, "\(found) of 200 inserted vectors found first")
        // Deletes and a compaction repair the graph on decoded rows.
        for label in stride(from: 0, to: n, by: 5) { try index.delete(VectorID(label)) }
        index.compact()
        try index.checkInvariants()
        let after = try searchAll(index, queries, dimension: d, k: 10, ef: 64)
        #expect(after.allSatisfy { $0.allSatisfy { $0 % 5 != 0 || $0 >= VectorID(n) } })
        // A snapshot holds what the codes stand for and loads as a float index.
        let loaded = try HNSWIndex.load(snapshot: index.snapshot())
        #expect(!loaded.isCodesOnly && loaded.count == index.count)
        try loaded.checkInvariants()
        #expect(try searchAll(loaded, queries, dimension: d, k: 10, ef: 64) == after)
    }
}
