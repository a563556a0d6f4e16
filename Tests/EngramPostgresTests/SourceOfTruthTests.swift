@testable import EngramEngine
import EngramIndex
import EngramPostgres
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Checks that the table holds exactly what the engine holds: every id, its
/// version, vector and metadata (``PostgresVerify`` with every row compared),
/// and nothing pending once a checkpoint has run.
func expectTableEqualsEngine(_ store: Store, _ db: IsolatedDatabase, pendingAllowed: Bool = false,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
    let report = try PostgresVerify.compare(store: store, pool: db.pool, sampleEvery: 1)
    #expect(report.isConsistent, "\(report.differenceCount) differences: \(report.differences.prefix(5))", sourceLocation: sourceLocation)
    if !pendingAllowed {
        for c in report.collections {
            #expect(c.pendingUpserts == 0 && c.pendingDeletes == 0, "\(c)", sourceLocation: sourceLocation)
            #expect(c.engineRecords == c.tableRows && c.vectorsCompared == c.tableRows, "\(c)", sourceLocation: sourceLocation)
        }
    }
}

@Suite("PostgreSQL holds exactly what the engine holds (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct SourceOfTruthTests {
    private func message(_ error: EngineError?) -> String { error.map { "\($0)" } ?? "" }

    @Test("deletes after a checkpoint reach PostgreSQL after a crash, a read-only reopen and a reopen (finding 1)")
    func deletesSurviveCrashBeforeSnapshot() throws {
        let db = try IsolatedDatabase("crashdeletes")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-truth")
        defer { dir.remove() }
        let vs = vectors("truth.crashdeletes", seed: 401, n: 100, d: 8)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
            try store.upsert("c", (0..<100).map { Record(id: "r\($0)", vector: vs[$0], metadata: ["n": .number(Double($0))]) })
            try store.checkpoint(to: target)
            #expect(try store.delete("c", ids: (0..<10).map { "r\($0)" }) == 10)
            try store.close(writingSnapshot: false)  // the crash: no snapshot after the deletes
        }
        // What `engram stats` did before: open and close, writing a snapshot.
        try Store.open(directory: dir.path).close()
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        let report = try store.checkpoint(to: target)
        #expect(try store.count("c") == 90)
        #expect(try db.rows("c").count == 90, "report: \(report)")
        try expectTableEqualsEngine(store, db)
    }

    @Test("a database behind the store (restored to an earlier checkpoint) is resynchronised: rows deleted since come out")
    func databaseBehindIsResynchronised() throws {
        let db = try IsolatedDatabase("behind")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-truth")
        defer { dir.remove() }
        let vs = vectors("truth.behind", seed: 402, n: 60, d: 8)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
        try store.upsert("c", (0..<50).map { Record(id: "r\($0)", vector: vs[$0]) })
        let first = try store.checkpoint(to: target)
        let table = try PostgresIdentifier(PostgresSchema.tableName(forCollection: "c"))
        // Save the table as of the first checkpoint (what a point-in-time restore would bring back).
        try db.pool.withConnection { try $0.execute("CREATE TABLE saved AS SELECT * FROM \(table)") }
        try store.delete("c", ids: (0..<8).map { "r\($0)" })
        try store.upsert("c", [Record(id: "r20", vector: vs[55]), Record(id: "new", vector: vs[56])])
        try store.checkpoint(to: target)
        try expectTableEqualsEngine(store, db)
        // The database goes back to the first checkpoint.
        try db.pool.withConnection { conn in
            try conn.execute("DELETE FROM \(table)")
            try conn.execute("INSERT INTO \(table) SELECT * FROM saved")
            try conn.execute("DELETE FROM engram_checkpoints WHERE lsn > \(.text(String(first.lsn)))")
        }
        #expect(try db.rows("c").count == 50)
        try store.delete("c", ids: ["r30"])
        let report = try store.checkpoint(to: target)
        #expect(report.since == first.lsn)
        #expect(report.resynchronised && report.resynchronisedDeletes == 8)
        #expect(try db.rows("c").count == 50 - 8 - 1 + 1)
        try expectTableEqualsEngine(store, db)
        // Level again: the next checkpoint is incremental.
        try store.upsert("c", [Record(id: "later", vector: vs[57])])
        let next = try store.checkpoint(to: target)
        #expect(!next.resynchronised && next.upserts == 1)
        try expectTableEqualsEngine(store, db)
    }

    @Test("a database ahead of the store is refused, naming both LSNs")
    func databaseAheadIsRefused() throws {
        let db = try IsolatedDatabase("ahead")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-truth")
        defer { dir.remove() }
        let vs = vectors("truth.ahead", seed: 403, n: 10, d: 4)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2))
        try store.upsert("c", (0..<10).map { Record(id: "r\($0)", vector: vs[$0]) })
        try store.checkpoint(to: target)
        try db.pool.withConnection {
            try $0.execute("INSERT INTO engram_checkpoints (lsn, since, upserts, deletes) VALUES (900, \(.text(String(store.lastLSN))), 0, 0)")
        }
        let error = #expect(throws: EngineError.self) { try store.checkpoint(to: target) }
        #expect(message(error).contains("LSN 900") && message(error).contains("LSN \(store.lastLSN)"), "\(message(error))")
    }

    @Test("a second store aimed at another store's database is refused on every attempt, and writes nothing (finding 2)")
    func foreignStoreRefused() throws {
        let db = try IsolatedDatabase("foreign")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-truth")
        defer { dir.remove() }
        let vs = vectors("truth.foreign", seed: 404, n: 40, d: 4)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let a = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
        defer { try? a.close() }
        try a.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2))
        try a.upsert("c", (0..<20).map { Record(id: "a\($0)", vector: vs[$0]) })
        try a.checkpoint(to: target)
        // B's LSNs behind, level with, and past A's: each attempt is refused.
        let b = try Store.open(directory: dir.path + "/b", options: StoreOptions(durability: .osBuffered))
        defer { try? b.close() }
        try b.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2))
        for round in 0..<3 {
            if round == 1 { try b.upsert("c", (0..<20).map { Record(id: "b\($0)", vector: vs[20 + $0]) }) }  // level with A
            if round == 2 { for i in 0..<5 { try b.upsert("c", [Record(id: "b-late\(i)", vector: vs[i])]) } }
            for attempt in 0..<2 {
                let error = #expect(throws: EngineError.self, "round \(round) attempt \(attempt)") { try b.checkpoint(to: target) }
                #expect(message(error).contains("takes the checkpoints of store \(a.storeID)"), "\(message(error))")
            }
        }
        #expect(try db.rows("c").keys.allSatisfy { $0.hasPrefix("a") })
        try expectTableEqualsEngine(a, db)
    }

    @Test("a checkpoint that cannot get its lock gives up after the lock timeout (nothing lost), and goes through once the lock is free")
    func lockTimeout() throws {
        let db = try IsolatedDatabase("locktimeout")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-truth")
        defer { dir.remove() }
        let vs = vectors("truth.locktimeout", seed: 406, n: 10, d: 4)
        let target = try PostgresCheckpointTarget(pool: db.pool, lockTimeoutSeconds: 1)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2))
        try store.upsert("c", (0..<10).map { Record(id: "r\($0)", vector: vs[$0]) })
        // Another session holds Engram's advisory lock (a hung checkpointer, say).
        let holder = try PostgresConnection(db.configuration)
        try holder.execute("SELECT pg_advisory_lock(\(.text(String(0x656E_6772_616D))))")
        let error = #expect(throws: EngineError.self) { try store.checkpoint(to: target) }
        #expect(message(error).contains("lock timeout"), "\(message(error))")
        try holder.execute("SELECT pg_advisory_unlock(\(.text(String(0x656E_6772_616D))))")
        let report = try store.checkpoint(to: target)
        #expect(report.upserts == 10)
        try expectTableEqualsEngine(store, db)
        try store.close()
    }

    @Test("a store that lost writes its database holds (log cut below the recorded checkpoint) refuses to checkpoint, naming both LSNs")
    func lostCheckpointedWrites() throws {
        let db = try IsolatedDatabase("lost")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-truth")
        defer { dir.remove() }
        let vs = vectors("truth.lost", seed: 405, n: 10, d: 4)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let segment: String
        var cut = 0
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2))
            try store.upsert("c", [Record(id: "r0", vector: vs[0])])
            try store.close(writingSnapshot: false)
            segment = try #require(listSegments(dir.path + "/wal").last)
            cut = TemporaryDirectory.readFile(segment).count  // the log's end after LSN 2
        }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            for i in 1..<10 { try store.upsert("c", [Record(id: "r\(i)", vector: vs[i])]) }
            try store.checkpoint(to: target)  // LSN 11 in the database and the CHECKPOINT file
            try store.close(writingSnapshot: false)
        }
        // A power loss under osBuffered durability: the log's last records never reached the disk.
        TemporaryDirectory.writeFile(segment, Array(TemporaryDirectory.readFile(segment)[0..<cut]))
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        #expect(store.lastLSN == 2)
        for i in 0..<12 { try store.upsert("c", [Record(id: "other\(i)", vector: vs[i % 10])]) }  // past LSN 11
        let error = #expect(throws: EngineError.self) { try store.checkpoint(to: target) }
        #expect(message(error).contains("LSN 11") && message(error).contains("LSN 2"), "\(message(error))")
    }
}

private func listSegments(_ directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names = [String]()
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasSuffix(".seg") { names.append("\(directory)/\(name)") }
    }
    return names.sorted()
}
