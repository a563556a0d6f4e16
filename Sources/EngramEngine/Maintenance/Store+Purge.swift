import EngramWAL

/// What ``Store/purgeDeleted()`` did.
public struct PurgeReport: Sendable, Equatable {
    /// Deleted vectors erased from the indexes.
    public var erasedVectors: Int
    /// Log segments removed.
    public var removedSegments: Int
    /// The first LSN the log still holds: the records above the snapshot, and those the database has not
    /// yet had from a checkpoint (a purge cannot drop them; checkpoint first).
    public var logKeptFrom: UInt64
    /// The first LSN of the oldest log segment left: no record below it is on disk.
    public var logStartsAt: UInt64
    /// The snapshot written.
    public var snapshotLSN: UInt64
}

extension Store {
    /// Erases deleted records from the store's files, for forgetting that
    /// must reach the disk (Docs/ENGINE.md, "Purging deleted records"):
    /// 1. every index reclaims its deleted entries now, their vectors zeroed
    ///    (a delete otherwise leaves a tombstone, vector and all, until the
    ///    index compacts on its own);
    /// 2. the log starts a new segment, so that no segment mixes what came
    ///    before with what comes after;
    /// 3. a snapshot is written, which removes the older snapshots and every
    ///    log segment below it that the database already holds.
    ///
    /// A store that checkpoints keeps the records its database has not seen:
    /// checkpoint first, then purge (``PurgeReport/logKeptFrom`` tells what
    /// stayed). Writers and searches go on meanwhile.
    @discardableResult
    public func purgeDeleted() throws(EngineError) -> PurgeReport {
        try checkWritable()
        var erased = 0
        for c in catalog.withLock({ Array($0.values) }) {
            erased += c.indexing.withLock { _ in c.index.compactAll() }
            c.textIndex?.compact()
        }
        let before: Int
        do {
            before = try log.withExclusiveLog { (wal) throws(WALError) -> Int in
                do {
                    try wal.startNewSegment()
                } catch let error as WALError {
                    throw error
                } catch {
                    throw WALError(kind: .io, reason: "starting a new log segment failed: \(error)")
                }
                return wal.segmentPaths.count
            }
        } catch {
            throw .log(error)
        }
        let lsn = try changing { () throws(EngineError) -> UInt64 in try writeSnapshot(rewrite: true) }
        let (after, startsAt) = log.withExclusiveLog { ($0.segmentPaths.count, $0.oldestSegmentLSN) }
        let kept = keptLogStart(snapshotLSN: lsn, checkpointLSN: checkpointed.withLock { $0 })
        telemetry.logger.info("purged deleted records", metadata: [
            "erased_vectors": "\(erased)", "removed_segments": "\(before - after)", "log_kept_from": "\(kept)", "log_starts_at": "\(startsAt)",
            "snapshot_lsn": "\(lsn)",
        ])
        return PurgeReport(erasedVectors: erased, removedSegments: Swift.max(0, before - after), logKeptFrom: kept, logStartsAt: startsAt,
                           snapshotLSN: lsn)
    }
}
