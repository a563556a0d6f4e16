import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

/// Recall budget: on these small clustered sets HNSW with M = 16 reaches
/// recall@10 ≥ 0.95 against exact search at efSearch = 64.
@Suite("HNSW build and search against exact search")
struct HNSWBuildTests {
    @Test("recall@10 ≥ 0.95 for every metric, and the invariants hold", arguments: Metric.allCases)
    func recallPerMetric(metric: Metric) throws {
        var rng = SeededGenerator.forTest("hnsw.recall.\(metric)", defaultSeed: 41)
        let n = 4000, d = 24, nq = 100
        var base = rng.clusteredVectors(count: n, dimension: d, clusters: 40)
        let queries = rng.clusteredVectors(count: nq, dimension: d, clusters: 40)
        if metric == .innerProduct {
            // Inner product on unit vectors, as embedding models produce: HNSW
            // is a metric-space method, and on vectors of varying length the
            // inner product strands low-norm nodes (hnswlib's graphs too).
            for r in 0..<n {
                let norm = (0..<d).reduce(Float(0)) { $0 + base[r * d + $1] * base[r * d + $1] }.squareRoot()
                let scale = 1 / norm
                for j in 0..<d { base[r * d + j] *= scale }
            }
        }
        let labels = (0..<n).map { VectorID($0 * 3 + 7) }  // labels need not be slots
        let index = try HNSWIndex(dimension: d, metric: metric, configuration: .init(m: 16, efConstruction: 100))
        try index.insert(contentsOf: base, labels: labels)
        #expect(index.count == n)
        try index.checkInvariants(reachability: false)
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: metric, k: 10)
        let found = try searchAll(index, queries, dimension: d, k: 10, ef: 64)
        let r = recall(found, truth)
        print("[hnsw] \(metric) recall@10 = \(r)")
        #expect(r >= 0.95, "\(metric): recall \(r)")
        // compact() relinks any node the heuristic stranded: then every node is reachable.
        let report = index.compact()
        print("[hnsw] \(metric) compact: \(report)")
        try index.checkInvariants()
        // Distances agree with the exact ones for the returned labels.
        let q0 = Array(queries[0..<d])
        for hit in try index.search(q0, k: 5) {
            let v = try index.vector(hit.id)
            #expect(abs(metric.distance(q0Prepared(q0, metric), v, count: d) - hit.distance) < 1e-4)
        }
    }

    @Test("a 2-thread build reaches the recall of a 1-thread build (within 0.5 point)")
    func parallelBuild() throws {
        var rng = SeededGenerator.forTest("hnsw.parallel", defaultSeed: 42)
        let n = 6000, d = 32, nq = 200
        let base = rng.clusteredVectors(count: n, dimension: d, clusters: 60)
        let queries = rng.clusteredVectors(count: nq, dimension: d, clusters: 60)
        let labels = (0..<n).map { VectorID($0) }
        let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: .cosine, k: 10)
        var recalls = [Int: Double]()
        for threads in [1, 2] {
            let index = try HNSWIndex(dimension: d, metric: .cosine, configuration: .init(m: 16, efConstruction: 100))
            try index.insert(contentsOf: base, labels: labels, threads: threads)
            try index.checkInvariants(reachability: false)
            recalls[threads] = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 32), truth)
        }
        print("[hnsw] recall@10 at ef 32: 1 thread \(recalls[1]!), 2 threads \(recalls[2]!)")
        #expect(recalls[2]! >= recalls[1]! - 0.005)
    }

    /// Clustered points in 4 dimensions at M 4: the heuristic's pruning
    /// strands nodes here in a serial build (without the relinking, 5 of the
    /// first 24 seeds, e.g. seed 2: 1 node, seed 6: 3 nodes).
    @Test("a batch build leaves no live node unreachable, even where the heuristic strands some")
    func batchBuildRelinksStranded() throws {
        var stranded = [String]()
        for seed in UInt64(0)..<24 {
            var rng = SeededGenerator(seed: seed)
            let n = 3000
            let base = rng.clusteredVectors(count: n, dimension: 4, clusters: 30)
            let index = try HNSWIndex(dimension: 4, metric: .squaredL2, configuration: HNSWConfiguration(m: 4, efConstruction: 32))
            try index.insert(contentsOf: base, labels: (0..<n).map { VectorID($0) }, threads: 1)
            do throws(HNSWInvariantViolation) {
                try index.checkInvariants(reachability: true)
            } catch {
                stranded.append("seed \(seed): \(error.problems)")
            }
        }
        #expect(stranded.isEmpty, "\(stranded)")
    }

    /// The visited set is a 16-bit generation per slot, cleared when the
    /// generation wraps (its values cycle through 1...65,535). A search in
    /// one cluster marks the slots it visits with its generation; 65,534
    /// searches in the other cluster later, the same search runs with the
    /// same generation value and must not take those stale marks for visits
    /// of its own (it would skip every node it reached the first time).
    @Test("a search gives the same answer after the visited set's generation wraps around")
    func visitedGenerationWraps() throws {
        var rng = SeededGenerator.forTest("hnsw.generation", defaultSeed: 43)
        let d = 4, perCluster = 200
        // Two clusters far apart: a search in one never walks the other's interior.
        var base = [Float]()
        for cluster in 0..<2 {
            for _ in 0..<perCluster { base += (0..<d).map { j in rng.gaussian() + (j == 0 ? Float(cluster) * 100 : 0) } }
        }
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: .init(m: 8, efConstruction: 64))
        try index.insert(contentsOf: base, labels: (0..<(2 * perCluster)).map { VectorID($0) })
        func query(_ row: Int) -> [Float] { Array(base[(row * d)..<((row + 1) * d)]).map { $0 + 0.01 } }
        // One thread, so one pooled scratch, whose generation advances by one per search.
        let first = try index.search(query(7), k: 5, efSearch: 16).map(\.id)
        for i in 0..<(Int(UInt16.max) - 1) { _ = try index.search(query(perCluster + i % 50), k: 5, efSearch: 16) }
        let again = try index.search(query(7), k: 5, efSearch: 16).map(\.id)
        #expect(first.count == 5 && again == first, "\(first) then \(again)")
    }

    @Test("k beyond the size, an empty index, a single node, growth past the capacity")
    func edges() throws {
        let index = try HNSWIndex(dimension: 3, metric: .squaredL2, capacity: 2)
        #expect(try index.search([1, 2, 3], k: 5).isEmpty)
        try index.insert([1, 0, 0], label: 10)
        #expect(try index.search([1, 0, 0], k: 5) == [SearchResult(id: 10, distance: 0)])
        for i in 0..<100 { try index.insert([Float(i), 1, 0], label: VectorID(100 + i)) }
        #expect(index.count == 101)
        #expect(try index.search([0, 0, 0], k: 500).count == 101)
        try index.checkInvariants(reachability: false)
        // Re-inserting a label replaces its vector.
        try index.insert([50, 50, 50], label: 10)
        #expect(index.count == 101)
        #expect(try index.search([50, 50, 50], k: 1).first?.id == 10)
        #expect(try index.vector(10) == [50, 50, 50])
        try index.checkInvariants(reachability: false)
        #expect(index.tombstoneCount == 1)
        index.compact()
        #expect(index.tombstoneCount == 0)
        try index.checkInvariants()
    }

    @Test("bad input is a typed error and changes nothing")
    func validation() throws {
        #expect(throws: IndexError.self) { try HNSWIndex(dimension: 3, metric: .cosine, configuration: .init(m: 1)) }
        #expect(throws: IndexError.self) { try HNSWIndex(dimension: 3, metric: .cosine, configuration: .init(m: 16, efConstruction: 8)) }
        let index = try HNSWIndex(dimension: 3, metric: .cosine)
        #expect(throws: IndexError.dimensionMismatch(expected: 3, actual: 2)) { try index.insert([1, 2], label: 1) }
        #expect(throws: IndexError.zeroVector(row: 1)) {
            try index.insert(contentsOf: [1, 0, 0, 0, 0, 0], labels: [1, 2])
        }
        #expect(throws: IndexError.duplicateID(4)) { try index.insert(contentsOf: [1, 0, 0, 0, 1, 0], labels: [4, 4]) }
        #expect(throws: IndexError.nonFiniteValue(row: 0, component: 2)) { try index.insert([1, 1, .nan], label: 1) }
        #expect(index.count == 0)
        try index.insert([1, 0, 0], label: 1)
        #expect(throws: IndexError.invalidK(0, maxK: SearchLimits.maxK)) { try index.search([1, 0, 0], k: 0) }
        #expect(throws: IndexError.zeroVector(row: 0)) { try index.search([0, 0, 0], k: 1) }
        #expect(throws: IndexError.unknownID(9)) { try index.delete(9) }
        #expect(throws: IndexError.self) { try index.search([1, 0, 0], k: 1, efSearch: 1_000_000) }
    }
}

/// The query as the index stores it (normalised under cosine).
func q0Prepared(_ q: [Float], _ metric: Metric) -> [Float] {
    guard metric == .cosine else { return q }
    let n = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return q.map { $0 / n }
}
