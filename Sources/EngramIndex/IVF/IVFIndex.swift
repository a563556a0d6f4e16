import EngramSync
import Dispatch
import EngramKernels

/// An inverted-file index (issue 6): k-means centroids split the space into
/// `nlist` cells; each vector lives in the list of its nearest centroid; a
/// search scans only the `nprobe` lists whose centroids are nearest the
/// query.
///
/// Two encodings of the list rows (``Encoding``):
/// - **flat**: prepared floats, scanned exactly with the metric's SIMD kernel
///   (IVF-Flat);
/// - **sq8**: one byte per coordinate (``ScalarQuantizer``, trained with the
///   centroids), scanned with the integer kernel — 4× less memory. A search
///   can re-rank its best candidates with full-precision vectors that the
///   caller keeps (``search(_:k:nprobe:filter:rerank:)``).
///
/// Invariants (``invariantProblems()`` checks them):
/// - every live label is in exactly one list, at the position `location`
///   records, and no list holds anything else;
/// - a list holds `labels.count` rows in its encoding: `labels.count ×
///   dimension` floats (flat) or bytes (sq8), and under sq8 with squared L2
///   one `‖x̂‖²` per row.
///
/// Concurrency: searches take the lock shared; training, adds and deletes
/// take it exclusively.
///
/// A search returns `min(k, allowed live vectors)` results, as HNSW does:
/// when the `nprobe` nearest lists hold fewer than `k` (allowed) vectors, it
/// goes on to the next nearest lists until it has `k` or has scanned them all.
public final class IVFIndex: @unchecked Sendable {
    /// How list rows are stored.
    public enum Encoding: String, Sendable, Equatable, CaseIterable {
        case flat
        case sq8
    }

    public let format: VectorFormat
    public let nlist: Int
    /// The search bound to the metric's kernel once, here (``kernelSearch(_:)``).
    let searchWithKernel: KernelSearch
    public let encoding: Encoding
    public var dimension: Int { format.dimension }
    public var metric: Metric { format.metric }

    final class InvertedList {
        var labels: [VectorID] = []
        /// Flat rows.
        var vectors: [Float] = []
        /// SQ8 rows, and `‖x̂‖²` per row under squared L2.
        var codes: [UInt8] = []
        var squaredLengths: [Float] = []
    }

    let lock = ReadWriteLock()
    var centroids: [Float] = []
    var quantizer: ScalarQuantizer?
    var lists: [InvertedList]
    var location: [VectorID: (list: Int32, row: Int32)] = [:]
    /// The training sample's list-size imbalance (see ``imbalance``).
    var trainingImbalance = 0.0
    /// While a retraining runs: the labels written since it copied the lists (exclusive lock held to touch it).
    var journal: Set<VectorID>?
    var lastRetrainCaughtUp = 0
    /// SQ8: coordinates encoded, and those outside the quantiser's trained range, since training or loading.
    var encodedCoordinates = 0
    var clippedCoordinates = 0

    public init(dimension: Int, metric: Metric, nlist: Int, encoding: Encoding = .flat) throws(IndexError) {
        format = try VectorFormat(dimension: dimension, metric: metric)
        searchWithKernel = Self.kernelSearch(metric)
        guard (1...1_000_000).contains(nlist) else { throw .invalidParameter(.nlist, value: nlist) }
        self.nlist = nlist
        self.encoding = encoding
        lists = (0..<nlist).map { _ in InvertedList() }
    }

    public var isTrained: Bool { lock.withReadLock { !centroids.isEmpty } }

    /// Bytes held by centroids, the quantiser, list rows and labels (capacity, not count).
    public var memoryBytes: Int { memory.total }

    /// Bytes held, by what they hold.
    public var memory: IndexMemory {
        lock.withReadLock {
            var m = IndexMemory(floats: 0, codes: 0, links: 0, other: centroids.capacity * 4 + (quantizer == nil ? 0 : 8 * dimension))
            for list in lists {
                m.floats += list.vectors.capacity * 4
                m.codes += list.codes.capacity + list.squaredLengths.capacity * 4
                m.links += list.labels.capacity * 4
            }
            return m
        }
    }
    public var count: Int { lock.withReadLock { location.count } }

    /// Trains the centroids with k-means on `vectors` (row after row;
    /// validated and prepared like any input), 10 iterations by default as
    /// FAISS's IVF training does, and under sq8 the quantiser's ranges on the
    /// same vectors. Training again is refused while the index holds vectors.
    @discardableResult
    public func train(_ vectors: [Float], iterations: Int = 10, maxPointsPerCentroid: Int = 256, seed: UInt64 = 1234, threads: Int = 1) throws(IndexError) -> KMeans.Result {
        let prepared = try format.prepared(vectors)
        return try prepared.withUnsafeBufferPointer { (p) throws(IndexError) in
            try train(preparedRows: p, iterations: iterations, maxPointsPerCentroid: maxPointsPerCentroid, seed: seed, threads: threads)
        }
    }

    /// ``train(_:iterations:maxPointsPerCentroid:seed:threads:)`` on rows
    /// that already passed this index's ``VectorFormat``.
    @discardableResult
    package func train(
        preparedRows rows: UnsafeBufferPointer<Float>, iterations: Int = 10, maxPointsPerCentroid: Int = 256, seed: UInt64 = 1234,
        threads: Int = 1
    ) throws(IndexError) -> KMeans.Result {
        guard rows.count % dimension == 0 else { throw .raggedBatch(floats: rows.count, dimension: dimension) }
        let n = rows.count / dimension
        guard n >= nlist, let p = rows.baseAddress else { throw .invalidParameter(.nlist, value: nlist) }
        let trained = try KMeans.train(p, count: n, dimension: dimension, metric: metric, configuration: .init(
            clusters: nlist, iterations: iterations, maxPointsPerCentroid: maxPointsPerCentroid, seed: seed, threads: threads))
        let ranges = encoding == .sq8 ? ScalarQuantizer(training: p, count: n, dimension: dimension) : nil
        try lock.withWriteLock { () throws(IndexError) in
            guard location.isEmpty else { throw .invalidParameter(.nlist, value: nlist) }
            centroids = trained.centroids
            quantizer = ranges
            trainingImbalance = Self.imbalance(of: trained.clusterSizes, nlist: nlist)
        }
        return trained
    }

    /// Adds (or replaces: a label already present moves to its new vector)
    /// `labels.count` vectors, all or nothing.
    public func add(contentsOf vectors: [Float], labels: [VectorID], threads: Int = 1) throws(IndexError) {
        guard vectors.count == labels.count * dimension else {
            throw .raggedBatch(floats: vectors.count, dimension: dimension)
        }
        let prepared = try format.prepared(vectors)
        try prepared.withUnsafeBufferPointer { (p) throws(IndexError) in try add(preparedRows: p, labels: labels, threads: threads) }
    }

    /// ``add(contentsOf:labels:threads:)`` of rows that already passed this
    /// index's ``VectorFormat``, packed in `rows`.
    package func add(preparedRows rows: UnsafeBufferPointer<Float>, labels: [VectorID], threads: Int = 1) throws(IndexError) {
        guard rows.count == labels.count * dimension else { throw .raggedBatch(floats: rows.count, dimension: dimension) }
        var seen = Set<VectorID>(minimumCapacity: labels.count)
        for label in labels where !seen.insert(label).inserted { throw .duplicateID(label) }
        try lock.withWriteLock { () throws(IndexError) in
            guard !centroids.isEmpty else { throw .notTrained }
            guard !labels.isEmpty, let rows = rows.baseAddress else { return }
            let assigned = centroids.withUnsafeBufferPointer { c in
                KMeans.assign(rows, count: labels.count, dimension: dimension, metric: metric,
                              centroids: c.baseAddress!, clusters: nlist, threads: threads)
            }
            for label in labels where location[label] != nil { removeLocked(label) }
            if journal != nil { journal!.formUnion(labels) }
            // Each list grows once per add, to what it receives (a bulk add into empty lists leaves no
            // spare capacity), and by at least half again (adds one at a time stay amortised O(1)).
            var arriving = [Int](repeating: 0, count: nlist)
            for l in assigned { arriving[Int(l)] += 1 }
            for (l, extra) in arriving.enumerated() where extra > 0 && lists[l].labels.count + extra > lists[l].labels.capacity {
                reserve(lists[l], rows: Swift.max(lists[l].labels.count + extra, lists[l].labels.capacity * 3 / 2))
            }
            for (i, label) in labels.enumerated() {
                let list = lists[Int(assigned[i])]
                location[label] = (assigned[i], Int32(list.labels.count))
                append(rows + i * dimension, label: label, to: list)
            }
        }
    }

    func reserve(_ list: InvertedList, rows: Int) {
        list.labels.reserveCapacity(rows)
        switch encoding {
        case .flat: list.vectors.reserveCapacity(rows * dimension)
        case .sq8:
            list.codes.reserveCapacity(rows * dimension)
            if metric == .squaredL2 { list.squaredLengths.reserveCapacity(rows) }
        }
    }

    /// Appends one prepared row in the index's encoding (write lock held).
    private func append(_ row: UnsafePointer<Float>, label: VectorID, to list: InvertedList) {
        list.labels.append(label)
        switch encoding {
        case .flat:
            list.vectors.append(contentsOf: UnsafeBufferPointer(start: row, count: dimension))
        case .sq8:
            let start = list.codes.count
            list.codes.append(contentsOf: repeatElement(0, count: dimension))
            let squared = list.codes.withUnsafeMutableBufferPointer { quantizer!.encode(row, into: $0.baseAddress! + start, clipped: &clippedCoordinates) }
            encodedCoordinates += dimension
            if metric == .squaredL2 { list.squaredLengths.append(squared) }
        }
    }

    /// Removes `label`; unknown labels are an error.
    public func delete(_ label: VectorID) throws(IndexError) {
        try lock.withWriteLock { () throws(IndexError) in
            guard location[label] != nil else { throw .unknownID(label) }
            removeLocked(label)
            journal?.insert(label)
        }
    }

    public func contains(_ label: VectorID) -> Bool { lock.withReadLock { location[label] != nil } }

    /// Swap-removes `label` from its list (write lock held).
    private func removeLocked(_ label: VectorID) { removeLabel(label, lists: lists, location: &location) }

    /// Swap-removes `label` from `lists`, keeping `location` in step (the
    /// index's own, or a retraining's new ones).
    func removeLabel(_ label: VectorID, lists: [InvertedList], location: inout [VectorID: (list: Int32, row: Int32)]) {
        guard let (l, r) = location.removeValue(forKey: label) else { return }
        let list = lists[Int(l)], row = Int(r), last = list.labels.count - 1, d = dimension
        if row != last {
            let moved = list.labels[last]
            list.labels[row] = moved
            switch encoding {
            case .flat:
                list.vectors.withUnsafeMutableBufferPointer { v in (v.baseAddress! + row * d).update(from: v.baseAddress! + last * d, count: d) }
            case .sq8:
                list.codes.withUnsafeMutableBufferPointer { v in (v.baseAddress! + row * d).update(from: v.baseAddress! + last * d, count: d) }
                if !list.squaredLengths.isEmpty { list.squaredLengths[row] = list.squaredLengths[last] }
            }
            location[moved] = (l, Int32(row))
        }
        list.labels.removeLast()
        switch encoding {
        case .flat: list.vectors.removeLast(d)
        case .sq8:
            list.codes.removeLast(d)
            if !list.squaredLengths.isEmpty { list.squaredLengths.removeLast() }
        }
    }

    /// Broken invariants, in words; empty when the index is sound.
    public func invariantProblems() -> [String] {
        lock.withReadLock {
            var problems = [String]()
            var total = 0
            for (l, list) in lists.enumerated() {
                let rows = list.labels.count
                switch encoding {
                case .flat:
                    if list.vectors.count != rows * dimension { problems.append("list \(l): \(list.vectors.count) floats for \(rows) labels") }
                case .sq8:
                    if list.codes.count != rows * dimension { problems.append("list \(l): \(list.codes.count) codes for \(rows) labels") }
                    if list.squaredLengths.count != (metric == .squaredL2 ? rows : 0) {
                        problems.append("list \(l): \(list.squaredLengths.count) lengths for \(rows) labels")
                    }
                }
                for (r, label) in list.labels.enumerated() {
                    total += 1
                    guard let at = location[label] else { problems.append("list \(l) holds label \(label), which is not live"); continue }
                    if at.list != Int32(l) || at.row != Int32(r) { problems.append("label \(label) is at list \(l) row \(r), recorded at \(at.list)/\(at.row)") }
                }
            }
            if total != location.count { problems.append("\(location.count) live labels, \(total) list entries") }
            return problems
        }
    }
}

extension IVFIndex {
    /// The stored vector of `label` (prepared; under sq8, what its codes stand for).
    public func vector(_ label: VectorID) throws(IndexError) -> [Float] {
        var out = [Float](repeating: 0, count: dimension)
        try out.withUnsafeMutableBufferPointer { (p) throws(IndexError) in try copyVectors([label], toRows: [0], of: p.baseAddress!) }
        return out
    }

    /// Copies the stored vector of `labels[i]` to row `rows[i]` of
    /// `destination` (`dimension` floats per row), under one shared lock.
    public func copyVectors(_ labels: [VectorID], toRows rows: [Int], of destination: UnsafeMutablePointer<Float>) throws(IndexError) {
        let d = dimension
        try lock.withReadLock { () throws(IndexError) in
            for (label, row) in zip(labels, rows) {
                guard let (l, r) = location[label] else { throw .unknownID(label) }
                let list = lists[Int(l)], target = destination + row * d
                switch encoding {
                case .flat:
                    list.vectors.withUnsafeBufferPointer { target.update(from: $0.baseAddress! + Int(r) * d, count: d) }
                case .sq8:
                    list.codes.withUnsafeBufferPointer { quantizer?.decode($0.baseAddress! + Int(r) * d, into: target) }
                }
            }
        }
    }
}
