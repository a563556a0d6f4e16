import EngramMetadata
import EngramSync
import Dispatch
import EngramIndex
import EngramWAL
import Logging
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An Engram store on a data directory: collections of records, every write
/// logged in the write-ahead log before it is acknowledged.
///
/// ```swift
/// let store = try Store.open(directory: "/var/lib/engram")
/// try store.createCollection(CollectionConfiguration(name: "memories", dimension: 384))
/// try store.upsert("memories", [Record(id: "m1", vector: v, metadata: ["agent": "planner"])])
/// let hits = try store.search("memories", vector: q, k: 10, filter: .equals("agent", "planner"))
/// try store.close()
/// ```
///
/// **Write path** (Docs/ENGINE.md). A write is validated (all or nothing)
/// and encoded on the caller's thread, appended to the log, made durable as
/// ``StoreOptions/durability`` says, with concurrent writers sharing fsyncs
/// (`GroupCommitLog`), then applied to memory in log order
/// (`ApplySequencer`) and acknowledged. Applying only updates the maps and
/// copies the vectors into the collection's staging buffer, which searches
/// scan exactly; a background indexer moves staged vectors into the HNSW
/// graph. So a write is searchable the moment it returns, and its cost is
/// the log's, not the graph's.
///
/// **Recovery.** Opening the store loads the newest local snapshot (graph,
/// staged vectors, records) and replays the log above its LSN into the
/// staging buffer; the indexer catches up in the background. Snapshots are
/// written in the background as the log grows, on `snapshot()` and on
/// `close()`; each lets the log drop the segments below it.
///
/// **Concurrency.** `Sendable`: any thread may call any method. Searches
/// never wait for the log, for fsync or for graph inserts; they wait only
/// while a write copies its (already validated) batch into memory, and
/// while a graph grows or is compacted.
public final class Store: Sendable {
    public let directory: String
    public let options: StoreOptions
    let log: GroupCommitLog
    let sequencer: ApplySequencer
    let telemetry: StoreTelemetry
    /// Serialises collection creation (a create is checked against the
    /// applied catalog); counts the collections created since open.
    private let creating = Locked<Int>(0)
    let catalog = Locked<[String: Collection]>([:])
    let snapshotting = Locked<UInt64>(0)
    /// The LSN of the last checkpoint this store committed (0: never).
    let checkpointed = Locked<UInt64>(0)
    /// Every delete above this LSN is still in its collection's tombstones;
    /// those at or below it may be forgotten. A target checkpointed below it
    /// may lack deletes: its next checkpoint resynchronises.
    let tombstoneHorizon = Locked<UInt64>(0)
    /// Set at open when the recorded checkpoint is beyond the log's end: the
    /// database holds writes this store lost (a power loss under
    /// `.osBuffered` durability), and the LSNs after the log's end would be
    /// reused. Checkpoints are refused, naming both LSNs.
    let lostCheckpointedWrites = Locked<(checkpoint: UInt64, logEnd: UInt64)?>(nil)
    /// Serialises checkpoints; counts those committed since open.
    let checkpointing = Locked<Int>(0)
    /// This store's identity (the data directory's `STORE` file); a restore
    /// into a fresh directory takes the database's.
    let identity = Locked<String>("")
    /// The background checkpointer, if started.
    let background = Locked<Checkpointer?>(nil)
    /// Log payload bytes appended since open (the checkpointer's size trigger).
    let loggedBytes = Atomic<Int>(0)
    let maintenance = Locked<MaintenanceState>(MaintenanceState())
    let maintenanceQueue = DispatchQueue(label: "engram.store.maintenance")
    let closed = Atomic<Bool>(false)
    /// Held shared by every call that changes the store, from its "is it
    /// open" check to its end, and exclusively by ``close()`` while it marks
    /// the store closed: so no write is logged or applied after the final
    /// snapshot or after the directory is released. Writers preferred; no
    /// changing call makes another while holding it.
    let changes = ReadWriteLock(preferringWriters: true)
    /// The hold on the data directory, from open until close.
    let directoryLock = Locked<DirectoryLock?>(nil)

    init(directory: String, options: StoreOptions, log: GroupCommitLog, appliedLSN: UInt64, telemetry: StoreTelemetry) {
        self.directory = directory
        self.options = options
        self.log = log
        self.sequencer = ApplySequencer(appliedLSN: appliedLSN)
        self.telemetry = telemetry
    }

    deinit { releaseDirectory() }

    /// Gives the data directory up (once).
    private func releaseDirectory() {
        directoryLock.withLock { $0.take() }?.release()
    }

    /// Creates a collection; creating one that exists with the same
    /// parameters does nothing, with other parameters is an error.
    public func createCollection(_ configuration: CollectionConfiguration) throws(EngineError) {
        try changing { () throws(EngineError) -> Void in
            try configuration.validate()
            try creating.withLock { (created) throws(EngineError) in
                if let existing = catalog.withLock({ $0[configuration.name] }) {
                    guard existing.configuration == configuration else { throw .collectionExists(configuration.name) }
                    return
                }
                let collection = try Collection(configuration, vectors: options.vectorPlacement)  // validates the parameters before logging
                _ = try logged(.create(configuration)) { _ throws(EngineError) in
                    self.catalog.withLock { $0[configuration.name] = collection }
                    return 0
                }
                created += 1
            }
        }
    }

    /// Inserts or replaces records (all or nothing); returns once durable
    /// (per the durability mode) and searchable.
    public func upsert(_ collection: String, _ records: [Record]) throws(EngineError) {
        try changing { () throws(EngineError) -> Void in
            let start = engineNanoseconds()
            let c = try self.collection(collection)
            guard !records.isEmpty else { return }
            let prepared = try c.validate(records)
            let terms = try c.validateTexts(records)
            // Back-pressure: a full staging buffer is drained by the writers themselves.
            while c.unindexedCount + records.count > options.maxUnindexed {
                if try indexBlock(of: c) == nil { break }
            }
            _ = try logged(.upsert(collection: collection, records: records)) { lsn throws(EngineError) in
                c.apply(upsert: records, prepared: prepared, terms: terms, lsn: lsn)
                return records.count
            }
            scheduleMaintenance()
            let elapsed = engineNanoseconds() - start
            telemetry.upserts.increment(by: Int64(records.count))
            telemetry.upsertDuration.recordNanoseconds(elapsed)
            telemetry.slow("upsert", nanoseconds: elapsed, "\(records.count) records into \(collection)")
        }
    }

    /// Deletes the records with these ids (ids not present are ignored);
    /// returns how many were deleted.
    @discardableResult
    public func delete(_ collection: String, ids: [String]) throws(EngineError) -> Int {
        return try changing { () throws(EngineError) -> Int in
            let c = try self.collection(collection)
            var seen = Set<RecordKey>()
            let present = ids.filter { seen.insert(RecordKey($0)).inserted && c.contains($0) }
            guard !present.isEmpty else { return 0 }
            let removed = try logged(.delete(collection: collection, ids: present)) { lsn throws(EngineError) in
                c.apply(delete: present, lsn: lsn)
            }
            telemetry.deletes.increment(by: Int64(removed))
            scheduleMaintenance()
            return removed
        }
    }

    public func get(_ collection: String, id: String) throws(EngineError) -> Record? {
        try checkOpen()
        return try self.collection(collection).get(id)
    }

    /// Every live id of `collection`, in no particular order.
    public func ids(_ collection: String) throws(EngineError) -> [String] {
        try checkOpen()
        return try self.collection(collection).ids
    }

    public func count(_ collection: String) throws(EngineError) -> Int {
        try checkOpen()
        return try self.collection(collection).count
    }

    /// Rows of `collection`'s staging buffer: acknowledged vectors not yet in
    /// its graph, searched exactly meanwhile (versions replaced or deleted
    /// since are counted until the indexer drops them).
    public func unindexedCount(_ collection: String) throws(EngineError) -> Int {
        try self.collection(collection).unindexedCount
    }

    public func configuration(_ collection: String) throws(EngineError) -> CollectionConfiguration {
        try self.collection(collection).configuration
    }

    public var collectionNames: [String] { catalog.withLock { $0.keys.sorted() } }

    /// What indexes `collection` now: HNSW, or IVF with its training state and drift.
    public func indexInfo(_ collection: String) throws(EngineError) -> CollectionIndexInfo {
        try self.collection(collection).index.info
    }

    /// The records of `collection` that `filter` admits, exactly (the metadata index, no similarity):
    /// at most `limit`, in label order. For lookups by key fields (the memory layer's relations).
    public func find(_ collection: String, filter: MetadataFilter, limit: Int = 1000) throws(EngineError) -> [Record] {
        try checkOpen()
        guard (1...1_000_000).contains(limit) else { throw .invalidArgument("limit must be 1...1000000, got \(limit)") }
        return try self.collection(collection).find(filter, limit: limit)
    }

    /// ``find(_:filter:limit:)`` without the vectors and texts: each record's id and metadata.
    public func findMetadata(_ collection: String, filter: MetadataFilter, limit: Int = 1000) throws(EngineError) -> [RecordMetadata] {
        try checkOpen()
        guard (1...1_000_000).contains(limit) else { throw .invalidArgument("limit must be 1...1000000, got \(limit)") }
        return try self.collection(collection).findMetadata(filter, limit: limit)
    }

    /// What indexes `collection`'s texts; nil when it has no text fields.
    public func textIndexInfo(_ collection: String) throws(EngineError) -> TextIndexInfo? {
        try checkOpen()
        let c = try self.collection(collection)
        guard let text = c.configuration.text, let index = c.textIndex else { return nil }
        return TextIndexInfo(fields: text.fields, documents: index.count, terms: index.termCount, memoryBytes: index.memoryBytes)
    }

    /// The `k` nearest records to `vector` that `filter` allows, best first.
    public func search(
        _ collection: String, vector: [Float], k: Int, efSearch: Int? = nil, filter: MetadataFilter? = nil
    ) throws(EngineError) -> [SearchHit] {
        try checkOpen()
        guard (1...SearchLimits.maxK).contains(k) else {
            throw .invalidArgument("k must be between 1 and \(SearchLimits.maxK), got \(k)")
        }
        if let efSearch, !(1...100_000).contains(efSearch) {
            throw .invalidArgument("efSearch must be between 1 and 100000, got \(efSearch)")
        }
        let c = try self.collection(collection)
        guard c.configuration.dimension > 0 else {
            throw .invalidArgument("collection '\(collection)' holds records without vectors: search it by text and filters")
        }
        let start = engineNanoseconds()
        let hits = try c.search(vector, k: k, efSearch: efSearch, filter: filter)
        let elapsed = engineNanoseconds() - start
        telemetry.searches.increment()
        telemetry.searchDuration.recordNanoseconds(elapsed)
        telemetry.slow("search", nanoseconds: elapsed, "k \(k) in \(collection)")
        return hits
    }

    /// Blocks until every acknowledged vector is in its collection's graph
    /// (for benchmarks and tests; searches never need it).
    public func waitUntilIndexed() throws(EngineError) {
        for c in catalog.withLock({ Array($0.values) }) {
            while try indexBlock(of: c, yielding: false) != nil {}
        }
    }

    /// Bytes held by the write-ahead log's segments.
    public var logBytes: Int { log.withExclusiveLog { DataDirectory.size(of: $0.segmentPaths) } }

    /// The LSN of the last acknowledged write (0: none).
    public var lastLSN: UInt64 { sequencer.appliedLSN }

    /// The LSN of the newest local snapshot (0: none).
    public var snapshotLSN: UInt64 { snapshotting.withLock { $0 } }

    /// Writes a final snapshot (if anything changed since the last, and
    /// `writingSnapshot`), stops the background work and releases the data
    /// directory. Later calls throw ``EngineError/closed``. Without the
    /// snapshot, the next open replays the log instead.
    public func close(writingSnapshot: Bool = true) throws(EngineError) {
        stopCheckpointing()
        // Waits for the changing calls already past their check; later ones see `closed`.
        guard changes.withWriteLock({ !closed.exchange(true, ordering: .acquiringAndReleasing) }) else { return }
        maintenanceQueue.sync {}
        defer { releaseDirectory() }
        if writingSnapshot && !options.readOnly && sequencer.appliedLSN > snapshotLSN { try writeSnapshot() }
    }

    func checkOpen() throws(EngineError) {
        if closed.load(ordering: .acquiring) { throw .closed }
    }

    /// For calls that change the store: open, and not read-only.
    func checkWritable() throws(EngineError) {
        try checkOpen()
        if options.readOnly { throw .invalidArgument("the store was opened read-only (\(directory))") }
    }

    /// Runs a call that changes the store inside the `changes` gate, after
    /// ``checkWritable()``: ``close()`` waits for it to end.
    func changing<R>(_ body: () throws(EngineError) -> R) throws(EngineError) -> R {
        try changes.withReadLock { () throws(EngineError) -> R in
            try checkWritable()
            return try body()
        }
    }

    func collection(_ name: String) throws(EngineError) -> Collection {
        guard let c = catalog.withLock({ $0[name] }) else { throw .unknownCollection(name) }
        return c
    }

    /// Logs `payload` (durably, per the mode, sharing fsyncs with concurrent
    /// writers), then applies it with `apply` in log order; returns what
    /// `apply` returned.
    func logged(
        _ payload: LogPayload, apply: @escaping (UInt64) throws(EngineError) -> Int
    ) throws(EngineError) -> Int {
        let bytes = payload.encode()
        guard bytes.count <= WriteAheadLog.maxPayloadBytes else {
            throw .invalidArgument("the call encodes to \(bytes.count) bytes; one call is limited to \(WriteAheadLog.maxPayloadBytes): split the batch")
        }
        let lsn: UInt64
        do throws(WALError) { lsn = try log.append(type: payload.type, payload: bytes) } catch { throw .log(error) }
        telemetry.walBytes.increment(by: Int64(bytes.count))
        maintenance.withLock { $0.logBytesSinceSnapshot += bytes.count }
        loggedBytes.wrappingAdd(bytes.count, ordering: .relaxed)
        return try sequencer.submit(lsn: lsn) { () throws(EngineError) -> Int in try apply(lsn) }
    }
}
