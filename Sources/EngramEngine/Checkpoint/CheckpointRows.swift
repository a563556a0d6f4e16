import EngramIndex

/// The vectors of a checkpoint's changed records, read from the collection
/// while the target streams them rather than copied while writers wait
/// (Docs/ENGINE.md, "Checkpoints"). A checkpoint of a million 384-d
/// records used to copy 1.5 GB aside first; now it holds a label per row.
///
/// At the capture each row is either a staged row, read from its block
/// (held here: a block's rows never change), or a graph row, read from the
/// index by label. A label is reused once its version ends, so while the
/// rows are pinned the collection sets a pinned graph label's vector aside
/// before it ends that version (`setAside(_:from:)`, from
/// `Collection.retire`).
///
/// Invariants:
/// - Row `i` reads as the vector the `i`-th changed record had at the
///   capture, until `release()`; reading after it is an error.
/// - A graph row's label is in `pinned` until its version ends; then its
///   vector is in `setAside`.
/// - `pinned`, `setAside` and `released` change only under the owning
///   collection's write lock and are read under its lock.
public final class CheckpointRows: @unchecked Sendable {
    public let dimension: Int
    /// The collection the rows belong to (nil: no rows).
    private let collection: Collection?
    /// The label of each row.
    private let labels: [VectorID]
    /// Each row's staged vector, nil for a graph row (empty: every row is in the graph).
    private let staged: [UnsafePointer<Float>?]
    /// Keeps the staged rows' memory alive.
    private let blocks: [StagingBuffer.Block]
    private var pinned: Bitset
    private var setAside: [VectorID: [Float]] = [:]
    private var released = false

    /// No rows.
    init(dimension: Int) {
        self.dimension = dimension
        collection = nil
        labels = []
        staged = []
        blocks = []
        pinned = Bitset(capacity: 0)
    }

    /// The rows of `labels`, live labels of `collection` (its lock held,
    /// writers paused); `stagedRows` maps the labels not yet in the graph to
    /// their rows in `blocks`.
    init(_ collection: Collection, labels: [VectorID], stagedRows: [VectorID: UnsafeMutablePointer<Float>],
         blocks: [StagingBuffer.Block], labelBound: Int) {
        dimension = collection.configuration.dimension
        self.collection = collection
        self.labels = labels
        self.blocks = blocks
        pinned = Bitset(capacity: labelBound)
        var staged = [UnsafePointer<Float>?]()
        if !stagedRows.isEmpty { staged = [UnsafePointer<Float>?](repeating: nil, count: labels.count) }
        for (i, label) in labels.enumerated() {
            if let row = stagedRows[label] { staged[i] = UnsafePointer(row) } else { pinned.insert(label) }
        }
        self.staged = staged
    }

    public var count: Int { labels.count }

    /// Copies rows `rows` into `destination`, back to back (`rows.count ×
    /// dimension` floats). Throws for rows out of range, after
    /// `release()`, and (corruption) for a graph row the index lacks.
    public func read(_ rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws(EngineError) {
        guard rows.lowerBound >= 0, rows.upperBound <= labels.count else {
            throw .invalidArgument("checkpoint rows \(rows) of \(labels.count)")
        }
        guard let collection, !rows.isEmpty, dimension > 0 else { return }  // (dimension 0: rows of no floats)
        let d = dimension
        try collection.lock.withReadLock { () throws(EngineError) in
            guard !released else { throw .invalidArgument("checkpoint rows read after their checkpoint ended") }
            var graphLabels = [VectorID](), graphRows = [Int]()
            graphLabels.reserveCapacity(rows.count)
            graphRows.reserveCapacity(rows.count)
            for i in rows {
                let out = destination + (i - rows.lowerBound) * d
                if !staged.isEmpty, let row = staged[i] {
                    out.update(from: row, count: d)
                } else if !setAside.isEmpty, let vector = setAside[labels[i]] {
                    guard vector.count == d else {
                        throw .corrupt("collection '\(collection.configuration.name)': checkpointed record of label \(labels[i]) was missing from its graph")
                    }
                    vector.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: d) }
                } else {
                    graphLabels.append(labels[i])
                    graphRows.append(i - rows.lowerBound)
                }
            }
            guard !graphLabels.isEmpty else { return }
            do throws(IndexError) { try collection.index.copyVectors(graphLabels, toRows: graphRows, of: destination) } catch {
                throw .corrupt("collection '\(collection.configuration.name)': a checkpointed record is missing from its graph: \(error)")
            }
        }
    }

    /// Copies `label`'s vector aside if it is a pinned graph row: its
    /// version is about to end and the label may then be reused (the
    /// collection's write lock held).
    func setAside(_ label: VectorID, from index: CollectionIndex) {
        guard !released, pinned.contains(label) else { return }
        pinned.remove(label)
        guard dimension > 0 else { return }
        var vector = [Float](repeating: 0, count: dimension)
        let copied = vector.withUnsafeMutableBufferPointer { out in
            (try? index.copyVectors([label], toRows: [0], of: out.baseAddress!)) != nil
        }
        // A label the graph lacks is corruption: the read reports it (an empty row).
        setAside[label] = copied ? vector : []
    }

    /// Ends the pin: the collection stops setting vectors aside and the rows
    /// can no longer be read (the store calls this once the target's commit
    /// returned or failed).
    func release() {
        collection?.unpin(self)
    }

    /// Marks the rows released (the collection's write lock held).
    func markReleased() {
        released = true
        setAside = [:]
    }
}
