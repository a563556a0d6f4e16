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
    }

    /// Stores every change since the target's last checkpoint in `target`
    /// (PostgreSQL), then lets the log drop what both the target and the
    /// local snapshot hold. The changes are captured as of one LSN while
    /// writes wait to be applied (they keep being logged); searches go on.
    /// On failure nothing is lost: the log keeps every change and the next
    /// checkpoint sends them again (Docs/ENGINE.md, "Checkpoints").
    @discardableResult
    ///
    /// `withGraphs` also sends each collection whole, graph included, in
    /// the snapshot format, so that `engram restore` loads it instead of
    /// rebuilding the graph (costly: every byte of the collection, each time).
    public func checkpoint(to target: CheckpointTarget, withGraphs: Bool = false) throws(EngineError) -> CheckpointReport {
        try checkOpen()
        return try checkpointing.withLock { (committed) throws(EngineError) -> CheckpointReport in
            let since: UInt64
            do { since = try target.checkpointLSN() } catch { throw .checkpoint("\(error)") }
            let start = engineNanoseconds()
            var pausedNanoseconds: Int64 = 0
            let captured: Checkpoint = try sequencer.paused { (lsn) throws(EngineError) -> Checkpoint in
                let pauseStart = engineNanoseconds()
                defer { pausedNanoseconds = engineNanoseconds() - pauseStart }
                guard since <= lsn else {
                    throw .checkpoint("the database holds a checkpoint at LSN \(since), beyond this store's last write (\(lsn)): it belongs to another store")
                }
                let collections = catalog.withLock { Array($0.values) }.sorted { $0.configuration.name < $1.configuration.name }
                var changes = [Checkpoint.Changes]()
                for c in collections {
                    var change = c.changes(since: since)
                    if withGraphs { change.graphSnapshot = StoreSnapshot.encode(lsn: lsn, checkpointLSN: lsn, collections: [c]) }
                    changes.append(change)
                }
                return Checkpoint(since: since, lsn: lsn, storeID: identity.withLock { $0 }, collections: changes)
            }
            // The rows stay pinned (read while the target streams them) until the commit is over.
            defer { for c in captured.collections { c.vectors.release() } }
            let captureSeconds = Double(engineNanoseconds() - start) / 1e9
            if withGraphs { scheduleMaintenance() }  // the indexer stepped aside for the graph snapshots
            var report = CheckpointReport(since: since, lsn: captured.lsn, upserts: captured.upserts, deletes: captured.deletes,
                                          captureSeconds: captureSeconds, commitSeconds: 0)
            let commitStart = engineNanoseconds()
            if captured.lsn > since || captured.upserts + captured.deletes > 0 || withGraphs {
                do { try target.commit(captured) } catch {
                    telemetry.logger.error("checkpoint failed; the log keeps every change", metadata: ["error": "\(error)"])
                    throw .checkpoint("\(error)")
                }
            }
            report.commitSeconds = Double(engineNanoseconds() - commitStart) / 1e9
            committed += 1
            checkpointed.withLock { $0 = captured.lsn }
            for c in catalog.withLock({ Array($0.values) }) { c.pruneTombstones(upTo: captured.lsn) }
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
                "capture_ms": "\(Int(captureSeconds * 1000))", "writers_paused_ms": "\(pausedNanoseconds / 1_000_000)",
                "commit_ms": "\(Int(report.commitSeconds * 1000))",
            ])
            return report
        }
    }

    /// The LSN of the last checkpoint this store committed (0: never).
    public var checkpointLSN: UInt64 { checkpointed.withLock { $0 } }

    /// This store's identity (32 hex digits, the data directory's `STORE` file).
    public var storeID: String { identity.withLock { $0 } }
}
