import EngramWAL

extension Store {
    /// What one checkpoint did.
    public struct CheckpointReport: Sendable {
        /// The target's LSN before, and after.
        public var since: UInt64
        public var lsn: UInt64
        public var upserts: Int
        public var deletes: Int
        /// Capturing the changes: mapping room for the rows, then copying
        /// them while writes wait to be applied (the log line's
        /// `writers_paused_ms`).
        public var captureSeconds: Double
        /// Storing them in the target.
        public var commitSeconds: Double
        /// The target was behind the deletes the store remembers and was
        /// made equal to the engine id by id (``Checkpoint/resynchronises``).
        public var resynchronised = false
        /// Rows that resynchronisation removed (deletes the target had missed).
        public var resynchronisedDeletes = 0
    }

    /// Stores every change since the target's last checkpoint in `target`
    /// (PostgreSQL), then lets the log drop what both the target and the
    /// local snapshot hold. The changes are captured as of one LSN while
    /// writes wait to be applied (they keep being logged); searches go on.
    /// On failure nothing is lost: the log keeps every change and the next
    /// checkpoint sends them again (Docs/ENGINE.md, "Checkpoints").
    ///
    /// Every checkpoint first reads the target's state: a target another
    /// store owns is refused, and so is one ahead of this store (it holds
    /// writes this store lost); both errors name the stores or LSNs. A
    /// target behind what the store remembers of deletes gets a
    /// resynchronising checkpoint (``Checkpoint/resynchronises``).
    ///
    /// `withGraphs` also sends each collection whole, graph included, in
    /// the snapshot format, so that `engram restore` loads it instead of
    /// rebuilding the graph (costly: every byte of the collection, each time).
    @discardableResult
    public func checkpoint(to target: CheckpointTarget, withGraphs: Bool = false) throws(EngineError) -> CheckpointReport {
        return try changing { () throws(EngineError) -> CheckpointReport in
            return try checkpointing.withLock { (committed) throws(EngineError) -> CheckpointReport in
                let state: CheckpointTargetState
                do { state = try target.state() } catch { throw .checkpoint("\(error)", underlying: error) }
                let store = identity.withLock { $0 }
                if let owner = state.owner, owner != store {
                    throw .checkpoint("the database takes the checkpoints of store \(owner), not of this store \(store) (restore from it into an empty data directory to carry that store on)")
                }
                if let lost = lostCheckpointedWrites.withLock({ $0 }) {
                    throw .checkpoint("this store last checkpointed at LSN \(lost.checkpoint), but its log ended at LSN \(lost.logEnd) when it opened: it lost writes the database holds (a power loss under osBuffered durability), and its later LSNs collide with them; restore from the database into an empty data directory")
                }
                let since = state.lsn
                // Deletes at or below the horizon may be forgotten: a target that last saw an LSN below it
                // (and has rows: it took a checkpoint) is made equal to the engine id by id.
                let resynchronise = since > 0 && since < tombstoneHorizon.withLock { $0 }
                let start = engineNanoseconds()
                var pausedNanoseconds: Int64 = 0
                let captured: Checkpoint = try sequencer.paused { (lsn) throws(EngineError) -> Checkpoint in
                    let pauseStart = engineNanoseconds()
                    defer { pausedNanoseconds = engineNanoseconds() - pauseStart }
                    guard since <= lsn else {
                        throw .checkpoint("the database holds a checkpoint at LSN \(since), beyond this store's last write (LSN \(lsn)): the store has lost writes the database holds; restore from the database into an empty data directory")
                    }
                    let collections = catalog.withLock { Array($0.values) }.sorted { $0.configuration.name < $1.configuration.name }
                    var changes = [Checkpoint.Changes]()
                    for c in collections {
                        var change = c.changes(since: since, liveIDs: resynchronise)
                        if withGraphs { change.graphSnapshot = StoreSnapshot.encode(lsn: lsn, checkpointLSN: lsn, collections: [c]) }
                        changes.append(change)
                    }
                    return Checkpoint(since: since, lsn: lsn, storeID: store, collections: changes)
                }
                // The rows stay pinned (read while the target streams them) until the commit is over.
                defer { for c in captured.collections { c.vectors.release() } }
                let captureSeconds = Double(engineNanoseconds() - start) / 1e9
                if withGraphs { scheduleMaintenance() }  // the indexer stepped aside for the graph snapshots
                var report = CheckpointReport(since: since, lsn: captured.lsn, upserts: captured.upserts, deletes: captured.deletes,
                                              captureSeconds: captureSeconds, commitSeconds: 0)
                if resynchronise {
                    telemetry.logger.warning("the database is behind the deletes this store remembers: resynchronising it id by id", metadata: [
                        "database_lsn": "\(since)", "tombstones_kept_above": "\(tombstoneHorizon.withLock { $0 })",
                    ])
                }
                let commitStart = engineNanoseconds()
                // With nothing to send the target is not written (its owner and LSN were checked above).
                if captured.lsn > since || captured.upserts + captured.deletes > 0 || withGraphs || state.owner == nil {
                    do {
                        let result = try target.commit(captured)
                        report.resynchronisedDeletes = result.resynchronisedDeletes
                        report.resynchronised = captured.resynchronises
                    } catch {
                        telemetry.logger.error("checkpoint failed; the log keeps every change", metadata: ["error": "\(error)"])
                        throw .checkpoint("\(error)", underlying: error)
                    }
                }
                report.commitSeconds = Double(engineNanoseconds() - commitStart) / 1e9
                committed += 1
                checkpointed.withLock { $0 = captured.lsn }
                for c in catalog.withLock({ Array($0.values) }) { c.pruneTombstones(upTo: captured.lsn) }
                tombstoneHorizon.withLock { $0 = Swift.max($0, captured.lsn) }
                // Remembered before the log may drop what the checkpoint covers.
                try DataDirectory.writeCheckpointLSN(captured.lsn, in: directory)
                let snapshotLSN = snapshotting.withLock { $0 }
                do {
                    try log.withExclusiveLog { wal in
                        try wal.truncate(below: keptLogStart(snapshotLSN: snapshotLSN, checkpointLSN: captured.lsn))
                    }
                } catch {
                    throw .log(error as? WALError ?? WALError(kind: .io, reason: "truncating the log after a checkpoint failed: \(error)"))
                }
                telemetry.logger.info("checkpoint", metadata: [
                    "since": "\(since)", "lsn": "\(captured.lsn)", "upserts": "\(report.upserts)", "deletes": "\(report.deletes)",
                    "resynchronised_deletes": "\(report.resynchronisedDeletes)",
                    "capture_ms": "\(Int(captureSeconds * 1000))", "writers_paused_ms": "\(pausedNanoseconds / 1_000_000)",
                    "commit_ms": "\(Int(report.commitSeconds * 1000))",
                ])
                return report
            }
        }
    }

    /// The LSN of the last checkpoint this store committed (0: never).
    public var checkpointLSN: UInt64 { checkpointed.withLock { $0 } }

    /// This store's identity (32 hex digits, the data directory's `STORE` file).
    public var storeID: String { identity.withLock { $0 } }
}
