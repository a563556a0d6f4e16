import EngramKernels

/// 8-bit scalar quantisation (SQ8): each coordinate `t` is mapped linearly
/// from its trained range `[minimum[t], minimum[t] + 255·step[t]]` onto a
/// byte, `code = round((x − minimum) / step)`, clamped to 0…255; the byte
/// stands for `x̂ = minimum + code · step`. A vector shrinks from `4·d` to
/// `d` bytes.
///
/// Scoring a query against codes without decoding them: the query's part
/// of `q·x̂ = Σ minimum·q + Σ code·(step·q)` is computed once per search
/// (``QueryWeights``): the constant `Σ minimum·q`, and the weights
/// `step·q` quantised to 16-bit integers, so that each code is scored with
/// the integer kernel ``codeDotProduct(_:_:count:)``. The weights' own
/// rounding (below 2⁻¹³ of the largest weight) is far below the codes'.
///
/// Invariants: `minimum` and `step` hold `dimension` finite values, every
/// `step > 0` (a coordinate constant over the training data gets a tiny
/// step, so it still round-trips).
public struct ScalarQuantizer: Sendable, Equatable {
    public let dimension: Int
    public let minimum: [Float]
    public let step: [Float]

    /// Trains the ranges on `count` prepared vectors: each coordinate's
    /// minimum and maximum over them.
    public init(training vectors: UnsafePointer<Float>, count: Int, dimension d: Int) {
        var low = [Float](repeating: .infinity, count: d), high = [Float](repeating: -.infinity, count: d)
        for i in 0..<count {
            let row = vectors + i * d
            for t in 0..<d {
                low[t] = Swift.min(low[t], row[t])
                high[t] = Swift.max(high[t], row[t])
            }
        }
        if count == 0 { low = [Float](repeating: 0, count: d); high = low }
        self.init(dimension: d, minimum: low, step: zip(low, high).map { Swift.max(($1 - $0) / 255, Swift.max(abs($0), 1) * 0x1p-20) })
    }

    /// A quantiser with the given ranges (a snapshot's).
    public init(dimension: Int, minimum: [Float], step: [Float]) {
        self.dimension = dimension
        self.minimum = minimum
        self.step = step
    }

    /// Writes the `dimension` codes of `vector` and returns `‖x̂‖²`, the
    /// squared length of what the codes stand for (squared L2 needs it).
    @discardableResult
    public func encode(_ vector: UnsafePointer<Float>, into codes: UnsafeMutablePointer<UInt8>) -> Float {
        var clipped = 0
        return encode(vector, into: codes, clipped: &clipped)
    }

    /// ``encode(_:into:)`` that also counts, into `clipped`, the coordinates
    /// outside the trained range (clamped to 0 or 255): data that has moved
    /// away from what the ranges were trained on.
    public func encode(_ vector: UnsafePointer<Float>, into codes: UnsafeMutablePointer<UInt8>, clipped: inout Int) -> Float {
        for t in 0..<dimension {
            let level = ((vector[t] - minimum[t]) / step[t]).rounded()
            if level < -0.5 || level > 255.5 { clipped += 1 }
            codes[t] = UInt8(Swift.max(0, Swift.min(255, level)))
        }
        return squaredLength(of: UnsafePointer(codes))
    }

    /// `‖x̂‖²` of the vector the codes stand for (a loaded snapshot recomputes it).
    public func squaredLength(of codes: UnsafePointer<UInt8>) -> Float {
        var sum: Float = 0
        for t in 0..<dimension {
            let decoded = minimum[t] + Float(codes[t]) * step[t]
            sum += decoded * decoded
        }
        return sum
    }

    /// The vector the codes stand for.
    public func decode(_ codes: UnsafePointer<UInt8>, into vector: UnsafeMutablePointer<Float>) {
        for t in 0..<dimension { vector[t] = minimum[t] + Float(codes[t]) * step[t] }
    }

    /// The largest weight magnitude that keeps ``codeDotProduct(_:_:count:)``
    /// exact: `255 · w · dimension < 2³¹`, and at most 2¹⁴ − 1.
    var weightLimit: Int { Swift.min(16_383, Int(Int32.max) / (255 * dimension) - 1) }

    /// One query's side of the score, computed once per search.
    public struct QueryWeights {
        /// `step[t]·q[t]`, scaled to integers.
        public var weights: [Int16]
        /// `Σ minimum[t]·q[t]`.
        public var constant: Float
        /// Multiplies a code dot product back to the float scale.
        public var scale: Float
    }

    /// The weights of a prepared query.
    public func weights(for query: UnsafePointer<Float>) -> QueryWeights {
        let w = scaledQueryWeights(minimum: minimum, step: step, query: query, count: dimension, limit: weightLimit, as: Int16.self)
        return QueryWeights(weights: w.weights, constant: w.constant, scale: w.scale)
    }
}
