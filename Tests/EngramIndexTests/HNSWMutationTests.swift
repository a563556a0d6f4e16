import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

@Suite("HNSW deletes, updates and filters")
struct HNSWMutationTests {
    @Test("5 rounds of deleting 50% and re-inserting keep recall within 1 point of a fresh build, and memory within 1.3×")
    func churn() throws {
        var rng = SeededGenerator.forTest("hnsw.churn", defaultSeed: 61)
        let n = 3000, d = 24, nq = 150
        let config = HNSWConfiguration(m: 12, efConstruction: 80)
        var vectors = [VectorID: [Float]]()
        let initial = rng.clusteredVectors(count: n, dimension: d, clusters: 30)
        for i in 0..<n { vectors[VectorID(i)] = Array(initial[(i * d)..<((i + 1) * d)]) }
        let index = try HNSWIndex(dimension: d, metric: .cosine, configuration: config, capacity: n)
        try index.insert(contentsOf: initial, labels: (0..<n).map { VectorID($0) })
        var nextLabel = VectorID(n)
        for round in 1...5 {
            let doomed = vectors.keys.sorted().shuffled(using: &rng).prefix(n / 2)
            for label in doomed {
                try index.delete(label)
                vectors[label] = nil
            }
            try index.checkInvariants(reachability: false)
            let report = index.compact()
            #expect(report.reclaimedSlots == n / 2)
            try index.checkInvariants()
            let fresh = rng.clusteredVectors(count: n / 2, dimension: d, clusters: 30)
            var labels = [VectorID]()
            for i in 0..<(n / 2) {
                vectors[nextLabel] = Array(fresh[(i * d)..<((i + 1) * d)])
                labels.append(nextLabel)
                nextLabel += 1
            }
            try index.insert(contentsOf: fresh, labels: labels)
            try index.checkInvariants(reachability: false)
            #expect(index.count == n, "round \(round)")
            #expect(index.tombstoneCount == 0)
        }
        // A fresh index of the same live items.
        let live = vectors.keys.sorted()
        let flatBase = live.flatMap { vectors[$0]! }
        let rebuilt = try HNSWIndex(dimension: d, metric: .cosine, configuration: config, capacity: n)
        try rebuilt.insert(contentsOf: flatBase, labels: live)
        let queries = rng.clusteredVectors(count: nq, dimension: d, clusters: 30)
        let truth = try exactNeighbours(base: flatBase, labels: live, queries: queries, dimension: d, metric: .cosine, k: 10)
        let churned = recall(try searchAll(index, queries, dimension: d, k: 10, ef: 40), truth)
        let baseline = recall(try searchAll(rebuilt, queries, dimension: d, k: 10, ef: 40), truth)
        print("[hnsw] churn recall@10 \(churned), fresh \(baseline); memory \(index.memoryBytes) vs \(rebuilt.memoryBytes)")
        #expect(churned >= baseline - 0.01)
        #expect(Double(index.memoryBytes) <= 1.3 * Double(rebuilt.memoryBytes))
    }

    @Test("deleted ids are never returned, updates move a vector, and deletes before compaction keep search working")
    func deletesAndUpdates() throws {
        var rng = SeededGenerator.forTest("hnsw.deletes", defaultSeed: 62)
        let n = 1000, d = 8
        let base = rng.gaussianVectors(count: n, dimension: d)
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: .init(m: 8, efConstruction: 50))
        try index.insert(contentsOf: base, labels: (0..<n).map { VectorID($0) })
        for label in 0..<500 { try index.delete(VectorID(label)) }
        #expect(index.count == 500)
        for q in 0..<50 {
            let query = Array(base[(q * d)..<((q + 1) * d)])  // a deleted vector itself
            let hits = try index.search(query, k: 10, efSearch: 40)
            #expect(hits.count == 10)
            #expect(hits.allSatisfy { $0.id >= 500 })
        }
        try index.insert([Float](repeating: 9, count: d), label: 700)
        #expect(try index.search([Float](repeating: 9, count: d), k: 1).first == SearchResult(id: 700, distance: 0))
        #expect(index.count == 500)
        #expect(!index.contains(3))
        #expect(throws: IndexError.unknownID(3)) { try index.delete(3) }
        try index.checkInvariants(reachability: false)
        index.compact()
        try index.checkInvariants()
        #expect(try index.search([Float](repeating: 9, count: d), k: 1).first?.id == 700)
        // Everything deleted: searches return nothing, the index still works.
        for label in 500..<1000 { try index.delete(VectorID(label)) }
        #expect(try index.search([Float](repeating: 0, count: d), k: 5).isEmpty)
        index.compact()
        try index.checkInvariants()
        try index.insert([Float](repeating: 1, count: d), label: 1)
        #expect(try index.search([Float](repeating: 1, count: d), k: 5).map(\.id) == [1])
    }

    @Test("filtered search returns min(k, allowed) with recall ≥ 0.95, and reports its plan",
          arguments: [0.001, 0.01, 0.1, 0.5])
    func filtered(selectivity: Double) throws {
        var rng = SeededGenerator.forTest("hnsw.filter.\(selectivity)", defaultSeed: 63)
        let n = 20_000, d = 16, nq = 50
        let base = rng.clusteredVectors(count: n, dimension: d, clusters: 50)
        let labels = (0..<n).map { VectorID($0) }
        let index = try HNSWIndex(dimension: d, metric: .cosine, configuration: .init(m: 16, efConstruction: 100))
        try index.insert(contentsOf: base, labels: labels, threads: 2)
        var bits = Bitset(capacity: n)
        for i in 0..<n where Double.random(in: 0..<1, using: &rng) < selectivity { bits.insert(VectorID(i)) }
        let allowed = bits
        let queries = rng.clusteredVectors(count: nq, dimension: d, clusters: 50)
        for filter in [CandidateFilter.bitset(allowed), .predicate { allowed.contains($0) }] {
            let truth = try exactNeighbours(base: base, labels: labels, queries: queries, dimension: d, metric: .cosine, k: 10, filter: filter)
            var found = [[VectorID]]()
            var plans = Set<HNSWSearchPlan>()
            for q in 0..<nq {
                let outcome = try index.searchWithPlan(Array(queries[(q * d)..<((q + 1) * d)]), k: 10, efSearch: 64, filter: filter)
                #expect(outcome.results.count == min(10, allowed.count))
                #expect(outcome.results.allSatisfy { allowed.contains($0.id) })
                found.append(outcome.results.map(\.id))
                plans.insert(outcome.plan)
            }
            let r = recall(found, truth)
            print("[hnsw] selectivity \(selectivity): plans \(plans.map(\.rawValue).sorted()), recall@10 \(r)")
            #expect(r >= 0.95)
            if selectivity <= 0.01 { #expect(plans == [.exactScan]) }
            if selectivity >= 0.5 { #expect(!plans.contains(.exactScan)) }
        }
        // A filter that allows nothing, and one that allows fewer than k.
        #expect(try index.search(Array(queries[0..<d]), k: 10, filter: .bitset(Bitset(capacity: n))).isEmpty)
        #expect(try index.search(Array(queries[0..<d]), k: 10, filter: .predicate { $0 == 5 || $0 == 17 }).map(\.id).sorted() == [5, 17])
    }
}
