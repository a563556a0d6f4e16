import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// Writes a local snapshot of every collection as of the last applied
    /// write, then removes older snapshots and the log segments it makes
    /// redundant, so that opening the store replays only what came after.
    /// Returns its LSN. Writers keep logging meanwhile; their writes are
    /// applied once the snapshot's state has been encoded; searches go on.
    @discardableResult
    public func snapshot() throws(EngineError) -> UInt64 {
        return try changing { () throws(EngineError) -> UInt64 in
            return try writeSnapshot()
        }
    }

    /// `rewrite`: write it even when nothing was applied since the last one (what it holds changed
    /// without a write: a purge erased deleted vectors).
    @discardableResult
    func writeSnapshot(rewrite: Bool = false) throws(EngineError) -> UInt64 {
        try snapshotting.withLock { (last: inout UInt64) throws(EngineError) -> UInt64 in
            let start = engineNanoseconds()
            let loggedBefore = maintenance.withLock { $0.logBytesSinceSnapshot }
            // Memory stands still at `lsn` while it is encoded: no record is
            // applied, no staged block is in flight.
            let checkpointLSN = checkpointed.withLock { $0 }
            let (lsn, bytes) = sequencer.paused { lsn -> (UInt64, [UInt8]) in
                let collections = catalog.withLock { Array($0.values) }
                // A store never checkpointed keeps no tombstones past a snapshot (no database needs them).
                if checkpointLSN == 0 {
                    for c in collections { c.pruneTombstones(upTo: lsn) }
                    tombstoneHorizon.withLock { $0 = Swift.max($0, lsn) }
                }
                return (lsn, StoreSnapshot.encode(lsn: lsn, checkpointLSN: checkpointLSN, collections: collections))
            }
            if lsn == last, !rewrite, !DataDirectory.snapshotFiles(directory).isEmpty { return lsn }
            let path = "\(directory)/\(StoreSnapshot.name(lsn))"
            try DataDirectory.writeDurably(bytes, to: path)
            for (old, file) in DataDirectory.snapshotFiles(directory) where old < lsn { unlink(file) }
            do {
                try log.withExclusiveLog { wal in try wal.truncate(below: keptLogStart(snapshotLSN: lsn, checkpointLSN: checkpointLSN)) }
            } catch let error as WALError {
                throw .log(error)
            } catch {
                throw .log(WALError(kind: .io, reason: "truncating the log below the snapshot failed: \(error)"))
            }
            last = lsn
            scheduleMaintenance()  // the indexer stepped aside for the encoding: let it go on
            maintenance.withLock { $0.logBytesSinceSnapshot = Swift.max(0, $0.logBytesSinceSnapshot - loggedBefore) }
            telemetry.logger.info("wrote snapshot", metadata: [
                "file": "\(path)", "lsn": "\(lsn)", "bytes": "\(bytes.count)",
                "ms": "\((engineNanoseconds() - start) / 1_000_000)",
            ])
            return lsn
        }
    }
}

extension Store {
    /// The first LSN the log must keep: everything above the snapshot, and,
    /// once the store checkpoints to a database, everything above the last
    /// checkpoint too (the database has not seen it yet).
    func keptLogStart(snapshotLSN: UInt64, checkpointLSN: UInt64) -> UInt64 {
        (checkpointLSN == 0 ? snapshotLSN : Swift.min(snapshotLSN, checkpointLSN)) + 1
    }
}
