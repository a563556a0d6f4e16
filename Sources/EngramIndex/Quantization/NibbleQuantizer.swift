import EngramKernels

/// 4-bit scalar quantisation for walking a graph: each coordinate `t` is
/// mapped linearly from its trained range `[minimum[t], minimum[t] + 15·step[t]]`
/// onto 16 levels, `code = round((x − minimum) / step)` clamped to 0…15,
/// standing for `x̂ = minimum + code · step`. A vector shrinks from `4·d`
/// bytes to `d/2` (a 384-d sentence embedding: 192 bytes, three cache lines).
///
/// The range of a coordinate runs between its 0.3% and 99.7% quantiles over
/// the training vectors: with only 16 levels, stretching the range to a
/// rare extreme would coarsen every other value, and a range (or a standard
/// deviation) inflated by one outlier would also shrink every other
/// coordinate's weight when a query's weights are scaled to 8 bits.
/// Values outside the range are clamped.
///
/// Codes are packed for ``nibbleDotProduct(_:_:blocks:)``: the dimension is
/// padded to a multiple of 64 (``paddedDimension``; padding codes are 0) and
/// block `b` is 32 bytes, byte `j` holding coordinate `64b + j` low and
/// `64b + 32 + j` high. A query is scored against codes without decoding
/// them: `q·x̂ = Σ minimum·q + Σ code·(step·q)`, the constant once per
/// search and the weights `step·q` scaled to 8-bit integers (``QueryWeights``).
///
/// Invariants: `minimum` and `step` hold `dimension` finite values, every
/// `step > 0`.
public struct NibbleQuantizer: Sendable, Equatable {
    public let dimension: Int
    public let minimum: [Float]
    public let step: [Float]

    /// The quantiles of each coordinate that the 16 levels span (about ±2.75
    /// standard deviations of a Gaussian, whose best uniform 16-level range
    /// is about ±2.7): the range ignores the rarest values on each side.
    public static let lowQuantile = 0.003
    public static let highQuantile = 0.997
    /// Rows the quantiles are taken over, at most.
    public static let sampleRows = 8192

    /// The dimension rounded up to whole 64-coordinate blocks.
    public var paddedDimension: Int { (dimension + 63) / 64 * 64 }
    /// Blocks of 64 coordinates (32 code bytes each).
    public var blocks: Int { (dimension + 63) / 64 }
    /// Bytes of one vector's codes.
    public var codeBytes: Int { blocks * 32 }

    /// Trains the ranges on `count` prepared vectors (rows of `dimension`
    /// floats): each coordinate's ``lowQuantile`` and ``highQuantile`` over
    /// at most ``sampleRows`` evenly spaced rows.
    public init(training vectors: UnsafePointer<Float>, count: Int, dimension d: Int) {
        var minimum = [Float](repeating: 0, count: d), step = [Float](repeating: 1, count: d)
        if count > 0 {
            let stride = Swift.max(1, count / Self.sampleRows)
            let rows = Array(Swift.stride(from: 0, to: count, by: stride))
            let m = rows.count
            let lowRank = Int((Double(m - 1) * Self.lowQuantile).rounded(.down))
            let highRank = Int((Double(m - 1) * Self.highQuantile).rounded(.up))
            var column = [Float](repeating: 0, count: m)
            for t in 0..<d {
                for (i, r) in rows.enumerated() { column[i] = vectors[r * d + t] }
                column.sort()
                let from = column[lowRank], to = column[highRank]
                minimum[t] = from
                step[t] = Swift.max((to - from) / 15, Swift.max(abs(from), 1) * 0x1p-20)
            }
        }
        self.init(dimension: d, minimum: minimum, step: step)
    }

    /// A quantiser with the given ranges.
    public init(dimension: Int, minimum: [Float], step: [Float]) {
        self.dimension = dimension
        self.minimum = minimum
        self.step = step
    }

    /// Steps beyond its range past which a clamped coordinate makes the
    /// codes of its vector untrustworthy (``Encoded/farOutside``).
    public static let trustedOverreach: Float = 4

    /// What ``encode(_:into:clipped:)`` learned about a vector.
    public struct Encoded {
        /// `‖x̂‖²`, the squared length of what the codes stand for.
        public var length: Float
        /// Whether a coordinate lies more than ``NibbleQuantizer/trustedOverreach``
        /// steps outside its range: the codes misplace the vector, so a
        /// search should score it with its floats.
        public var farOutside: Bool
    }

    /// Writes ``codeBytes`` bytes of codes for `vector` into `codes` and
    /// counts the coordinates clamped into range into `clipped`.
    public func encode(_ vector: UnsafePointer<Float>, into codes: UnsafeMutableRawPointer, clipped: inout Int) -> Encoded {
        let bytes = codes.assumingMemoryBound(to: UInt8.self)
        bytes.update(repeating: 0, count: codeBytes)
        var length: Float = 0
        var farOutside = false
        for t in 0..<dimension {
            let level = ((vector[t] - minimum[t]) / step[t]).rounded()
            if level < -0.5 || level > 15.5 {
                clipped += 1
                if level < -Self.trustedOverreach || level > 15 + Self.trustedOverreach { farOutside = true }
            }
            let code = UInt8(Swift.max(0, Swift.min(15, level.isNaN ? 0 : level)))
            let decoded = minimum[t] + Float(code) * step[t]
            length += decoded * decoded
            let block = t / 64, within = t % 64
            let byte = block * 32 + within % 32
            bytes[byte] |= within < 32 ? code : code << 4
        }
        return Encoded(length: length, farOutside: farOutside)
    }

    /// The code of coordinate `t` in a packed row.
    @inline(__always)
    func code(_ codes: UnsafeRawPointer, _ t: Int) -> UInt8 {
        let byte = codes.load(fromByteOffset: t / 64 * 32 + t % 32, as: UInt8.self)
        return t % 64 < 32 ? byte & 15 : byte >> 4
    }

    /// The vector a packed row stands for.
    public func decode(_ codes: UnsafeRawPointer, into vector: UnsafeMutablePointer<Float>) {
        for t in 0..<dimension { vector[t] = minimum[t] + Float(code(codes, t)) * step[t] }
    }

    /// One query's side of the score, computed once per search.
    public struct QueryWeights {
        /// `step[t]·q[t]` scaled to −127…127, ``NibbleQuantizer/paddedDimension`` entries (0 past the dimension).
        public var weights: [Int8]
        /// `Σ minimum[t]·q[t]`.
        public var constant: Float
        /// Multiplies a code dot product back to the float scale.
        public var scale: Float
    }

    /// The weights of a prepared query.
    public func weights(for query: UnsafePointer<Float>) -> QueryWeights {
        var constant: Float = 0, largest: Float = 0
        var raw = [Float](repeating: 0, count: paddedDimension)
        for t in 0..<dimension {
            constant += minimum[t] * query[t]
            raw[t] = step[t] * query[t]
            largest = Swift.max(largest, abs(raw[t]))
        }
        let scale = largest > 0 && largest.isFinite ? largest / 127 : 1
        // Clamped, and 0 for a weight that is not finite: no value may trap the conversion.
        let weights = raw.map { value -> Int8 in
            let w = (value / scale).rounded()
            return w.isFinite ? Int8(Swift.max(-127, Swift.min(127, w))) : 0
        }
        return QueryWeights(weights: weights, constant: constant, scale: scale)
    }
}
