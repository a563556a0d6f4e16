import EngramKernels

/// Contiguous, aligned storage of fixed-dimension `Float` vectors.
///
/// Row `i` starts at `base + i * stride`, rows back to back with no padding
/// (`stride == dimension`), in one 64-byte aligned buffer. Padding rows to a
/// multiple of eight floats was measured and dropped: on glove (d = 50) it
/// reads 12% more bytes per exact scan, which is bandwidth-bound, and costs
/// memory in every index; the kernels handle the tail of a row themselves.
///
/// Invariants:
/// - `stride == dimension`; `count ≤ capacity`; `base` is 64-byte aligned.
/// - Rows `0..<count` hold vectors that passed ``prepare(_:into:row:)``:
///   finite, and unit length when the metric normalises.
///
/// Concurrency: not synchronised. Growing moves the buffer, so readers must
/// not hold ``base`` across an append; the owning index states its contract.
public final class VectorStorage {
    /// The largest supported dimension.
    public static let maxDimension = 4096
    /// The largest number of rows (ids are `UInt32`).
    public static let maxCount = Int(UInt32.max)
    static let alignment = 64

    public let format: VectorFormat
    public var dimension: Int { format.dimension }
    public var metric: Metric { format.metric }
    public let stride: Int
    public private(set) var count: Int = 0
    public private(set) var capacity: Int = 0
    /// The first float of row 0. Valid until the next append that grows.
    public private(set) var base: UnsafeMutablePointer<Float>

    public init(dimension: Int, metric: Metric, reserve: Int = 0) throws(IndexError) {
        self.format = try VectorFormat(dimension: dimension, metric: metric)
        self.stride = dimension
        self.base = Self.allocate(floats: 8)
        if reserve > 0 { try grow(toAtLeast: reserve, exactly: true) }
    }

    deinit { base.deallocate() }

    /// Bytes held by the buffer (capacity, not just count).
    public var allocatedBytes: Int { Swift.max(capacity, 1) * stride * MemoryLayout<Float>.size }

    /// The first float of row `id`.
    @inlinable @inline(__always)
    public func row(_ id: Int) -> UnsafeMutablePointer<Float> { base + id &* stride }

    /// Row `id`'s `dimension` floats as an array (as stored: normalised under cosine).
    public func vector(_ id: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: row(id), count: dimension))
    }

    /// Ensures room for `rows` rows, so that appends up to it do not move ``base``.
    public func reserve(_ rows: Int) throws(IndexError) {
        if rows > capacity { try grow(toAtLeast: rows, exactly: true) }
    }

    /// See ``VectorFormat/prepare(_:into:row:)``.
    public func prepare(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutablePointer<Float>, row: Int
    ) throws(IndexError) {
        try format.prepare(source, into: destination, row: row)
    }

    /// Validates and appends `rows` vectors packed in `floats`
    /// (`rows * dimension` values). All or nothing: if any row is invalid,
    /// nothing is appended. Returns the id of the first new row.
    @discardableResult
    public func append(contentsOf floats: UnsafeBufferPointer<Float>) throws(IndexError) -> VectorID {
        guard floats.count % dimension == 0 else {
            throw .raggedBatch(floats: floats.count, dimension: dimension)
        }
        let rows = floats.count / dimension
        guard count + rows <= Self.maxCount else { throw .capacityExceeded(limit: Self.maxCount) }
        if count + rows > capacity { try grow(toAtLeast: count + rows) }
        for r in 0..<rows {
            let source = UnsafeBufferPointer(rebasing: floats[(r * dimension)..<((r + 1) * dimension)])
            try prepare(source, into: row(count + r), row: r)
        }
        let first = VectorID(count)
        count += rows
        return first
    }

    /// Moves the rows to a buffer of at least `rows` rows: exactly that many
    /// when reserving, else doubling so that appends are amortised O(1).
    private func grow(toAtLeast rows: Int, exactly: Bool = false) throws(IndexError) {
        guard rows <= Self.maxCount else { throw .capacityExceeded(limit: Self.maxCount) }
        var newCapacity = exactly ? rows : Swift.max(capacity, 16)
        while newCapacity < rows { newCapacity = Swift.min(newCapacity * 2, Self.maxCount) }
        let fresh = Self.allocate(floats: newCapacity * stride)
        fresh.update(from: base, count: count * stride)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    private static func allocate(floats: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: floats * MemoryLayout<Float>.size, alignment: alignment)
        return raw.initializeMemory(as: Float.self, repeating: 0, count: floats)
    }
}
