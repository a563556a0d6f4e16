import EngramEngine
import EngramMetadata
import EngramPostgres
import EngramTestSupport
import EngramText
import Testing

/// Text fields through PostgreSQL: a column per field and a generated
/// `tsvector` a SQL user can query, merged by later checkpoints, compared
/// by `engram verify`, and restored (rows rebuilt, or the stored snapshot)
/// into a store whose text search answers as the original did.
@Suite("Text fields in PostgreSQL (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct TextCheckpointTests {
    static let words = ["upload", "failed", "disk", "full", "ENOSPC", "retry", "agent", "planner", "timeout", "libfoo-dev",
                        "connection", "refused", "cache", "token", "budget", "summary", "error", "network"]

    @Test("texts checkpoint into columns and a generated tsvector, merge, verify, and restore both ways with the same text search")
    func textCheckpointAndRestore() throws {
        let db = try IsolatedDatabase("text")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-text-checkpoint")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("postgres.text", defaultSeed: 1611)
        func sentence() -> String {
            (0..<Int.random(in: 2...8, using: &rng)).map { _ in Self.words[Int.random(in: 0..<Self.words.count, using: &rng)] }.joined(separator: " ")
        }
        let configuration = CollectionConfiguration(name: "notes", dimension: 8, text: TextSettings(fields: ["title", "content"], k1: 1.1, b: 0.6))
        let target = try PostgresCheckpointTarget(pool: db.pool)
        let store = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(configuration)
        try store.createCollection(CollectionConfiguration(name: "plain", dimension: 8))
        let records = (0..<300).map { i -> Record in
            var text = [String: String]()
            if i % 5 != 0 { text["content"] = sentence() }
            if i % 3 == 0 { text["title"] = sentence() }
            return Record(id: "r\(i)", vector: (0..<8).map { _ in rng.gaussian() }, metadata: ["i": .number(Double(i))], text: text)
        }
        try store.upsert("notes", records)
        try store.upsert("plain", [Record(id: "p", vector: records[0].vector)])
        try store.checkpoint(to: target)
        // A SQL user's full-text query sees what the engine holds.
        let table = try PostgresIdentifier(PostgresSchema.tableName(forCollection: "notes"))
        func sqlMatches(_ words: String) throws -> Set<String> {
            try db.pool.withConnection { conn in
                let r = try conn.execute("SELECT id FROM \(table) WHERE tsv @@ plainto_tsquery('english', \(words))")
                return Set((0..<r.rowCount).compactMap { r.text(row: $0, column: 0) })
            }
        }
        func engineMatches(_ words: String) throws -> Set<String> {
            Set(try store.search("notes", HybridQuery(text: words, k: 1000, candidates: 1000)).map(\.id))
        }
        // One plain word: PostgreSQL's english configuration and Engram's stemmer agree on these.
        for word in ["upload", "timeout", "budget", "refused"] {
            #expect(try sqlMatches(word) == engineMatches(word), "\(word)")
            #expect(try !sqlMatches(word).isEmpty)
        }
        // Updates (new text, text removed), deletes, new records: merged by the next checkpoint.
        try store.upsert("notes", [
            Record(id: "r1", vector: records[1].vector, text: ["title": "quarantined snapshot"]),
            Record(id: "r2", vector: records[2].vector),
            Record(id: "new", vector: records[3].vector, text: ["content": "quarantined again"]),
        ])
        try store.delete("notes", ids: ["r4", "r6"])
        let second = try store.checkpoint(to: target)
        #expect(second.upserts == 3 && second.deletes == 2)
        #expect(try sqlMatches("quarantined") == ["r1", "new"])
        let rows = try db.pool.withConnection { conn in
            try conn.execute("SELECT title, content FROM \(table) WHERE id = 'r2'")
        }
        #expect(rows.rowCount == 1 && rows.text(row: 0, column: 0) == nil && rows.text(row: 0, column: 1) == nil)
        let report = try PostgresVerify.compare(store: store, pool: db.pool)
        #expect(report.differences.isEmpty, "\(report.differences)")

        // A text changed behind the engine's back is a difference `engram verify` names.
        try db.pool.withConnection { conn in try conn.execute("UPDATE \(table) SET content = 'tampered' WHERE id = 'r7'") }
        #expect(try PostgresVerify.compare(store: store, pool: db.pool).differences.map(\.kind) == [.text])
        try db.pool.withConnection { conn in
            try conn.execute("UPDATE \(table) SET content = \(records[7].text["content"]) WHERE id = 'r7'")
        }

        let queries = ["upload failed", "ENOSPC", "libfoo-dev", "libfoo", "quarantined snapshot", "token budget summary"]
        func answers(_ s: Store) throws -> [[String]] {
            try queries.map { q in try s.search("notes", HybridQuery(text: q, k: 20)).map { "\($0.id) \($0.explanation.textScore ?? -1)" } }
        }
        let original = try answers(store)
        // Rebuilt from the rows.
        let rebuilt = try Store.open(directory: dir.path + "/b")
        let restored = try PostgresRestore.restore("notes", into: rebuilt, pool: db.pool, threads: 2)
        #expect(!restored.usedGraphSnapshot)
        #expect(try rebuilt.configuration("notes") == configuration)
        #expect(try answers(rebuilt) == original)
        for id in ["r1", "r2", "r3", "r9", "new"] { #expect(try rebuilt.get("notes", id: id)?.text == store.get("notes", id: id)?.text, "\(id)") }
        try rebuilt.close()
        // From the stored snapshot, text index included.
        try store.checkpoint(to: target, withGraphs: true)
        let loaded = try Store.open(directory: dir.path + "/c")
        defer { try? loaded.close() }
        #expect(try PostgresRestore.restore("notes", into: loaded, pool: db.pool, threads: 2).usedGraphSnapshot)
        #expect(try answers(loaded) == original)
    }
}

@Suite("Records without vectors in PostgreSQL (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct RecordsWithoutVectorsCheckpointTests {
    @Test("a collection of dimension 0 checkpoints into a table without an embedding column, merges, verifies and restores")
    func checkpointAndRestore() throws {
        let db = try IsolatedDatabase("novec")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-novec-checkpoint")
        defer { dir.remove() }
        let configuration = CollectionConfiguration(name: "tasks", dimension: 0, text: TextSettings(fields: ["title"]))
        let target = try PostgresCheckpointTarget(pool: db.pool, createSQLIndex: true)
        let store = try Store.open(directory: dir.path + "/a", options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(configuration)
        try store.upsert("tasks", (0..<30).map { i in
            Record(id: "t\(i)", vector: [], metadata: ["agent": .string("a\(i % 2)"), "priority": .number(Double(i))], text: ["title": "task \(i) deploys the cache"])
        })
        try store.checkpoint(to: target)
        try store.upsert("tasks", [Record(id: "t3", vector: [], metadata: ["agent": "a1"], text: ["title": "rollback"]), Record(id: "t30", vector: [])])
        try store.delete("tasks", ids: ["t4"])
        #expect(try store.checkpoint(to: target).upserts == 2)
        let table = try PostgresIdentifier(PostgresSchema.tableName(forCollection: "tasks"))
        let columns = try db.pool.withConnection { conn in
            try conn.execute("""
                SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = \(PostgresSchema.tableName(forCollection: "tasks"))
                """).text(row: 0, column: 0)
        }
        #expect(columns == "id,metadata,lsn,updated_at,title,tsv")
        let rollback = try db.pool.withConnection { conn in
            try conn.execute("SELECT id FROM \(table) WHERE tsv @@ plainto_tsquery('english', 'rollback')").text(row: 0, column: 0)
        }
        #expect(rollback == "t3")
        #expect(try PostgresVerify.compare(store: store, pool: db.pool).differences.isEmpty)
        let restored = try Store.open(directory: dir.path + "/b")
        defer { try? restored.close() }
        #expect(try PostgresRestore.restore("tasks", into: restored, pool: db.pool, threads: 2).records == 30)
        #expect(try restored.configuration("tasks") == configuration)
        #expect(try restored.get("tasks", id: "t3") == store.get("tasks", id: "t3"))
        #expect(try restored.get("tasks", id: "t30")?.vector == [])
        #expect(try restored.search("tasks", HybridQuery(text: "cache", k: 100, filter: .equals("agent", "a0"))).count == 14)
        #expect(throws: PostgresError.self) { try PostgresRestore.verify("tasks", store: restored, pool: db.pool, queries: 5, k: 5, seed: 1) }
    }
}
