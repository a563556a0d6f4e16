import EngramEngine
import EngramSync
import EngramTestSupport
import Testing

/// A label is reused only once nothing refers to it: a version that died
/// while staged keeps its row in the block the indexer is inserting, so its
/// label must not go to a new record before that block is gone, or a search
/// and a lookup would see the dead row under the new record.
@Suite("Label reuse while the indexer works")
struct LabelReuseTests {
    /// Record `id`'s vector at `version`: the first two values name them, so a vector found under another
    /// record's id is caught.
    static func vector(id: Int, version: Int) -> [Float] {
        [Float(id), Float(version)] + (0..<6).map { Float(($0 * 7 + id * 13 + version * 3) % 17) / 17 }
    }

    @Test("writers updating, deleting and adding while the indexer moves blocks: every lookup and every hit is one of that record's own versions")
    func noDeadRowUnderALiveLabel() throws {
        let dir = TemporaryDirectory("engram-labels")
        defer { dir.remove() }
        var options = StoreOptions(durability: .osBuffered)
        options.snapshotEveryLogBytes = 0
        let store = try Store.open(directory: dir.path, options: options)
        defer { try? store.close(writingSnapshot: false) }
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
        let versions = Locked<[Int: Set<[Float]>]>([:])
        let done = Locked(false)
        let failures = Locked<[String]>([])
        runOnThreads(2) { thread in
            if thread == 0 {
                var rng = SeededGenerator(seed: 1701)
                for round in 0..<400 {
                    // Updates of staged records (their old labels die while staged), deletes, and new records.
                    var batch = [Record]()
                    var ids = Set<Int>()
                    for _ in 0..<32 {
                        let id = Int.random(in: 0..<(200 + round), using: &rng)
                        guard ids.insert(id).inserted else { continue }
                        let v = Self.vector(id: id, version: round)
                        versions.withLock { $0[id, default: []].insert(v) }
                        batch.append(Record(id: "r\(id)", vector: v))
                    }
                    try? store.upsert("c", batch)
                    try? store.delete("c", ids: (0..<4).map { _ in "r\(Int.random(in: 0..<(200 + round), using: &rng))" })
                }
                done.withLock { $0 = true }
            } else {
                var rng = SeededGenerator(seed: 1702)
                while !done.withLock({ $0 }) {
                    let id = Int.random(in: 0..<300, using: &rng)
                    let query = Self.vector(id: id, version: 0)
                    if let record = try? store.get("c", id: "r\(id)"), !versions.withLock({ $0[id]?.contains(record.vector) ?? false }) {
                        failures.withLock { $0.append("get r\(id) returned \(record.vector.prefix(2))") }
                    }
                    for hit in (try? store.search("c", vector: query, k: 20, efSearch: 200)) ?? [] {
                        guard let n = Int(hit.id.dropFirst()) else { continue }
                        let own = versions.withLock { $0[n] ?? [] }
                        let matches = own.contains { v in
                            abs(zip(v, query).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } - hit.distance) <= 1e-3 * max(1, hit.distance)
                        }
                        if !matches { failures.withLock { $0.append("hit \(hit.id) at distance \(hit.distance) is none of its versions") } }
                    }
                }
            }
        }
        let found = failures.withLock { $0 }
        #expect(found.isEmpty, "\(found.count) stale answers, first: \(found.prefix(3))")
    }
}
