import Dispatch
import EngramKernels

/// An inverted-file index with full-precision vectors (IVF-Flat): k-means
/// centroids split the space into `nlist` cells; each vector lives in the
/// list of its nearest centroid; a search scans only the `nprobe` lists
/// whose centroids are nearest the query, exactly, with the metric's SIMD
/// kernel (issue 6).
///
/// Invariants (``invariantProblems()`` checks them):
/// - every live label is in exactly one list, at the position `location`
///   records, and no list holds anything else;
/// - a list's `vectors` hold `labels.count × dimension` prepared floats, row
///   `i` belonging to `labels[i]`.
///
/// Concurrency: searches take the lock shared; training, adds and deletes
/// take it exclusively.
///
/// A search returns `min(k, allowed live vectors)` results, as HNSW does:
/// when the `nprobe` nearest lists hold fewer than `k` (allowed) vectors, it
/// goes on to the next nearest lists until it has `k` or has scanned them all.
public final class IVFFlatIndex: @unchecked Sendable {
    public let format: VectorFormat
    public let nlist: Int
    public var dimension: Int { format.dimension }
    public var metric: Metric { format.metric }

    private final class InvertedList {
        var labels: [VectorID] = []
        var vectors: [Float] = []
    }

    private let lock = ReadWriteLock()
    private var centroids: [Float] = []
    private var lists: [InvertedList]
    private var location: [VectorID: (list: Int32, row: Int32)] = [:]

    public init(dimension: Int, metric: Metric, nlist: Int) throws(IndexError) {
        format = try VectorFormat(dimension: dimension, metric: metric)
        guard (1...1_000_000).contains(nlist) else { throw .invalidParameter(.nlist, value: nlist) }
        self.nlist = nlist
        lists = (0..<nlist).map { _ in InvertedList() }
    }

    public var isTrained: Bool { lock.withReadLock { !centroids.isEmpty } }

    /// Bytes held by centroids, list rows and labels (capacity, not count).
    public var memoryBytes: Int {
        lock.withReadLock {
            lists.reduce(centroids.capacity * 4) { $0 + $1.vectors.capacity * 4 + $1.labels.capacity * 4 }
        }
    }
    public var count: Int { lock.withReadLock { location.count } }

    /// Trains the centroids with k-means on `vectors` (row after row;
    /// validated and prepared like any input), 10 iterations by default as
    /// FAISS's IVF training does. Training again is refused while the index
    /// holds vectors.
    @discardableResult
    public func train(_ vectors: [Float], iterations: Int = 10, maxPointsPerCentroid: Int = 256, seed: UInt64 = 1234, threads: Int = 1) throws(IndexError) -> KMeans.Result {
        let prepared = try prepare(vectors)
        let n = prepared.count / dimension
        guard n >= nlist else { throw .invalidParameter(.nlist, value: nlist) }
        let trained = try prepared.withUnsafeBufferPointer { (p) throws(IndexError) in
            try KMeans.train(p.baseAddress!, count: n, dimension: dimension, metric: metric, configuration: .init(
                clusters: nlist, iterations: iterations, maxPointsPerCentroid: maxPointsPerCentroid, seed: seed, threads: threads))
        }
        try lock.withWriteLock { () throws(IndexError) in
            guard location.isEmpty else { throw .invalidParameter(.nlist, value: nlist) }
            centroids = trained.centroids
        }
        return trained
    }

    /// Adds (or replaces: a label already present moves to its new vector)
    /// `labels.count` vectors, all or nothing.
    public func add(contentsOf vectors: [Float], labels: [VectorID], threads: Int = 1) throws(IndexError) {
        guard vectors.count == labels.count * dimension else {
            throw .raggedBatch(floats: vectors.count, dimension: dimension)
        }
        var seen = Set<VectorID>(minimumCapacity: labels.count)
        for label in labels where !seen.insert(label).inserted { throw .duplicateID(label) }
        let prepared = try prepare(vectors)
        try lock.withWriteLock { () throws(IndexError) in
            guard !centroids.isEmpty else { throw .notTrained }
            let assigned = prepared.withUnsafeBufferPointer { p in
                centroids.withUnsafeBufferPointer { c in
                    KMeans.assign(p.baseAddress!, count: labels.count, dimension: dimension, metric: metric,
                                  centroids: c.baseAddress!, clusters: nlist, threads: threads)
                }
            }
            // Each list grows once per add, to what it receives (a bulk add into empty lists leaves no
            // spare capacity), and by at least half again (adds one at a time stay amortised O(1)).
            var arriving = [Int](repeating: 0, count: nlist)
            for l in assigned { arriving[Int(l)] += 1 }
            for (l, extra) in arriving.enumerated() where extra > 0 && lists[l].labels.count + extra > lists[l].labels.capacity {
                let rows = Swift.max(lists[l].labels.count + extra, lists[l].labels.capacity * 3 / 2)
                lists[l].labels.reserveCapacity(rows)
                lists[l].vectors.reserveCapacity(rows * dimension)
            }
            prepared.withUnsafeBufferPointer { p in
                for (i, label) in labels.enumerated() {
                    if location[label] != nil { removeLocked(label) }
                    let list = lists[Int(assigned[i])]
                    location[label] = (assigned[i], Int32(list.labels.count))
                    list.labels.append(label)
                    list.vectors.append(contentsOf: UnsafeBufferPointer(rebasing: p[(i * dimension)..<((i + 1) * dimension)]))
                }
            }
        }
    }

    /// Removes `label`; unknown labels are an error.
    public func delete(_ label: VectorID) throws(IndexError) {
        try lock.withWriteLock { () throws(IndexError) in
            guard location[label] != nil else { throw .unknownID(label) }
            removeLocked(label)
        }
    }

    public func contains(_ label: VectorID) -> Bool { lock.withReadLock { location[label] != nil } }

    /// Swap-removes `label` from its list (write lock held).
    private func removeLocked(_ label: VectorID) {
        guard let (l, r) = location.removeValue(forKey: label) else { return }
        let list = lists[Int(l)], row = Int(r), last = list.labels.count - 1, d = dimension
        if row != last {
            let moved = list.labels[last]
            list.labels[row] = moved
            list.vectors.withUnsafeMutableBufferPointer { v in
                (v.baseAddress! + row * d).update(from: v.baseAddress! + last * d, count: d)
            }
            location[moved] = (l, Int32(row))
        }
        list.labels.removeLast()
        list.vectors.removeLast(d)
    }

    /// The `k` nearest vectors to `query` among the `nprobe` nearest lists
    /// (more when a filter leaves fewer than `k` there), best first.
    public func search(_ query: [Float], k: Int, nprobe: Int, filter: CandidateFilter? = nil) throws(IndexError) -> [SearchResult] {
        try query.withUnsafeBufferPointer { (q) throws(IndexError) in try search(q, k: k, nprobe: nprobe, filter: filter) }
    }

    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, nprobe: Int, filter: CandidateFilter? = nil
    ) throws(IndexError) -> [SearchResult] {
        guard (1...SearchLimits.maxK).contains(k) else { throw .invalidK(k, maxK: SearchLimits.maxK) }
        guard (1...nlist).contains(nprobe) else { throw .invalidParameter(.nprobe, value: nprobe) }
        let prepared = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
        defer { prepared.deallocate() }
        try format.prepare(query, into: prepared, row: 0)
        return try lock.withReadLock { () throws(IndexError) -> [SearchResult] in
            guard !centroids.isEmpty else { throw .notTrained }
            switch metric {
            case .squaredL2: return scan(SquaredL2Kernel.self, prepared, k: k, nprobe: nprobe, filter: filter)
            case .innerProduct: return scan(InnerProductKernel.self, prepared, k: k, nprobe: nprobe, filter: filter)
            case .cosine: return scan(CosineKernel.self, prepared, k: k, nprobe: nprobe, filter: filter)
            }
        }
    }

    private func scan<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, k: Int, nprobe: Int, filter: CandidateFilter?
    ) -> [SearchResult] {
        let d = dimension
        // The nprobe nearest lists (a bounded heap, not a sort of all nlist)…
        var nearest = TopKHeap(capacity: nprobe)
        centroids.withUnsafeBufferPointer { c in
            for l in 0..<nlist { nearest.consider(distance: K.distance(query, c.baseAddress! + l * d, count: d), id: VectorID(l)) }
        }
        var heap = TopKHeap(capacity: k)
        var admitted = 0
        func scanList(_ l: Int) {
            let list = lists[l]
            list.labels.withUnsafeBufferPointer { labels in
                list.vectors.withUnsafeBufferPointer { vectors in
                    guard var row = vectors.baseAddress else { return }
                    for label in labels {
                        if filter?.allows(label) ?? true {
                            heap.consider(distance: K.distance(query, row, count: d), id: label)
                            admitted += 1
                        }
                        row += d
                    }
                }
            }
        }
        let probed = nearest.sortedResults()
        for hit in probed { scanList(Int(hit.id)) }
        if admitted < k {
            // …and, while fewer than k vectors were admitted, the next nearest lists in order.
            let scanned = Set(probed.map { Int($0.id) })
            var rest = [(distance: Float, list: Int)]()
            centroids.withUnsafeBufferPointer { c in
                for l in 0..<nlist where !scanned.contains(l) { rest.append((K.distance(query, c.baseAddress! + l * d, count: d), l)) }
            }
            rest.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.list < $1.list) }
            for entry in rest {
                if admitted >= k { break }
                scanList(entry.list)
            }
        }
        return heap.sortedResults()
    }

    /// Validated, prepared copies of `vectors` (a whole number of rows).
    private func prepare(_ vectors: [Float]) throws(IndexError) -> [Float] {
        guard vectors.count % dimension == 0 else { throw .raggedBatch(floats: vectors.count, dimension: dimension) }
        var out = [Float](repeating: 0, count: vectors.count)
        try vectors.withUnsafeBufferPointer { (input) throws(IndexError) in
            try out.withUnsafeMutableBufferPointer { (output) throws(IndexError) in
                for r in 0..<(vectors.count / dimension) {
                    try format.prepare(UnsafeBufferPointer(rebasing: input[(r * dimension)..<((r + 1) * dimension)]),
                                       into: output.baseAddress! + r * dimension, row: r)
                }
            }
        }
        return out
    }

    /// Broken invariants, in words; empty when the index is sound.
    public func invariantProblems() -> [String] {
        lock.withReadLock {
            var problems = [String]()
            var total = 0
            for (l, list) in lists.enumerated() {
                if list.vectors.count != list.labels.count * dimension { problems.append("list \(l): \(list.vectors.count) floats for \(list.labels.count) labels") }
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
