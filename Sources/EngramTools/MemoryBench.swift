import EngramEngine
import EngramIndex
import EngramKernels
import EngramMemory
import EngramMemoryPostgres
import EngramPostgres
import EngramSync
import EngramWAL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `engram bench --memory`: the memory layer at scale, through its public
/// API (Docs/BENCHMARKS.md, "Memory"). Synthetic unit vectors (seeded
/// Gaussian, normalised): a scale test, not a quality claim.
///
/// 1. **remember**: `experiences` experiences of `agents` agents, each call
///    remembering `batch` of them, from `writers` threads, under the
///    durability mode (fsync with group commit by default): acknowledged
///    experiences per second.
/// 2. **recall**: `queries` recalls by vector scoped to one agent, k = 10,
///    one at a time on one thread, cache off: p50/p99, and recall@10 against
///    an exact scan of that agent's experiences.
/// 3. **cache**: the same agents asking the same `distinct` questions
///    `repeats` times each, cache on: the hit rate, and a hit's and a miss's
///    latency.
package struct MemoryBench: Sendable {
    package var experiences = 100_000
    package var agents = 1_000
    package var dimension = 384
    package var writers = 8
    package var batch = 1
    package var queries = 1_000
    package var durability: GroupCommitLog.Mode = .groupCommit(maxDelayMicroseconds: 200)
    package var seed: UInt64 = 7
    /// Leave the graph to after the remember phase (the write path's own rate; the graph is then built
    /// by `waitUntilIndexed`, timed apart).
    package var deferIndexing = false
    /// Also measure the same scoped recall written as SQL on the typed tables with pgvector (an HNSW
    /// index, iterative scans), in this database: it is checkpointed into first.
    package var database: PostgresConfiguration?
    let progress: @Sendable (String) -> Void

    package init(progress: @escaping @Sendable (String) -> Void) { self.progress = progress }

    package struct Result: Sendable {
        package var rememberPerSecond: Double
        package var rememberSeconds: Double
        package var indexedSeconds: Double
        package var recall: LatencySummary
        package var recallAt10: Double
        package var hitRate: Double
        /// Hits among the asks that were not a question's first (a first ask cannot hit: 1.0 means every
        /// repeat was answered from the cache).
        package var repeatHitRate: Double
        package var hit: LatencySummary
        package var miss: LatencySummary
        /// The SQL side, when a database was given: its latencies, recall@10, and the index build time.
        package var sql: LatencySummary?
        package var sqlRecallAt10: Double?
        package var sqlIndexSeconds: Double?

        package var jsonLine: String { JSONLine.encode(Line(self)) }

        private struct Line: Encodable {
            let engine = "engram", mode = "memory"
            let remember_per_s, remember_s, indexed_s, recall_p50_us, recall_p99_us, recall_at_10, cache_hit_rate, cache_repeat_hit_rate, hit_p50_us, miss_p50_us: Rounded
            let sql_p50_us, sql_p99_us, sql_recall_at_10, sql_index_s: Rounded?
            init(_ r: Result) {
                sql_p50_us = r.sql.map { Rounded($0.p50Microseconds, 1) }
                sql_p99_us = r.sql.map { Rounded($0.p99Microseconds, 1) }
                sql_recall_at_10 = r.sqlRecallAt10.map { Rounded($0, 4) }
                sql_index_s = r.sqlIndexSeconds.map { Rounded($0, 1) }
                remember_per_s = Rounded(r.rememberPerSecond, 0)
                remember_s = Rounded(r.rememberSeconds, 2)
                indexed_s = Rounded(r.indexedSeconds, 2)
                recall_p50_us = Rounded(r.recall.p50Microseconds, 1)
                recall_p99_us = Rounded(r.recall.p99Microseconds, 1)
                recall_at_10 = Rounded(r.recallAt10, 4)
                cache_hit_rate = Rounded(r.hitRate, 4)
                cache_repeat_hit_rate = Rounded(r.repeatHitRate, 4)
                hit_p50_us = Rounded(r.hit.p50Microseconds, 1)
                miss_p50_us = Rounded(r.miss.p50Microseconds, 1)
            }
        }
    }

    /// The same scoped recalls as SQL on the typed tables: `WHERE tenant AND agent ORDER BY embedding <=>
    /// q LIMIT 10` with pgvector's HNSW index (m 16, ef_construction 64) and iterative scans
    /// (`relaxed_order`, ef_search 40), one at a time on one connection.
    private func measureSQL(_ store: Store, _ database: PostgresConfiguration, _ asked: [(agent: Int, query: [Float], truth: Set<String>)],
                            into result: inout Result) throws {
        let pool = try PostgresPool(database, options: .init(maxConnections: 2, acquireTimeoutSeconds: 30))
        let target = try PostgresCheckpointTarget(pool: pool, statementTimeoutSeconds: 7200, projections: [MemoryTables(dimension: dimension)])
        progress("checkpointing into PostgreSQL (typed tables)")
        try store.checkpoint(to: target)
        var sqlIndexSeconds = 0.0, times = [UInt64](), found = 0
        try pool.withConnection { db in
            progress("building pgvector's HNSW index on experiences.embedding")
            let start = MonotonicClock.nanoseconds()
            try db.execute("SET maintenance_work_mem = '2GB'")
            try db.execute("CREATE INDEX IF NOT EXISTS experiences_embedding ON experiences USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
            sqlIndexSeconds = MonotonicClock.seconds(since: start)
            try db.execute("ANALYZE experiences")
            try db.execute("SET hnsw.iterative_scan = relaxed_order")
            try db.execute("SET hnsw.ef_search = 40")
            for (agent, query, truth) in asked {
                let t = MonotonicClock.nanoseconds()
                let rows = try db.execute("SELECT id FROM experiences WHERE tenant = 't' AND agent = \("a\(agent)") ORDER BY embedding <=> \(PgVectorCodec.text(query))::vector LIMIT 10")
                times.append(MonotonicClock.nanoseconds() &- t)
                found += (0..<rows.rowCount).compactMap { rows.text(row: $0, column: 0) }.filter(truth.contains).count
            }
        }
        result.sqlIndexSeconds = sqlIndexSeconds
        result.sql = LatencySummary(nanoseconds: times)
        result.sqlRecallAt10 = Double(found) / Double(Swift.max(1, asked.reduce(0) { $0 + $1.truth.count }))
    }

    /// Experience `i`'s vector (the same for every run with the seed).
    func vector(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15)
        var norm: Float = 0
        for j in 0..<dimension {
            let u1 = Double(rng.next() >> 11) / Double(1 << 53) + 1e-12, u2 = Double(rng.next() >> 11) / Double(1 << 53)
            let x = Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
            out[j] = x
            norm += x * x
        }
        let scale = 1 / norm.squareRoot()
        for j in 0..<dimension { out[j] *= scale }
    }

    func vector(_ i: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: dimension) { buffer, n in
            vector(i, into: buffer.baseAddress!)
            n = dimension
        }
    }

    package func run() throws -> Result {
        guard experiences >= agents, agents >= 1, writers >= 1, batch >= 1, queries >= 1, dimension >= 1 else {
            throw BenchError.invalidArgument("memory bench: experiences >= agents >= 1, writers, batch, queries, dimension >= 1")
        }
        let dir = try scratchDirectory("engram-memory-bench")
        defer { _ = system("rm -rf '\(dir)'") }
        var options = StoreOptions(durability: durability)
        options.snapshotEveryLogBytes = 0
        if deferIndexing {
            options.backgroundIndexing = false
            options.maxUnindexed = Swift.max(options.maxUnindexed, experiences + agents)
        }
        let store = try Store.open(directory: dir, options: options)
        defer { try? store.close(writingSnapshot: false) }
        let memory = try Memory.open(store, dimension: dimension, cacheCapacity: 0)
        let t0 = MemoryTime(seconds: 1_700_000_000)
        for a in 0..<agents { try memory.upsert(Agent(tenant: "t", id: "a\(a)", name: "agent \(a)")) }

        // 1. remember
        let next = Atomic<Int>(0)
        let failure = Locked<String?>(nil)
        let start = MonotonicClock.nanoseconds()
        let calls = (experiences + batch - 1) / batch
        runConcurrently(writers) { _ in
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if c >= calls || failure.withLock({ $0 != nil }) { return }
                let items = (c * batch..<Swift.min(experiences, (c + 1) * batch)).map { i in
                    Experience(tenant: "t", id: "e\(i)", agent: "a\(i % agents)", kind: i % 3 == 0 ? "action" : "observation",
                               content: "experience \(i) of agent \(i % agents): step \(i / agents)", embedding: vector(i),
                               importance: Double(i % 10) / 10, occurredAt: t0.adding(seconds: Double(i)), metadata: ["step": .number(Double(i / agents))])
                }
                do { try memory.remember(items) } catch { failure.withLock { $0 = "\(error)" } }
                if c % 20_000 == 19_999 { progress("remembered \(c * batch + batch) experiences") }
            }
        }
        if let failure = failure.withLock({ $0 }) { throw BenchError.invalidArgument("remember failed: \(failure)") }
        let rememberSeconds = MonotonicClock.seconds(since: start)
        progress("remembered \(experiences) experiences in \(format(rememberSeconds, 2)) s (\(format(Double(experiences) / rememberSeconds, 0))/s); indexing")
        let indexStart = MonotonicClock.nanoseconds()
        try store.waitUntilIndexed()
        let indexedSeconds = MonotonicClock.seconds(since: indexStart)

        // 2. scoped recall against an exact scan of the agent's experiences.
        var rng = SplitMix64(seed: seed ^ 0xABCD)
        var latencies = [UInt64](), found = 0
        var asked = [(agent: Int, query: [Float], truth: Set<String>)]()
        let row = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
        defer { row.deallocate() }
        for q in 0..<queries {
            let agent = Int(rng.next() % UInt64(agents))
            let query = vector(experiences + q)
            let t = MonotonicClock.nanoseconds()
            let hits = try memory.recall(RecallQuery(tenant: "t", agent: "a\(agent)", vector: query, k: 10, now: t0))
            latencies.append(MonotonicClock.nanoseconds() &- t)
            // Exact: every experience of the agent.
            var exact = [(Float, Int)]()
            query.withUnsafeBufferPointer { qp in
                for i in stride(from: agent, to: experiences, by: agents) {
                    vector(i, into: row)
                    // Unit vectors: the cosine distance is 1 − the inner product.
                    exact.append((1 - innerProduct(qp.baseAddress!, UnsafePointer(row), count: dimension), i))
                }
            }
            let truth = Set(exact.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }.prefix(10).map { "e\($0.1)" })
            found += hits.filter { truth.contains($0.experience.id) }.count
            asked.append((agent, query, truth))
        }
        let recallAt10 = Double(found) / Double(queries * Swift.min(10, experiences / agents))

        // 3. the cache: 10 distinct questions per agent for 50 agents, each asked 20 times, interleaved.
        let cacheAgents = Swift.min(50, agents), cacheQuestions = 10
        let cached = try Memory.open(store)
        var hitTimes = [UInt64](), missTimes = [UInt64]()
        for round in 0..<20 {
            for a in 0..<cacheAgents {
                for question in 0..<cacheQuestions {
                    let before = cached.recallCacheStatistics.hits
                    let t = MonotonicClock.nanoseconds()
                    _ = try cached.recall(RecallQuery(tenant: "t", agent: "a\(a)", vector: vector(10_000_000 + a * 10 + question), k: 10, now: t0))
                    let elapsed = MonotonicClock.nanoseconds() &- t
                    if cached.recallCacheStatistics.hits > before { hitTimes.append(elapsed) } else { missTimes.append(elapsed) }
                }
            }
            _ = round
        }
        let (hits, misses) = cached.recallCacheStatistics
        var result = Result(rememberPerSecond: Double(experiences) / rememberSeconds, rememberSeconds: rememberSeconds, indexedSeconds: indexedSeconds,
                            recall: LatencySummary(nanoseconds: latencies), recallAt10: recallAt10,
                            hitRate: Double(hits) / Double(Swift.max(hits + misses, 1)),
                            repeatHitRate: Double(hits) / Double(Swift.max(hits + misses - cacheAgents * cacheQuestions, 1)),
                            hit: LatencySummary(nanoseconds: hitTimes), miss: LatencySummary(nanoseconds: missTimes))
        if let database { try measureSQL(store, database, asked, into: &result) }
        return result
    }
}
