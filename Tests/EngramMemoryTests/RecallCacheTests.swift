import EngramEngine
import EngramMetadata
@testable import EngramMemory
import EngramTestSupport
import Testing

/// The recall cache never serves an answer that misses a write: random
/// histories of writes, forgets, agent changes and repeated recalls, every
/// recall compared with an uncached memory over the same store.
@Suite("EngramMemory: the recall cache")
struct RecallCacheTests {
    @Test("no cached answer is ever stale after a write (seeded random histories), and repeated recalls hit")
    func neverStale() throws {
        let dir = TemporaryDirectory("engram-cache")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("memory.cache", defaultSeed: 1901)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        let cached = try Memory.open(store, dimension: MemoryTests.d, cacheCapacity: 64)
        let fresh = try Memory.open(store, cacheCapacity: 0)
        let agents = ["a", "b", "c"], groups = ["g1", "g2"]
        for agent in agents { try cached.upsert(Agent(tenant: "t", id: agent, name: agent, groups: [groups[0]])) }
        let queries: [RecallQuery] = (0..<8).map { i in
            var q = RecallQuery(tenant: "t", agent: agents[i % 3], k: [3, 10][i % 2], now: MemoryTests.t0.adding(seconds: 1000))
            switch i % 4 {
            case 0: q.text = "alpha beta"
            case 1: q.vector = MemoryTests.embedding(500 + i)
            case 2: q.vector = MemoryTests.embedding(500 + i); q.text = "gamma"; q.halfLife = 300; q.importanceWeight = 0.3
            default: q.text = "delta"; q.kinds = ["action"]
            }
            return q
        }
        let words = ["alpha", "beta", "gamma", "delta", "epsilon"]
        var next = 0, mismatches = 0, recalls = 0
        for step in 0..<400 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...2:
                // Remember a few experiences (some shared with a group, some expiring).
                let batch = (0..<Int.random(in: 1...4, using: &rng)).map { _ -> Experience in
                    defer { next += 1 }
                    let shared = Bool.random(using: &rng)
                    return Experience(tenant: "t", id: "e\(next)", agent: agents.randomElement(using: &rng)!,
                                      visibility: shared ? .group(groups.randomElement(using: &rng)!) : .agent,
                                      kind: Bool.random(using: &rng) ? "action" : "observation",
                                      content: "\(words.randomElement(using: &rng)!) \(words.randomElement(using: &rng)!) \(next)",
                                      embedding: MemoryTests.embedding(next), importance: Double.random(in: 0...1, using: &rng),
                                      occurredAt: MemoryTests.t0.adding(seconds: Double(next)),
                                      expiresAt: Int.random(in: 0..<5, using: &rng) == 0 ? MemoryTests.t0.adding(seconds: Double(next) + 500) : nil)
                }
                try cached.remember(batch)
            case 3:
                if next > 0 { try cached.forgetExperience(tenant: "t", id: "e\(Int.random(in: 0..<next, using: &rng))") }
            case 4:
                let agent = agents.randomElement(using: &rng)!
                try cached.upsert(Agent(tenant: "t", id: agent, name: agent, groups: groups.filter { _ in Bool.random(using: &rng) }))
            default:
                var q = queries.randomElement(using: &rng)!
                q.now = MemoryTests.t0.adding(seconds: Double(Int.random(in: 0...2, using: &rng)) * 400 + 200)
                let got = try cached.recall(q), want = try fresh.recall(q)
                recalls += 1
                if got.map(\.experience.id) != want.map(\.experience.id) || zip(got, want).contains(where: { $0.score != $1.score }) {
                    mismatches += 1
                    Issue.record("step \(step): cached \(got.map(\.experience.id)) vs fresh \(want.map(\.experience.id)) for \(q.agent) \(q.text ?? "") k \(q.k)")
                }
                continue
            }
            try store.waitUntilIndexed()  // a search's answer then depends on the writes only
        }
        let (hits, misses) = cached.recallCacheStatistics
        print("[cache] \(recalls) recalls compared, \(mismatches) stale; \(hits) hits, \(misses) misses")
        #expect(recalls > 100 && hits > 0)
        #expect(mismatches == 0)
        // A repeated-recall workload with no writes in between hits the cache.
        let q = queries[0]
        let first = try cached.recall(q)
        let before = cached.recallCacheStatistics.hits
        for _ in 0..<20 { #expect(try cached.recall(q) == first) }
        #expect(cached.recallCacheStatistics.hits == before + 20)
    }
}
