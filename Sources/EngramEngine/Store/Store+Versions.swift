extension Store {
    /// What the engine holds of one collection, id by id, with the LSN of
    /// each version: what a checkpoint target must match
    /// (`engram verify`, Docs/ENGINE.md, "Guarantees").
    ///
    /// Invariant: `live` and `deleted` name disjoint ids; every delete above
    /// `deletesKnownAbove` is in `deleted`.
    public struct CollectionVersions: Sendable {
        /// Every live id with the LSN of the write that made its version.
        public var live: [(id: String, lsn: UInt64)]
        /// Deleted ids the store remembers, with the LSN of the delete.
        public var deleted: [(id: String, lsn: UInt64)]
        /// Deletes at or below this LSN may be forgotten.
        public var deletesKnownAbove: UInt64
        /// The LSN of the last write applied (the view is as of it).
        public var lsn: UInt64
    }

    /// `collection` as of one LSN (writers wait while it is read).
    public func versions(_ collection: String) throws(EngineError) -> CollectionVersions {
        try checkOpen()
        let c = try self.collection(collection)
        let horizon = tombstoneHorizon.withLock { $0 }
        return sequencer.paused { lsn in c.versions(lsn: lsn, deletesKnownAbove: horizon) }
    }
}

extension Collection {
    func versions(lsn: UInt64, deletesKnownAbove: UInt64) -> Store.CollectionVersions {
        lock.withReadLock {
            Store.CollectionVersions(
                live: labelOfID.map { (id: $0.key.id, lsn: labels.lsn($0.value)) },
                deleted: tombstones.compactMap { labelOfID[$0.key] == nil ? (id: $0.key.id, lsn: $0.value) : nil },
                deletesKnownAbove: deletesKnownAbove, lsn: lsn)
        }
    }
}
