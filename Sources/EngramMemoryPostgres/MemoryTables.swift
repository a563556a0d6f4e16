import EngramEngine
import EngramPostgres

/// The memory layer's typed tables in PostgreSQL (Docs/MEMORY.md, "Typed
/// tables"): `agents`, `tasks`, `experiences`, `entities` and `facts`, one
/// row per object (per fact version), projected from the memory
/// collections' tables by every checkpoint, in its transaction, so a SQL
/// user can query the memory without Engram:
///
/// ```sql
/// SELECT id, content FROM experiences
/// WHERE tenant = 'acme' AND agent = 'planner' ORDER BY embedding <=> $1 LIMIT 10;
/// SELECT f.text FROM facts f WHERE f.tenant = 'acme' AND f.subject = 'alice'
///   AND f.valid_from <= now() AND (f.valid_to IS NULL OR now() < f.valid_to) AND f.invalidated_at IS NULL;
/// ```
///
/// Foreign keys hold where memory enforces them (a task's agent and
/// parent, an experience's agent and task, a fact's subject and object
/// entity): `DEFERRABLE INITIALLY DEFERRED`, so they are checked at the
/// checkpoint's commit and a violation fails the whole checkpoint. The
/// collections' own tables stay the source a restore reads.
public struct MemoryTables: PostgresProjection {
    /// The embeddings' dimension (the typed tables' `vector(d)` columns).
    public let dimension: Int

    public init(dimension: Int) { self.dimension = dimension }

    public func prepare(_ db: PostgresConnection) throws {
        guard (1...16_000).contains(dimension) else { throw PostgresError(kind: .invalidArgument, message: "dimension \(dimension)") }
        let d = String(dimension)
        for statement in [
            """
            CREATE TABLE IF NOT EXISTS agents (
                key text COLLATE "C" PRIMARY KEY, tenant text NOT NULL, id text NOT NULL, name text NOT NULL, role text NOT NULL,
                configuration jsonb NOT NULL, groups text[] NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
                UNIQUE (tenant, id))
            """,
            """
            CREATE TABLE IF NOT EXISTS tasks (
                key text COLLATE "C" PRIMARY KEY, tenant text NOT NULL, id text NOT NULL, title text NOT NULL, description text,
                agent text, parent text, status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
                priority integer NOT NULL, result jsonb, created_at timestamptz NOT NULL, started_at timestamptz, finished_at timestamptz,
                UNIQUE (tenant, id),
                FOREIGN KEY (tenant, agent) REFERENCES agents (tenant, id) DEFERRABLE INITIALLY DEFERRED,
                FOREIGN KEY (tenant, parent) REFERENCES tasks (tenant, id) DEFERRABLE INITIALLY DEFERRED)
            """,
            """
            CREATE TABLE IF NOT EXISTS experiences (
                key text COLLATE "C" PRIMARY KEY, tenant text NOT NULL, id text NOT NULL, agent text NOT NULL, group_name text, task text,
                kind text NOT NULL, content text NOT NULL, embedding vector(\(d)) NOT NULL, importance double precision NOT NULL,
                occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL, expires_at timestamptz, metadata jsonb NOT NULL,
                UNIQUE (tenant, id),
                FOREIGN KEY (tenant, agent) REFERENCES agents (tenant, id) DEFERRABLE INITIALLY DEFERRED,
                FOREIGN KEY (tenant, task) REFERENCES tasks (tenant, id) DEFERRABLE INITIALLY DEFERRED)
            """,
            "CREATE INDEX IF NOT EXISTS experiences_scope ON experiences (tenant, agent, occurred_at)",
            """
            CREATE TABLE IF NOT EXISTS entities (
                key text COLLATE "C" PRIMARY KEY, tenant text NOT NULL, id text NOT NULL, type text NOT NULL, name text NOT NULL,
                aliases text[] NOT NULL, summary text, embedding vector(\(d)) NOT NULL, attributes jsonb NOT NULL,
                UNIQUE (tenant, id))
            """,
            """
            CREATE TABLE IF NOT EXISTS facts (
                key text COLLATE "C" PRIMARY KEY, tenant text NOT NULL, id text NOT NULL, subject text NOT NULL, predicate text NOT NULL,
                object_entity text, object_value jsonb, text text NOT NULL, embedding vector(\(d)) NOT NULL,
                valid_from timestamptz NOT NULL, valid_to timestamptz, recorded_at timestamptz NOT NULL, invalidated_at timestamptz,
                sources text[] NOT NULL, confidence double precision NOT NULL,
                FOREIGN KEY (tenant, subject) REFERENCES entities (tenant, id) DEFERRABLE INITIALLY DEFERRED,
                FOREIGN KEY (tenant, object_entity) REFERENCES entities (tenant, id) DEFERRABLE INITIALLY DEFERRED)
            """,
            "CREATE INDEX IF NOT EXISTS facts_subject ON facts (tenant, subject, predicate)",
        ] {
            try db.execute(PostgresQuery(unsafeSQL: statement))
        }
    }

    /// A metadata timestamp (`{"$timestamp": µs}`) as `timestamptz`.
    private static func time(_ field: String) -> String {
        "to_timestamp((g.metadata->'\(field)'->>'$timestamp')::double precision / 1000000)"
    }

    /// A metadata array of strings as `text[]`.
    private static func texts(_ field: String) -> String {
        "ARRAY(SELECT jsonb_array_elements_text(coalesce(g.metadata->'\(field)', '[]'::jsonb)))"
    }

    /// Per memory collection: its typed table, and the columns with the expressions that fill them from
    /// the collection's table `g` (`id`, `embedding`, `metadata` and the text fields).
    private static let projections: [String: (table: String, columns: [(String, String)])] = [
        "memory_agents": ("agents", [
            ("tenant", "g.metadata->>'tenant'"), ("id", "g.metadata->>'id'"), ("name", "g.metadata->>'name'"),
            ("role", "coalesce(g.metadata->>'role', '')"), ("configuration", "coalesce(g.metadata->'configuration', '{}'::jsonb)"),
            ("groups", texts("groups")), ("created_at", time("created_at")), ("updated_at", time("updated_at")),
        ]),
        "memory_tasks": ("tasks", [
            ("tenant", "g.metadata->>'tenant'"), ("id", "g.metadata->>'id'"), ("title", "g.title"), ("description", "g.description"),
            ("agent", "g.metadata->>'agent'"), ("parent", "g.metadata->>'parent'"), ("status", "g.metadata->>'status'"),
            ("priority", "(g.metadata->>'priority')::double precision::integer"), ("result", "g.metadata->'result'"),
            ("created_at", time("created_at")), ("started_at", time("started_at")), ("finished_at", time("finished_at")),
        ]),
        "memory_experiences": ("experiences", [
            ("tenant", "g.metadata->>'tenant'"), ("id", "g.metadata->>'id'"), ("agent", "g.metadata->>'agent'"), ("group_name", "g.metadata->>'group'"),
            ("task", "g.metadata->>'task'"), ("kind", "g.metadata->>'kind'"), ("content", "g.content"), ("embedding", "g.embedding"),
            ("importance", "(g.metadata->>'importance')::double precision"), ("occurred_at", time("occurred_at")),
            ("recorded_at", time("recorded_at")), ("expires_at", time("expires_at")), ("metadata", "coalesce(g.metadata->'meta', '{}'::jsonb)"),
        ]),
        "memory_entities": ("entities", [
            ("tenant", "g.metadata->>'tenant'"), ("id", "g.metadata->>'id'"), ("type", "g.metadata->>'type'"), ("name", "g.metadata->>'name'"),
            ("aliases", texts("aliases")), ("summary", "g.summary"), ("embedding", "g.embedding"),
            ("attributes", "coalesce(g.metadata->'attributes', '{}'::jsonb)"),
        ]),
        "memory_facts": ("facts", [
            ("tenant", "g.metadata->>'tenant'"), ("id", "g.metadata->>'id'"), ("subject", "g.metadata->>'subject'"),
            ("predicate", "g.metadata->>'predicate'"), ("object_entity", "g.metadata->>'object_entity'"), ("object_value", "g.metadata->'object_value'"),
            ("text", "g.text"), ("embedding", "g.embedding"), ("valid_from", time("valid_from")), ("valid_to", time("valid_to")),
            ("recorded_at", time("recorded_at")), ("invalidated_at", time("invalidated_at")), ("sources", texts("sources")),
            ("confidence", "(g.metadata->>'confidence')::double precision"),
        ]),
    ]

    public func apply(_ changes: Checkpoint.Changes, _ db: PostgresConnection) throws {
        guard let projection = Self.projections[changes.configuration.name] else { return }
        let typed = try PostgresIdentifier(projection.table)
        let source = try PostgresIdentifier(PostgresSchema.tableName(forCollection: changes.configuration.name))
        if changes.liveIDs != nil {
            // The collection's table was resynchronised: drop every typed row it no longer holds.
            try db.execute("DELETE FROM \(typed) t WHERE NOT EXISTS (SELECT 1 FROM \(source) g WHERE g.id = t.key)")
        }
        if !changes.deleted.isEmpty {
            try db.execute("""
                DELETE FROM \(typed) t WHERE t.key = ANY(\(postgresTextArray(changes.deleted.map(\.id)))::text[])
                AND NOT EXISTS (SELECT 1 FROM \(source) g WHERE g.id = t.key)
                """)
        }
        guard !changes.ids.isEmpty else { return }
        let names = projection.columns.map(\.0)
        let columns = try (["key"] + names).map { name throws(PostgresError) in try PostgresIdentifier(name) }
        let expressions = (["g.id"] + projection.columns.map(\.1)).joined(separator: ", ")
        let updates = try names.map { name throws(PostgresError) -> String in
            let column = try PostgresIdentifier(name)
            return "\(column.quoted) = EXCLUDED.\(column.quoted)"
        }.joined(separator: ", ")
        // The changed rows, by key: a few thousand per checkpoint at a time keep the array bind small.
        var start = 0
        while start < changes.ids.count {
            let end = Swift.min(changes.ids.count, start + 10_000)
            try db.execute("""
                INSERT INTO \(typed) (\(columns)) SELECT \(unsafeRaw: expressions) FROM \(source) g
                WHERE g.id = ANY(\(postgresTextArray(Array(changes.ids[start..<end])))::text[])
                ON CONFLICT (key) DO UPDATE SET \(unsafeRaw: updates)
                """)
            start = end
        }
    }
}
