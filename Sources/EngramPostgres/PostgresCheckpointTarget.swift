import EngramMetadata
import EngramEngine
import EngramIndex
import EngramKernels
import EngramWAL

/// The engine's checkpoint target in PostgreSQL + pgvector
/// (Docs/POSTGRES.md): every collection is a table a plain SQL user can
/// read, `(id text, embedding vector(d), metadata jsonb, lsn bigint,
/// updated_at timestamptz)` and, for a collection with text fields, a
/// `text` column per field (NULL: no text) and `tsv tsvector`, generated
/// from them with `to_tsvector('english', …)` and GIN-indexed for SQL
/// full-text queries; registered in `engram_collections`; every
/// checkpoint is a row of `engram_checkpoints`.
///
/// A checkpoint commits in one transaction: per collection, its deletions
/// and its changed rows are streamed with binary `COPY` into temporary
/// tables and merged (a row is replaced only by a newer LSN; an empty
/// table takes the rows straight from `COPY`), then the
/// checkpoint's LSN is recorded. The transaction holds Engram's advisory
/// lock and checks that the database is still at the LSN the checkpoint
/// started from, so two checkpointers cannot interleave.
public final class PostgresCheckpointTarget: CheckpointTarget, @unchecked Sendable {
    public let pool: PostgresPool
    /// Also build a pgvector HNSW index on each table, for SQL users (off by default).
    public let createSQLIndex: Bool
    /// The column type of cosine collections this target registers (a
    /// registered collection keeps the type it was registered with). A
    /// collection stored at half precision (``CollectionConfiguration/storedPrecision``)
    /// is always `halfvec`; any other non-cosine collection is `vector`,
    /// since its values may exceed half precision's range (±65,504) and a
    /// `halfvec` table would then refuse them at every checkpoint.
    public let vectorType: PostgresVectorType
    /// Typed projections kept in step by every checkpoint (``PostgresProjection``).
    public let projections: [any PostgresProjection]

    /// The column type a newly registered collection gets.
    func columnType(for configuration: CollectionConfiguration) -> PostgresVectorType {
        if configuration.storedPrecision == .float16 { return .halfvec }
        return vectorType == .halfvec && configuration.metric == .cosine ? .halfvec : .vector
    }
    /// Bytes per COPY message.
    static let copyChunkBytes = 1 << 20
    /// Rows read from the collection at a time.
    static let rowsPerRead = 1024

    /// Longest a checkpoint's statement may run, and wait for a lock (the
    /// advisory lock another checkpointer holds, a table lock), in seconds:
    /// a hung database fails the checkpoint (the log keeps every change)
    /// instead of holding it, and the store's `close()`, forever.
    public let statementTimeoutSeconds: Int
    public let lockTimeoutSeconds: Int

    public init(
        pool: PostgresPool, createSQLIndex: Bool = false, vectorType: PostgresVectorType = .vector,
        statementTimeoutSeconds: Int = 600, lockTimeoutSeconds: Int = 60, projections: [any PostgresProjection] = []
    ) throws {
        guard (1...86_400).contains(statementTimeoutSeconds), (1...86_400).contains(lockTimeoutSeconds) else {
            throw PostgresError(kind: .invalidArgument, message: "checkpoint timeouts must be 1 to 86400 seconds")
        }
        self.pool = pool
        self.createSQLIndex = createSQLIndex
        self.vectorType = vectorType
        self.projections = projections
        self.statementTimeoutSeconds = statementTimeoutSeconds
        self.lockTimeoutSeconds = lockTimeoutSeconds
        try pool.withConnection { db in _ = try PostgresSchema.migrate(db) }
    }

    public func state() throws -> CheckpointTargetState {
        try pool.withConnection { db in CheckpointTargetState(lsn: try Self.checkpointLSN(db), owner: try Self.owner(db)) }
    }

    /// The LSN of the last checkpoint committed here, 0 if none.
    public func checkpointLSN() throws -> UInt64 {
        try pool.withConnection { db in try Self.checkpointLSN(db) }
    }

    /// An LSN as PostgreSQL's `bigint` holds it (LSNs above `Int64.max` cannot be stored).
    static func bigint(_ lsn: UInt64) throws -> Int64 {
        guard let value = Int64(exactly: lsn) else {
            throw PostgresError(kind: .invalidArgument, message: "LSN \(lsn) does not fit PostgreSQL's bigint")
        }
        return value
    }

    /// The id of the store whose checkpoints the database takes, nil before the first.
    static func owner(_ db: PostgresConnection) throws -> String? {
        let r = try db.execute("SELECT store_id FROM engram_owner")
        return r.rowCount == 1 ? r.text(row: 0, column: 0) : nil
    }

    static func checkpointLSN(_ db: PostgresConnection) throws -> UInt64 {
        let r = try db.execute("SELECT coalesce(max(lsn), 0) FROM engram_checkpoints")
        guard let text = r.text(row: 0, column: 0), let lsn = UInt64(text) else {
            throw PostgresError(kind: .decoding, message: "engram_checkpoints holds an LSN that is not a non-negative integer: \(r.text(row: 0, column: 0) ?? "null")")
        }
        return lsn
    }

    public func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult {
        try pool.withConnection { db in
            try db.transaction { () throws -> CheckpointCommitResult in
                try db.execute("""
                    SELECT set_config('statement_timeout', \("\(statementTimeoutSeconds)s"), true),
                           set_config('lock_timeout', \("\(lockTimeoutSeconds)s"), true)
                    """)
                try db.execute("SELECT pg_advisory_xact_lock(\(PostgresSchema.lockKey))")
                switch try Self.owner(db) {
                case nil:
                    try db.execute("INSERT INTO engram_owner (store_id) VALUES (\(checkpoint.storeID))")
                case checkpoint.storeID?:
                    break
                case let other?:
                    throw PostgresError(kind: .conflict, message: "the database takes the checkpoints of store \(other), not of store \(checkpoint.storeID) (restore into an empty directory to carry that store on)")
                }
                let current = try Self.checkpointLSN(db)
                guard current == checkpoint.since else {
                    throw PostgresError(kind: .conflict, message: "the database moved from checkpoint \(checkpoint.since) to \(current) meanwhile")
                }
                var result = CheckpointCommitResult()
                for projection in projections { try projection.prepare(db) }
                for changes in checkpoint.collections {
                    result.resynchronisedDeletes += try merge(changes, lsn: checkpoint.lsn, db)
                    for projection in projections { try projection.apply(changes, db) }
                }
                try db.execute("""
                    INSERT INTO engram_checkpoints (lsn, since, upserts, deletes)
                    VALUES (\(try Self.bigint(checkpoint.lsn)), \(checkpoint.since), \(checkpoint.upserts), \(checkpoint.deletes + result.resynchronisedDeletes))
                    ON CONFLICT (lsn) DO NOTHING
                    """)
                return result
            }
        }
    }

    /// The table of `configuration`, registered and created if new; checks
    /// that a registered collection has the same parameters.
    static func ensureTable(
        _ configuration: CollectionConfiguration, _ db: PostgresConnection, sqlIndex: Bool, vectorType: PostgresVectorType
    ) throws -> (table: PostgresIdentifier, type: PostgresVectorType) {
        let table = PostgresSchema.tableName(forCollection: configuration.name)
        try db.execute("""
            INSERT INTO engram_collections (name, table_name, dimension, metric, hnsw_m, hnsw_ef_construction, hnsw_ef_search, hnsw_seed,
                                            vector_type, index_kind, ivf_nlist, ivf_nprobe, ivf_training_size, text_fields, text_k1, text_b)
            VALUES (\(configuration.name), \(table), \(configuration.dimension), \(configuration.metric.rawValue),
                    \(configuration.hnsw.m), \(configuration.hnsw.efConstruction), \(configuration.hnsw.efSearch),
                    \(Int64(bitPattern: configuration.hnsw.seed)), \(vectorType.rawValue), \(configuration.ivf == nil ? "hnsw" : "ivf"),
                    \(configuration.ivf?.nlist ?? 0), \(configuration.ivf?.nprobe ?? 0), \(configuration.ivf?.trainingSize ?? 0),
                    \("{" + (configuration.text?.fields ?? []).joined(separator: ",") + "}")::text[],
                    \(String(configuration.text?.k1 ?? 1.2))::double precision, \(String(configuration.text?.b ?? 0.75))::double precision)
            ON CONFLICT (name) DO NOTHING
            """)
        let registered = try PostgresCollectionReader.configuration(configuration.name, db)
        // The stored precision is the column's business: compared apart from the other parameters
        // (a float32 collection registered as halfvec by an older option keeps its table).
        guard registered.configuration.sameParameters(as: configuration) else {
            throw PostgresError(kind: .conflict, message: "collection '\(configuration.name)' is registered with other parameters (dimension \(registered.configuration.dimension), metric \(registered.configuration.metric), text fields \(registered.configuration.text?.fields ?? []))")
        }
        let quoted = try PostgresIdentifier(registered.table)
        // Text fields: a column each, and the generated tsvector over all of them (identifiers quoted, checked once).
        var textColumns = ""
        if let fields = configuration.text?.fields {
            let names = try fields.map { name throws(PostgresError) in try PostgresIdentifier(name).quoted }
            textColumns = names.map { ",\n    \($0) text" }.joined()
                + ",\n    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, "
                + names.map { "coalesce(\($0), '')" }.joined(separator: " || ' ' || ") + ")) STORED"
        }
        // A collection of records without vectors (dimension 0) has no embedding column.
        let embedding = configuration.dimension > 0
            ? "embedding \(registered.vectorType.rawValue)(\(configuration.dimension)) NOT NULL," : ""
        try db.execute("""
            CREATE TABLE IF NOT EXISTS \(quoted) (
                id text COLLATE "C" PRIMARY KEY,
                \(unsafeRaw: embedding)
                metadata jsonb NOT NULL,
                lsn bigint NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()\(unsafeRaw: textColumns))
            """)
        if configuration.text != nil {
            let index = try PostgresIdentifier(registered.table + "_tsv")
            try db.execute("CREATE INDEX IF NOT EXISTS \(index) ON \(quoted) USING gin (tsv)")
        }
        if sqlIndex && configuration.dimension > 0 {
            let family = registered.vectorType == .halfvec ? "halfvec" : "vector"
            let ops = configuration.metric == .cosine ? "\(family)_cosine_ops" : configuration.metric == .innerProduct ? "\(family)_ip_ops" : "\(family)_l2_ops"
            let index = try PostgresIdentifier(registered.table + "_hnsw")
            try db.execute("CREATE INDEX IF NOT EXISTS \(index) ON \(quoted) USING hnsw (embedding \(unsafeRaw: ops))")
        }
        return (quoted, registered.vectorType)
    }

    /// Raw bytes per stored graph-snapshot chunk (each LZ4-compressed on its own).
    static let snapshotChunkBytes = 16 << 20

    /// Replaces the collection's stored graph snapshot with `bytes`, taken at `lsn`.
    static func storeGraphSnapshot(_ bytes: [UInt8], of name: String, lsn: UInt64, _ db: PostgresConnection) throws {
        try db.execute("DELETE FROM engram_index_snapshots WHERE collection = \(name)")
        var chunk = 0
        try bytes.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                let end = Swift.min(all.count, start + snapshotChunkBytes)
                let raw = UnsafeRawBufferPointer(rebasing: all[start..<end])
                let packed = LZ4Block.compress(raw)
                try db.execute("""
                    INSERT INTO engram_index_snapshots (collection, chunk, lsn, bytes, raw_bytes, lz4)
                    VALUES (\(name), \(chunk), \(lsn), \(.binary(packed ?? Array(raw))), \(raw.count), \(packed == nil ? "false" : "true"))
                    """)
                chunk += 1
                start = end
            }
        }
    }

    /// The collection's stored graph snapshot if it was taken at `lsn`, else
    /// nil. Fetched a chunk at a time and decompressed into one buffer, so
    /// memory holds the snapshot once plus one chunk.
    static func graphSnapshot(of name: String, at lsn: UInt64, _ db: PostgresConnection) throws -> [UInt8]? {
        let index = try db.execute("""
            SELECT chunk, lsn, raw_bytes, lz4 FROM engram_index_snapshots WHERE collection = \(name) ORDER BY chunk
            """)
        guard index.rowCount > 0 else { return nil }
        var sizes = [Int](), compressed = [Bool]()
        for row in 0..<index.rowCount {
            guard index.text(row: row, column: 0) == String(row), index.text(row: row, column: 1) == String(lsn) else { return nil }
            guard let size = index.text(row: row, column: 2).flatMap({ Int($0) }), size > 0 else {
                throw PostgresError(kind: .decoding, message: "graph snapshot chunk \(row) of '\(name)' has no size")
            }
            sizes.append(size)
            compressed.append(index.text(row: row, column: 3) == "t")
        }
        let total = sizes.reduce(0, +)
        var failure: PostgresError?
        let out = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var at = 0
            for (row, size) in sizes.enumerated() {
                let chunk: PostgresResult
                do throws(PostgresError) {
                    chunk = try db.execute("SELECT bytes FROM engram_index_snapshots WHERE collection = \(name) AND chunk = \(row)",
                                           resultFormat: .binary)
                } catch {
                    failure = error
                    break
                }
                guard chunk.rowCount == 1, let stored = chunk.bytes(row: 0, column: 0) else {
                    failure = PostgresError(kind: .decoding, message: "graph snapshot chunk \(row) of '\(name)' vanished")
                    break
                }
                let target = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[at..<(at + size)])
                let ok = stored.withUnsafeBytes { source -> Bool in
                    if compressed[row] { return LZ4Block.decompress(source, into: target) }
                    guard source.count == size else { return false }
                    target.copyMemory(from: source)
                    return true
                }
                guard ok else {
                    failure = PostgresError(kind: .decoding, message: "graph snapshot chunk \(row) of '\(name)' does not decode to \(size) bytes")
                    break
                }
                at += size
            }
            initialized = failure == nil ? total : 0
        }
        if let failure { throw failure }
        return out
    }

    /// Merges one collection's changes; returns the rows a resynchronisation removed.
    private func merge(_ changes: Checkpoint.Changes, lsn: UInt64, _ db: PostgresConnection) throws -> Int {
        let (table, type) = try Self.ensureTable(changes.configuration, db, sqlIndex: createSQLIndex, vectorType: columnType(for: changes.configuration))
        if let graph = changes.graphSnapshot {
            try Self.storeGraphSnapshot(graph, of: changes.configuration.name, lsn: lsn, db)
        }
        if !changes.deleted.isEmpty {
            try db.execute("CREATE TEMP TABLE engram_deleted (id text COLLATE \"C\" NOT NULL, lsn bigint NOT NULL) ON COMMIT DROP")
            try db.copyIn("COPY engram_deleted (id, lsn) FROM STDIN (FORMAT binary)") { send in
                var writer = BinaryCopyWriter()
                for (id, lsn) in changes.deleted {
                    writer.row(fields: 2)
                    writer.text(id)
                    writer.int64(try Self.bigint(lsn))
                    if writer.pendingBytes >= Self.copyChunkBytes { try send(writer.take()) }
                }
                writer.finish()
                try send(writer.take())
            }
            try db.execute("DELETE FROM \(table) t USING engram_deleted d WHERE t.id = d.id AND t.lsn < d.lsn")
            try db.execute("DROP TABLE engram_deleted")
        }
        var resynchronised = 0
        if let live = changes.liveIDs {
            // The table may lack deletes the store has forgotten: every row whose id the engine no longer holds goes.
            try db.execute("CREATE TEMP TABLE engram_live (id text COLLATE \"C\" NOT NULL) ON COMMIT DROP")
            try db.copyIn("COPY engram_live (id) FROM STDIN (FORMAT binary)") { send in
                var writer = BinaryCopyWriter()
                for id in live {
                    writer.row(fields: 1)
                    writer.text(id)
                    if writer.pendingBytes >= Self.copyChunkBytes { try send(writer.take()) }
                }
                writer.finish()
                try send(writer.take())
            }
            try db.execute("ANALYZE engram_live")
            let removed = try db.execute("""
                WITH gone AS (DELETE FROM \(table) t WHERE NOT EXISTS (SELECT 1 FROM engram_live l WHERE l.id = t.id) RETURNING 1)
                SELECT count(*) FROM gone
                """)
            resynchronised = removed.text(row: 0, column: 0).flatMap { Int($0) } ?? 0
            try db.execute("DROP TABLE engram_live")
        }
        guard !changes.ids.isEmpty else { return resynchronised }
        let d = changes.configuration.dimension
        let fields = changes.configuration.text?.fields ?? []
        let columns = try PostgresCollectionReader.columns(changes.configuration)
        let textColumns = Array(columns.suffix(fields.count))
        guard fields.isEmpty || changes.texts.count == changes.ids.count else {
            throw PostgresError(kind: .invalidArgument, message: "collection '\(changes.configuration.name)': \(changes.texts.count) texts for \(changes.ids.count) changed records")
        }
        // An empty table (the first checkpoint) takes the rows straight: ids in a checkpoint are unique.
        let empty = try db.execute("SELECT NOT EXISTS (SELECT 1 FROM \(table))").text(row: 0, column: 0) == "t"
        // Into an empty table the primary key is built once after the COPY (a sort), not row by row.
        var primaryKey: PostgresIdentifier?
        if empty {
            let key = try db.execute("SELECT conname FROM pg_constraint WHERE conrelid = \(table.quoted)::regclass AND contype = 'p'")
            if key.rowCount == 1, let name = key.text(row: 0, column: 0) {
                let constraint = try PostgresIdentifier(name)
                primaryKey = constraint
                try db.execute("ALTER TABLE \(table) DROP CONSTRAINT \(constraint)")
            }
        } else {
            try db.execute("""
                CREATE TEMP TABLE engram_stage (
                    id text COLLATE "C" NOT NULL, \(unsafeRaw: d > 0 ? "embedding \(type.rawValue)(\(d)) NOT NULL," : "")
                    metadata jsonb NOT NULL, lsn bigint NOT NULL\(unsafeRaw: textColumns.map { ", \($0.quoted) text" }.joined()))
                ON COMMIT DROP
                """)
        }
        let destination = empty ? table : try PostgresIdentifier("engram_stage")
        try db.copyIn("COPY \(destination) (\(columns)) FROM STDIN (FORMAT binary)") { send in
            var writer = BinaryCopyWriter()
            // The rows are read from the collection a slice at a time (``CheckpointRows``).
            let n = changes.ids.count
            var slice = [Float](repeating: 0, count: Swift.max(Swift.min(n, Self.rowsPerRead) * d, 1))
            try slice.withUnsafeMutableBufferPointer { rows in
                var start = 0
                while start < n {
                    let end = Swift.min(n, start + Self.rowsPerRead)
                    try changes.vectors.read(start..<end, into: rows.baseAddress!)
                    for i in start..<end {
                        writer.row(fields: columns.count)
                        writer.text(changes.ids[i])
                        if d > 0 {
                            let row = UnsafeBufferPointer(rebasing: rows[((i - start) * d)..<((i - start + 1) * d)])
                            if type == .halfvec { writer.halfvec(row) } else { writer.vector(row) }
                        }
                        writer.jsonb(MetadataJSON.format(changes.metadata[i]))
                        writer.int64(try Self.bigint(changes.lsns[i]))
                        for field in fields {
                            if let text = changes.texts[i][field] { writer.text(text) } else { writer.null() }
                        }
                        if writer.pendingBytes >= Self.copyChunkBytes { try send(writer.take()) }
                    }
                    start = end
                }
            }
            writer.finish()
            try send(writer.take())
        }
        if let primaryKey {
            try db.execute("SET LOCAL maintenance_work_mem = '512MB'")  // the key's sort in memory, for this transaction only
            try db.execute("ALTER TABLE \(table) ADD CONSTRAINT \(primaryKey) PRIMARY KEY (id)")
        }
        guard !empty else { return resynchronised }
        try db.execute("""
            INSERT INTO \(table) AS t (\(columns)) SELECT \(columns) FROM engram_stage
            ON CONFLICT (id) DO UPDATE SET \(unsafeRaw: d > 0 ? "embedding = EXCLUDED.embedding, " : "")metadata = EXCLUDED.metadata, lsn = EXCLUDED.lsn,
                updated_at = now()\(unsafeRaw: textColumns.map { ", \($0.quoted) = EXCLUDED.\($0.quoted)" }.joined())
            WHERE t.lsn < EXCLUDED.lsn
            """)
        try db.execute("DROP TABLE engram_stage")
        return resynchronised
    }
}
