import EngramEngine
import EngramMemory
import EngramMemoryPostgres
import EngramPostgres
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The memory's invariant across whole histories: a real child remembers
/// experiences with entities and single-valued facts, forgets experiences,
/// retracts facts, snapshots and checkpoints with the typed tables into a
/// real PostgreSQL, and is killed with SIGKILL at random moments. After
/// every kill the store reopens and
///
/// - no acknowledged call is lost, no acknowledged forget or retraction is
///   undone, and no call is half applied;
/// - the collections' tables agree with the engine as of the database's own
///   checkpoint (``PostgresVerify``);
/// - after one more checkpoint, the typed tables hold exactly what the
///   memory holds: the same experiences (content, importance, both times),
///   entities, and fact versions (validity and record-time intervals, to
///   the microsecond).
///
/// `ENGRAM_KILL_TRIALS` sets the trials.
@Suite("Killed memory writer histories with forgets, retractions and checkpoints: typed tables = memory (real server)",
       .enabled(if: PostgresTestEnvironment.shouldRun))
struct MemoryKilledHistoryTests {
    @Test("SIGKILL while remembering, forgetting, retracting and checkpointing: nothing lost or undone, nothing half applied, typed tables = memory")
    func killedMemoryHistories() throws {
        var rng = SeededGenerator.forTest("memory.history.kill", defaultSeed: 1_717)
        let trials = getenv("ENGRAM_KILL_TRIALS").flatMap { Int(String(cString: $0)) } ?? 20
        let db = try IsolatedDatabase("memkill")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-memory-history")
        defer { dir.remove() }
        let target = try PostgresCheckpointTarget(pool: db.pool, projections: [MemoryTables(dimension: 8)])
        let writerPath = ChildProcess.sibling("EngramCrashWriter")
        var acknowledged = Set<Int>(), forgotten = Set<Int>(), retracted = Set<Int>()
        var next = 0, checkpoints = 0
        var lost = 0, undone = 0, halfApplied = 0, mismatches = 0
        for trial in 0..<trials {
            guard let child = ChildProcess(writerPath, ["--memory", "--data-dir", dir.path, "--start", "\(next)",
                                                        "--database-url", db.configuration.connectionString,
                                                        "--checkpoint-every", "\(Int.random(in: 5...40, using: &rng))",
                                                        "--snapshot-every", "\(Int.random(in: 5...60, using: &rng))"]) else {
                Issue.record("cannot start \(writerPath)")
                return
            }
            let lines = child.readLines(for: Int.random(in: 20...200, using: &rng))
            child.kill()
            for line in lines {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let i = Int(parts[1]) else { continue }
                switch parts[0] {
                case "ack": acknowledged.insert(i)
                case "forget": forgotten.insert(i)
                case "retract": retracted.insert(i)
                case "ckpt": checkpoints += 1
                default: break
                }
            }
            if Bool.random(using: &rng) { try Store.open(directory: dir.path).close() }  // a snapshot before the next checkpoint
            let store = try Store.open(directory: dir.path)
            guard store.collectionNames.contains("memory_facts") else {
                #expect(acknowledged.isEmpty, "trial \(trial): memory missing after acknowledged calls")
                try store.close(writingSnapshot: false)
                continue
            }
            let memory = try Memory.open(store, dimension: 8)
            var experiences = [Int: Experience](), versions = [Int: [Fact]]()
            for i in 0..<(next + 400) {
                if let e = try memory.experience(tenant: "t", id: "e\(i)") { experiences[i] = e }
                let v = try memory.versions(tenant: "t", id: "f\(i)")
                if !v.isEmpty { versions[i] = v }
            }
            // The forget after call i + 3 (if it is one) may have run, acknowledged or cut short by the kill.
            func mayBeForgotten(_ i: Int) -> Bool {
                CrashWriter.forgotten(after: i + 3) == i && (acknowledged.contains(i + 3) || versions[i + 3] != nil)
            }
            for i in 0..<(next + 400) {
                if experiences[i] != nil && versions[i] == nil { halfApplied += 1 }
                if experiences[i] == nil && versions[i] != nil && !mayBeForgotten(i) { halfApplied += 1 }
                if acknowledged.contains(i) && (versions[i] == nil || (experiences[i] == nil && !mayBeForgotten(i))) { lost += 1 }
            }
            for i in forgotten where experiences[i] != nil { undone += 1 }
            for i in retracted where versions[i]?.last?.invalidatedAt == nil { undone += 1 }
            next = (versions.keys.max() ?? next - 1) + 3  // past anything a cut-short call may have logged

            let before = try PostgresVerify.compare(store: store, pool: db.pool, sampleEvery: 1)
            mismatches += before.differenceCount
            #expect(before.isConsistent, "trial \(trial), before: \(before.differences.prefix(3))")
            try store.checkpoint(to: target)
            let after = try PostgresVerify.compare(store: store, pool: db.pool, sampleEvery: 1)
            mismatches += after.differenceCount
            #expect(after.isConsistent, "trial \(trial), after: \(after.differences.prefix(3))")
            let typed = try typedTableDifferences(db, experiences: experiences, versions: versions, entities: memory)
            mismatches += typed.count
            #expect(typed.isEmpty, "trial \(trial), typed tables: \(typed.prefix(3))")
            try store.close(writingSnapshot: Bool.random(using: &rng))
        }
        print("[memory-history-kill] \(trials) trials, \(acknowledged.count) acknowledged calls, \(forgotten.count) forgets, \(retracted.count) retractions, \(checkpoints) checkpoints by the child; lost \(lost), undone \(undone), half-applied \(halfApplied), table-vs-memory mismatches \(mismatches)")
        #expect(acknowledged.count > 0 && forgotten.count > 0 && retracted.count > 0)
        #expect(lost == 0)
        #expect(undone == 0)
        #expect(halfApplied == 0)
        #expect(mismatches == 0)
    }

    /// Where the typed tables differ from what memory holds (empty: they agree).
    private func typedTableDifferences(_ db: IsolatedDatabase, experiences: [Int: Experience], versions: [Int: [Fact]],
                                       entities memory: Memory) throws -> [String] {
        func rows(_ sql: String) throws -> [[String?]] {
            try db.pool.withConnection { conn in
                let r = try conn.execute(PostgresQuery(unsafeSQL: sql))
                return (0..<r.rowCount).map { row in (0..<r.columnNames.count).map { r.text(row: row, column: $0) } }
            }
        }
        func µs(_ column: String) -> String { "(extract(epoch from \(column)) * 1000000)::bigint" }
        var out = [String]()
        // Experiences: the same ids, contents, importances and times.
        var expected = Set(experiences.values.map {
            "\($0.id)|\($0.content)|\($0.importance)|\($0.occurredAt.microseconds)|\($0.recordedAt.microseconds)"
        })
        for row in try rows("SELECT id, content, importance, \(µs("occurred_at")), \(µs("recorded_at")) FROM experiences WHERE tenant = 't'") {
            let line = row.map { $0 ?? "NULL" }.joined(separator: "|")
            if expected.remove(line) == nil { out.append("experience row not in memory: \(line)") }
        }
        out += expected.map { "experience missing from the table: \($0)" }
        // Fact versions: per fact, the same intervals on both time axes.
        func interval(_ t: MemoryTime?) -> String { t.map { "\($0.microseconds)" } ?? "NULL" }
        expected = Set(versions.values.flatMap { $0 }.map {
            "\($0.id)|\($0.validFrom.microseconds)|\(interval($0.validTo))|\($0.recordedAt.microseconds)|\(interval($0.invalidatedAt))"
        })
        for row in try rows("SELECT id, \(µs("valid_from")), \(µs("valid_to")), \(µs("recorded_at")), \(µs("invalidated_at")) FROM facts WHERE tenant = 't'") {
            let line = row.map { $0 ?? "NULL" }.joined(separator: "|")
            if expected.remove(line) == nil { out.append("fact version not in memory: \(line)") }
        }
        out += expected.map { "fact version missing from the table: \($0)" }
        // Entities: the same ids and names.
        expected = Set(try (0..<20).compactMap { try memory.entity(tenant: "t", id: "p\($0)") }.map { "\($0.id)|\($0.name)" })
        for row in try rows("SELECT id, name FROM entities WHERE tenant = 't'") {
            let line = row.map { $0 ?? "NULL" }.joined(separator: "|")
            if expected.remove(line) == nil { out.append("entity row not in memory: \(line)") }
        }
        out += expected.map { "entity missing from the table: \($0)" }
        return out
    }
}

/// The schedule `EngramCrashWriter --memory --database-url` follows (kept in step with it).
private enum CrashWriter {
    static func forgotten(after i: Int) -> Int? { i % 5 == 4 && i >= 3 ? i - 3 : nil }
}
