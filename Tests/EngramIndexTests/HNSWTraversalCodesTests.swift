@testable import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

/// Clustered Gaussian data: `n` vectors of dimension `d` around 40 centres.
private func clustered(_ n: Int, _ d: Int, _ rng: inout SeededGenerator) -> [Float] {
    let centres = (0..<40).map { _ in (0..<d).map { _ in rng.gaussian() } }
    return (0..<n).flatMap { _ in centres[Int.random(in: 0..<40, using: &rng)].map { $0 + 0.6 * rng.gaussian() } }
}

@Suite("HNSW walking on compact codes (4-bit, 7-bit up to 128 dimensions), re-ranked with the floats")
struct HNSWTraversalCodesTests {
    @Test("recall stays within budget of the float walk, and the distances returned are the exact ones",
          arguments: Metric.allCases, [48, 160])
    func recallAgainstExact(metric: Metric, d: Int) throws {
        var rng = SeededGenerator.forTest("hnsw.codes.recall", defaultSeed: 811)
        // 48: 7-bit codes, padded to 64; 160: 4-bit codes, padded to 192. Neither fills its last block.
        let n = 4000, labels = (0..<n).map { VectorID($0) }
        let base = clustered(n, d, &rng)
        let queries = (0..<(100 * d)).map { _ in rng.gaussian() }
        let configuration = HNSWConfiguration(m: 12, efConstruction: 100)
        let floats = try HNSWIndex(dimension: d, metric: metric, configuration: configuration, walksOnCodes: false)
        let codes = try HNSWIndex(dimension: d, metric: metric, configuration: configuration)
        try floats.insert(contentsOf: base, labels: labels, threads: 1)
        try codes.insert(contentsOf: base, labels: labels, threads: 1)
        #expect(codes.isWalkingOnCodes && !floats.isWalkingOnCodes)
        #expect(codes.traversalCodeBits == (d <= 128 ? 7 : 4))
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: metric, k: 10)
        // At ef 16 only 16 candidates are re-ranked for 10 results: the codes' misorderings cost more there.
        for (ef, budget) in [(16, 0.05), (64, 0.02)] {
            let floatRecall = recall(try searchAll(floats, queries, dimension: d, k: 10, ef: ef), truth)
            let codeRecall = recall(try searchAll(codes, queries, dimension: d, k: 10, ef: ef), truth)
            print("walk on \(codes.traversalCodeBits)-bit codes, d \(d), \(metric), ef \(ef): recall@10 floats \(floatRecall), codes \(codeRecall) (seed 811; budget: within \(budget))")
            #expect(codeRecall >= floatRecall - budget)
        }
        let exact = try FlatIndex(dimension: d, metric: metric)
        try exact.add(contentsOf: base)
        for q in 0..<10 {
            let query = Array(queries[(q * d)..<((q + 1) * d)])
            let hits = try codes.search(query, k: 10, efSearch: 64)
            let exactDistance = Dictionary(uniqueKeysWithValues: try exact.search(query, k: n).map { ($0.id, $0.distance) })
            for hit in hits { #expect(abs(hit.distance - exactDistance[hit.id]!) <= 1e-4 * Swift.max(1, abs(hit.distance)), "\(hit)") }
            #expect(hits.map(\.distance) == hits.map(\.distance).sorted())
        }
    }

    @Test("codes are trained at 1,024 live vectors and again as the index doubles; a vector and a query far outside the ranges are scored on floats")
    func trainingPolicy() throws {
        var rng = SeededGenerator.forTest("hnsw.codes.policy", defaultSeed: 823)
        let d = 32
        let base = clustered(2100, d, &rng)
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: HNSWConfiguration(m: 8, efConstruction: 64))
        let below = HNSWIndex.traversalTrainingMinimum - 1
        try index.insert(contentsOf: Array(base[0..<(below * d)]), labels: (0..<below).map { VectorID($0) })
        #expect(!index.isWalkingOnCodes && index.traversalCodeBytes == 0)
        try index.insert(Array(base[(below * d)..<((below + 1) * d)]), label: VectorID(below))
        #expect(index.isWalkingOnCodes && index.traversalCodeBytes > 0)
        // One at a time, as a collection's writes arrive: every vector is encoded as it goes in, and found.
        for i in (below + 1)..<2100 { try index.insert(Array(base[(i * d)..<((i + 1) * d)]), label: VectorID(i)) }
        var found = 0
        for i in stride(from: 0, to: 2100, by: 7) where try index.search(Array(base[(i * d)..<((i + 1) * d)]), k: 1, efSearch: 32).first?.id == VectorID(i) { found += 1 }
        #expect(found >= 295, "\(found) of 300 stored vectors found first")
        // Trained at 1,024 and at 2,048; due again at each doubling, however large the index grows (no
        // cap: ranges must follow data that arrives in an order).
        #expect(index.lock.withReadLock { index.traversal?.trainedOn } == 2048)
        #expect(index.lock.withReadLock { index.nextTrainingPoint() } == 4096)
        index.lock.withWriteLock { index.traversal = index.encodeTraversalCodes(index.traversal!.quantizer, trainedOn: 1 << 24) }
        #expect(index.lock.withReadLock { index.nextTrainingPoint() } == 1 << 25)
        let far = (0..<d).map { _ in rng.gaussian() * 40 }
        try index.insert(far, label: 99_999)
        // The far vector is scored with its floats, and found once the walk is wide enough to reach it;
        // a query that far out walks on the floats, so it answers as the float walk of the same graph does.
        #expect(try index.search(far, k: 1, efSearch: 400).first?.id == 99_999)
        let asFloats = try HNSWIndex.load(snapshot: index.snapshot(), walksOnCodes: false)
        #expect(try index.search(far, k: 10, efSearch: 32).map(\.id) == asFloats.search(far, k: 10, efSearch: 32).map(\.id))
        #expect(index.traversalClippedFraction > 0)
        // An index told to walk on floats never trains codes; HNSW-SQ8 replaces them.
        let plain = try HNSWIndex(dimension: d, metric: .squaredL2, walksOnCodes: false)
        try plain.insert(contentsOf: Array(base[0..<(1500 * d)]), labels: (0..<1500).map { VectorID($0) })
        #expect(!plain.isWalkingOnCodes)
        try index.quantize()
        #expect(!index.isWalkingOnCodes && index.isQuantized)
    }

    @Test("filters keep min(k, allowed); deletes are never returned; compaction and snapshots keep the answers")
    func filtersDeletesSnapshots() throws {
        var rng = SeededGenerator.forTest("hnsw.codes.mutations", defaultSeed: 829)
        let d = 192, n = 3000, labels = (0..<n).map { VectorID($0) }
        let base = clustered(n, d, &rng)
        let queries = (0..<(50 * d)).map { _ in rng.gaussian() }
        let index = try HNSWIndex(dimension: d, metric: .cosine, configuration: HNSWConfiguration(m: 12, efConstruction: 100))
        try index.insert(contentsOf: base, labels: labels, threads: 2)
        #expect(index.isWalkingOnCodes && index.traversalCodeBits == 4)
        for selectivity in [0.002, 0.05, 0.5] {
            var bits = Bitset(capacity: n)
            for i in 0..<n where Double.random(in: 0..<1, using: &rng) < selectivity { bits.insert(VectorID(i)) }
            let filter = CandidateFilter.bitset(bits)
            let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: .cosine, k: 10, filter: filter)
            let found = try searchAll(index, queries, dimension: d, k: 10, ef: 64, filter: filter)
            for hits in found {
                #expect(hits.count == Swift.min(10, bits.count))
                #expect(hits.allSatisfy { bits.contains($0) })
            }
            let r = recall(found, truth)
            print("walk on 4-bit codes, filter \(selectivity) (\(bits.count) allowed): recall@10 \(r) (seed 829; budget 0.9)")
            #expect(r >= 0.9)
        }
        for label in stride(from: 0, to: n, by: 3) { try index.delete(VectorID(label)) }
        let afterDeletes = try searchAll(index, queries, dimension: d, k: 10, ef: 64)
        #expect(afterDeletes.allSatisfy { $0.count == 10 && $0.allSatisfy { $0 % 3 != 0 } })
        index.compact()
        try index.checkInvariants()
        let kept = labels.filter { $0 % 3 != 0 }
        let keptBase = kept.flatMap { base[(Int($0) * d)..<((Int($0) + 1) * d)] }
        let truth = try exactNeighbours(base: keptBase, labels: kept, queries: queries, dimension: d, metric: .cosine, k: 10)
        let compacted = try searchAll(index, queries, dimension: d, k: 10, ef: 64)
        let r = recall(compacted, truth)
        print("walk on 4-bit codes after deleting a third and compacting: recall@10 \(r) (seed 829; budget 0.9)")
        #expect(r >= 0.9)
        // A snapshot keeps the ranges: the loaded index walks on the same codes and answers the same.
        let loaded = try HNSWIndex.load(snapshot: index.snapshot())
        #expect(loaded.isWalkingOnCodes && loaded.walksOnCodes && loaded.traversalCodeBits == index.traversalCodeBits)
        try loaded.checkInvariants()
        #expect(try searchAll(loaded, queries, dimension: d, k: 10, ef: 64) == compacted)
        // Told to walk on floats, the same snapshot loads without codes.
        let asFloats = try HNSWIndex.load(snapshot: index.snapshot(), walksOnCodes: false)
        #expect(!asFloats.isWalkingOnCodes && asFloats.count == index.count)
    }

    @Test("a few extreme values spoil neither the ranges nor the query's 8-bit weights", arguments: [32, 160])
    func outliers(d: Int) throws {
        var rng = SeededGenerator.forTest("hnsw.codes.outliers", defaultSeed: 839)
        let n = 2000
        var base = (0..<(n * d)).map { _ in Float.random(in: -1...1, using: &rng) }
        // Two records far outside the rest on one coordinate each (half precision's largest value, and its negative).
        base[0] = 65_504
        base[5 * d + 7] = -65_504
        let labels = (0..<n).map { VectorID($0) }
        let queries = (0..<(50 * d)).map { _ in Float.random(in: -1...1, using: &rng) }
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: HNSWConfiguration(m: 12, efConstruction: 100))
        let floats = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: HNSWConfiguration(m: 12, efConstruction: 100), walksOnCodes: false)
        try index.insert(contentsOf: base, labels: labels)
        try floats.insert(contentsOf: base, labels: labels)
        #expect(index.isWalkingOnCodes)
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: .squaredL2, k: 10)
        let floatRecall = recall(try searchAll(floats, queries, dimension: d, k: 10, ef: 64), truth)
        let codeRecall = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 64), truth)
        print("walk on \(index.traversalCodeBits)-bit codes with two outliers, d \(d): recall@10 floats \(floatRecall), codes \(codeRecall) (seed 839; budget: within 0.03)")
        #expect(codeRecall >= floatRecall - 0.03)
        #expect(try index.search(Array(base[0..<d]), k: 1, efSearch: 64).first?.id == 0)
    }
}
