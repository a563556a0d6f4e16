import EngramMetadata
import EngramSync
import Dispatch
import EngramIndex
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// One record as a restore streams it in.
    public struct RestoredRecord {
        public var id: String
        public var vector: UnsafeBufferPointer<Float>
        public var metadata: MetadataValue
        /// The LSN of the write that made this version.
        public var lsn: UInt64
        /// Its texts by field (empty: none).
        public var text: [String: String]

        public init(id: String, vector: UnsafeBufferPointer<Float>, metadata: MetadataValue, lsn: UInt64, text: [String: String] = [:]) {
            self.id = id
            self.vector = vector
            self.metadata = metadata
            self.lsn = lsn
            self.text = text
        }
    }

    /// Rebuilds a collection from records streamed in by `stream` (`engram
    /// restore` reads them from PostgreSQL), as of the database's checkpoint
    /// at `checkpointLSN`: builds its graph on `threads` threads, logs its
    /// creation, and writes a local snapshot, so the restored collection is
    /// durable here when this returns. A fresh store first moves its log to
    /// `checkpointLSN` + 1, so later writes carry on the database's LSNs.
    /// `progress` is called with the records read so far, then with the
    /// records inserted into the graph. Returns the number of records.
    @discardableResult
    public func restoreCollection(
        _ configuration: CollectionConfiguration, checkpointLSN: UInt64, owner: String? = nil, threads: Int,
        progress: @escaping (_ phase: String, _ done: Int) -> Void = { _, _ in },
        stream: ((RestoredRecord) throws -> Void) throws -> Void
    ) throws(EngineError) -> Int {
        return try changing { () throws(EngineError) -> Int in
            try prepareRestore(configuration, checkpointLSN: checkpointLSN, owner: owner)
            let collection = try Self.buildCollection(
                configuration, checkpointLSN: checkpointLSN, threads: threads, vectors: options.vectorPlacement, progress: progress, stream: stream)
            try install(collection, checkpointLSN: checkpointLSN)
            return collection.count
        }
    }

    /// A collection built from streamed records: each validated and
    /// prepared like a write, the graph built on `threads` threads.
    static func buildCollection(
        _ configuration: CollectionConfiguration, checkpointLSN: UInt64, threads: Int, vectors: VectorPlacement = .heap,
        progress: @escaping (_ phase: String, _ done: Int) -> Void,
        stream: ((RestoredRecord) throws -> Void) throws -> Void
    ) throws(EngineError) -> Collection {
        // Read every record, validated and prepared like a write.
        let collection = try Collection(configuration, vectors: vectors)
        let d = configuration.dimension
        var ids = [String](), lsns = [UInt64](), values = [MetadataValue](), rows = [Float]()
        var texts = [[String: String]](), terms = [[String]]()
        var seen = Set<RecordKey>()
        var failure: EngineError?
        do {
            try stream { record in
                guard failure == nil else { return }
                guard record.vector.count == d, !record.id.isEmpty, record.id.utf8.count <= Record.maxIDBytes,
                      seen.insert(RecordKey(record.id)).inserted, record.metadata.isValid else {
                    failure = .corrupt("restored record '\(record.id)' of collection '\(configuration.name)' is malformed or repeated")
                    return
                }
                let at = rows.count
                rows.append(contentsOf: record.vector)
                do throws(IndexError) {
                    try rows.withUnsafeMutableBufferPointer { (all) throws(IndexError) in
                        // Rows were stored prepared; preparing again leaves them bit for bit (`normalize`).
                        // (None to prepare in a collection without vectors.)
                        if let base = all.baseAddress, d > 0 { try collection.format.prepareInPlace(base + at, row: ids.count) }
                    }
                } catch {
                    failure = .corrupt("restored record '\(record.id)': \(error)")
                    return
                }
                if configuration.text != nil || !record.text.isEmpty {
                    do throws(EngineError) {
                        terms += try collection.validateTexts([Record(id: record.id, vector: [], text: record.text)])
                    } catch {
                        failure = .corrupt("restored record '\(record.id)' of collection '\(configuration.name)': \(error.message)")
                        return
                    }
                    texts.append(record.text)
                }
                ids.append(record.id)
                lsns.append(record.lsn)
                values.append(record.metadata)
                if ids.count % 100_000 == 0 { progress("read", ids.count) }
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .checkpoint("reading the collection failed: \(error)", underlying: error)
        }
        if let failure { throw failure }
        progress("read", ids.count)
        if let newest = lsns.max(), newest > checkpointLSN {
            throw .corrupt("collection '\(configuration.name)' holds a record written at LSN \(newest), after its checkpoint \(checkpointLSN)")
        }

        // The graph, on every thread, in slices so progress shows.
        let slice = 50_000
        var start = 0
        while start < ids.count {
            let end = Swift.min(ids.count, start + slice)
            do throws(IndexError) {
                // Prepared above, row by row: the index takes them as they are.
                try rows.withUnsafeBufferPointer { (all) throws(IndexError) in
                    try collection.index.insert(
                        preparedRows: UnsafeBufferPointer(rebasing: all[(start * d)..<(end * d)]), labels: (start..<end).map { VectorID($0) },
                        threads: threads)
                }
            } catch {
                throw vectors.engineError(error, collection: configuration.name) { .invalidArgument("collection '\(configuration.name)': \($0)") }
            }
            start = end
            progress("indexed", end)
        }
        collection.installRestored(ids: ids, lsns: lsns, metadata: values, texts: texts, terms: terms)
        return collection
    }

    /// Restores a collection from a graph snapshot taken at the database's
    /// checkpoint `checkpointLSN` (``checkpoint(to:withGraphs:)``): nothing
    /// is rebuilt. A snapshot that fails its checksum or checks is
    /// `.corrupt` (the caller then rebuilds from the rows).
    @discardableResult
    public func restoreCollection(
        _ configuration: CollectionConfiguration, checkpointLSN: UInt64, owner: String? = nil, graphSnapshot: [UInt8]
    ) throws(EngineError) -> Int {
        return try changing { () throws(EngineError) -> Int in
            let start = engineNanoseconds()
            // A fresh store at (or about to move to) the checkpoint's LSN takes the downloaded bytes as its
            // snapshot as they are: written on another core while they are decoded here.
            let applied = sequencer.appliedLSN
            let fresh = catalog.withLock({ $0.isEmpty }) && (applied == 0 || applied == checkpointLSN)
                && DataDirectory.snapshotFiles(directory).isEmpty && checkpointLSN > 0
            let path = "\(directory)/\(StoreSnapshot.name(checkpointLSN))"
            let written = Locked<Result<String, EngineError>?>(nil)
            let writing = DispatchGroup()
            if fresh {
                writing.enter()
                DispatchQueue.global(qos: .userInitiated).async {
                    let result: Result<String, EngineError>
                    do throws(EngineError) { result = .success(try DataDirectory.writeTemporary(graphSnapshot, for: path)) } catch {
                        result = .failure(error)
                    }
                    written.withLock { $0 = result }
                    writing.leave()
                }
            }
            func discardWrite() {
                writing.wait()
                if case .success(let temporary)? = written.withLock({ $0 }) { unlink(temporary) }
            }
            let collection: Collection
            do throws(EngineError) {
                let contents = try StoreSnapshot.decode(
                    graphSnapshot, file: "the database's graph snapshot of '\(configuration.name)'", vectors: options.vectorPlacement)
                guard contents.lsn == checkpointLSN, contents.collections.count == 1,
                      let decoded = contents.collections.first, decoded.configuration.sameParameters(as: configuration) else {
                    throw .corrupt("the database's graph snapshot of '\(configuration.name)' is of another collection or LSN")
                }
                collection = decoded
                try prepareRestore(configuration, checkpointLSN: checkpointLSN, owner: owner)
            } catch {
                discardWrite()
                throw error
            }
            let decoded = engineNanoseconds()
            collection.pruneTombstones(upTo: .max)  // the database holds exactly these records: nothing to resend
            if fresh {
                writing.wait()
                let temporary = try written.withLock({ $0 })!.get()
                try snapshotting.withLock { (last: inout UInt64) throws(EngineError) in
                    try DataDirectory.publish(temporary, as: path)
                    last = checkpointLSN
                }
                catalog.withLock { $0[configuration.name] = collection }
                checkpointed.withLock { $0 = Swift.max($0, checkpointLSN) }
                tombstoneHorizon.withLock { $0 = Swift.max($0, checkpointLSN) }
                try DataDirectory.writeCheckpointLSN(checkpointed.withLock { $0 }, in: directory)
            } else {
                try install(collection, checkpointLSN: checkpointLSN)
            }
            telemetry.logger.info("restored a collection from a graph snapshot", metadata: [
                "collection": "\(configuration.name)", "records": "\(collection.count)", "lsn": "\(checkpointLSN)",
                "decode_ms": "\((decoded - start) / 1_000_000)", "ms": "\((engineNanoseconds() - start) / 1_000_000)",
            ])
            scheduleMaintenance()  // staged rows in the snapshot go into the graph
            return collection.count
        }
    }

    /// Checks that `configuration` may be restored here, and moves a fresh
    /// store's log to `checkpointLSN` + 1. A fresh store also takes `owner`,
    /// the id of the store the database belongs to, as its own: it carries
    /// that store on (and may checkpoint into the database).
    private func prepareRestore(_ configuration: CollectionConfiguration, checkpointLSN: UInt64, owner: String?) throws(EngineError) {
        if let existing = catalog.withLock({ $0[configuration.name] }) {
            guard existing.configuration == configuration else { throw .collectionExists(configuration.name) }
            guard existing.count == 0 else {
                throw .invalidArgument("collection '\(configuration.name)' already holds \(existing.count) records in \(directory): restore into an empty data directory")
            }
        }
        let applied = sequencer.appliedLSN
        if applied == 0 && catalog.withLock({ $0.isEmpty }) {
            if let owner, owner != storeID {
                try DataDirectory.writeStoreID(owner, in: directory)
                identity.withLock { $0 = owner }
            }
            if checkpointLSN > 0 {
                do { try log.withExclusiveLog { wal in try wal.restart(at: checkpointLSN + 1) } } catch {
                    throw .log(error as? WALError ?? WALError(kind: .io, reason: "\(error)"))
                }
                sequencer.restart(appliedLSN: checkpointLSN)
            }
        } else if applied < checkpointLSN {
            throw .invalidArgument("\(directory) is at LSN \(applied), behind the database's checkpoint \(checkpointLSN): restore into an empty data directory")
        }
    }

    /// Logs the restored collection's creation, installs it, and writes a
    /// local snapshot, so it is durable here.
    private func install(_ collection: Collection, checkpointLSN: UInt64) throws(EngineError) {
        _ = try logged(.create(collection.configuration)) { _ throws(EngineError) in
            self.catalog.withLock { $0[collection.configuration.name] = collection }
            return 0
        }
        checkpointed.withLock { $0 = Swift.max($0, checkpointLSN) }
        tombstoneHorizon.withLock { $0 = Swift.max($0, checkpointLSN) }
        try writeSnapshot()
        try DataDirectory.writeCheckpointLSN(checkpointed.withLock { $0 }, in: directory)
    }
}
