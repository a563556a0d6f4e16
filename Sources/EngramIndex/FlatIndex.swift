import EngramSync
import Dispatch
import EngramKernels

/// The exact index: every search compares the query with every stored vector.
///
/// It is the ground truth that every approximate index is tested against,
/// and the right choice for small collections or very selective filters.
///
/// ```swift
/// let index = try FlatIndex(dimension: 3, metric: .cosine)
/// try index.add([1, 0, 0])
/// try index.add([0, 1, 0])
/// let hits = try index.search([0.9, 0.1, 0], k: 1)   // [(0, 0.0061…)]
/// ```
///
/// Invariants:
/// - Ids are dense: vector `i` was the `i`-th added, `0 ≤ i < count`.
/// - Every stored vector is finite and, under cosine, unit length
///   (``VectorStorage``).
/// - Results are exact: best first by ``SearchResult/distance``, ties by lower id.
///
/// Concurrency: `Sendable` and synchronised: searches share a lock that an
/// `add` takes exclusively (it may move the storage), so any thread may
/// call anything. A batch search runs on several threads itself, under one
/// hold of the shared lock.
///
/// - Complexity: search is O(n·d) time and O(k) extra memory.
public final class FlatIndex: @unchecked Sendable {
    /// The vectors. Read it only while nothing is added (the index's own
    /// calls take its lock; direct readers of the storage do not).
    public let storage: VectorStorage
    /// Shared by searches and reads, exclusive for adds.
    private let lock = ReadWriteLock()

    public var dimension: Int { storage.dimension }
    public var metric: Metric { storage.metric }
    public var count: Int { lock.withReadLock { storage.count } }
    /// Bytes held by the vectors (the index has no other sizeable state).
    public var memoryBytes: Int { lock.withReadLock { storage.allocatedBytes } }

    public init(dimension: Int, metric: Metric, reserve: Int = 0) throws(IndexError) {
        storage = try VectorStorage(dimension: dimension, metric: metric, reserve: reserve)
    }

    /// Adds one vector; returns its id.
    @discardableResult
    public func add(_ vector: [Float]) throws(IndexError) -> VectorID {
        guard vector.count == dimension else {
            throw .dimensionMismatch(expected: dimension, actual: vector.count)
        }
        return try add(contentsOf: vector)
    }

    /// Adds `floats.count / dimension` vectors packed row after row; all or
    /// nothing. Returns the id of the first.
    @discardableResult
    public func add(contentsOf floats: [Float]) throws(IndexError) -> VectorID {
        try floats.withUnsafeBufferPointer { (buffer) throws(IndexError) in
            try lock.withWriteLock { () throws(IndexError) in try storage.append(contentsOf: buffer) }
        }
    }

    /// The stored vector `id` (normalised under cosine).
    public func vector(_ id: VectorID) throws(IndexError) -> [Float] {
        try lock.withReadLock { () throws(IndexError) -> [Float] in
            guard Int(id) < storage.count else { throw .unknownID(id) }
            return storage.vector(Int(id))
        }
    }

    /// The `k` nearest stored vectors to `query` that `filter` allows, best
    /// first. Returns `min(k, allowed)` results.
    public func search(
        _ query: [Float], k: Int, filter: CandidateFilter? = nil
    ) throws(IndexError) -> [SearchResult] {
        try query.withUnsafeBufferPointer { (q) throws(IndexError) in try search(q, k: k, filter: filter) }
    }

    /// ``search(_:k:filter:)`` for a query the caller holds in memory it owns.
    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, filter: CandidateFilter? = nil
    ) throws(IndexError) -> [SearchResult] {
        try Self.validate(k: k)
        let q = QueryBuffer(stride: storage.stride)
        try storage.prepare(query, into: q.pointer, row: 0)
        return lock.withReadLock { scan(q.pointer, k: k, filter: filter) }
    }

    /// Searches many queries at once on up to `threads` threads (default:
    /// the active processor count). `queries` holds the queries packed row
    /// after row. Each result list is the same as a single ``search``.
    public func search(
        batch queries: [Float], k: Int, filter: CandidateFilter? = nil, threads: Int? = nil
    ) throws(IndexError) -> [[SearchResult]] {
        try Self.validate(k: k)
        let d = dimension
        guard queries.count % d == 0 else { throw .raggedBatch(floats: queries.count, dimension: d) }
        let nq = queries.count / d
        // Validate (and normalise) every query before any work: all or nothing.
        let prepared = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, nq * storage.stride))
        defer { prepared.deallocate() }
        try queries.withUnsafeBufferPointer { (all) throws(IndexError) in
            for r in 0..<nq {
                try storage.prepare(
                    UnsafeBufferPointer(rebasing: all[(r * d)..<((r + 1) * d)]),
                    into: prepared + r * storage.stride, row: r)
            }
        }
        var results = [[SearchResult]](repeating: [], count: nq)
        let workers = Swift.max(1, Swift.min(threads ?? ProcessInfoCores.active, nq))
        results.withUnsafeMutableBufferPointer { out in
            lock.withReadLock { scanAll(prepared, count: nq, k: k, filter: filter, workers: workers, into: out) }
        }
        return results
    }

    /// The batch's scans, on `workers` threads (the shared lock held by the caller).
    private func scanAll(
        _ prepared: UnsafeMutablePointer<Float>, count nq: Int, k: Int, filter: CandidateFilter?, workers: Int,
        into out: UnsafeMutableBufferPointer<[SearchResult]>
    ) {
        let out = SendablePointer(out.baseAddress!)
        let input = SendablePointer(prepared)
        let stride = storage.stride
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var r = w
            while r < nq {
                (out.pointer + r).pointee = self.scan(input.pointer + r * stride, k: k, filter: filter)
                r += workers
            }
        }
    }

    static func validate(k: Int) throws(IndexError) {
        guard (1...SearchLimits.maxK).contains(k) else { throw .invalidK(k, maxK: SearchLimits.maxK) }
    }

    /// Exact top-k of a prepared query (`stride` floats, normalised if needed), through ``ExactScan``.
    func scan(_ query: UnsafePointer<Float>, k: Int, filter: CandidateFilter?) -> [SearchResult] {
        var heap = TopKHeap(capacity: Swift.min(k, Swift.max(storage.count, 1)))
        let rows = UnsafePointer(storage.base)
        switch filter {
        case nil:
            ExactScan.scan(metric: metric, query: query, rows: rows, count: storage.count, stride: storage.stride,
                           labels: nil, allowed: nil, into: &heap)
        case .bitset(let bits)?:
            ExactScan.scan(metric: metric, query: query, rows: rows, count: storage.count, stride: storage.stride,
                           labels: nil, allowed: { bits.contains($0) }, into: &heap)
        case .predicate(let allows)?:
            ExactScan.scan(metric: metric, query: query, rows: rows, count: storage.count, stride: storage.stride,
                           labels: nil, allowed: allows, into: &heap)
        }
        return heap.sortedResults()
    }
}
