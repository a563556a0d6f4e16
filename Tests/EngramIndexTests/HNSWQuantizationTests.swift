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
        let index = try HNSWIndex(dimension: d, metric: metric, configuration: HNSWConfiguration(m: 12, efConstruction: 100))
        try index.insert(contentsOf: base, labels: labels, threads: 2)
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: metric, k: 10)
        let floatRecall = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 64), truth)
        let floatBytes = index.memoryBytes
        index.quantize()
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
}
