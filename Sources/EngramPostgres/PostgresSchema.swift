import EngramChecksum

/// Engram's tables in PostgreSQL and the migrations that create them
/// (Docs/POSTGRES.md). Migrations are numbered, applied in order inside one
/// transaction under an advisory lock, and recorded in `engram_migrations`,
/// so running them again, or from two processes at once, changes nothing.
public enum PostgresSchema {
    /// One migration: its number, a name, and its statements.
    struct Migration {
        let version: Int
        let name: String
        let statements: [PostgresQuery]
    }

    /// The advisory lock key of Engram's migrations and checkpoints ("engram" in ASCII).
    static let lockKey: Int64 = 0x656E_6772_616D

    static let migrations: [Migration] = [
        Migration(version: 1, name: "registry, checkpoint log, index snapshots", statements: [
            "CREATE EXTENSION IF NOT EXISTS vector",
            """
            CREATE TABLE engram_collections (
                name text PRIMARY KEY,
                table_name text NOT NULL UNIQUE,
                dimension integer NOT NULL CHECK (dimension > 0),
                metric text NOT NULL CHECK (metric IN ('l2', 'ip', 'cosine')),
                hnsw_m integer NOT NULL,
                hnsw_ef_construction integer NOT NULL,
                hnsw_ef_search integer NOT NULL,
                hnsw_seed bigint NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE engram_checkpoints (
                lsn bigint PRIMARY KEY,
                since bigint NOT NULL,
                upserts bigint NOT NULL,
                deletes bigint NOT NULL,
                committed_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE engram_index_snapshots (
                collection text NOT NULL REFERENCES engram_collections (name) ON DELETE CASCADE,
                chunk integer NOT NULL,
                lsn bigint NOT NULL,
                bytes bytea NOT NULL,
                PRIMARY KEY (collection, chunk)
            )
            """,
        ]),
        Migration(version: 2, name: "graph snapshot chunks: raw size and compression flag", statements: [
            """
            ALTER TABLE engram_index_snapshots
                ADD COLUMN raw_bytes integer NOT NULL DEFAULT 0,
                ADD COLUMN lz4 boolean NOT NULL DEFAULT false
            """,
            // Chunks are LZ4 already (or incompressible floats): spare PostgreSQL's own compression.
            "ALTER TABLE engram_index_snapshots ALTER COLUMN bytes SET STORAGE EXTERNAL",
        ]),
        Migration(version: 3, name: "per-collection column type: vector or halfvec", statements: [
            """
            ALTER TABLE engram_collections
                ADD COLUMN vector_type text NOT NULL DEFAULT 'vector' CHECK (vector_type IN ('vector', 'halfvec'))
            """,
        ]),
        Migration(version: 4, name: "the store that owns the database", statements: [
            "CREATE TABLE engram_owner (store_id text NOT NULL, since timestamptz NOT NULL DEFAULT now())",
            "CREATE UNIQUE INDEX engram_owner_one_row ON engram_owner ((true))",
        ]),
        Migration(version: 5, name: "per-collection index kind: hnsw or ivf, with the IVF settings", statements: [
            """
            ALTER TABLE engram_collections
                ADD COLUMN index_kind text NOT NULL DEFAULT 'hnsw' CHECK (index_kind IN ('hnsw', 'ivf')),
                ADD COLUMN ivf_nlist integer NOT NULL DEFAULT 0,
                ADD COLUMN ivf_nprobe integer NOT NULL DEFAULT 0,
                ADD COLUMN ivf_training_size integer NOT NULL DEFAULT 0
            """,
        ]),
        // Ids are opaque: byte order sorts them several times faster than a
        // locale's rules (the primary key's build and checks) and cannot
        // change under an operating-system upgrade, as glibc 2.28's did.
        Migration(version: 6, name: "collection ids compared bytewise (COLLATE \"C\")", statements: [
            """
            DO $$
            DECLARE t text;
            BEGIN
                FOR t IN SELECT table_name FROM engram_collections LOOP
                    IF to_regclass(quote_ident(t)) IS NOT NULL THEN
                        EXECUTE format('ALTER TABLE %I ALTER COLUMN id TYPE text COLLATE "C"', t);
                    END IF;
                END LOOP;
            END $$
            """,
        ]),
        Migration(version: 7, name: "per-collection text fields and BM25 parameters", statements: [
            """
            ALTER TABLE engram_collections
                ADD COLUMN text_fields text[] NOT NULL DEFAULT '{}',
                ADD COLUMN text_k1 double precision NOT NULL DEFAULT 1.2,
                ADD COLUMN text_b double precision NOT NULL DEFAULT 0.75
            """,
        ]),
        Migration(version: 8, name: "collections of records without vectors (dimension 0)", statements: [
            """
            ALTER TABLE engram_collections
                DROP CONSTRAINT IF EXISTS engram_collections_dimension_check,
                ADD CONSTRAINT engram_collections_dimension_check CHECK (dimension >= 0)
            """,
        ]),
    ]

    /// The newest migration version.
    public static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Applies the migrations the database lacks; returns how many it applied.
    @discardableResult
    public static func migrate(_ db: PostgresConnection) throws -> Int {
        try db.transaction {
            // The lock first: two processes creating the same table at once would collide.
            try db.execute("SELECT pg_advisory_xact_lock(\(lockKey))")
            try db.execute("""
                CREATE TABLE IF NOT EXISTS engram_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let done = try db.execute("SELECT version FROM engram_migrations")
            let applied = Set((0..<done.rowCount).compactMap { done.text(row: $0, column: 0).flatMap { Int($0) } })
            var count = 0
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements { try db.execute(statement) }
                try db.execute("INSERT INTO engram_migrations (version, name) VALUES (\(migration.version), \(migration.name))")
                count += 1
            }
            return count
        }
    }

    /// The table of a collection: `engram_c_`, the name's letters, digits and
    /// underscores (lowercased, at most 40), `_`, and 8 hex digits of the
    /// name's CRC-32C, so distinct names get distinct tables (a collision is refused
    /// by the registry's UNIQUE constraint, never merged) and every table
    /// name is a plain identifier within PostgreSQL's 63 bytes.
    public static func tableName(forCollection name: String) -> String {
        let plain = String(name.lowercased().unicodeScalars.filter {
            ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_"
        }.prefix(40).map(Character.init))
        let hash = String(CRC32C.checksum(Array(name.utf8)), radix: 16)
        return "engram_c_\(plain)_" + String(repeating: "0", count: 8 - hash.count) + hash
    }
}

/// The pgvector column type of a collection's table: `vector` (float4, what
/// the engine holds) or `halfvec` (float2: half the storage, vectors rounded
/// to half precision; a restore rebuilds from the rounded values unless a
/// graph snapshot is stored).
public enum PostgresVectorType: String, Sendable, CaseIterable {
    case vector
    case halfvec
}
