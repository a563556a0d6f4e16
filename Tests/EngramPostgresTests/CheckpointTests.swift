import EngramMetadata
import EngramSync
import EngramEngine
import EngramIndex
import EngramKernels
import EngramPostgres
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Checkpoints to PostgreSQL and restore (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct CheckpointTests {
    @Test("migrations are recorded and idempotent, also when two processes race")
    func migrations() throws {
        let db = try IsolatedDatabase("migrate")
        defer { db.cleanup() }
        let applied = Locked<[Int]>([])
        runOnThreads(2) { _ in
            let n = (try? db.pool.withConnection { try PostgresSchema.migrate($0) }) ?? -1
            applied.withLock { $0.append(n) }
        }
        #expect(applied.withLock { $0.sorted() } == [0, PostgresSchema.latestVersion])
        #expect(try db.pool.withConnection { try PostgresSchema.migrate($0) } == 0)
        let versions = try db.pool.withConnection { try $0.execute("SELECT count(*) FROM engram_migrations") }
        #expect(versions.text(row: 0, column: 0) == String(PostgresSchema.latestVersion))
    }

    @Test("migration 6 gives an older table bytewise ids, and later checkpoints merge into it")
    func bytewiseIDsMigration() throws {
        let db = try IsolatedDatabase("collate")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-collate")
        defer { dir.remove() }
        let vs = vectors("checkpoint.collate", seed: 311, n: 40, d: 8)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
        try store.upsert("c", (0..<30).map { Record(id: "Z\($0)", vector: vs[$0]) } + [Record(id: "a", vector: vs[30]), Record(id: "é", vector: vs[31])])
        try store.checkpoint(to: target)
        let table = PostgresSchema.tableName(forCollection: "c")
        func collation() throws -> String? {
            try db.pool.withConnection {
                // This test's schema only: other tests' schemas hold tables of the same name at once.
                try $0.execute("""
                    SELECT collation_name FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = \(table) AND column_name = 'id'
                    """).text(row: 0, column: 0)
            }
        }
        #expect(try collation() == "C")
        // A database from before migration 6: ids under the database's collation.
        try db.pool.withConnection { conn in
            try conn.execute("ALTER TABLE \(try PostgresIdentifier(table)) ALTER COLUMN id TYPE text COLLATE \"default\"")
            try conn.execute("DELETE FROM engram_migrations WHERE version = 6")
        }
        #expect(try collation() == nil)
        #expect(try db.pool.withConnection { try PostgresSchema.migrate($0) } == 1)
        #expect(try collation() == "C")
        // The staging tables' ids match the table's: updates and deletes merge.
        try store.upsert("c", [Record(id: "Z1", vector: vs[35]), Record(id: "new", vector: vs[36])])
        try store.delete("c", ids: ["a", "é"])
        let report = try store.checkpoint(to: target)
        #expect(report.upserts == 2 && report.deletes == 2)
        let rows = try db.rows("c")
        #expect(rows.count == 31 && rows["a"] == nil && rows["é"] == nil)
        #expect(rows["Z1"]?.0 == vs[35] && rows["new"]?.0 == vs[36])
    }

    @Test("write → checkpoint → lose the data directory → restore: the same records and the same search results")
    func checkpointThenRestore() throws {
        let db = try IsolatedDatabase("restore")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.restore", seed: 307, n: 1500, d: 16)
        // Ids, names and metadata holding quotes, semicolons and SQL are stored verbatim.
        let hostile = "x'); DROP TABLE engram_checkpoints; --\"\\"
        let name = "notes \"q\"; DELETE FROM engram_collections; --"
        let target = try PostgresCheckpointTarget(pool: db.pool)
        var expected = [String: ([Float], MetadataValue)]()
        do {
            let store = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: name, dimension: 16, metric: .cosine))
            let records = (0..<1500).map { i in
                Record(id: i == 3 ? hostile : "r\(i)", vector: vs[i],
                       metadata: ["agent": i % 3 == 0 ? "planner" : "critic", "step": .number(Double(i)), "note": .string(hostile)])
            }
            try store.upsert(name, records)
            try store.checkpoint(to: target)
            // Changes after the first checkpoint: updates, deletes, new records.
            try store.upsert(name, [Record(id: "r10", vector: vs[11], metadata: ["agent": "critic"]), Record(id: "new", vector: vs[12])])
            try store.delete(name, ids: ["r20", "r21", hostile])
            let report = try store.checkpoint(to: target)
            #expect(report.upserts == 2 && report.deletes == 3)
            for id in ["r10", "new", "r0", "r999"] {
                let r = try #require(try store.get(name, id: id))
                expected[id] = (r.vector, r.metadata)
            }
            #expect(try store.count(name) == 1500 - 3 + 1)
            try store.close()
        }
        let rows = try db.rows(name)
        #expect(rows.count == 1500 - 3 + 1)
        #expect(rows[hostile] == nil && rows["r20"] == nil)
        for (id, (v, m)) in expected {
            #expect(rows[id]?.0 == v, "\(id)")
            #expect(rows[id]?.1 == m, "\(id)")
        }
        #expect(try db.pool.withConnection { try $0.execute("SELECT count(*) FROM engram_checkpoints") }.text(row: 0, column: 0) == "2")

        // The data directory is gone: restore into an empty one.
        let restored = try Store.open(directory: dir.path + "/b")
        let report = try PostgresRestore.restore(name, into: restored, pool: db.pool, threads: 2)
        #expect(report.records == 1500 - 3 + 1)
        #expect(try restored.count(name) == 1500 - 3 + 1)
        for (id, (v, m)) in expected {
            #expect(try restored.get(name, id: id)?.vector == v)
            #expect(try restored.get(name, id: id)?.metadata == m)
        }
        let recall = try PostgresRestore.verify(name, store: restored, pool: db.pool, queries: 40, k: 10, seed: 307)
        print("restore recall@10 against exact search in PostgreSQL: \(recall) (seed 307; budget 0.9)")
        #expect(recall >= 0.9)
        // The restored store carries on the database's LSNs: its next checkpoint sends only what is new.
        #expect(restored.lastLSN >= report.checkpointLSN)
        try restored.upsert(name, [Record(id: "after", vector: vs[40])])
        let next = try restored.checkpoint(to: target)
        #expect(next.since == report.checkpointLSN && next.upserts == 1 && next.deletes == 0)
        try restored.close()
        // Reopened, the restored collection comes back from the local snapshot, as the same store.
        let reopened = try Store.open(directory: dir.path + "/b")
        #expect(try reopened.count(name) == 1500 - 3 + 2)
        #expect(reopened.storeID == report.owner)
        try reopened.close()
        // Another store may not checkpoint into this database.
        let stranger = try Store.open(directory: dir.path + "/c")
        try stranger.createCollection(CollectionConfiguration(name: "other", dimension: 16))
        for i in 0..<10 { try stranger.upsert("other", [Record(id: "x\(i)", vector: vs[i])]) }  // past the database's LSN
        let refused = #expect(throws: EngineError.self) { try stranger.checkpoint(to: target) }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("takes the checkpoints of store"))
        try stranger.close()
        #expect(try db.rows(name).count == 1500 - 3 + 2)
    }

    @Test("a stored graph snapshot is loaded when it matches the table, skipped when stale, and a damaged one falls back to a rebuild")
    func graphSnapshots() throws {
        let db = try IsolatedDatabase("graph")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.graph", seed: 331, n: 3000, d: 24)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let store = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "g", dimension: 24, metric: .squaredL2))
        try store.upsert("g", (0..<3000).map { Record(id: "r\($0)", vector: vs[$0], metadata: ["n": .number(Double($0))]) })
        try store.waitUntilIndexed()  // the whole graph in the snapshot: the loaded copy must search exactly as it does
        try store.checkpoint(to: target, withGraphs: true)
        let queries = (0..<20).map { vs[$0 * 7].map { $0 + 0.01 } }
        let expected = try queries.map { try store.search("g", vector: $0, k: 5).map(\.id) }

        let loaded = try Store.open(directory: dir.path + "/b")
        let report = try PostgresRestore.restore("g", into: loaded, pool: db.pool, threads: 2)
        #expect(report.usedGraphSnapshot && report.snapshotFallback == nil && report.records == 3000)
        #expect(try loaded.unindexedCount("g") == 0)
        #expect(try queries.map { try loaded.search("g", vector: $0, k: 5).map(\.id) } == expected)
        #expect(try loaded.get("g", id: "r42")?.metadata == ["n": 42])
        try loaded.close()

        // A damaged chunk: the restore says so and rebuilds from the rows.
        try db.pool.withConnection { try $0.execute("UPDATE engram_index_snapshots SET bytes = overlay(bytes placing '\\xdeadbeef'::bytea from 200 for 4)") }
        let rebuilt = try Store.open(directory: dir.path + "/c")
        let fallback = try PostgresRestore.restore("g", into: rebuilt, pool: db.pool, threads: 2)
        #expect(!fallback.usedGraphSnapshot && fallback.snapshotFallback != nil && fallback.records == 3000)
        #expect(try rebuilt.get("g", id: "r42")?.vector == vs[42])
        try rebuilt.close()

        // A later checkpoint without the graph: the stored one is stale and skipped, silently.
        try store.upsert("g", [Record(id: "late", vector: vs[0])])
        try store.checkpoint(to: target)
        let fresh = try Store.open(directory: dir.path + "/d")
        let stale = try PostgresRestore.restore("g", into: fresh, pool: db.pool, threads: 2)
        #expect(!stale.usedGraphSnapshot && stale.snapshotFallback == nil && stale.records == 3001)
        try fresh.close()
        try store.close()
    }

    @Test("an IVF collection checkpoints with its kind and settings, and restores from its stored index or by training again")
    func ivfCollection() throws {
        let db = try IsolatedDatabase("ivf")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-pg-ivf")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("pg.ivf", defaultSeed: 541)
        let vs = (0..<3000).map { _ in (0..<16).map { _ in rng.gaussian() } }
        let configuration = CollectionConfiguration(
            name: "v", dimension: 16, metric: .squaredL2, ivf: IVFSettings(nlist: 16, nprobe: 4, trainingSize: 1000))
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let store = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
        try store.createCollection(configuration)
        try store.upsert("v", (0..<3000).map { Record(id: "r\($0)", vector: vs[$0]) })
        try store.waitUntilIndexed()
        try store.checkpoint(to: target, withGraphs: true)
        let queries = (0..<20).map { vs[$0 * 11].map { $0 + 0.01 } }
        // A full probe (efSearch = nlist) is exact, whatever the lists.
        let expected = try queries.map { try store.search("v", vector: $0, k: 5, efSearch: 16).map(\.id) }
        let defaultProbe = try queries.map { try store.search("v", vector: $0, k: 5).map(\.id) }
        try store.close()
        #expect(try db.pool.withConnection { try PostgresCollectionReader.configuration("v", $0) }.configuration == configuration)

        // From the stored index: the same lists, so the same answers at the default probe too.
        let loaded = try Store.open(directory: dir.path + "/b")
        let report = try PostgresRestore.restore("v", into: loaded, pool: db.pool, threads: 2)
        #expect(report.usedGraphSnapshot && report.records == 3000)
        #expect(try loaded.configuration("v") == configuration && loaded.indexInfo("v").trained)
        #expect(try queries.map { try loaded.search("v", vector: $0, k: 5).map(\.id) } == defaultProbe)
        try loaded.close()

        // Without it (a damaged snapshot): trained again from the rows; a full probe still gives the exact answer.
        try db.pool.withConnection { try $0.execute("UPDATE engram_index_snapshots SET bytes = overlay(bytes placing '\\xdeadbeef'::bytea from 200 for 4)") }
        let rebuilt = try Store.open(directory: dir.path + "/c")
        let fallback = try PostgresRestore.restore("v", into: rebuilt, pool: db.pool, threads: 2)
        #expect(!fallback.usedGraphSnapshot && fallback.records == 3000)
        #expect(try rebuilt.indexInfo("v").trained)
        #expect(try queries.map { try rebuilt.search("v", vector: $0, k: 5, efSearch: 16).map(\.id) } == expected)
        try rebuilt.close()
    }

    @Test("the background checkpointer retries while the database is down and converges once it is back")
    func backgroundCheckpointer() throws {
        let db = try IsolatedDatabase("background")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.background", seed: 337, n: 2000, d: 8)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
        try store.upsert("c", (0..<1000).map { Record(id: "r\($0)", vector: vs[$0]) })
        let real = try PostgresCheckpointTarget(pool: db.pool)
        let switchable = SwitchableTarget(real)
        switchable.down.withLock { $0 = true }
        let checkpointer = try store.startCheckpointing(
            to: switchable, schedule: .init(intervalSeconds: 0.1, initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2))
        func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
            if try !eventually(pollMilliseconds: 50, condition) { Issue.record("timed out waiting for \(what)") }
        }
        try waitFor("failures") { checkpointer.status.failures >= 3 }
        #expect(checkpointer.status.committed == 0 && store.checkpointLSN == 0)
        try store.upsert("c", (1000..<2000).map { Record(id: "r\($0)", vector: vs[$0]) })
        try store.delete("c", ids: ["r5"])
        switchable.down.withLock { $0 = false }
        try waitFor("convergence") { checkpointer.status.lastLSN == store.lastLSN }
        let rows = try db.rows("c")
        #expect(rows.count == 1999 && rows["r5"] == nil && rows["r1999"]?.0 == vs[1999])
        #expect(checkpointer.status.consecutiveFailures == 0 && checkpointer.status.lastError == nil)
        try store.close()  // stops the checkpointer
        #expect(checkpointer.status.committed >= 1)
    }

    @Test("a collection stored at half precision refuses values beyond ±65,504 at the write, gets a halfvec table, and restores with its precision; the halfvec option applies to cosine collections only")
    func halfvecTables() throws {
        let db = try IsolatedDatabase("halfvec")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.halfvec", seed: 347, n: 2000, d: 32)
        let store = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "h", dimension: 32, metric: .squaredL2, storedPrecision: .float16))
        try store.upsert("h", (0..<2000).map { Record(id: "r\($0)", vector: vs[$0]) })
        // Beyond half precision's range: refused at the write, so it can never fail a checkpoint.
        let tooLarge = #expect(throws: EngineError.self) { try store.upsert("h", [Record(id: "big", vector: [70_000] + vs[0].dropFirst())]) }
        #expect(tooLarge.map { "\($0)".contains("half precision") } == true)
        try store.upsert("h", [Record(id: "edge", vector: [65_504] + vs[0].dropFirst())])
        try store.checkpoint(to: try PostgresCheckpointTarget(pool: db.pool))
        // The target's halfvec option applies to cosine collections only: an L2 collection holding a large
        // value gets a vector table and checkpoints.
        try store.createCollection(CollectionConfiguration(name: "wide", dimension: 2, metric: .squaredL2))
        try store.upsert("wide", [Record(id: "w", vector: [1e6, -3e7])])
        try store.createCollection(CollectionConfiguration(name: "unit", dimension: 2, metric: .cosine))
        try store.upsert("unit", [Record(id: "u", vector: [3, 4])])
        try store.checkpoint(to: try PostgresCheckpointTarget(pool: db.pool, vectorType: .halfvec))
        try expectTableEqualsEngine(store, db)
        try store.close()
        func columnType(_ name: String) throws -> String? {
            try db.pool.withConnection {
                try $0.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = \(.text(PostgresSchema.tableName(forCollection: name)))::regclass AND attname = 'embedding'").text(row: 0, column: 0)
            }
        }
        #expect(try columnType("wide") == "vector(2)")
        #expect(try columnType("unit") == "halfvec(2)")
        #expect(try db.rows("wide")["w"]?.0 == [1e6, -3e7])
        let column = try db.pool.withConnection {
            try $0.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = \(.text(PostgresSchema.tableName(forCollection: "h")))::regclass AND attname = 'embedding'")
        }
        #expect(column.text(row: 0, column: 0) == "halfvec(32)")
        let rows = try db.rows("h")
        #expect(rows.count == 2001 && rows["edge"]?.0.first == 65_504)
        // Half precision: 11 significant bits, so each value within 2^-11 relative (values here are in [-1, 1]).
        for i in stride(from: 0, to: 2000, by: 97) {
            let got = try #require(rows["r\(i)"]?.0)
            #expect(zip(got, vs[i]).allSatisfy { abs($0 - $1) <= 1.0 / 2048 }, "r\(i)")
            #expect(got == vs[i].map { Float(Float16($0)) }, "r\(i)")
        }
        let restored = try Store.open(directory: dir.path + "/b")
        let report = try PostgresRestore.restore("h", into: restored, pool: db.pool, threads: 2)
        #expect(report.records == 2001 && !report.usedGraphSnapshot)
        #expect(try restored.configuration("h").storedPrecision == .float16)  // and so refuses what it cannot store
        #expect(throws: EngineError.self) { try restored.upsert("h", [Record(id: "big", vector: [70_000] + vs[0].dropFirst())]) }
        let recall = try PostgresRestore.verify("h", store: restored, pool: db.pool, queries: 40, k: 10, seed: 347)
        print("halfvec restore recall@10 against exact search in PostgreSQL: \(recall) (seed 347; budget 0.9)")
        #expect(recall >= 0.9)
        try restored.close()
    }

    @Test("a data directory whose snapshot is damaged is rebuilt from the checkpoint, then its own log above it")
    func rebuildDamagedDirectory() throws {
        let db = try IsolatedDatabase("rebuild")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.rebuild", seed: 353, n: 1200, d: 16)
        let target = try PostgresCheckpointTarget(pool: db.pool)
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "a", dimension: 16, metric: .squaredL2))
            try store.createCollection(CollectionConfiguration(name: "b", dimension: 16, metric: .cosine))
            try store.upsert("a", (0..<1000).map { Record(id: "r\($0)", vector: vs[$0]) })
            try store.upsert("b", [Record(id: "only-b", vector: vs[1000], metadata: ["k": "v"])])
            try store.checkpoint(to: target)
            // After the checkpoint, only in the local log (kept above the checkpoint) and the snapshot.
            try store.upsert("a", (1000..<1200).map { Record(id: "r\($0)", vector: vs[$0]) })
            try store.upsert("a", [Record(id: "r5", vector: vs[6])])
            try store.delete("a", ids: ["r7"])
            try store.close()  // writes a snapshot above the checkpoint
        }
        // Damage the snapshot: the directory no longer opens.
        let snapshot = try #require(try listDirectory(dir.path).first { $0.hasPrefix("snapshot-") && $0.hasSuffix(".engram") })
        try flipByte(dir.path + "/" + snapshot, at: 100)
        #expect(throws: EngineError.self) { try Store.open(directory: dir.path) }
        // A rebuild that fails (the database is down) changes nothing: the snapshot stays where it was.
        #expect(throws: EngineError.self) { try Store.open(directory: dir.path, rebuildingFrom: UnreachableSource()) }
        #expect(try listDirectory(dir.path).contains(snapshot))

        // Rebuilt with the graphs' floats in mapped files (StoreOptions.mappedFloatsDirectory): the same answers.
        let floats = TemporaryDirectory("engram-floats")
        defer { floats.remove() }
        var mapped = StoreOptions()
        mapped.mappedFloatsDirectory = floats.path
        let rebuilt = try Store.open(directory: dir.path, options: mapped, rebuildingFrom: PostgresCheckpointSource(pool: db.pool))
        #expect(try rebuilt.indexInfo("a").memory.floatsFileBacked && rebuilt.indexInfo("b").memory.floatsFileBacked)
        #expect(try rebuilt.count("a") == 1199 && rebuilt.count("b") == 1)
        #expect(try rebuilt.get("a", id: "r5")?.vector == vs[6])
        #expect(try rebuilt.get("a", id: "r7") == nil)
        #expect(try rebuilt.get("a", id: "r1150")?.vector == vs[1150])
        #expect(try rebuilt.get("b", id: "only-b")?.metadata == ["k": "v"])
        // The replayed rows may be on their way into the graph: a wide efSearch, the exact match first.
        #expect(try rebuilt.search("a", vector: vs[1100], k: 3, efSearch: 400).first?.id == "r1100")
        try rebuilt.close()
        #expect(try listDirectory(dir.path).contains(snapshot + ".damaged"))
        // The directory opens on its own again, and a checkpoint sends only what came after the last one.
        let reopened = try Store.open(directory: dir.path)
        #expect(try reopened.count("a") == 1199)
        let report = try reopened.checkpoint(to: target)
        #expect(report.upserts == 201 && report.deletes == 1)
        try reopened.close()
        #expect(try db.rows("a").count == 1199)
    }

    @Test("writes during a checkpoint are neither lost nor duplicated")
    func writesDuringCheckpoint() throws {
        let db = try IsolatedDatabase("concurrent")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.concurrent", seed: 311, n: 4000, d: 8)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
        try store.upsert("c", (0..<2000).map { Record(id: "r\($0)", vector: vs[$0]) })
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let failures = Locked<[String]>([])
        runOnThreads(2) { thread in
            do {
                if thread == 0 {
                    for start in stride(from: 2000, to: 4000, by: 100) {
                        try store.upsert("c", (start..<(start + 100)).map { Record(id: "r\($0)", vector: vs[$0]) })
                        try store.delete("c", ids: ["r\(start - 2000)"])
                    }
                } else {
                    for _ in 0..<5 { try store.checkpoint(to: target) }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        try store.checkpoint(to: target)
        let rows = try db.rows("c")
        #expect(try rows.count == store.count("c"))
        #expect(rows.count == 4000 - 20)
        for i in stride(from: 0, to: 4000, by: 7) {
            let id = "r\(i)"
            let live = try store.get("c", id: id) != nil
            #expect((rows[id] != nil) == live, "\(id)")
            if let row = rows[id] { #expect(row.0 == vs[i]) }
        }
        try store.close()
    }

    @Test("an unreachable database or a session killed mid-checkpoint loses nothing, and the next checkpoint converges")
    func serverDownThenBack() throws {
        let db = try IsolatedDatabase("down")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-checkpoint")
        defer { dir.remove() }
        let vs = vectors("checkpoint.down", seed: 313, n: 30_000, d: 32)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 32, metric: .squaredL2))
        for start in stride(from: 0, to: 30_000, by: 5000) {
            try store.upsert("c", (start..<(start + 5000)).map { Record(id: "r\($0)", vector: vs[$0]) })
        }
        // Down: the server cannot be reached.
        let down = try PostgresPool(
            PostgresConfiguration(connectionString: "postgresql:///postgres?host=/nonexistent-engram&port=1&connect_timeout=1"),
            options: .init(maxConnections: 1, acquireTimeoutSeconds: 0.3))
        let error = #expect(throws: EngineError.self) { try store.checkpoint(to: DeferredTarget { try PostgresCheckpointTarget(pool: down) }) }
        #expect(error?.code == .checkpoint)
        // The pool's own error travels underneath, not flattened into text.
        #expect((error?.underlying as? PostgresError)?.kind == .connection, "\(String(describing: error?.underlying))")
        #expect(store.checkpointLSN == 0)

        // Killed: the session running the checkpoint is ended while it copies. The race is retried
        // (with more rows to send each time) until a kill lands; the test fails if none ever does.
        let target = try PostgresCheckpointTarget(pool: db.pool)
        var total = 30_000, committed = 0, killedIn: Int?
        for attempt in 0..<6 where killedIn == nil {
            if attempt > 0 {
                try store.upsert("c", (0..<5000).map { Record(id: "a\(attempt)-\($0)", vector: vs[$0]) })
                total += 5000
            }
            let killed = Locked<Int>(0)
            let outcome = Locked<String>("")
            let adminFailure = Locked<String?>(nil)
            runOnThreads(2) { thread in
                if thread == 0 {
                    do { try store.checkpoint(to: target); outcome.withLock { $0 = "committed" } } catch { outcome.withLock { $0 = "\(error)" } }
                    return
                }
                let admin: PostgresConnection
                do { admin = try PostgresConnection() } catch {
                    adminFailure.withLock { $0 = "\(error)" }
                    return
                }
                while outcome.withLock({ $0 }).isEmpty {
                    // The COPY into the table (the first checkpoint) or into the staging table (later ones).
                    let r = try? admin.execute("""
                        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE application_name = \(db.schema) AND query LIKE 'COPY %' AND state = 'active'
                        """)
                    if let r, r.rowCount > 0 {
                        killed.withLock { $0 = r.rowCount }
                        return
                    }
                    usleep(200)
                }
            }
            #expect(adminFailure.withLock { $0 } == nil, "the admin connection failed: \(adminFailure.withLock { $0 } ?? "")")
            print("mid-checkpoint kill, attempt \(attempt): \(killed.withLock { $0 }) session(s) ended; the checkpoint: \(outcome.withLock { $0 })")
            if killed.withLock({ $0 }) > 0 {
                killedIn = attempt
                #expect(outcome.withLock { $0 } != "committed")
                let checkpoints = try db.pool.withConnection { try $0.execute("SELECT count(*) FROM engram_checkpoints") }.text(row: 0, column: 0)
                #expect(checkpoints == String(committed), "a killed checkpoint must leave no trace")
            } else if outcome.withLock({ $0 }) == "committed" {
                committed += 1
            }
        }
        #expect(killedIn != nil, "no checkpoint's COPY was caught and ended in 6 attempts: the kill assertions never ran")
        // Back: the next checkpoint sends everything, and the table matches the engine.
        try store.checkpoint(to: target)
        let rows = try db.rows("c")
        #expect(rows.count == total)
        #expect(rows["r12345"]?.0 == vs[12345])
        #expect(store.checkpointLSN == store.lastLSN)
        try store.close()
    }
}

/// A target created on first use, so that a target whose database is down
/// fails inside the checkpoint call (as a running store sees it).
private struct DeferredTarget: CheckpointTarget {
    let make: @Sendable () throws -> CheckpointTarget
    func state() throws -> CheckpointTargetState { try make().state() }
    func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult { try make().commit(checkpoint) }
}

/// A checkpoint source whose database is down.
private struct UnreachableSource: CheckpointSource {
    func read(_ body: (UInt64, String?, [(CollectionConfiguration, Store.RecordStream)]) throws -> Void) throws {
        throw PostgresError(kind: .connection, message: "the database is down")
    }
}

/// A target a test can take down and bring back.
private final class SwitchableTarget: CheckpointTarget, @unchecked Sendable {
    let real: CheckpointTarget
    let down = Locked<Bool>(false)
    init(_ real: CheckpointTarget) { self.real = real }
    struct Down: Error {}
    func state() throws -> CheckpointTargetState {
        if down.withLock({ $0 }) { throw Down() }
        return try real.state()
    }
    func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult {
        if down.withLock({ $0 }) { throw Down() }
        return try real.commit(checkpoint)
    }
}

private func listDirectory(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw PostgresError(kind: .decoding, message: "cannot list \(path)") }
    defer { closedir(dir) }
    var names = [String]()
    while let entry = readdir(dir) {
        names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
    }
    return names
}

private func flipByte(_ path: String, at offset: Int) throws {
    let fd = open(path, O_RDWR)
    guard fd >= 0 else { throw PostgresError(kind: .decoding, message: "cannot open \(path)") }
    defer { close(fd) }
    var byte: UInt8 = 0
    guard pread(fd, &byte, 1, off_t(offset)) == 1 else { throw PostgresError(kind: .decoding, message: "cannot read \(path)") }
    byte ^= 0xFF
    guard pwrite(fd, &byte, 1, off_t(offset)) == 1 else { throw PostgresError(kind: .decoding, message: "cannot write \(path)") }
}
