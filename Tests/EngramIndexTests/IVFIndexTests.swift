import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

@Suite("IVF index (flat and SQ8 lists)")
struct IVFIndexTests {
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
        let ivf = try IVFIndex(dimension: d, metric: metric, nlist: 64)
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

    @Test("SQ8 lists take under a third of the memory; codes keep recall within budget, and re-ranking restores exact results", arguments: Metric.allCases)
    func sq8AgainstExact(metric: Metric) throws {
        let d = 32, n = 6000
        let base = Self.data("ivf.sq8", seed: 439, n: n, d: d)
        let queries = Self.data("ivf.sq8.queries", seed: 443, n: 100, d: d)
        let labels = (0..<n).map { VectorID($0) }
        let flat = try IVFIndex(dimension: d, metric: metric, nlist: 64)
        let sq8 = try IVFIndex(dimension: d, metric: metric, nlist: 64, encoding: .sq8)
        for ivf in [flat, sq8] {
            try ivf.train(base, seed: 5, threads: 2)
            try ivf.add(contentsOf: base, labels: labels, threads: 2)
            #expect(ivf.invariantProblems() == [])
        }
        #expect(sq8.memoryBytes * 3 < flat.memoryBytes, "\(sq8.memoryBytes) vs \(flat.memoryBytes) bytes")
        // The full-precision vectors, prepared, as a collection keeps them.
        var prepared = base
        if metric.normalizesVectors {
            prepared.withUnsafeMutableBufferPointer { p in for i in 0..<n { _ = normalize(p.baseAddress! + i * d, count: d) } }
        }
        let exact = try FlatIndex(dimension: d, metric: metric)
        try exact.add(contentsOf: base)
        var codeHits = 0, rerankedHits = 0
        try prepared.withUnsafeBufferPointer { vectors in
            let source: (VectorID) -> UnsafePointer<Float>? = { vectors.baseAddress! + Int($0) * d }
            for q in 0..<100 {
                let query = Array(queries[(q * d)..<((q + 1) * d)])
                let truth = try exact.search(query, k: 10).map(\.id)
                let codes = try sq8.search(query, k: 10, nprobe: 64)
                let reranked = try sq8.search(query, k: 10, nprobe: 64, rerank: 40, fullPrecision: source)
                #expect(codes.count == 10 && reranked.count == 10)
                codeHits += Set(codes.map(\.id)).intersection(truth).count
                rerankedHits += Set(reranked.map(\.id)).intersection(truth).count
            }
        }
        print("IVF-SQ8 \(metric) recall@10 over every list: codes \(Double(codeHits) / 1000), re-ranked 40 \(Double(rerankedHits) / 1000) (seeds 439/443; budgets 0.9 and 0.99)")
        #expect(Double(codeHits) / 1000 >= 0.9)
        #expect(Double(rerankedHits) / 1000 >= 0.99)
    }

    @Test("SQ8 codes round-trip within half a step, and query weights score codes as the decoded vectors")
    func scalarQuantizer() throws {
        var rng = SeededGenerator.forTest("sq8.roundtrip", defaultSeed: 449)
        let d = 48, n = 500
        let vectors = (0..<(n * d)).map { t in rng.gaussian() * Float(1 + t % 5) }
        let quantizer = vectors.withUnsafeBufferPointer { ScalarQuantizer(training: $0.baseAddress!, count: n, dimension: d) }
        var codes = [UInt8](repeating: 0, count: d), decoded = [Float](repeating: 0, count: d)
        for i in 0..<n {
            let row = Array(vectors[(i * d)..<((i + 1) * d)])
            let squared = quantizer.encode(row, into: &codes)
            quantizer.decode(codes, into: &decoded)
            for t in 0..<d { #expect(abs(decoded[t] - row[t]) <= quantizer.step[t] * 0.5001, "row \(i) coordinate \(t)") }
            #expect(abs(squared - decoded.reduce(0) { $0 + $1 * $1 }) <= 1e-3 * squared)
            // A query's weights score the codes as the inner product with the decoded vector.
            let query = (0..<d).map { _ in rng.gaussian() }
            let weights = query.withUnsafeBufferPointer { quantizer.weights(for: $0.baseAddress!) }
            let score = weights.constant + weights.scale * Float(codeDotProduct(codes, weights.weights, count: d))
            let reference = zip(query, decoded).reduce(0) { $0 + $1.0 * $1.1 }
            let scale = zip(query, decoded).reduce(0) { $0 + abs($1.0 * $1.1) }
            #expect(abs(score - reference) <= 1e-3 * scale, "row \(i): \(score) vs \(reference)")
        }
        // Values past the trained range clamp to the ends.
        let far = [Float](repeating: 1e6, count: d)
        quantizer.encode(far, into: &codes)
        #expect(codes.allSatisfy { $0 == 255 })
    }

    @Test("a filter returns min(k, allowed) results, probing past nprobe when it must")
    func filterGuarantee() throws {
        let d = 16, n = 3000
        let base = Self.data("ivf.filter", seed: 431, n: n, d: d)
        let ivf = try IVFIndex(dimension: d, metric: .squaredL2, nlist: 50)
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

    @Test("updates move a label, deletes remove it, and the lists stay consistent", arguments: IVFIndex.Encoding.allCases)
    func updatesAndDeletes(encoding: IVFIndex.Encoding) throws {
        let d = 8, n = 2000
        let base = Self.data("ivf.churn", seed: 433, n: n, d: d)
        let ivf = try IVFIndex(dimension: d, metric: .squaredL2, nlist: 20, encoding: encoding)
        try ivf.train(base, seed: 1)
        try ivf.add(contentsOf: base, labels: (0..<n).map { VectorID($0) })
        for label in stride(from: 0, to: n, by: 3) { try ivf.delete(VectorID(label)) }
        // Label 1 takes label 2's vector: a search for it finds both at distance 0.
        try ivf.add(contentsOf: Array(base[(2 * d)..<(3 * d)]), labels: [1])
        #expect(ivf.invariantProblems() == [])
        #expect(ivf.count == n - (n + 2) / 3)
        let found = try ivf.search(Array(base[(2 * d)..<(3 * d)]), k: 2, nprobe: 20)
        #expect(Set(found.map(\.id)) == [1, 2])
        // Flat rows are exact; codes stand for the vector within half a step (1/510 of the range) per coordinate.
        let queryLength = base[(2 * d)..<(3 * d)].reduce(0) { $0 + $1 * $1 }
        #expect(found.allSatisfy { encoding == .flat ? $0.distance == 0 : $0.distance < 1e-2 * queryLength }, "\(found)")
        let all = try ivf.search(Array(base[0..<d]), k: n, nprobe: 20)
        #expect(all.allSatisfy { $0.id % 3 != 0 })
        #expect(throws: IndexError.unknownID(0)) { try ivf.delete(0) }
    }

    @Test("bad input is a typed error")
    func errors() throws {
        let ivf = try IVFIndex(dimension: 4, metric: .cosine, nlist: 4)
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
        #expect(throws: IndexError.invalidParameter(.nlist, value: 0)) { try IVFIndex(dimension: 4, metric: .cosine, nlist: 0) }
    }
}
