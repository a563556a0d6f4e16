import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

@Suite("IVF-Flat index")
struct IVFFlatIndexTests {
    private static func data(_ label: String, seed: UInt64, n: Int, d: Int) -> [Float] {
        var rng = SeededGenerator.forTest(label, defaultSeed: seed)
        // A mixture of 40 clusters, so lists are uneven as on real data.
        let centres = (0..<40).map { _ in (0..<d).map { _ in rng.gaussian() } }
        return (0..<n).flatMap { _ in centres[Int.random(in: 0..<40, using: &rng)].map { $0 + 0.6 * rng.gaussian() } }
    }

    @Test("probing every list is exact search; probing a few keeps recall@10 within its budget", arguments: Metric.allCases)
    func recallAgainstExact(metric: Metric) throws {
        let d = 32, n = 6000
        let base = Self.data("ivf.recall", seed: 419, n: n, d: d)
        let queries = Self.data("ivf.queries", seed: 421, n: 100, d: d)
        let ivf = try IVFFlatIndex(dimension: d, metric: metric, nlist: 64)
        try ivf.train(base, seed: 5, threads: 2)
        try ivf.add(contentsOf: base, labels: (0..<n).map { VectorID($0) }, threads: 2)
        #expect(ivf.invariantProblems() == [])
        let exact = try FlatIndex(dimension: d, metric: metric)
        try exact.add(contentsOf: base)
        var hits = [1: 0, 8: 0, 64: 0]
        for q in 0..<100 {
            let query = Array(queries[(q * d)..<((q + 1) * d)])
            let truth = try exact.search(query, k: 10).map(\.id)
            for nprobe in [1, 8, 64] {
                let got = try ivf.search(query, k: 10, nprobe: nprobe)
                #expect(got.count == 10)
                if nprobe == 64 { #expect(got.map(\.id) == truth, "query \(q)") }
                hits[nprobe, default: 0] += Set(got.map(\.id)).intersection(truth).count
            }
        }
        let recall8 = Double(hits[8]!) / 1000
        print("IVF-Flat \(metric) recall@10: nprobe 1 \(Double(hits[1]!) / 1000), nprobe 8 \(recall8), nprobe 64 \(Double(hits[64]!) / 1000) (seeds 419/421; budget 0.8 at nprobe 8)")
        #expect(recall8 >= 0.8)
        #expect(hits[64]! == 1000)
    }

    @Test("a filter returns min(k, allowed) results, probing past nprobe when it must")
    func filterGuarantee() throws {
        let d = 16, n = 3000
        let base = Self.data("ivf.filter", seed: 431, n: n, d: d)
        let ivf = try IVFFlatIndex(dimension: d, metric: .squaredL2, nlist: 50)
        try ivf.train(base, seed: 9)
        try ivf.add(contentsOf: base, labels: (0..<n).map { VectorID($0) })
        let allowed = Bitset(capacity: n, ids: stride(from: 7, to: n, by: 500).map { VectorID($0) })  // 6 ids, scattered
        let query = Array(base[0..<d])
        let few = try ivf.search(query, k: 10, nprobe: 1, filter: .bitset(allowed))
        #expect(Set(few.map(\.id)) == Set(stride(from: 7, to: n, by: 500).map { VectorID($0) }))
        let some = try ivf.search(query, k: 3, nprobe: 1, filter: .bitset(allowed))
        #expect(some.count == 3 && some.allSatisfy { allowed.contains($0.id) })
        let everything = try ivf.search(query, k: 5000, nprobe: 1)
        #expect(everything.count == n)
    }

    @Test("updates move a label, deletes remove it, and the lists stay consistent")
    func updatesAndDeletes() throws {
        let d = 8, n = 2000
        let base = Self.data("ivf.churn", seed: 433, n: n, d: d)
        let ivf = try IVFFlatIndex(dimension: d, metric: .squaredL2, nlist: 20)
        try ivf.train(base, seed: 1)
        try ivf.add(contentsOf: base, labels: (0..<n).map { VectorID($0) })
        for label in stride(from: 0, to: n, by: 3) { try ivf.delete(VectorID(label)) }
        // Label 1 takes label 2's vector: a search for it finds both at distance 0.
        try ivf.add(contentsOf: Array(base[(2 * d)..<(3 * d)]), labels: [1])
        #expect(ivf.invariantProblems() == [])
        #expect(ivf.count == n - (n + 2) / 3)
        let found = try ivf.search(Array(base[(2 * d)..<(3 * d)]), k: 2, nprobe: 20)
        #expect(Set(found.map(\.id)) == [1, 2] && found.allSatisfy { $0.distance == 0 })
        let all = try ivf.search(Array(base[0..<d]), k: n, nprobe: 20)
        #expect(all.allSatisfy { $0.id % 3 != 0 })
        #expect(throws: IndexError.unknownID(0)) { try ivf.delete(0) }
    }

    @Test("bad input is a typed error")
    func errors() throws {
        let ivf = try IVFFlatIndex(dimension: 4, metric: .cosine, nlist: 4)
        #expect(throws: IndexError.notTrained) { try ivf.add(contentsOf: [1, 0, 0, 0], labels: [1]) }
        #expect(throws: IndexError.notTrained) { try ivf.search([1, 0, 0, 0], k: 1, nprobe: 1) }
        #expect(throws: IndexError.invalidParameter(.nlist, value: 4)) { try ivf.train([1, 0, 0, 0, 0, 1, 0, 0]) }  // 2 vectors, 4 lists
        var training = [Float]()
        for i in 0..<40 {
            var row: [Float] = [0.1, 0.1, 0.1, 0.1]
            row[i % 4] = 1
            training += row
        }
        try ivf.train(training)
        #expect(throws: IndexError.zeroVector(row: 0)) { try ivf.add(contentsOf: [0, 0, 0, 0], labels: [1]) }
        #expect(throws: IndexError.duplicateID(3)) { try ivf.add(contentsOf: [1, 0, 0, 0, 0, 1, 0, 0], labels: [3, 3]) }
        #expect(throws: IndexError.raggedBatch(floats: 3, dimension: 4)) { try ivf.add(contentsOf: [1, 0, 0], labels: [1]) }
        #expect(throws: IndexError.invalidParameter(.nprobe, value: 5)) { try ivf.search([1, 0, 0, 0], k: 1, nprobe: 5) }
        #expect(throws: IndexError.invalidParameter(.nlist, value: 0)) { try IVFFlatIndex(dimension: 4, metric: .cosine, nlist: 0) }
    }
}
