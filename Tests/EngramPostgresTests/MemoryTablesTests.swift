import EngramEngine
import EngramMemory
import EngramMemoryPostgres
import EngramMetadata
import EngramPostgres
import EngramTestSupport
import Testing

/// The memory's typed tables: projected by every checkpoint, queried in
/// plain SQL, foreign keys checked at the checkpoint's commit.
@Suite("The memory's typed tables in PostgreSQL (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct MemoryTablesTests {
    static let d = 8
    static func v(_ i: Int) -> [Float] { (0..<d).map { Float((i * 5 + $0 * 3) % 13) - 6 + 0.5 } }
    static func at(_ s: String) -> MemoryTime { ISO8601.parse(s)! }

    @Test("agents, tasks, experiences, entities and fact versions become typed rows; SQL answers scoped and as-of queries; forgetting removes rows; a broken foreign key fails the checkpoint")
    func typedTables() throws {
        let db = try IsolatedDatabase("memtables")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-memtables")
        defer { dir.remove() }
        let target = try PostgresCheckpointTarget(pool: db.pool, projections: [MemoryTables(dimension: Self.d)])
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        let memory = try Memory.open(store, dimension: Self.d)
        try memory.upsert(Agent(tenant: "acme", id: "planner", name: "Planner", groups: ["ops"]), at: Self.at("2026-01-01T00:00:00Z"))
        try memory.upsert(Agent(tenant: "acme", id: "critic", name: "Critic"), at: Self.at("2026-01-01T00:00:00Z"))
        try memory.upsert(Agent(tenant: "other", id: "planner", name: "Planner elsewhere"))
        try memory.create(AgentTask(tenant: "acme", id: "ship", title: "Ship v2", agent: "planner"))
        try memory.create(AgentTask(tenant: "acme", id: "test", title: "Run the tests", agent: "critic", parent: "ship"))
        try memory.transition(tenant: "acme", task: "test", to: .running)
        try memory.declareSingleValued(tenant: "acme", predicate: "works_at")
        var experiences = [Experience]()
        for i in 0..<10 {
            let agent = i % 2 == 0 ? "planner" : "critic"
            let visibility: Visibility = i == 4 ? .group("ops") : .agent
            let occurred = Self.at("2026-01-01T00:00:00Z").adding(seconds: Double(i) * 86_400)
            experiences.append(Experience(tenant: "acme", id: "e\(i)", agent: agent, visibility: visibility, task: i < 3 ? "ship" : nil,
                                          kind: "observation", content: "experience \(i)", embedding: Self.v(i), importance: 0.1 * Double(i),
                                          occurredAt: occurred))
        }
        let entities = [Entity(tenant: "acme", id: "alice", type: "person", name: "Alice", embedding: Self.v(20)),
                        Entity(tenant: "acme", id: "acme-co", type: "company", name: "Acme", embedding: Self.v(21)),
                        Entity(tenant: "acme", id: "initech", type: "company", name: "Initech", embedding: Self.v(22))]
        let first = Fact(tenant: "acme", id: "f1", subject: "alice", predicate: "works_at", object: .entity("acme-co"), text: "Alice works at Acme",
                         embedding: Self.v(23), validFrom: Self.at("2024-01-01T00:00:00Z"))
        try memory.remember(experiences, entities: entities, facts: [first], at: Self.at("2026-01-15T00:00:00Z"))
        try store.checkpoint(to: target)
        try memory.remember([], entities: [], facts: [
            Fact(tenant: "acme", id: "f2", subject: "alice", predicate: "works_at", object: .entity("initech"), text: "Alice works at Initech",
                 embedding: Self.v(24), validFrom: Self.at("2026-06-01T00:00:00Z")),
        ], at: Self.at("2026-06-15T00:00:00Z"))
        try store.checkpoint(to: target)

        func sql(_ query: PostgresQuery) throws -> [[String?]] {
            try db.pool.withConnection { conn in
                let r = try conn.execute(query)
                return (0..<r.rowCount).map { row in (0..<r.columnNames.count).map { r.text(row: row, column: $0) } }
            }
        }
        #expect(try sql("SELECT count(*) FROM agents") == [["3"]])
        #expect(try sql("SELECT status, parent, agent FROM tasks WHERE tenant = 'acme' AND id = 'test'") == [["running", "ship", "critic"]])
        #expect(try sql("SELECT count(*) FROM experiences WHERE tenant = 'acme' AND agent = 'planner'") == [["5"]])
        #expect(try sql("SELECT group_name FROM experiences WHERE id = 'e4'") == [["ops"]])
        // A scoped similarity query in plain SQL, as a user would write it.
        let nearest = try sql("""
            SELECT id FROM experiences WHERE tenant = 'acme' AND agent = 'critic'
            ORDER BY embedding <=> \(PgVectorCodec.text(Self.v(3)))::vector LIMIT 1
            """)
        #expect(nearest == [["e3"]])
        // Employer as of mid-2025 and now, as known now: versions with valid and record time.
        func employer(_ at: String) throws -> [[String?]] {
            try sql("""
                SELECT object_entity FROM facts WHERE tenant = 'acme' AND subject = 'alice' AND predicate = 'works_at'
                AND valid_from <= \(at)::timestamptz AND (valid_to IS NULL OR \(at)::timestamptz < valid_to) AND invalidated_at IS NULL
                """)
        }
        #expect(try employer("2025-06-01T00:00:00Z") == [["acme-co"]])
        #expect(try employer("2026-07-01T00:00:00Z") == [["initech"]])
        #expect(try sql("SELECT count(*) FROM facts WHERE id = 'f1'") == [["2"]])  // the open version (invalidated) and the closed one
        #expect(try sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND condeferrable AND conrelid::regclass::text IN ('tasks', 'experiences', 'facts')") == [["6"]])

        // Forgetting the critic removes its rows at the next checkpoint. A purge before that checkpoint keeps
        // the log the database has not seen; after it, the log keeps nothing up to the forget.
        try memory.forgetAgent(tenant: "acme", agent: "critic")
        let early = try store.purgeDeleted()
        let checkpointed = try target.checkpointLSN()
        // Updated and deleted vectors alike are erased; the log keeps what the database has not seen.
        #expect(early.logKeptFrom <= checkpointed + 1 && early.logStartsAt <= checkpointed + 1, "\(early)")
        print("[purge] before the checkpoint: \(early)")
        let forgotten = try store.checkpoint(to: target).lsn  // the forget's deletes and everything before them
        #expect(try sql("SELECT count(*) FROM experiences WHERE agent = 'critic'") == [["0"]])
        #expect(try sql("SELECT count(*) FROM tasks WHERE id = 'test'") == [["0"]])
        #expect(try sql("SELECT count(*) FROM agents WHERE tenant = 'acme'") == [["1"]])
        let purge = try store.purgeDeleted()
        print("[purge] after the checkpoint at \(forgotten): \(purge)")
        #expect(purge.logKeptFrom > forgotten && purge.logStartsAt > forgotten, "\(purge)")

        // A record that breaks a foreign key (written around the memory layer) fails the checkpoint whole.
        let before = try target.checkpointLSN()
        try store.upsert("memory_experiences", [Record(id: "9:stranger:x", vector: Self.v(30), metadata: [
            "tenant": "acme", "id": "x", "agent": "ghost", "kind": "observation", "importance": 0.5,
            "occurred_at": .timestamp(microseconds: 0), "recorded_at": .timestamp(microseconds: 0), "content_hash": "0", "meta": .object([:]),
        ], text: ["content": "orphan"])])
        #expect(throws: EngineError.self) { try store.checkpoint(to: target) }
        #expect(try target.checkpointLSN() == before)
        #expect(try sql("SELECT count(*) FROM experiences WHERE id = 'x'") == [["0"]])
    }
}
