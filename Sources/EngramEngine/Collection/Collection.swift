import EngramMetadata
import EngramSync
import EngramIndex
import EngramText
import EngramKernels
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One collection in memory: the index (an HNSW graph, or IVF), the staging buffer of
/// acknowledged vectors not yet in the graph, the records' ids, metadata,
/// texts and labels, the inverted metadata index and (with text fields)
/// the BM25 text index.
///
/// Invariants:
/// - `labelOfID` and `idOfLabel` are inverse maps over exactly the live
///   labels (``LabelTable/Placement/isLive``); every live label has
///   metadata in `metadata` and no other label has.
/// - `textIndex` exists iff the configuration declares text fields; it
///   holds a document exactly for each live label whose record has a text
///   (`textOfLabel[label]` not empty), made of that text's terms
///   (``terms(of:)``). A text is indexed when its version is applied, so a
///   text search sees every acknowledged write, staged or not.
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
    // Only this file writes the maps below; the extensions (search,
    // checkpoint capture, snapshot sections, versions) read them.
    private(set) var metadata = MetadataIndex()
    /// Keyed by the id's bytes (``RecordKey``).
    private(set) var labelOfID: [RecordKey: VectorID] = [:]
    /// Indexed by label (labels are dense: freed ones are reused).
    private(set) var idOfLabel: [String?] = []
    private(set) var labels = LabelTable()
    /// Indexed by label: each live record's texts by field (empty: none, or no text fields).
    private(set) var textOfLabel: [[String: String]] = []
    /// The BM25 index over the records' texts, when the collection has text fields.
    let textIndex: TextIndex?
    let tokenizer = Tokenizer()
    /// Deleted ids not yet known to be checkpointed, with the delete's LSN
    /// (``Store/checkpoint(to:)`` prunes them; the store's
    /// `tombstoneHorizon` says below which LSN they are forgotten).
    private(set) var tombstones: [RecordKey: UInt64] = [:]
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

    /// A new, empty collection; a snapshot's collection is built around its
    /// loaded `index` and `textIndex` (then ``install(_:staged:tombstones:)``).
    /// `vectors` says where a new HNSW index keeps its floats.
    init(
        _ configuration: CollectionConfiguration, index: CollectionIndex? = nil, textIndex: TextIndex? = nil,
        vectors: VectorPlacement = .heap
    ) throws(EngineError) {
        self.configuration = configuration
        staging = StagingBuffer(dimension: configuration.dimension)
        if let text = configuration.text {
            guard textIndex == nil || textIndex?.parameters == text.parameters else {
                throw .invalidArgument("collection '\(configuration.name)': its text index has other BM25 parameters")
            }
            self.textIndex = textIndex ?? TextIndex(parameters: text.parameters)
        } else {
            guard textIndex == nil else { throw .invalidArgument("collection '\(configuration.name)' has no text fields but a text index") }
            self.textIndex = nil
        }
        if configuration.dimension == 0 {
            format = .noVectors(metric: configuration.metric)
        } else {
            do { format = try VectorFormat(dimension: configuration.dimension, metric: configuration.metric) } catch {
                throw .invalidArgument("collection '\(configuration.name)': \(error)")
            }
        }
        if let index {
            self.index = index
            return
        }
        do {
            if configuration.dimension == 0 {
                self.index = RecordsOnlyIndex()
            } else if let ivf = configuration.ivf {
                try ivf.validate()
                self.index = try IVFCollectionIndex(dimension: configuration.dimension, metric: configuration.metric, settings: ivf)
            } else {
                self.index = try HNSWIndex(dimension: configuration.dimension, metric: configuration.metric, configuration: configuration.hnsw,
                                           vectorMemory: try vectors.memory())
            }
        } catch let error as EngineError {
            throw error
        } catch let error as IndexError {
            throw vectors.engineError(error, collection: configuration.name) { .invalidArgument("collection '\(configuration.name)': \($0)") }
        } catch {
            throw .invalidArgument("collection '\(configuration.name)': \(error)")
        }
    }

    /// Applies a validated batch written at `lsn` (replay applies logged
    /// batches the same way); `terms[i]` are record i's terms
    /// (``validateTexts(_:)``, empty without text fields). A record whose
    /// current version was written at or after `lsn` is left alone, so
    /// applying a record twice is harmless.
    func apply(upsert records: [Record], prepared: [Float], terms: [[String]] = [], lsn: UInt64) {
        let d = configuration.dimension
        prepared.withUnsafeBufferPointer { rows in
            lock.withWriteLock {
                for (i, r) in records.enumerated() {
                    if let label = place(id: r.id, metadata: r.metadata, text: r.text, terms: terms.isEmpty ? [] : terms[i], lsn: lsn) {
                        // (Records without vectors, dimension 0: an empty row, copied from anywhere.)
                        staging.append(rows.baseAddress.map { $0 + i * d } ?? Self.emptyRow, label: label)
                    }
                }
            }
        }
    }

    /// Replay: applies a batch whose rows ``prepareLogged(_:dimension:into:)``
    /// already wrote into staging blocks (`placed`, in record order), with
    /// its texts (empty: none) and their terms.
    func apply(
        ids: [String], metadata values: [MetadataValue], texts: [[String: String]] = [], terms: [[String]] = [],
        placed: [(block: StagingBuffer.Block, rows: Int)], lsn: UInt64
    ) {
        lock.withWriteLock {
            labelOfID.reserveCapacity(labelOfID.count + ids.count)
            var i = 0
            for (block, rows) in placed {
                for _ in 0..<rows {
                    // A version already applied still fills its row: under a dead label, dropped when indexed.
                    let label = place(id: ids[i], metadata: values[i], text: texts.isEmpty ? [:] : texts[i],
                                      terms: terms.isEmpty ? [] : terms[i], lsn: lsn) ?? deadLabel()
                    staging.adoptWrittenRow(of: block, label: label)
                    i += 1
                }
            }
        }
    }

    /// Gives `id` a new staged version written at `lsn` (write lock held),
    /// retiring the one it replaces; nil if its version at or after `lsn` is
    /// already applied.
    private func place(id: String, metadata value: MetadataValue, text: [String: String], terms: [String], lsn: UInt64) -> VectorID? {
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
        setText(text, terms: terms, of: label)
        return label
    }

    /// Records `label`'s texts and indexes their terms (write lock held; the label holds no text yet).
    private func setText(_ text: [String: String], terms: [String], of label: VectorID) {
        guard let textIndex, !text.isEmpty else { return }
        keepText(text, of: label)
        textIndex.set(terms, for: label)
    }

    /// Stores `label`'s texts in `textOfLabel`, growing it as needed (write lock held).
    private func keepText(_ text: [String: String], of label: VectorID) {
        let i = Int(label)
        if i >= textOfLabel.count { textOfLabel.append(contentsOf: repeatElement([:], count: i + 1 - textOfLabel.count)) }
        textOfLabel[i] = text
    }

    /// Forgets `label`'s texts (write lock held).
    private func clearText(of label: VectorID) {
        guard let textIndex, Int(label) < textOfLabel.count, !textOfLabel[Int(label)].isEmpty else { return }
        textOfLabel[Int(label)] = [:]
        textIndex.remove(label)
    }

    /// The texts of `label` (empty: none).
    func text(of label: VectorID) -> [String: String] {
        Int(label) < textOfLabel.count ? textOfLabel[Int(label)] : [:]
    }

    /// The row of a record without a vector (dimension 0): nothing is read from it.
    nonisolated(unsafe) private static let emptyRow: UnsafePointer<Float> = UnsafePointer(UnsafeMutablePointer<Float>.allocate(capacity: 1))

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

    /// Installs a snapshot's records into this new, empty collection (its
    /// index holds the indexed ones; `staged` holds a row per staged one;
    /// its text index, if loaded, one document per record with a text, else
    /// it is built here), checking that they agree; the metadata posting
    /// lists are deferred (built by the store's maintenance).
    func install(
        _ records: [SnapshotRecord], staged: [(VectorID, UnsafeRawBufferPointer)], tombstones: [RecordKey: UInt64]
    ) throws(RestoreProblem) {
        try lock.withWriteLock { () throws(RestoreProblem) in
            // Labels above the highest live one are as good as never handed out (nothing refers to them):
            // the table is built up to it, so its size follows the records, not a declared bound.
            let used = records.lazy.map { Int($0.label) + 1 }.max() ?? 0
            labels = LabelTable(bound: used, placed: records.map { ($0.label, $0.placement, $0.lsn) })
            metadata.deferPostings()
            let textIndexLoaded = (textIndex?.count ?? 0) > 0
            var texts = 0
            for r in records {
                labelOfID[RecordKey(r.id)] = r.label
                setID(r.id, of: r.label)
                metadata.set(r.metadata, for: r.label)
                guard !r.text.isEmpty else { continue }
                guard let textIndex, Set(r.text.keys).isSubset(of: configuration.text?.fields ?? []) else {
                    throw RestoreProblem(reason: "record '\(r.id)' holds a text in a field the collection does not declare")
                }
                texts += 1
                if textIndexLoaded {
                    guard textIndex.hasDocument(r.label) else { throw RestoreProblem(reason: "record '\(r.id)' is missing from the text index") }
                    keepText(r.text, of: r.label)
                } else {
                    setText(r.text, terms: terms(of: r.text), of: r.label)
                }
            }
            guard labelOfID.count == records.count else { throw RestoreProblem(reason: "an id appears twice") }
            guard (textIndex?.count ?? 0) == texts else { throw RestoreProblem(reason: "the text index holds documents of no record") }
            // Every graph label is a record's indexed version; every staged row a staged one.
            guard index.count == records.lazy.filter({ $0.placement == .indexed }).count,
                  records.allSatisfy({ $0.placement != .indexed || index.contains($0.label) }) else {
                throw RestoreProblem(reason: "the graph and the records disagree")
            }
            let d = configuration.dimension
            let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
            defer { row.deallocate() }
            for (label, bytes) in staged {
                guard Int(label) < labels.bound, labels.placement(label) == .staged else {
                    throw RestoreProblem(reason: "staged row for label \(label), which is not staged")
                }
                do throws(IndexError) {
                    try format.prepare(bytes.bindMemory(to: Float.self), into: row, row: Int(label))
                } catch {
                    throw RestoreProblem(reason: "staged vector: \(error)")
                }
                staging.append(row, label: label)
            }
            guard staging.count == records.count - index.count else { throw RestoreProblem(reason: "staged rows missing") }
            self.tombstones = tombstones
        }
    }

    /// Records restored into a collection whose graph holds their vectors
    /// under labels 0..<ids.count (``Store/restoreCollection``), with their
    /// texts (empty: none) and the texts' terms.
    func installRestored(ids: [String], lsns: [UInt64], metadata values: [MetadataValue], texts: [[String: String]] = [], terms: [[String]] = []) {
        lock.withWriteLock {
            labels = LabelTable(bound: ids.count, placed: (0..<ids.count).map { (VectorID($0), .indexed, lsns[$0]) })
            labelOfID.reserveCapacity(ids.count)
            for (i, id) in ids.enumerated() {
                labelOfID[RecordKey(id)] = VectorID(i)
                setID(id, of: VectorID(i))
                metadata.set(values[i], for: VectorID(i))
                if !texts.isEmpty { setText(texts[i], terms: terms[i], of: VectorID(i)) }
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
        clearText(of: label)
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
            let taken: (block: StagingBuffer.Block, floats: [Float]?, labels: [VectorID])? = lock.withWriteLock {
                guard let block = staging.sealOldest() else { return nil }
                let rows = block.rows { labels.placement($0) == .staged }
                // A dead row's label stays `.deadStaged` until its block is removed below: freed now, it could
                // go to a new record while this block (searched and read until then) still holds the dead row.
                for label in block.labels where labels.placement(label) == .staged { labels.set(label, .inFlight) }
                return (block, rows.floats, rows.labels)
            }
            guard let taken else { return nil }
            var failure: IndexError?
            if !taken.labels.isEmpty {
                // The rows were prepared on their way in; a sealed block's rows do not change, so they go
                // to the index from the block itself unless some died while staged.
                do throws(IndexError) {
                    if let packed = taken.floats {
                        try packed.withUnsafeBufferPointer { (rows) throws(IndexError) in
                            try index.insert(preparedRows: rows, labels: taken.labels, threads: threads)
                        }
                    } else {
                        try index.insert(preparedRows: taken.block.allRows, labels: taken.labels, threads: threads)
                    }
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
                if failure == nil {
                    staging.removeOldest()
                    for label in taken.block.labels where labels.placement(label) == .deadStaged { labels.set(label, .free) }
                }
            }
            if let failure { throw failure }
            blocksIndexed += 1
            return taken.labels.count
        }
    }

    /// Pins `rows` for the checkpoint in progress (releasing a previous
    /// pin): from here on a version that ends sets its vector aside first.
    func pin(_ rows: CheckpointRows) {
        lock.withWriteLock {
            checkpointRows?.markReleased()
            checkpointRows = rows
        }
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

}
