import EngramSync
import EngramChecksum
import EngramIndex
import EngramKernels
import Synchronization

/// An IVF collection's index (Docs/ENGINE.md, "Collections on IVF"): the
/// vectors it is given are held and searched exactly until there are
/// ``IVFSettings/vectorsBeforeTraining`` of them; then k-means trains the
/// lists on them and an `IVFIndex` (flat lists) holds everything from then
/// on. ``retrainIfDrifted(threads:)`` (the store's maintenance) retrains it
/// when `IVFIndex/needsRetraining(threshold:clippedThreshold:)` says so,
/// while searches and writes go on.
///
/// Invariants: before training every live label has one row in `pending`
/// (`pendingRow` maps it); after training `pending` is empty and `ivf`
/// holds every live label.
///
/// Concurrency: `lock` guards the switch from pending to trained and the
/// pending rows (searches shared, writes exclusive); the trained index has
/// its own lock. Inserts come one batch at a time (the collection's
/// indexer), so at most one training runs; it trains on a copy with no lock
/// held and takes the lock exclusively only to add what is pending and swap.
final class IVFCollectionIndex: CollectionIndex, @unchecked Sendable {
    let settings: IVFSettings
    let format: VectorFormat
    private let lock = ReadWriteLock()
    private var pendingLabels: [VectorID] = []
    private var pendingVectors: [Float] = []
    private var pendingRow: [VectorID: Int] = [:]
    private(set) var ivf: IVFIndex?
    /// Retrainings after drift since this index was created or loaded.
    let retrainings = Atomic<Int>(0)

    init(dimension: Int, metric: Metric, settings: IVFSettings) throws(IndexError) {
        format = try VectorFormat(dimension: dimension, metric: metric)
        self.settings = settings
    }

    var dimension: Int { format.dimension }
    /// The trained index, once there is one (read under the lock: the indexer sets it).
    var trained: IVFIndex? { lock.withReadLock { ivf } }
    var isTrained: Bool { trained != nil }
    var count: Int { lock.withReadLock { pendingLabels.count + (ivf?.count ?? 0) } }
    func contains(_ label: VectorID) -> Bool { lock.withReadLock { pendingRow[label] != nil || ivf?.contains(label) == true } }

    func insert(preparedRows rows: UnsafeBufferPointer<Float>, labels: [VectorID], threads: Int) throws(IndexError) {
        let d = dimension
        guard rows.count == labels.count * d else { throw .raggedBatch(floats: rows.count, dimension: d) }
        let trained: IVFIndex? = lock.withWriteLock { () -> IVFIndex? in
            if let ivf { return ivf }
            for (i, label) in labels.enumerated() {
                let row = UnsafeBufferPointer(rebasing: rows[(i * d)..<((i + 1) * d)])
                if let at = pendingRow[label] {
                    pendingVectors.withUnsafeMutableBufferPointer { v in
                        _ = UnsafeMutableBufferPointer(rebasing: v[(at * d)..<((at + 1) * d)]).initialize(from: row)
                    }
                } else {
                    pendingRow[label] = pendingLabels.count
                    pendingLabels.append(label)
                    pendingVectors.append(contentsOf: row)
                }
            }
            return nil
        }
        if let trained {
            try trained.add(preparedRows: rows, labels: labels, threads: threads)
        } else if lock.withReadLock({ pendingLabels.count >= settings.vectorsBeforeTraining }) {
            try train(threads: threads)
        }
    }

    /// Trains the lists on the pending vectors (a copy, no lock held), then
    /// adds what is pending now and swaps, under the exclusive lock.
    private func train(threads: Int) throws(IndexError) {
        let sample = lock.withReadLock { pendingVectors }
        let n = sample.count / dimension
        let nlist = Swift.min(n, settings.nlist ?? Swift.max(1, Int((4 * Double(n).squareRoot()).rounded())))
        let index = try IVFIndex(dimension: dimension, metric: format.metric, nlist: nlist)
        try sample.withUnsafeBufferPointer { (rows) throws(IndexError) in _ = try index.train(preparedRows: rows, threads: threads) }
        try lock.withWriteLock { () throws(IndexError) in
            try pendingVectors.withUnsafeBufferPointer { (rows) throws(IndexError) in
                try index.add(preparedRows: rows, labels: pendingLabels, threads: threads)
            }
            ivf = index
            pendingLabels = []
            pendingVectors = []
            pendingRow = [:]
        }
    }

    func delete(_ label: VectorID) throws(IndexError) {
        try lock.withWriteLock { () throws(IndexError) in
            if let ivf { return try ivf.delete(label) }
            guard let row = pendingRow.removeValue(forKey: label) else { throw .unknownID(label) }
            let last = pendingLabels.count - 1, d = dimension
            if row != last {
                let moved = pendingLabels[last]
                pendingLabels[row] = moved
                pendingRow[moved] = row
                pendingVectors.withUnsafeMutableBufferPointer { v in (v.baseAddress! + row * d).update(from: v.baseAddress! + last * d, count: d) }
            }
            pendingLabels.removeLast()
            pendingVectors.removeLast(d)
        }
    }

    func vector(_ label: VectorID) throws(IndexError) -> [Float] {
        var out = [Float](repeating: 0, count: dimension)
        try out.withUnsafeMutableBufferPointer { (p) throws(IndexError) in try copyVectors([label], toRows: [0], of: p.baseAddress!) }
        return out
    }

    func copyVectors(_ labels: [VectorID], toRows rows: [Int], of destination: UnsafeMutablePointer<Float>) throws(IndexError) {
        try lock.withReadLock { () throws(IndexError) in
            if let ivf { return try ivf.copyVectors(labels, toRows: rows, of: destination) }
            let d = dimension
            for (label, row) in zip(labels, rows) {
                guard let at = pendingRow[label] else { throw .unknownID(label) }
                pendingVectors.withUnsafeBufferPointer { (destination + row * d).update(from: $0.baseAddress! + at * d, count: d) }
            }
        }
    }

    func search(_ query: UnsafeBufferPointer<Float>, k: Int, searchEffort: Int?, filter: CandidateFilter?) throws(IndexError) -> [SearchResult] {
        try lock.withReadLock { () throws(IndexError) -> [SearchResult] in
            if let ivf {
                let nprobe = Swift.min(ivf.nlist, Swift.max(1, searchEffort ?? settings.nprobe))
                return try ivf.search(query, k: k, nprobe: nprobe, filter: filter)
            }
            guard (1...SearchLimits.maxK).contains(k) else { throw .invalidK(k, maxK: SearchLimits.maxK) }
            let prepared = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
            defer { prepared.deallocate() }
            try format.prepare(query, into: prepared, row: 0)
            return scanPending(prepared, k: k, filter: filter)
        }
    }

    /// Exact search over the pending rows (lock held), through ``ExactScan``.
    private func scanPending(_ query: UnsafePointer<Float>, k: Int, filter: CandidateFilter?) -> [SearchResult] {
        var heap = TopKHeap(capacity: k)
        pendingVectors.withUnsafeBufferPointer { rows in
            pendingLabels.withUnsafeBufferPointer { labels in
                guard let base = rows.baseAddress else { return }
                ExactScan.scan(metric: format.metric, query: query, rows: base, count: labels.count, stride: dimension,
                               labels: labels, allowed: filter.map { f in { f.allows($0) } }, into: &heap)
            }
        }
        return heap.sortedResults()
    }

    var info: CollectionIndexInfo {
        let trained = self.trained
        return CollectionIndexInfo(kind: "ivf", trained: trained != nil, lists: trained?.nlist, drift: trained?.drift,
                                   retrainings: retrainings.load(ordering: .relaxed), memory: memoryOfIndex)
    }

    /// The trained index's bytes, plus the rows waiting for training as floats.
    private var memoryOfIndex: IndexMemory {
        lock.withReadLock {
            var m = ivf?.memory ?? IndexMemory(floats: 0, codes: 0, links: 0, other: 0)
            m.floats += pendingVectors.capacity * 4
            m.links += pendingLabels.capacity * 4
            return m
        }
    }

    /// Flat lists have no deleted entries to reclaim (a delete removes the row).
    func compactIfNeeded(tombstoneFraction: Double) -> Int? { nil }
    /// A delete already removes the vector from its list.
    func compactAll() -> Int { 0 }

    /// Retrains the lists when the data has drifted (the store's
    /// maintenance calls it); returns whether it did.
    func retrainIfDrifted(threads: Int) throws(IndexError) -> Bool {
        guard let ivf = trained, ivf.count >= ivf.nlist, ivf.needsRetraining() else { return false }
        try ivf.retrain(threads: threads)
        retrainings.wrappingAdd(1, ordering: .relaxed)
        return true
    }

    // MARK: - Snapshot (Docs/FORMATS.md, "IVF collection index")

    static let magic: [UInt8] = Array("ENGRIVFC".utf8)

    func snapshot() -> [UInt8] {
        lock.withReadLock {
            var out = Self.magic
            func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
            u32(1)
            u32(0x0102_0304)
            u32(dimension)
            u32(pendingLabels.count)
            for label in pendingLabels { u32(Int(label)) }
            pendingVectors.withUnsafeBytes { out.append(contentsOf: $0) }
            let trained = ivf?.snapshot() ?? []
            withUnsafeBytes(of: UInt64(trained.count).littleEndian) { out.append(contentsOf: $0) }
            out += trained
            withUnsafeBytes(of: out.withUnsafeBytes { CRC32C.checksum($0) }.littleEndian) { out.append(contentsOf: $0) }
            return out
        }
    }

    /// Loads a snapshot written by ``snapshot()`` for a collection of these parameters.
    static func load(_ bytes: UnsafeRawBufferPointer, dimension: Int, metric: Metric, settings: IVFSettings) throws(EngineError) -> IVFCollectionIndex {
        func fail(_ why: String) -> EngineError { .corrupt("IVF collection index: \(why)") }
        guard bytes.count >= 36, Array(bytes[0..<8]) == magic else { throw fail("bad magic or too short") }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])) == stored else { throw fail("checksum mismatch") }
        var at = 8
        let end = bytes.count - 4
        func u32() throws(EngineError) -> Int {
            guard at + 4 <= end else { throw fail("truncated at byte \(at)") }
            defer { at += 4 }
            return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        guard try u32() == 1 else { throw fail("unsupported version") }
        guard try u32() == 0x0102_0304 else { throw fail("bad byte-order mark") }
        guard try u32() == dimension else { throw fail("dimension differs from the collection's") }
        let pending = try u32()
        guard pending <= (end - at) / 4 else { throw fail("pending count \(pending) exceeds the bytes") }
        let index: IVFCollectionIndex
        do { index = try IVFCollectionIndex(dimension: dimension, metric: metric, settings: settings) } catch { throw fail("\(error)") }
        var labels = [VectorID]()
        for _ in 0..<pending { labels.append(VectorID(try u32())) }
        guard at + pending * dimension * 4 + 8 <= end else { throw fail("pending rows truncated") }
        let vectors = (0..<(pending * dimension)).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at + 4 * $0, as: UInt32.self))) }
        at += pending * dimension * 4
        guard vectors.allSatisfy(\.isFinite) else { throw fail("a pending vector is not finite") }
        let storedLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        at += 8
        guard let trainedLength = Int(exactly: storedLength), trainedLength == end - at else {
            throw fail("index length \(storedLength), \(end - at) bytes left")
        }
        if trainedLength > 0 {
            guard pending == 0 else { throw fail("pending rows beside a trained index") }
            let ivf: IVFIndex
            do throws(SnapshotError) { ivf = try IVFIndex.load(snapshot: UnsafeRawBufferPointer(rebasing: bytes[at..<end])) } catch {
                throw fail("\(error)")
            }
            guard ivf.dimension == dimension, ivf.metric == metric, ivf.encoding == .flat else { throw fail("its parameters differ from the collection's") }
            index.ivf = ivf
        }
        for (row, label) in labels.enumerated() {
            guard index.pendingRow.updateValue(row, forKey: label) == nil else { throw fail("label \(label) pending twice") }
        }
        index.pendingLabels = labels
        index.pendingVectors = vectors
        return index
    }
}
