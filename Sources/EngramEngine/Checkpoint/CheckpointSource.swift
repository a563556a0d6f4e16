import EngramIndex

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
