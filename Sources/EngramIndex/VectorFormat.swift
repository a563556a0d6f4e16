import EngramKernels

/// What every stored vector and every query must be, for one index: the
/// dimension, finite values, and unit length under cosine.
///
/// ``prepare(_:into:row:)`` is the single gate between caller input and the
/// kernels, shared by every index.
public struct VectorFormat: Sendable, Equatable {
    public let dimension: Int
    public let metric: Metric

    public init(dimension: Int, metric: Metric) throws(IndexError) {
        guard (1...VectorStorage.maxDimension).contains(dimension) else {
            throw .invalidDimension(dimension)
        }
        self.dimension = dimension
        self.metric = metric
    }

    /// The format of records that hold no vector (a collection of dimension 0): only the empty vector
    /// passes, and preparing it does nothing.
    package static func noVectors(metric: Metric) -> VectorFormat { VectorFormat(uncheckedDimension: 0, metric: metric) }

    private init(uncheckedDimension: Int, metric: Metric) {
        dimension = uncheckedDimension
        self.metric = metric
    }

    /// Validates `source` and writes it, prepared, into `destination`
    /// (`dimension` floats): checks the dimension and that every value is
    /// finite, and normalises under cosine (rejecting zero vectors). `row`
    /// only labels errors. On error, `destination` may hold partial data.
    public func prepare(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutablePointer<Float>, row: Int
    ) throws(IndexError) {
        guard source.count == dimension else {
            throw .dimensionMismatch(expected: dimension, actual: source.count)
        }
        guard dimension > 0, let src = source.baseAddress else { return }
        guard allFinite(src, count: dimension) else {
            let bad = source.firstIndex { !$0.isFinite } ?? 0
            throw .nonFiniteValue(row: row, component: bad)
        }
        destination.update(from: src, count: dimension)
        try finishPreparing(destination, row: row)
    }

    /// Validated, prepared copies of `vectors`, row after row (a whole number
    /// of rows; `row` in an error is the row's index in the batch).
    public func prepared(_ vectors: [Float]) throws(IndexError) -> [Float] {
        guard dimension > 0 else {
            guard vectors.isEmpty else { throw .dimensionMismatch(expected: 0, actual: vectors.count) }
            return []
        }
        guard vectors.count % dimension == 0 else { throw .raggedBatch(floats: vectors.count, dimension: dimension) }
        var out = [Float](repeating: 0, count: vectors.count)
        try vectors.withUnsafeBufferPointer { (input) throws(IndexError) in
            try out.withUnsafeMutableBufferPointer { (output) throws(IndexError) in
                for r in 0..<(vectors.count / dimension) {
                    try prepare(UnsafeBufferPointer(rebasing: input[(r * dimension)..<((r + 1) * dimension)]),
                                into: output.baseAddress! + r * dimension, row: r)
                }
            }
        }
        return out
    }

    /// Validates and prepares, in place, a row of `dimension` floats that
    /// was copied in unchecked (replay decodes logged rows this way).
    public func prepareInPlace(_ vector: UnsafeMutablePointer<Float>, row: Int) throws(IndexError) {
        guard dimension > 0 else { return }
        guard allFinite(UnsafePointer(vector), count: dimension) else {
            let bad = UnsafeBufferPointer(start: vector, count: dimension).firstIndex { !$0.isFinite } ?? 0
            throw .nonFiniteValue(row: row, component: bad)
        }
        try finishPreparing(vector, row: row)
    }

    private func finishPreparing(_ destination: UnsafeMutablePointer<Float>, row: Int) throws(IndexError) {
        if metric.normalizesVectors {
            let length = normalize(destination, count: dimension)
            if length == 0 { throw .zeroVector(row: row) }
            if !length.isFinite { throw .vectorTooLarge(row: row) }
        }
    }
}
