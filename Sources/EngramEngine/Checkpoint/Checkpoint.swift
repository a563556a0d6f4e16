import EngramMetadata
import EngramIndex

/// What one checkpoint carries to the durable store (PostgreSQL): every
/// collection's changes between two LSNs, captured while memory stood still
/// at ``lsn`` (Docs/ENGINE.md, "Checkpoints").
///
/// Invariants: for each collection, `ids`, `lsns` and `metadata` (and,
/// when the collection has text fields, `texts`) have one entry per changed record and `vectors` reads their rows in that order
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
        /// Each changed record's texts by field, when the collection has text fields (else empty).
        public var texts: [[String: String]] = []
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
