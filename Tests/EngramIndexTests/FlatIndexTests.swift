import Synchronization
import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

/// Brute force in Double, written the plain way: the reference the flat
/// index must agree with.
private func referenceTopK(
    _ base: [Float], dimension d: Int, query: [Float], metric: Metric, k: Int, allowed: (Int) -> Bool = { _ in true }
) -> [(id: Int, distance: Double)] {
    func unit(_ v: ArraySlice<Float>) -> [Double] {
        let x = v.map(Double.init)
        guard metric == .cosine else { return x }
        let n = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return x.map { $0 / n }
    }
    let q = unit(query[...])
    var all = [(id: Int, distance: Double)]()
    for i in 0..<(base.count / d) where allowed(i) {
        let v = unit(base[(i * d)..<((i + 1) * d)])
        let dot = zip(q, v).reduce(0) { $0 + $1.0 * $1.1 }
        let l2 = zip(q, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let distance = metric == .squaredL2 ? l2 : metric == .innerProduct ? -dot : 1 - dot
        all.append((i, distance))
    }
    all.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id) }
    return Array(all.prefix(k))
}

/// Checks `got` against the reference: same length, distances within float
/// rounding of the true ones, and no returned item worse than the true k-th
/// (so the only allowed differences are swaps among near-equal distances).
private func expectMatchesReference(
    _ got: [SearchResult], _ reference: [(id: Int, distance: Double)],
    base: [Float], dimension d: Int, query: [Float], metric: Metric, context: String
) {
    #expect(got.count == reference.count, "\(context)")
    guard let kth = reference.last?.distance else { return }
    let slack = 1e-4 * max(1, abs(kth))
    let all = referenceTopK(base, dimension: d, query: query, metric: metric, k: base.count / d)
    let exact = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.distance) })
    for (rank, hit) in got.enumerated() {
        let truth = exact[Int(hit.id)] ?? .nan
        #expect(abs(Double(hit.distance) - truth) <= slack, "\(context) rank \(rank) id \(hit.id)")
        #expect(Double(hit.distance) <= kth + slack, "\(context) rank \(rank) worse than the true k-th")
    }
    for (a, b) in zip(got, got.dropFirst()) {
        #expect(a.distance < b.distance || (a.distance == b.distance && a.id < b.id), "\(context): not best-first")
    }
    // Every item clearly inside the true top-k must be found.
    let found = Set(got.map { Int($0.id) })
    for item in reference where item.distance < kth - slack {
        #expect(found.contains(item.id), "\(context): id \(item.id) at \(item.distance) missing")
    }
}

@Suite("Flat (exact) index")
struct FlatIndexTests {
    @Test("search agrees with a double-precision brute force", arguments: Metric.allCases)
    func matchesReference(metric: Metric) throws {
        var rng = SeededGenerator.forTest("flat.matchesReference.\(metric)", defaultSeed: 31)
        for d in [1, 3, 50, 128] {
            let n = 500
            let base = rng.clusteredVectors(count: n, dimension: d, clusters: 10)
            let index = try FlatIndex(dimension: d, metric: metric)
            try index.add(contentsOf: base)
            #expect(index.count == n)
            for _ in 0..<10 {
                let q = (0..<d).map { _ in rng.gaussian() }
                for k in [1, 10, 100] {
                    let got = try index.search(q, k: k)
                    let ref = referenceTopK(base, dimension: d, query: q, metric: metric, k: k)
                    expectMatchesReference(got, ref, base: base, dimension: d, query: q, metric: metric, context: "\(metric) d=\(d) k=\(k)")
                }
            }
        }
    }

    @Test("adds on one thread while others search: every answer is exact for some prefix of the adds (also under TSan)")
    func concurrentAddAndSearch() throws {
        let index = try FlatIndex(dimension: 8, metric: .squaredL2)
        try index.add((0..<8).map { Float($0) })
        let done = Atomic<Bool>(false)
        let wrong = Atomic<Int>(0)
        runOnThreads(3) { t in
            if t == 0 {
                // One at a time: the storage grows, and moves, many times.
                for i in 1..<6000 { _ = try? index.add((0..<8).map { Float(i * 8 + $0) }) }
                done.store(true, ordering: .releasing)
                return
            }
            var rounds = 0
            while !done.load(ordering: .acquiring) || rounds < 5 {
                rounds += 1
                let target = Float((rounds * 37 % 5000) * 8)
                guard let hits = try? index.search((0..<8).map { target + Float($0) }, k: 3) else {
                    wrong.wrappingAdd(1, ordering: .relaxed)
                    continue
                }
                // Row i is (8i, 8i+1, …): its squared distance to the query is 8·(8i − target)².
                for hit in hits {
                    let delta = Float(hit.id) * 8 - target
                    if abs(hit.distance - 8 * delta * delta) > 1e-3 * max(1, hit.distance) { wrong.wrappingAdd(1, ordering: .relaxed) }
                }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(index.count == 6000)
    }

    @Test("equal distances are ordered by lower id, deterministically")
    func tieOrder() throws {
        let index = try FlatIndex(dimension: 4, metric: .squaredL2)
        // Ids 0, 2, 4 are copies of one vector, 1 and 3 of another.
        for i in 0..<5 { try index.add(i % 2 == 0 ? [1, 0, 0, 0] : [0, 1, 0, 0]) }
        let hits = try index.search([1, 0, 0, 0], k: 4)
        #expect(hits.map(\.id) == [0, 2, 4, 1])
        #expect(hits[0].distance == 0 && hits[1].distance == 0 && hits[2].distance == 0)
        #expect(try index.search([1, 0, 0, 0], k: 4) == hits)
        let filtered = try index.search([1, 0, 0, 0], k: 2, filter: .bitset(Bitset(capacity: 5, ids: [4, 2, 1])))
        #expect(filtered.map(\.id) == [2, 4])
    }

    @Test("k beyond the size returns everything; an empty index returns nothing")
    func sizes() throws {
        let index = try FlatIndex(dimension: 2, metric: .innerProduct)
        #expect(try index.search([1, 0], k: 5).isEmpty)
        try index.add(contentsOf: [1, 0, 0, 1, -1, 0])
        let all = try index.search([1, 0], k: 10)
        #expect(all.map(\.id) == [0, 1, 2])
        #expect(all.map(\.distance) == [-1, 0, 1])
    }

    @Test("bad input is a typed error and changes nothing")
    func validation() throws {
        #expect(throws: IndexError.invalidDimension(0)) { try FlatIndex(dimension: 0, metric: .cosine) }
        #expect(throws: IndexError.invalidDimension(4097)) { try FlatIndex(dimension: 4097, metric: .cosine) }
        let index = try FlatIndex(dimension: 3, metric: .cosine)
        try index.add([1, 2, 3])
        #expect(throws: IndexError.dimensionMismatch(expected: 3, actual: 2)) { try index.add([1, 2]) }
        #expect(throws: IndexError.nonFiniteValue(row: 0, component: 1)) { try index.add([1, .nan, 3]) }
        #expect(throws: IndexError.nonFiniteValue(row: 0, component: 2)) { try index.add([1, 2, -.infinity]) }
        #expect(throws: IndexError.zeroVector(row: 0)) { try index.add([0, 0, 0]) }
        #expect(throws: IndexError.vectorTooLarge(row: 0)) { try index.add([3e38, 3e38, 3e38]) }
        // A batch with one bad row adds nothing.
        #expect(throws: IndexError.zeroVector(row: 2)) { try index.add(contentsOf: [1, 1, 1, 2, 2, 2, 0, 0, 0]) }
        #expect(throws: IndexError.raggedBatch(floats: 4, dimension: 3)) { try index.add(contentsOf: [1, 1, 1, 2]) }
        #expect(index.count == 1)
        #expect(throws: IndexError.invalidK(0, maxK: SearchLimits.maxK)) { try index.search([1, 0, 0], k: 0) }
        #expect(throws: IndexError.invalidK(-3, maxK: SearchLimits.maxK)) { try index.search([1, 0, 0], k: -3) }
        #expect(throws: IndexError.invalidK(SearchLimits.maxK + 1, maxK: SearchLimits.maxK)) {
            try index.search([1, 0, 0], k: SearchLimits.maxK + 1)
        }
        #expect(throws: IndexError.nonFiniteValue(row: 0, component: 0)) { try index.search([.nan, 0, 0], k: 1) }
        #expect(throws: IndexError.zeroVector(row: 0)) { try index.search([0, 0, 0], k: 1) }
        #expect(throws: IndexError.dimensionMismatch(expected: 3, actual: 4)) { try index.search([1, 0, 0, 0], k: 1) }
        #expect(throws: IndexError.unknownID(1)) { try index.vector(1) }
        // Non-cosine metrics accept zero vectors.
        let l2 = try FlatIndex(dimension: 2, metric: .squaredL2)
        try l2.add([0, 0])
        #expect(try l2.search([0, 0], k: 1) == [SearchResult(id: 0, distance: 0)])
        // Error messages name the problem.
        #expect(IndexError.dimensionMismatch(expected: 3, actual: 2).description.contains("3-dimensional"))
    }

    @Test("cosine stores unit vectors; other metrics store the input as is")
    func storedVectors() throws {
        let cosine = try FlatIndex(dimension: 2, metric: .cosine)
        try cosine.add([3, 4])
        #expect(try cosine.vector(0) == [0.6, 0.8])
        let ip = try FlatIndex(dimension: 2, metric: .innerProduct)
        try ip.add([3, 4])
        #expect(try ip.vector(0) == [3, 4])
    }

    @Test("filters return only allowed ids, min(k, allowed) of them", arguments: [0.001, 0.01, 0.1, 0.5])
    func filters(selectivity: Double) throws {
        var rng = SeededGenerator.forTest("flat.filters.\(selectivity)", defaultSeed: 32)
        let n = 3000, d = 16
        let base = rng.gaussianVectors(count: n, dimension: d)
        let index = try FlatIndex(dimension: d, metric: .squaredL2)
        try index.add(contentsOf: base)
        var bits = Bitset(capacity: n)
        for i in 0..<n where Double.random(in: 0..<1, using: &rng) < selectivity { bits.insert(VectorID(i)) }
        let allowed = bits
        let q = (0..<d).map { _ in rng.gaussian() }
        for k in [1, 10, 50] {
            let ref = referenceTopK(base, dimension: d, query: q, metric: .squaredL2, k: k) { allowed.contains(VectorID($0)) }
            let viaBits = try index.search(q, k: k, filter: .bitset(allowed))
            let viaPredicate = try index.search(q, k: k, filter: .predicate { allowed.contains($0) })
            #expect(viaBits.count == min(k, allowed.count))
            #expect(viaBits == viaPredicate)
            #expect(viaBits.allSatisfy { allowed.contains($0.id) })
            expectMatchesReference(viaBits, ref, base: base, dimension: d, query: q, metric: .squaredL2, context: "sel=\(selectivity) k=\(k)")
        }
        // A bitset larger than the index and an empty one.
        let wide = Bitset(capacity: n + 100, ids: [VectorID(n + 5), 7])
        #expect(try index.search(q, k: 5, filter: .bitset(wide)).map(\.id) == [7])
        #expect(try index.search(q, k: 5, filter: .bitset(Bitset(capacity: 0))).isEmpty)
    }

    @Test("a batch search on several threads equals single searches")
    func batchSearch() throws {
        var rng = SeededGenerator.forTest("flat.batchSearch", defaultSeed: 33)
        let n = 2000, d = 24, nq = 37
        let index = try FlatIndex(dimension: d, metric: .cosine)
        try index.add(contentsOf: rng.gaussianVectors(count: n, dimension: d))
        let queries = rng.gaussianVectors(count: nq, dimension: d)
        for threads in [1, 2, 3] {
            let batch = try index.search(batch: queries, k: 10, threads: threads)
            #expect(batch.count == nq)
            for r in 0..<nq {
                #expect(batch[r] == (try index.search(Array(queries[(r * d)..<((r + 1) * d)]), k: 10)))
            }
        }
        var bad = queries
        bad[d * 5] = .nan
        #expect(throws: IndexError.nonFiniteValue(row: 5, component: 0)) { try index.search(batch: bad, k: 10) }
    }

    @Test("memory is the aligned vector storage")
    func memory() throws {
        let index = try FlatIndex(dimension: 50, metric: .cosine, reserve: 1000)
        #expect(index.storage.stride == 50)
        #expect(index.memoryBytes == 1000 * 50 * 4)
        #expect(Int(bitPattern: index.storage.base) % 64 == 0)
    }
}

@Suite("Top-k heap")
struct TopKHeapTests {
    @Test("keeps the k best of a random stream, NaN counted as worst")
    func keepsBest() {
        var rng = SeededGenerator.forTest("heap.keepsBest", defaultSeed: 34)
        for k in [1, 2, 7, 64] {
            var heap = TopKHeap(capacity: k)
            var all = [(Float, VectorID)]()
            for i in 0..<500 {
                let d: Float = i % 97 == 0 ? .nan : Float(Int.random(in: 0..<50, using: &rng))
                heap.consider(distance: d, id: VectorID(i))
                all.append((d.isNaN ? .infinity : d, VectorID(i)))
            }
            all.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            #expect(heap.sortedResults().map(\.id) == all.prefix(k).map(\.1), "k=\(k)")
        }
        var few = TopKHeap(capacity: 3)
        few.consider(distance: .nan, id: 9)
        few.consider(distance: 1, id: 4)
        #expect(few.sortedResults() == [SearchResult(id: 4, distance: 1), SearchResult(id: 9, distance: .infinity)])
    }
}
