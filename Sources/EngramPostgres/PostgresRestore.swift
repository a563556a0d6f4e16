import EngramMetadata
import EngramSync
import EngramEngine
import EngramIndex
import EngramKernels

/// `engram restore`: rebuilds a collection from its table, and checks the
/// rebuilt index against exact search inside PostgreSQL.
public enum PostgresRestore {
    /// What a restore did.
    public struct Report: Sendable {
        public var collection: String
        public var records: Int
        public var checkpointLSN: UInt64
        public var seconds: Double
        /// Whether the stored graph snapshot was loaded (else the graph was rebuilt).
        public var usedGraphSnapshot: Bool
        /// Why a stored graph snapshot was not used, if there was one.
        public var snapshotFallback: String?
        /// The store the database belongs to (a fresh data directory becomes it).
        public var owner: String?

        public init(
            collection: String, records: Int, checkpointLSN: UInt64, seconds: Double, usedGraphSnapshot: Bool,
            snapshotFallback: String?, owner: String? = nil
        ) {
            self.owner = owner
            self.collection = collection
            self.records = records
            self.checkpointLSN = checkpointLSN
            self.seconds = seconds
            self.usedGraphSnapshot = usedGraphSnapshot
            self.snapshotFallback = snapshotFallback
        }
    }

    /// Streams collection `name` from the database (one REPEATABLE READ
    /// transaction, so the rows match the checkpoint LSN read with them) into
    /// `store`, building its graph on `threads` threads.
    public static func restore(
        _ name: String, into store: Store, pool: PostgresPool, threads: Int,
        progress: @escaping (_ phase: String, _ done: Int) -> Void = { _, _ in }
    ) throws -> Report {
        let start = MonotonicClock.seconds()
        return try checkpointView(pool) { db, lsn, owner in
            let registered = try PostgresCollectionReader.configuration(name, db)
            // The stored graph, if it reflects the table as it is (taken at the last checkpoint).
            var fallback: String?
            do {
                let downloadStart = MonotonicClock.seconds()
                if let graph = try PostgresCheckpointTarget.graphSnapshot(of: name, at: lsn, db) {
                    progress("bytes of graph snapshot downloaded in \(Int((MonotonicClock.seconds() - downloadStart) * 1000)) ms; loading", graph.count)
                    let count = try store.restoreCollection(registered.configuration, checkpointLSN: lsn, owner: owner, graphSnapshot: graph)
                    return Report(collection: name, records: count, checkpointLSN: lsn, seconds: MonotonicClock.seconds() - start,
                                  usedGraphSnapshot: true, snapshotFallback: nil, owner: owner)
                }
            } catch let error as EngineError {
                guard error.code == .corrupt else { throw error }
                fallback = "the stored graph snapshot is damaged (\(error.message)); rebuilding the graph from the rows"
            } catch let error as PostgresError where error.kind == .decoding {
                fallback = "the stored graph snapshot is damaged (\(error.message)); rebuilding the graph from the rows"
            }
            if let fallback { progress(fallback, 0) }
            let count = try store.restoreCollection(registered.configuration, checkpointLSN: lsn, owner: owner, threads: threads, progress: progress) { emit in
                try PostgresCollectionReader.rows(of: registered, db) { row in
                    try emit(try row.restored())
                }
            }
            return Report(collection: name, records: count, checkpointLSN: lsn, seconds: MonotonicClock.seconds() - start,
                          usedGraphSnapshot: false, snapshotFallback: fallback, owner: owner)
        }
    }

    /// Runs `body` on one consistent, read-only view of the database (a
    /// REPEATABLE READ transaction, migrated first if an older Engram wrote
    /// it) with its checkpoint LSN and owner, so rows read in `body` match them.
    static func checkpointView<R>(
        _ pool: PostgresPool, _ body: (PostgresConnection, UInt64, String?) throws -> R
    ) throws -> R {
        try pool.withConnection { db in
            try PostgresSchema.migrate(db)
            try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? db.execute("COMMIT") }
            return try body(db, try PostgresCheckpointTarget.checkpointLSN(db), try PostgresCheckpointTarget.owner(db))
        }
    }

    /// The recall@k of `store`'s collection against exact search in
    /// PostgreSQL (`ORDER BY embedding <op> $1 LIMIT k`, index scans off), on
    /// `queries` stored vectors of the table each moved by seeded noise.
    public static func verify(
        _ name: String, store: Store, pool: PostgresPool, queries: Int, k: Int, seed: UInt64
    ) throws -> Double {
        try pool.withConnection { db in
            try PostgresSchema.migrate(db)
            let registered = try PostgresCollectionReader.configuration(name, db)
            guard registered.configuration.dimension > 0 else {
                throw PostgresError(kind: .invalidArgument, message: "collection '\(name)' holds records without vectors: there is no recall to measure")
            }
            let table = try PostgresIdentifier(registered.table)
            let op: String
            switch registered.configuration.metric {
            case .squaredL2: op = "<->"
            case .innerProduct: op = "<#>"
            case .cosine: op = "<=>"
            }
            // A deterministic sample: the ids ordered by their hash with the seed.
            let sample = try db.execute("SELECT embedding::text FROM \(table) ORDER BY md5(id || \(seed)) LIMIT \(queries)")
            var state = seed
            func noise() -> Float {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
            }
            var hits = 0, wanted = 0
            try db.execute("BEGIN")
            defer { _ = try? db.execute("COMMIT") }
            try db.execute("SET LOCAL enable_indexscan = off")
            for row in 0..<sample.rowCount {
                guard let text = sample.text(row: row, column: 0) else { continue }
                let base = try PgVectorCodec.decode(text: text)
                let scale = (base.map { $0 * $0 }.reduce(0, +) / Float(max(1, base.count))).squareRoot() * 0.2
                let query = base.map { $0 + noise() * scale }
                let exact = try db.execute("""
                    SELECT id FROM \(table) ORDER BY embedding \(unsafeRaw: op) \(PgVectorCodec.text(query))::\(unsafeRaw: registered.vectorType.rawValue)
                    LIMIT \(k)
                    """)
                let truth = Set((0..<exact.rowCount).compactMap { exact.text(row: $0, column: 0) })
                let got = try store.search(name, vector: query, k: k).map(\.id)
                hits += got.filter(truth.contains).count
                wanted += truth.count
            }
            return wanted == 0 ? 1 : Double(hits) / Double(wanted)
        }
    }
}

/// The database as a ``CheckpointSource``: every registered collection's
/// rows as of the last checkpoint, read in one REPEATABLE READ transaction
/// (`Store.open(directory:rebuildingFrom:)`, `engram restore` on a data
/// directory that no longer opens).
public struct PostgresCheckpointSource: CheckpointSource {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    public func read(_ body: (UInt64, String?, [(CollectionConfiguration, Store.RecordStream)]) throws -> Void) throws {
        try PostgresRestore.checkpointView(pool) { db, lsn, owner in
            let collections = try PostgresCollectionReader.collectionNames(db).map { name -> (CollectionConfiguration, Store.RecordStream) in
                let registered = try PostgresCollectionReader.configuration(name, db)
                return (registered.configuration, { emit in
                    try PostgresCollectionReader.rows(of: registered, db) { row in
                        try emit(try row.restored())
                    }
                })
            }
            try body(lsn, owner, collections)
        }
    }
}
