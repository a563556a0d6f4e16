import EngramMetadata
import EngramIndex

/// What one checkpoint carries to the durable store (PostgreSQL): every
/// collection's changes between two LSNs, captured while memory stood still
/// at ``lsn`` (Docs/ENGINE.md, "Checkpoints").
///
/// Invariants: for each collection, `ids`, `lsns` and `metadata` have one
/// entry per changed record and `vectors` reads their rows in that order
/// (prepared: normalised under cosine) while the target's commit runs;
/// every change has an LSN in `(since, lsn]`; an id is in `ids` only if
/// live at `lsn`; `deleted` may name an id also in `ids` (deleted, then
/// written again): the target applies deletions first.
public struct Checkpoint: Sendable {
    public struct Changes: Sendable {
        public let configuration: CollectionConfiguration
        public var ids: [String] = []
        public var lsns: [UInt64] = []
        public var metadata: [MetadataValue] = []
        public internal(set) var vectors: CheckpointRows
        /// Ids deleted since `since`, with the LSN of the delete.
        public var deleted: [(id: String, lsn: UInt64)] = []
        /// Every live record of the collection at `lsn` (not only the changed ones).
        public var liveCount = 0
        /// Set when the target may be missing deletes (``Checkpoint/resynchronises``):
        /// every id live at `lsn`. The target removes every row whose id is not among them.
        public var liveIDs: [String]?
        /// When asked for: the whole collection at `lsn` (graph, records,
        /// metadata) in the local snapshot format (Docs/FORMATS.md), so a
        /// restore can load it instead of rebuilding the graph.
        public var graphSnapshot: [UInt8]?

        public init(configuration: CollectionConfiguration) {
            self.configuration = configuration
            vectors = CheckpointRows(dimension: configuration.dimension)
        }
    }

    /// The LSN the target had (changes are above it).
    public let since: UInt64
    /// The LSN this checkpoint brings the target to.
    public let lsn: UInt64
    /// The store it comes from: a target takes one store's checkpoints only.
    public let storeID: String
    public var collections: [Changes]
    /// The target is behind what the store remembers of deletes (it was
    /// checkpointed at `since`, but the store kept tombstones only above a
    /// later LSN: a database restored to an earlier point, a commit lost
    /// with `synchronous_commit = off`, a crash before the store recorded
    /// its last checkpoint). Each collection then carries ``Changes/liveIDs``
    /// and the target deletes every row the engine no longer holds, so the
    /// table ends equal to the engine, never silently apart.
    public var resynchronises: Bool { collections.contains { $0.liveIDs != nil } }

    public var upserts: Int { collections.reduce(0) { $0 + $1.ids.count } }
    public var deletes: Int { collections.reduce(0) { $0 + $1.deleted.count } }
}

/// What a checkpoint target holds now: the LSN of its last checkpoint and
/// the store whose checkpoints it takes.
public struct CheckpointTargetState: Sendable, Equatable {
    /// The LSN of the last checkpoint committed to the target, 0 if none.
    public var lsn: UInt64
    /// The id of the store whose checkpoints the target takes, nil before the first.
    public var owner: String?

    public init(lsn: UInt64, owner: String?) {
        self.lsn = lsn
        self.owner = owner
    }
}

/// What a target did with a checkpoint beyond storing its changes.
public struct CheckpointCommitResult: Sendable, Equatable {
    /// Rows removed because the engine no longer holds their ids (a
    /// resynchronising checkpoint; 0 otherwise).
    public var resynchronisedDeletes: Int

    public init(resynchronisedDeletes: Int = 0) {
        self.resynchronisedDeletes = resynchronisedDeletes
    }
}

/// Where checkpoints go: implemented by the PostgreSQL module
/// (`PostgresCheckpointTarget`). The engine decides what a checkpoint holds
/// and when the log may drop what it covers; a target only stores it.
public protocol CheckpointTarget: Sendable {
    /// The target's last checkpoint and owner (read before every checkpoint:
    /// the engine refuses a target that another store owns, and one that is
    /// ahead of it).
    func state() throws -> CheckpointTargetState
    /// Stores every change of `checkpoint` and records its LSN, atomically:
    /// after a failure, the target is as it was. Refuses (throws) unless the
    /// target is still at `checkpoint.since` and owned by no store or by
    /// `checkpoint.storeID`.
    func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult
}

/// Where a store whose local snapshot is lost or damaged gets its
/// collections back as of the last checkpoint, before replaying its own log
/// above it (``Store/open(directory:options:logger:metricsFactory:rebuildingFrom:threads:)``).
/// Implemented by the PostgreSQL module (`PostgresCheckpointSource`).
public protocol CheckpointSource {
    /// Reads the last checkpoint from one consistent view: calls `body` with
    /// its LSN, the id of the store it belongs to (nil if none checkpointed
    /// yet) and, per collection, its configuration and a function that
    /// streams its records (callable only while `body` runs).
    func read(_ body: (_ lsn: UInt64, _ storeID: String?, _ collections: [(CollectionConfiguration, Store.RecordStream)]) throws -> Void) throws
}

extension Store {
    /// Streams records to the function it is given.
    public typealias RecordStream = ((RestoredRecord) throws -> Void) throws -> Void
}
