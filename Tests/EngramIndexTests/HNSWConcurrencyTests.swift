import Dispatch
import EngramIndex
import EngramKernels
import EngramTestSupport
import Synchronization
import Testing

/// Inserts, deletes and searches from several threads at once. Run it under
/// the thread sanitizer too: `scripts/test` does
/// (`swift test --sanitize=thread --filter HNSWConcurrencyTests`).
@Suite("HNSW under concurrent inserts, deletes and searches")
struct HNSWConcurrencyTests {
    @Test("searches during inserts see only whole vectors and valid lists")
    func stress() throws {
        var rng = SeededGenerator.forTest("hnsw.stress", defaultSeed: 71)
        let n = 6000, d = 16, writers = 2, readers = 2
        let base = rng.clusteredVectors(count: n, dimension: d, clusters: 20)
        let queries = rng.gaussianVectors(count: 64, dimension: d)
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: .init(m: 8, efConstruction: 40), capacity: 64)
        try index.insert(contentsOf: Array(base[0..<(100 * d)]), labels: (0..<100).map { VectorID($0) })
        let done = Atomic<Int>(0)
        let problems = Locked<[String]>([])
        let searches = Atomic<Int>(0)
        runOnThreads(writers + readers) { worker in
            if worker < writers {
                // Writers: batches of 50, interleaved between the writers; every 7th batch deletes a few.
                var batch = 2 + worker
                while batch * 50 < n {
                    let range = (batch * 50)..<Swift.min(n, (batch + 1) * 50)
                    do {
                        try index.insert(contentsOf: Array(base[(range.lowerBound * d)..<(range.upperBound * d)]),
                                         labels: range.map { VectorID($0) })
                        if batch % 7 == 0 { try index.delete(VectorID(range.lowerBound)) }
                    } catch {
                        problems.withLock { $0.append("writer: \(error)") }
                    }
                    batch += writers
                }
                done.add(1, ordering: .releasing)
            } else {
                var q = worker
                while done.load(ordering: .acquiring) < writers {
                    let query = Array(queries[((q % 64) * d)..<((q % 64 + 1) * d)])
                    q += 1
                    do {
                        let hits = try index.search(query, k: 10, efSearch: 32)
                        searches.add(1, ordering: .relaxed)
                        for (a, b) in zip(hits, hits.dropFirst()) where a.distance > b.distance {
                            problems.withLock { $0.append("results out of order") }
                        }
                        for hit in hits {
                            guard Int(hit.id) < n else {
                                problems.withLock { $0.append("unknown label \(hit.id)") }
                                continue
                            }
                            // The distance must be that of the vector inserted under this label.
                            let v = Array(base[(Int(hit.id) * d)..<((Int(hit.id) + 1) * d)])
                            let exact = Metric.squaredL2.distance(query, v, count: d)
                            if abs(exact - hit.distance) > 1e-3 * Swift.max(1, exact) {
                                problems.withLock { $0.append("label \(hit.id): distance \(hit.distance), expected \(exact)") }
                            }
                        }
                    } catch {
                        problems.withLock { $0.append("reader: \(error)") }
                    }
                }
            }
        }
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "\(found.prefix(5))")
        print("[hnsw] stress: \(searches.load(ordering: .relaxed)) searches during the inserts")
        #expect(searches.load(ordering: .relaxed) > 0)
        let deleted = (0..<n).filter { $0 >= 100 && ($0 / 50) % 7 == 0 && $0 % 50 == 0 }.count
        #expect(index.count == n - deleted)
        try index.checkInvariants(reachability: false)
        index.compact()
        try index.checkInvariants()
    }
}
