import EngramMetadata
import EngramSync
import EngramIndex
import EngramKernels
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One collection in memory: the index (an HNSW graph, or IVF), the staging buffer of
/// acknowledged vectors not yet in the graph, the records' ids, metadata
/// and labels, and the inverted metadata index.
///
/// Invariants:
/// - `labelOfID` and `idOfLabel` are inverse maps over exactly the live
///   labels (``LabelTable/Placement/isLive``); every live label has
///   metadata in `metadata` and no other label has.
/// - A live label is in the graph (`.indexed`), or has a row in `staging`
///   (`.staged`), or both while its block is in flight (`.inFlight`). A
///   search takes `.indexed` and `.inFlight` labels from the graph and
///   `.staged` and the in-flight labels the graph did not return from the
///   staging scan, so no record is missed or returned twice.
///
/// Concurrency: searches take `lock` shared. Writes take it exclusively
/// only to update the maps and copy vectors into `staging` (short: the
/// batch was validated and prepared before). A waiting writer holds off new
/// searches, so searches back to back never starve writes, the indexer or
/// the maintenance; nothing takes `lock` to read while holding it. The
/// graph insert of a staged block runs outside `lock`
/// (``indexOldestBlock(threads:)``), under `indexing`, which snapshots take
/// to see no block in flight.
final class Collection: @unchecked Sendable {
    let configuration: CollectionConfiguration
    /// What every vector of the collection must be (the validation gate).
    let format: VectorFormat
    /// The HNSW graph or the IVF index (``CollectionConfiguration/ivf``).
    let index: CollectionIndex
    let staging: StagingBuffer
    var metadata = MetadataIndex()
    /// Keyed by the id's bytes (``RecordKey``).
    var labelOfID: [RecordKey: VectorID] = [:]
    /// Indexed by label (labels are dense: freed ones are reused).
    private(set) var idOfLabel: [String?] = []
    var labels = LabelTable()
    /// Deleted ids not yet known to be checkpointed, with the delete's LSN
    /// (``Store/checkpoint(to:)`` prunes them; the store's
    /// `tombstoneHorizon` says below which LSN they are forgotten).
    var tombstones: [RecordKey: UInt64] = [:]
    /// The rows of the checkpoint in progress, which sets a vector aside
    /// before its label's version ends (``CheckpointRows``).
    private var checkpointRows: CheckpointRows?
    /// Writers preferred (see the type's concurrency note).
    let lock = ReadWriteLock(preferringWriters: true)
    /// Held while a staged block is in flight; counts the blocks moved into the graph.
    let indexing = Locked<Int>(0)
    /// Snapshots waiting for `indexing`: the background indexer steps aside
    /// for them (a mutex is not fair: an indexer taking block after block
    /// could keep a snapshot, and the writers it pauses, waiting for long).
    let snapshotsWaiting = Atomic<Int>(0)

    init(_ configuration: CollectionConfiguration, index: CollectionIndex? = nil) throws(EngineError) {
        self.configuration = configuration
        staging = StagingBuffer(dimension: configuration.dimension)
        do { format = try VectorFormat(dimension: configuration.dimension, metric: configuration.metric) } catch {
            throw .invalidArgument("collection '\(configuration.name)': \(error)")
        }
        if let index {
            self.index = index
            return
        }
        do {
            if let ivf = configuration.ivf {
                try ivf.validate()
                self.index = try IVFCollectionIndex(dimension: configuration.dimension, metric: configuration.metric, settings: ivf)
            } else {
                self.index = try HNSWIndex(dimension: configuration.dimension, metric: configuration.metric, configuration: configuration.hnsw)
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .invalidArgument("collection '\(configuration.name)': \(error)")
        }
    }

    /// Checks a batch without applying anything; returns its vectors
    /// prepared (validated, normalised under cosine), row after row.
    @discardableResult
    func validate(_ records: [Record]) throws(EngineError) -> [Float] {
        var seen = Set<RecordKey>(minimumCapacity: records.count)
        let d = configuration.dimension
        var prepared = [Float](repeating: 0, count: records.count * d)
        try prepared.withUnsafeMutableBufferPointer { (out) throws(EngineError) in
            for (i, r) in records.enumerated() {
                guard !r.id.isEmpty, r.id.utf8.count <= Record.maxIDBytes else {
                    throw .invalidArgument("record \(i): an id must be 1 to \(Record.maxIDBytes) UTF-8 bytes")
                }
                if let why = TextRules.problem(r.id, "an id") { throw .invalidArgument("record \(i): \(why)") }
                guard seen.insert(RecordKey(r.id)).inserted else { throw .invalidArgument("record \(i): id '\(r.id)' appears twice in the batch") }
                if let why = r.metadata.problem { throw .invalidArgument("record \(i): its metadata \(why)") }
                do throws(IndexError) {
                    try r.vector.withUnsafeBufferPointer { (v) throws(IndexError) in
                        try format.prepare(v, into: out.baseAddress! + i * d, row: i)
                    }
                } catch {
                    throw .invalidVector(record: i, error)
                }
                if configuration.storedPrecision != .float32 {
                    for j in 0..<d {
                        if let why = configuration.storedPrecision.problem(out[i * d + j]) {
                            throw .invalidArgument("record \(i), dimension \(j): \(why)")
                        }
                    }
                }
            }
        }
        return prepared
    }

    /// Validates and prepares a logged batch's rows (replay) straight into
    /// staging blocks that `writer` hands out, in order; returns how many
    /// rows went into each block. A row that fails is corruption of the log.
    func prepareLogged(
        _ rows: [UnsafeRawBufferPointer], dimension: Int, into writer: inout ReplayBlockWriter
    ) throws(EngineError) -> [(block: StagingBuffer.Block, rows: Int)] {
        let d = configuration.dimension
        guard rows.isEmpty || dimension == d else {
            throw .corrupt("a logged batch of dimension \(dimension) for collection '\(configuration.name)' of dimension \(d)")
        }
        var placed = [(block: StagingBuffer.Block, rows: Int)]()
        for (i, row) in rows.enumerated() {
            let (block, target) = writer.nextRow()
            #if _endian(little)
            UnsafeMutableRawPointer(target).copyMemory(from: row.baseAddress!, byteCount: 4 * d)
            #else
            for j in 0..<d { target[j] = Float(bitPattern: UInt32(littleEndian: row.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))) }
            #endif
            do throws(IndexError) { try format.prepareInPlace(target, row: i) } catch {
                throw .corrupt("a logged vector of collection '\(configuration.name)' fails validation: \(error)")
            }
            if let last = placed.last, last.block === block {
                placed[placed.count - 1].rows += 1
            } else {
                placed.append((block, 1))
            }
        }
        return placed
    }

    /// Applies a validated batch written at `lsn` (replay applies logged
    /// batches the same way). A record whose current version was written at
    /// or after `lsn` is left alone, so applying a record twice is harmless.
    func apply(upsert records: [Record], prepared: [Float], lsn: UInt64) {
        let d = configuration.dimension
        prepared.withUnsafeBufferPointer { rows in
            lock.withWriteLock {
                for (i, r) in records.enumerated() {
                    if let label = place(id: r.id, metadata: r.metadata, lsn: lsn) {
                        staging.append(rows.baseAddress! + i * d, label: label)
                    }
                }
            }
        }
    }

    /// Replay: applies a batch whose rows ``prepareLogged(_:dimension:into:)``
    /// already wrote into staging blocks (`placed`, in record order).
    func apply(ids: [String], metadata values: [MetadataValue], placed: [(block: StagingBuffer.Block, rows: Int)], lsn: UInt64) {
        lock.withWriteLock {
            labelOfID.reserveCapacity(labelOfID.count + ids.count)
            var i = 0
            for (block, rows) in placed {
                for _ in 0..<rows {
                    // A version already applied still fills its row: under a dead label, dropped when indexed.
                    let label = place(id: ids[i], metadata: values[i], lsn: lsn) ?? deadLabel()
                    staging.adoptWrittenRow(of: block, label: label)
                    i += 1
                }
            }
        }
    }

    /// Gives `id` a new staged version written at `lsn` (write lock held),
    /// retiring the one it replaces; nil if its version at or after `lsn` is
    /// already applied.
    private func place(id: String, metadata value: MetadataValue, lsn: UInt64) -> VectorID? {
        let label = labels.allocate(.staged, lsn: lsn)
        let key = RecordKey(id)
        if let old = labelOfID.updateValue(label, forKey: key) {  // one hash for the common case
            guard labels.lsn(old) < lsn else {
                labelOfID[key] = old
                labels.set(label, .free)
                return nil
            }
            retire(old)
        }
        metadata.set(value, for: label)
        setID(id, of: label)
        return label
    }

    /// A label for a staged row that no record owns.
    private func deadLabel() -> VectorID { labels.allocate(.deadStaged, lsn: 0) }

    /// Keeps only the metadata values, not their posting lists, until
    /// ``indexMetadataPostings(atMost:)`` catches up (recovery: see
    /// ``MetadataIndex``).
    func deferMetadataPostings() {
        lock.withWriteLock { metadata.deferPostings() }
    }

    /// Builds the posting lists of up to `limit` more labels, under the
    /// write lock for that slice only; false when there was nothing to do.
    func indexMetadataPostings(atMost limit: Int) -> Bool {
        guard !lock.withReadLock({ metadata.hasAllPostings }) else { return false }
        lock.withWriteLock { _ = metadata.indexPostings(atMost: limit) }
        return true
    }

    /// Records restored into a collection whose graph holds their vectors
    /// under labels 0..<ids.count (``Store/restoreCollection``).
    func installRestored(ids: [String], lsns: [UInt64], metadata values: [MetadataValue]) {
        lock.withWriteLock {
            labels = LabelTable(bound: ids.count, placed: (0..<ids.count).map { (VectorID($0), .indexed, lsns[$0]) })
            labelOfID.reserveCapacity(ids.count)
            for (i, id) in ids.enumerated() {
                labelOfID[RecordKey(id)] = VectorID(i)
                setID(id, of: VectorID(i))
                metadata.set(values[i], for: VectorID(i))
            }
        }
    }

    /// The live id of `label`, if any.
    func id(of label: VectorID) -> String? {
        Int(label) < idOfLabel.count ? idOfLabel[Int(label)] : nil
    }

    /// Records (or with nil clears) the id of `label` (write lock held).
    func setID(_ id: String?, of label: VectorID) {
        let i = Int(label)
        if i >= idOfLabel.count {
            guard id != nil else { return }
            idOfLabel.append(contentsOf: repeatElement(nil, count: i + 1 - idOfLabel.count))
        }
        idOfLabel[i] = id
    }

    /// Deletes the ids present whose version is older than `lsn`; returns
    /// how many were deleted.
    @discardableResult
    func apply(delete ids: [String], lsn: UInt64) -> Int {
        lock.withWriteLock {
            var removed = 0
            for id in ids {
                let key = RecordKey(id)
                guard let label = labelOfID[key], labels.lsn(label) < lsn else { continue }
                labelOfID[key] = nil
                tombstones[key] = lsn
                retire(label)
                removed += 1
            }
            return removed
        }
    }

    /// Ends a live label's version (write lock held): out of the maps and
    /// the metadata index, out of the graph now or when its block is done.
    private func retire(_ label: VectorID) {
        checkpointRows?.setAside(label, from: index)  // before the label can be reused
        metadata.remove(label)
        setID(nil, of: label)
        if labels.kill(label) {
            try? index.delete(label)
            labels.set(label, .free)
        }
    }

    /// Moves the oldest staged block into the graph, on `threads` threads.
    /// Returns the number of vectors inserted, or nil if nothing was staged.
    /// With `yielding`, returns nil at once while a snapshot waits for it.
    func indexOldestBlock(threads: Int, yielding: Bool = true) throws(IndexError) -> Int? {
        if yielding && snapshotsWaiting.load(ordering: .acquiring) > 0 { return nil }
        return try indexing.withLock { (blocksIndexed) throws(IndexError) -> Int? in
            let taken: (floats: [Float], labels: [VectorID])? = lock.withWriteLock {
                guard let block = staging.sealOldest() else { return nil }
                let rows = block.rows { labels.placement($0) == .staged }
                for label in block.labels {
                    switch labels.placement(label) {
                    case .staged: labels.set(label, .inFlight)
                    case .deadStaged: labels.set(label, .free)
                    default: break
                    }
                }
                return rows
            }
            guard let taken else { return nil }
            var failure: IndexError?
            if !taken.labels.isEmpty {
                do throws(IndexError) {
                    try index.insert(contentsOf: taken.floats, labels: taken.labels, threads: threads)
                } catch {
                    failure = error
                }
            }
            lock.withWriteLock {
                for label in taken.labels {
                    switch labels.placement(label) {
                    case .inFlight:
                        labels.set(label, failure == nil ? .indexed : .staged)
                    case .deadInFlight:
                        if failure == nil { try? index.delete(label) }
                        labels.set(label, failure == nil ? .free : .deadStaged)
                    default: break
                    }
                }
                if failure == nil { staging.removeOldest() }
            }
            if let failure { throw failure }
            blocksIndexed += 1
            return taken.labels.count
        }
    }

    /// The changes above `since`, for a checkpoint; the caller has paused
    /// writers. The vectors are not copied: the rows stay pinned, read while
    /// the target streams them, until ``CheckpointRows/release()``.
    /// With `liveIDs`, also every live id (a resynchronising checkpoint).
    func changes(since: UInt64, liveIDs: Bool = false) -> Checkpoint.Changes {
        var out = Checkpoint.Changes(configuration: configuration)
        let rows = lock.withReadLock { () -> CheckpointRows in
            out.liveCount = labelOfID.count
            if liveIDs { out.liveIDs = labelOfID.keys.map(\.id) }
            // In label order (the live labels are exactly those with an id):
            // the graph's rows are then read front to back.
            var changedLabels = [VectorID]()
            let expected = since == 0 ? labelOfID.count : 0
            changedLabels.reserveCapacity(expected)
            out.ids.reserveCapacity(expected)
            out.lsns.reserveCapacity(expected)
            out.metadata.reserveCapacity(expected)
            for (i, id) in idOfLabel.enumerated() {
                guard let id, labels.lsn(VectorID(i)) > since else { continue }
                let label = VectorID(i)
                changedLabels.append(label)
                out.ids.append(id)
                out.lsns.append(labels.lsn(label))
                out.metadata.append(metadata.metadata(of: label) ?? .object([:]))
            }
            var stagedRows = [VectorID: UnsafeMutablePointer<Float>]()
            for block in staging.blocks {
                for (row, label) in block.labels.enumerated() where labels.placement(label).isLive { stagedRows[label] = block.row(row) }
            }
            out.deleted = tombstones.filter { $0.value > since }.map { (id: $0.key.id, lsn: $0.value) }
            return CheckpointRows(self, labels: changedLabels, stagedRows: stagedRows, blocks: staging.blocks, labelBound: labels.bound)
        }
        // Writers are paused, so no version ended since the walk: pinned from here on.
        lock.withWriteLock {
            checkpointRows?.markReleased()
            checkpointRows = rows
        }
        out.vectors = rows
        return out
    }

    /// Ends the pin of `rows` (``CheckpointRows/release()``).
    func unpin(_ rows: CheckpointRows) {
        lock.withWriteLock {
            rows.markReleased()
            if checkpointRows === rows { checkpointRows = nil }
        }
    }

    /// Forgets the tombstones at or below `lsn` (they are checkpointed, or
    /// no checkpoint will ever need them).
    func pruneTombstones(upTo lsn: UInt64) {
        lock.withWriteLock { tombstones = tombstones.filter { $0.value > lsn } }
    }

    /// Runs `body` with no staged block in flight (snapshots), ahead of the background indexer.
    func withIndexingPaused<R>(_ body: () throws -> R) rethrows -> R {
        snapshotsWaiting.wrappingAdd(1, ordering: .acquiringAndReleasing)
        defer { snapshotsWaiting.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        return try indexing.withLock { _ in try body() }
    }

    func get(_ id: String) -> Record? {
        lock.withReadLock {
            guard let label = labelOfID[RecordKey(id)] else { return nil }
            let vector: [Float]
            if labels.placement(label) == .indexed {
                guard let v = try? index.vector(label) else { return nil }
                vector = v
            } else {
                guard let v = stagedVector(label) else { return nil }
                vector = v
            }
            return Record(id: id, vector: vector, metadata: metadata.metadata(of: label) ?? .object([:]))
        }
    }

    private func stagedVector(_ label: VectorID) -> [Float]? {
        for block in staging.blocks {
            if let row = block.labels.firstIndex(of: label) {
                return Array(UnsafeBufferPointer(start: block.row(row), count: configuration.dimension))
            }
        }
        return nil
    }

    var count: Int { lock.withReadLock { labelOfID.count } }

    /// Every live id, in no particular order.
    var ids: [String] { lock.withReadLock { labelOfID.keys.map(\.id) } }

    func contains(_ id: String) -> Bool { lock.withReadLock { labelOfID[RecordKey(id)] != nil } }

    /// Records acknowledged but not yet in the graph.
    var unindexedCount: Int { lock.withReadLock { staging.count } }

    func search(_ query: [Float], k: Int, efSearch: Int?, filter: MetadataFilter?) throws(EngineError) -> [SearchHit] {
        try lock.withReadLock { () throws(EngineError) -> [SearchHit] in
            let allowed = filter.map { metadata.evaluate($0) }
            // The staging scan needs the query prepared here; the graph prepares its own.
            let prepared: UnsafeMutablePointer<Float>? = staging.count > 0 ? .allocate(capacity: configuration.dimension) : nil
            defer { prepared?.deallocate() }
            var heap = TopKHeap(capacity: k)
            // In-flight versions the graph already returned: the staging scan must not offer them again.
            var inFlightFromGraph = [VectorID]()
            do throws(IndexError) {
                try query.withUnsafeBufferPointer { (q) throws(IndexError) in
                    if let prepared { try format.prepare(q, into: prepared, row: 0) }
                    // Versions that died in flight may still be in the graph: ask for that many more.
                    let wanted = Swift.min(k + labels.deadInFlight, SearchLimits.maxK)
                    let fromGraph = try index.search(q, k: wanted, searchEffort: efSearch, filter: allowed.map { .bitset($0) })
                    for hit in fromGraph where labels.placement(hit.id) == .indexed || labels.placement(hit.id) == .inFlight {
                        heap.consider(distance: hit.distance, id: hit.id)
                        if labels.placement(hit.id) == .inFlight { inFlightFromGraph.append(hit.id) }
                    }
                }
            } catch {
                throw .invalidVector(record: 0, error)
            }
            if let prepared { scanStaging(UnsafePointer(prepared), allowed: allowed, skipping: inFlightFromGraph, into: &heap) }
            return heap.sortedResults().compactMap { hit in
                guard let id = id(of: hit.id) else { return nil }
                return SearchHit(id: id, distance: hit.distance, metadata: metadata.metadata(of: hit.id) ?? .object([:]))
            }
        }
    }

    /// Exact scan of the staged rows a search may return (read lock held),
    /// except the in-flight labels in `skipping` (at most k: the graph's hits).
    private func scanStaging(
        _ query: UnsafePointer<Float>, allowed: Bitset?, skipping: [VectorID], into heap: inout TopKHeap
    ) {
        labels.placements.withUnsafeBufferPointer { placements in
            let staged: (VectorID) -> Bool = { label in
                let p = placements[Int(label)]
                return p == .staged || (p == .inFlight && !skipping.contains(label))
            }
            let admits: (VectorID) -> Bool = allowed.map { bits in { staged($0) && bits.contains($0) } } ?? staged
            switch configuration.metric {
            case .squaredL2: staging.scan(SquaredL2Kernel.self, query, allowed: admits, into: &heap)
            case .innerProduct: staging.scan(InnerProductKernel.self, query, allowed: admits, into: &heap)
            case .cosine: staging.scan(CosineKernel.self, query, allowed: admits, into: &heap)
            }
        }
    }
}
