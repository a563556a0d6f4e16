import EngramEngine
import EngramIndex
import EngramMemory
import EngramSync
import EngramWAL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `engram bench --memory-graph`: graph queries over a knowledge graph at
/// scale, through the memory layer's public API (Docs/BENCHMARKS.md,
/// "Memory layer"). Synthetic: `entities` entities of `types` types, and
/// `facts` facts between entities drawn uniformly at random (so every entity
/// has about 2·facts/entities facts, half as subject, half as object), each
/// with one of 20 predicates, a text and an embedding (seeded unit vectors).
///
/// 1. **load**: the entities, then the facts, `batch` per remember call, from
///    `writers` threads, the graph's vector indexing left off (graph queries
///    read facts by their metadata, never by vector).
/// 2. **neighbours**: `queries` calls of `neighbours(depth:)` from random
///    entities, one at a time on one thread: p50/p99 and the entities reached.
package struct MemoryGraphBench: Sendable {
    package var entities = 100_000
    package var facts = 1_000_000
    package var types = 100
    package var dimension = 384
    package var depth = 2
    package var writers = 2
    package var batch = 1_000
    package var queries = 1_000
    package var durability: GroupCommitLog.Mode = .groupCommit(maxDelayMicroseconds: 200)
    package var seed: UInt64 = 11
    let progress: @Sendable (String) -> Void

    package init(progress: @escaping @Sendable (String) -> Void) { self.progress = progress }

    package struct Result: Sendable {
        package var loadSeconds: Double
        package var neighbours: LatencySummary
        package var reachedMean: Double
        package var factsPerEntity: Double

        package func jsonLine(_ bench: MemoryGraphBench) -> String {
            JSONLine.encode(Line(entities: bench.entities, facts: bench.facts, depth: bench.depth, load_s: Rounded(loadSeconds, 1),
                                 neighbours_p50_us: Rounded(neighbours.p50Microseconds, 1), neighbours_p99_us: Rounded(neighbours.p99Microseconds, 1),
                                 reached_mean: Rounded(reachedMean, 1)))
        }

        private struct Line: Encodable {
            let engine = "engram", mode = "memory-graph"
            let entities, facts, depth: Int
            let load_s, neighbours_p50_us, neighbours_p99_us, reached_mean: Rounded
        }
    }

    /// A seeded unit vector (the same for every run with the seed).
    func vector(_ i: Int) -> [Float] {
        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
        var v = (0..<dimension).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) - 0.5 }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in v.indices { v[j] /= norm }
        return v
    }

    package func run() throws -> Result {
        guard entities >= 2, facts >= 1, types >= 1, writers >= 1, batch >= 1, queries >= 1, dimension >= 1, (1...6).contains(depth) else {
            throw BenchError.invalidArgument("memory graph bench: entities >= 2, facts, types, writers, batch, queries, dimension >= 1, depth 1...6")
        }
        let dir = try scratchDirectory("engram-memory-graph-bench")
        defer { _ = system("rm -rf '\(dir)'") }
        var options = StoreOptions(durability: durability)
        options.snapshotEveryLogBytes = 0
        options.backgroundIndexing = false
        options.maxUnindexed = Swift.max(options.maxUnindexed, entities + facts + 1)
        let store = try Store.open(directory: dir, options: options)
        defer { try? store.close(writingSnapshot: false) }
        let memory = try Memory.open(store, dimension: dimension, cacheCapacity: 0)
        let t0 = MemoryTime(seconds: 1_700_000_000)
        try memory.upsert(Agent(tenant: "t", id: "loader", name: "loader"))

        let start = MonotonicClock.nanoseconds()
        // Entities first (a fact needs both its entities), then facts; each phase split into calls of `batch`.
        try load(memory, count: entities, "entities") { i in
            ([], [Entity(tenant: "t", id: "n\(i)", type: "type\(i % types)", name: "entity \(i)", embedding: vector(i))], [])
        }
        try load(memory, count: facts, "facts") { i in
            var rng = SplitMix64(seed: seed ^ UInt64(i) &* 0xD1B5_4A32_D192_ED03)
            let subject = Int(rng.next() % UInt64(entities))
            var object = Int(rng.next() % UInt64(entities - 1))
            if object >= subject { object += 1 }
            let predicate = "p\(rng.next() % 20)"
            return ([], [], [Fact(tenant: "t", id: "f\(i)", subject: "n\(subject)", predicate: predicate, object: .entity("n\(object)"),
                                  text: "n\(subject) \(predicate) n\(object)", embedding: vector(entities + i),
                                  validFrom: t0.adding(seconds: Double(i)))])
        }
        let loadSeconds = MonotonicClock.seconds(since: start)
        progress("loaded \(entities) entities and \(facts) facts in \(format(loadSeconds, 1)) s; querying neighbours to depth \(depth)")

        var rng = SplitMix64(seed: seed ^ 0x5EED)
        var times = [UInt64](), reached = 0
        let now = MemoryTime.now()  // every fact valid (from t0 on) and known (recorded during the load)
        for _ in 0..<queries {
            let from = "n\(rng.next() % UInt64(entities))"
            let t = MonotonicClock.nanoseconds()
            let found = try memory.neighbours(tenant: "t", entity: from, depth: depth, now: now)
            times.append(MonotonicClock.nanoseconds() &- t)
            reached += found.count
        }
        return Result(loadSeconds: loadSeconds, neighbours: LatencySummary(nanoseconds: times),
                      reachedMean: Double(reached) / Double(queries), factsPerEntity: 2 * Double(facts) / Double(entities))
    }

    /// Remembers `count` objects made by `make`, `batch` per call, from `writers` threads.
    private func load(_ memory: Memory, count: Int, _ what: String,
                      _ make: @escaping @Sendable (Int) -> (experiences: [Experience], entities: [Entity], facts: [Fact])) throws {
        let next = Atomic<Int>(0)
        let failure = Locked<String?>(nil)
        let calls = (count + batch - 1) / batch
        runConcurrently(writers) { _ in
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if c >= calls || failure.withLock({ $0 != nil }) { return }
                var entities = [Entity](), facts = [Fact]()
                for i in c * batch..<Swift.min(count, (c + 1) * batch) {
                    let made = make(i)
                    entities += made.entities
                    facts += made.facts
                }
                do { _ = try memory.remember([], entities: entities, facts: facts) } catch { failure.withLock { $0 = "\(error)" } }
                if (c + 1) % Swift.max(1, 100_000 / batch) == 0 { progress("remembered \(Swift.min(count, (c + 1) * batch)) \(what)") }
            }
        }
        if let failure = failure.withLock({ $0 }) { throw BenchError.invalidArgument("remember failed: \(failure)") }
    }
}
