import EngramWAL
import Logging
import Metrics

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// Opens (creating if needed) the store in `directory`: loads the newest
    /// local snapshot and replays the log above it. `logger` and
    /// `metricsFactory` (default: the bootstrapped `MetricsSystem`) receive
    /// what the store reports (`StoreTelemetry`).
    ///
    /// With `source` (a damaged or lost local snapshot), the local snapshots
    /// are not read: every collection is rebuilt from the source's last
    /// checkpoint (graphs on `threads` threads), the log is replayed above
    /// it, and only then are the old snapshots set aside (`<name>.damaged`)
    /// and a new local snapshot written; a rebuild that fails changes nothing. The log must hold every record above the checkpoint (it does
    /// once the store checkpoints: it keeps them until the next one).
    public static func open(
        directory: String, options: StoreOptions = StoreOptions(),
        logger: Logger = Logger(label: "engram.store"), metricsFactory: MetricsFactory? = nil,
        rebuildingFrom source: CheckpointSource? = nil, threads: Int = 2
    ) throws(EngineError) -> Store {
        let telemetry = StoreTelemetry(logger: logger, factory: metricsFactory)
        let recoveryStart = engineNanoseconds()
        if options.readOnly && (source != nil || options.repair) {
            throw .invalidArgument("a read-only store cannot be rebuilt or repaired")
        }
        let directoryLock = try DirectoryLock.acquire(directory, shared: options.readOnly)
        var handedOver = false
        defer { if !handedOver { directoryLock.release() } }  // also keeps the lock alive until here
        let storeID = try DataDirectory.storeID(directory, creating: !options.readOnly)
        // Only a hint (it keeps the log and the tombstones above the database's checkpoint after a
        // crash): a damaged file costs a resynchronising checkpoint, not the store.
        var recordedCheckpoint: UInt64 = 0
        do throws(EngineError) { recordedCheckpoint = try DataDirectory.readCheckpointLSN(in: directory) } catch {
            logger.warning("ignoring the checkpoint file; the next checkpoint resynchronises", metadata: ["error": "\(error)"])
        }

        // The newest local snapshot…
        var base = StoreSnapshot.Contents(lsn: 0, checkpointLSN: 0, collections: [])
        if let source {
            // The local snapshots are set aside only once the rebuild has succeeded (below): a failed
            // rebuild leaves the directory as it was.
            base = try rebuildBase(from: source, storeID: storeID, threads: threads, vectors: options.vectorPlacement, logger: logger)
        } else if let (lsn, file) = DataDirectory.snapshotFiles(directory).last {
            guard let bytes = DataDirectory.read(file) else {
                throw .io(file, "cannot read the snapshot", errno: errno)
            }
            base = try StoreSnapshot.decode(bytes, file: file, vectors: options.vectorPlacement)
            guard base.lsn == lsn else { throw .corrupt("snapshot \(file) holds LSN \(base.lsn), its name says \(lsn)") }
            logger.info("loaded snapshot", metadata: [
                "file": "\(file)", "lsn": "\(lsn)", "collections": "\(base.collections.count)",
                "ms": "\((engineNanoseconds() - recoveryStart) / 1_000_000)",
            ])
        }
        var catalog = [String: Collection]()
        for c in base.collections {
            c.deferMetadataPostings()  // replay keeps values only; the maintenance builds the postings after
            catalog[c.configuration.name] = c
        }

        // …then every log record above it, applied as it is read.
        var replayed = 0
        var firstLogged: UInt64?
        var decodeNanoseconds: Int64 = 0, prepareNanoseconds: Int64 = 0
        // This thread reads, checks, decodes and prepares; `applier` applies, on the other core.
        let applier = ReplayApplier()
        var applierFinished = false
        var writers = [String: ReplayBlockWriter]()  // per collection
        defer { if !applierFinished { applier.finish() } }
        let wal: WriteAheadLog
        let report: WriteAheadLog.RecoveryReport
        do {
            (wal, report) = try WriteAheadLog.open(
                directory: directory + "/wal",
                options: .init(segmentBytes: options.segmentBytes, durability: .osBuffered, repair: options.repair, readOnly: options.readOnly)
            ) { record in
                firstLogged = firstLogged ?? record.lsn
                guard record.lsn > base.lsn else { return }
                let t0 = engineNanoseconds()
                let payload = try LogPayload.decode(type: record.type, record.payload)
                let t1 = engineNanoseconds()
                try Self.replay(payload, lsn: record.lsn, into: &catalog, writers: &writers, applier: applier, vectors: options.vectorPlacement)
                decodeNanoseconds += t1 - t0
                prepareNanoseconds += engineNanoseconds() - t1  // includes waiting for the applier
                replayed += 1
            }
        } catch let error as WALError {
            throw .log(error)
        } catch let error as EngineError {
            throw error
        } catch {
            throw .corrupt("\(error)")
        }
        applier.finish()
        applierFinished = true
        if let failure = applier.failure { throw failure }
        if source != nil {
            if firstLogged == nil && wal.nextLSN == 1 && base.lsn > 0 {
                // An empty log: carry on the checkpoint's LSNs.
                do { try wal.restart(at: base.lsn + 1) } catch { throw .log(error as? WALError ?? WALError(kind: .io, reason: "\(error)")) }
            } else if let first = firstLogged, first > base.lsn + 1 {
                throw .corrupt("the log starts at LSN \(first), after the checkpoint's \(base.lsn): the records between were only in the lost snapshot")
            }
        }
        guard wal.nextLSN > base.lsn else {
            throw .corrupt("the log ends at LSN \(wal.nextLSN - 1), before the snapshot's LSN \(base.lsn): log segments are missing")
        }
        if let torn = report.truncatedTail {
            logger.warning(options.readOnly ? "skipped a torn tail of the write-ahead log (read-only: left in place)" : "cut a torn tail off the write-ahead log",
                           metadata: ["segment": "\(torn.segment)", "offset": "\(torn.offset)", "bytes": "\(torn.bytes)"])
        }
        if let repaired = report.repaired {
            logger.error("repaired a damaged write-ahead log: records after the damage are lost", metadata: [
                "segment": "\(repaired.segment)", "offset": "\(repaired.offset)", "reason": "\(repaired.reason)",
                "kept_aside": "\(repaired.keptAside.joined(separator: ", "))",
            ])
        }
        let group: GroupCommitLog
        do { group = try GroupCommitLog(log: wal, mode: options.durability) } catch let error as WALError {
            throw error.kind == .invalidArgument ? .invalidArgument(error.reason) : .log(error)
        } catch {
            throw .log(WALError(kind: .io, reason: "\(error)"))
        }
        let store = Store(directory: directory, options: options, log: group, appliedLSN: wal.nextLSN - 1, telemetry: telemetry)
        store.catalog.withLock { $0 = catalog }
        store.identity.withLock { $0 = storeID }
        store.snapshotting.withLock { $0 = base.lsn }
        // A snapshot keeps the tombstones above the checkpoint it knew of, or, if it knew of none,
        // above its own LSN (it dropped the rest).
        store.tombstoneHorizon.withLock { $0 = base.checkpointLSN > 0 ? base.checkpointLSN : base.lsn }
        store.checkpointed.withLock { $0 = Swift.max(base.checkpointLSN, recordedCheckpoint) }
        if recordedCheckpoint > wal.nextLSN - 1 {
            store.lostCheckpointedWrites.withLock { $0 = (recordedCheckpoint, wal.nextLSN - 1) }
            logger.error("the database holds a checkpoint beyond the end of this store's log: writes were lost here; checkpoints are refused", metadata: [
                "checkpoint_lsn": "\(recordedCheckpoint)", "log_end_lsn": "\(wal.nextLSN - 1)",
            ])
        }
        store.maintenance.withLock { $0.logBytesSinceSnapshot = DataDirectory.size(of: wal.segmentPaths) }
        store.directoryLock.withLock { $0 = directoryLock }
        handedOver = true
        let elapsed = engineNanoseconds() - recoveryStart
        telemetry.recoveryDuration.recordNanoseconds(elapsed)
        logger.info("opened store", metadata: [
            "directory": "\(directory)", "snapshot_lsn": "\(base.lsn)", "replayed": "\(replayed)",
            "next_lsn": "\(wal.nextLSN)", "ms": "\(elapsed / 1_000_000)",
            "decode_ms": "\(decodeNanoseconds / 1_000_000)", "prepare_ms": "\(prepareNanoseconds / 1_000_000)",
            "apply_ms": "\(applier.applyNanoseconds / 1_000_000)",
        ])
        store.scheduleMaintenance()  // index what the replay staged
        if source != nil {
            for (_, file) in DataDirectory.snapshotFiles(directory) {
                guard rename(file, file + ".damaged") == 0 else {
                    throw .io(file, "cannot set the snapshot aside", errno: errno)
                }
            }
            store.checkpointed.withLock { $0 = base.checkpointLSN }
            try store.writeSnapshot()  // the directory opens on its own again
            try DataDirectory.writeCheckpointLSN(base.checkpointLSN, in: directory)
        }
        return store
    }

    /// Every collection of `source`'s last checkpoint, rebuilt, as a base to replay the log on.
    private static func rebuildBase(
        from source: CheckpointSource, storeID: String, threads: Int, vectors: VectorPlacement, logger: Logger
    ) throws(EngineError) -> StoreSnapshot.Contents {
        var base = StoreSnapshot.Contents(lsn: 0, checkpointLSN: 0, collections: [])
        do {
            try source.read { lsn, owner, collections in
                guard owner == nil || owner == storeID else {
                    throw EngineError.checkpoint("the database holds the checkpoints of store \(owner!), not of this directory's store \(storeID)")
                }
                base.lsn = lsn
                base.checkpointLSN = lsn
                for (configuration, stream) in collections {
                    let collection = try buildCollection(configuration, checkpointLSN: lsn, threads: threads, vectors: vectors, progress: { phase, done in
                        logger.info("rebuilding from the checkpoint", metadata: ["collection": "\(configuration.name)", "phase": "\(phase)", "records": "\(done)"])
                    }, stream: stream)
                    base.collections.append(collection)
                }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .checkpoint("reading the checkpoint failed: \(error)", underlying: error)
        }
        logger.warning("rebuilt the store's collections from the last checkpoint; replaying the local log above it", metadata: [
            "lsn": "\(base.lsn)", "collections": "\(base.collections.count)",
        ])
        return base
    }

    /// Prepares one replayed record and hands it to `applier` (a collection
    /// is created here, at once: later records look it up). Replay validates
    /// like a live write: a logged record that fails validation is corruption.
    private static func replay(
        _ payload: LogPayload.Decoded, lsn: UInt64, into catalog: inout [String: Collection],
        writers: inout [String: ReplayBlockWriter], applier: ReplayApplier, vectors: VectorPlacement
    ) throws(EngineError) {
        func collection(_ name: String) throws(EngineError) -> Collection {
            guard let c = catalog[name] else { throw .corrupt("log record \(lsn) names collection '\(name)', which does not exist") }
            return c
        }
        switch payload {
        case .create(let configuration):
            if catalog[configuration.name] == nil {
                // A logged creation passed validation when it was written: failing it now is corruption.
                // (The text rules are not applied again: a log written before them still replays.)
                let c: Collection
                do throws(EngineError) {
                    c = try Collection(configuration, vectors: vectors)
                } catch where error.code == .io {
                    throw error  // the mapped floats' file, not the record
                } catch {
                    throw .corrupt("log record \(lsn) creates collection '\(configuration.name)' with parameters that fail validation: \(error)")
                }
                c.deferMetadataPostings()
                catalog[configuration.name] = c
            }
        case .upsert(let name, let ids, let metadata, let dimension, let rows, let texts):
            let c = try collection(name)
            let placed: [(block: StagingBuffer.Block, rows: Int)]
            do throws(EngineError) {
                placed = try c.prepareLogged(rows, dimension: dimension, into: &writers[name, default: ReplayBlockWriter(dimension: c.configuration.dimension)])
            } catch {
                throw .corrupt("log record \(lsn): \(error)")
            }
            // Decoded here only while the applying thread is the slower one.
            var carried = ReplayApplier.Metadata.encoded(metadata)
            if applier.isBehind { carried = .decoded(try metadata.decoded(loggedAt: lsn)) }
            applier.submit(.upsert(c, ids: ids, metadata: carried, texts: texts, placed: placed, lsn: lsn))
        case .delete(let name, let ids):
            applier.submit(.delete(try collection(name), ids: ids, lsn: lsn))
        case .batch(let parts):
            // Every part under the batch's LSN, in order (a batch holds no batch: the decoder refuses one).
            for part in parts { try replay(part, lsn: lsn, into: &catalog, writers: &writers, applier: applier, vectors: vectors) }
        }
    }
}
