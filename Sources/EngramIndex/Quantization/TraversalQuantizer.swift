import EngramKernels

/// Scalar quantisation for walking a graph, at 4 or 7 bits a coordinate:
/// each coordinate `t` is mapped linearly from its trained range
/// `[minimum[t], minimum[t] + levels·step[t]]` onto `levels + 1` values,
/// `code = round((x − minimum) / step)` clamped to `0…levels`, standing for
/// `x̂ = minimum + code · step`.
///
/// - **4 bits** (15 levels) for vectors of more than 128 coordinates: a
///   vector shrinks from `4·d` bytes to `d/2` (a 384-d sentence embedding:
///   192 bytes, three cache lines instead of 24).
/// - **7 bits** (127 levels) for shorter vectors, whose 7-bit row is at
///   most two cache lines anyway: at 50 dimensions a 4-bit row saves nothing
///   a 7-bit one does not, and places neighbours less faithfully.
///
/// The range of a coordinate runs between two quantiles over the training
/// vectors (``lowQuantile(bits:)``): with few levels, stretching the range
/// to a rare extreme would coarsen every other value, and a range (or a
/// standard deviation) inflated by one outlier would also shrink every other
/// coordinate's weight when a query's weights are scaled to 8 bits. Values
/// outside the range are clamped; a vector far outside is flagged
/// (``Encoded/farOutside``).
///
/// Codes are laid out in blocks of 32 bytes for the kernels. 4 bits
/// (``nibbleDotProduct(_:_:blocks:)``): the dimension is padded to a
/// multiple of 64, byte `j` of block `b` holds coordinate `64b + j` low and
/// `64b + 32 + j` high. 7 bits (``byteDotProduct(_:_:blocks:)``): padded to a
/// multiple of 32, one byte a coordinate. Padding codes are 0. A query is
/// scored against codes without decoding them: `q·x̂ = Σ minimum·q +
/// Σ code·(step·q)`, the constant once per search and the weights `step·q`
/// scaled to 8-bit integers (``QueryWeights``).
///
/// Invariants: `bits` is 4 or 7; `minimum` and `step` hold `dimension`
/// finite values, every `step > 0`.
public struct TraversalQuantizer: Sendable, Equatable {
    public let dimension: Int
    public let bits: Int
    public let minimum: [Float]
    public let step: [Float]

    /// The code width for vectors of `dimension` coordinates: 7 bits up to 128, else 4.
    public static func bits(forDimension dimension: Int) -> Int { dimension <= 128 ? 7 : 4 }

    /// The quantiles of each coordinate that the levels span: 0.3% and 99.7%
    /// at 4 bits (about ±2.75σ of a Gaussian, whose best uniform 16-level
    /// range is about ±2.7σ), 0.05% and 99.95% at 7 bits (about ±3.3σ).
    public static func lowQuantile(bits: Int) -> Double { bits == 4 ? 0.003 : 0.0005 }
    /// Rows the quantiles are taken over, at most.
    public static let sampleRows = 8192
    /// How much of the range the codes may clamp away, per coordinate on
    /// average (as a root mean square), before a vector's codes are untrustworthy
    /// (``Encoded/farOutside``, ``farThreshold``).
    public static let trustedOverreach: Float = 0.25

    /// The largest code.
    public var levels: Int { bits == 4 ? 15 : 127 }
    /// Coordinates a 32-byte block holds.
    var coordinatesPerBlock: Int { bits == 4 ? 64 : 32 }
    /// Blocks of 32 code bytes.
    public var blocks: Int { (dimension + coordinatesPerBlock - 1) / coordinatesPerBlock }
    /// The dimension rounded up to whole blocks.
    public var paddedDimension: Int { blocks * coordinatesPerBlock }
    /// Bytes of one vector's codes.
    public var codeBytes: Int { blocks * 32 }

    /// Trains `bits`-bit ranges on `count` prepared vectors (rows of
    /// `dimension` floats): each coordinate's quantiles over at most
    /// ``sampleRows`` evenly spaced rows.
    public init(training vectors: UnsafePointer<Float>, count: Int, dimension d: Int, bits: Int) {
        let bits = bits == 4 ? 4 : 7
        let levels = Float(bits == 4 ? 15 : 127)
        var minimum = [Float](repeating: 0, count: d), step = [Float](repeating: 1, count: d)
        if count > 0 {
            let stride = Swift.max(1, count / Self.sampleRows)
            let rows = Array(Swift.stride(from: 0, to: count, by: stride))
            let m = rows.count
            // The quantile's rank, but never the two most extreme values on either side (a small
            // sample's 0.05% quantile would be its extreme, an outlier's), nor past the middle half.
            let trimmed = Swift.min(Swift.max(Int(Self.lowQuantile(bits: bits) * Double(m)), 2), (m - 1) / 4)
            let lowRank = trimmed, highRank = m - 1 - trimmed
            var column = [Float](repeating: 0, count: m)
            for t in 0..<d {
                for (i, r) in rows.enumerated() { column[i] = vectors[r * d + t] }
                column.sort()
                let from = column[lowRank], to = column[highRank]
                minimum[t] = from
                step[t] = Swift.max((to - from) / levels, Swift.max(abs(from), 1) * 0x1p-20)
            }
        }
        self.init(dimension: d, bits: bits, minimum: minimum, step: step)
    }

    /// A quantiser with the given ranges (`bits` other than 4 means 7).
    public init(dimension: Int, bits: Int, minimum: [Float], step: [Float]) {
        self.dimension = dimension
        self.bits = bits == 4 ? 4 : 7
        self.minimum = minimum
        self.step = step
    }

    /// What ``encode(_:into:clipped:)`` learned about a vector.
    public struct Encoded {
        /// `‖x̂‖²`, the squared length of what the codes stand for.
        public var length: Float
        /// Whether the part the codes clamp away exceeds ``TraversalQuantizer/farThreshold``:
        /// the codes misplace the vector, so a search should score it with its floats.
        public var farOutside: Bool
    }

    /// Writes ``codeBytes`` bytes of codes for `vector` into `codes` and
    /// counts the coordinates clamped into range into `clipped`.
    public func encode(_ vector: UnsafePointer<Float>, into codes: UnsafeMutableRawPointer, clipped: inout Int) -> Encoded {
        let bytes = codes.assumingMemoryBound(to: UInt8.self)
        bytes.update(repeating: 0, count: codeBytes)
        let top = Float(levels)
        var length: Float = 0, excess: Float = 0
        for t in 0..<dimension {
            let level = ((vector[t] - minimum[t]) / step[t]).rounded()
            let beyond = overreach(level)
            if beyond > 0 {
                clipped += 1
                excess += beyond * beyond
            }
            let code = UInt8(Swift.max(0, Swift.min(top, level.isNaN ? 0 : level)))
            let decoded = minimum[t] + Float(code) * step[t]
            length += decoded * decoded
            if bits == 4 {
                let within = t % 64
                bytes[t / 64 * 32 + within % 32] |= within < 32 ? code : code << 4
            } else {
                bytes[t] = code
            }
        }
        return Encoded(length: length, farOutside: !(excess <= farThreshold))
    }

    /// Whether the part of `vector` outside the ranges exceeds ``farThreshold``:
    /// codes are then no guide to its neighbours (a search for such a query
    /// walks on the floats).
    public func isFarOutside(_ vector: UnsafePointer<Float>) -> Bool {
        var excess: Float = 0
        minimum.withUnsafeBufferPointer { low in
            step.withUnsafeBufferPointer { width in
                for t in 0..<dimension {
                    let beyond = overreach((vector[t] - low[t]) / width[t])
                    excess += beyond * beyond
                }
            }
        }
        return !(excess <= farThreshold)
    }

    /// Steps by which `level` lies outside `0…levels` (0 inside, and for NaN).
    @inline(__always)
    func overreach(_ level: Float) -> Float {
        level < 0 ? -level : Swift.max(0, level - Float(levels))
    }

    /// The squared length, in steps, of the part of a vector its codes clamp
    /// away, past which the vector counts as far outside: the
    /// ``trustedOverreach`` share of the range in every coordinate at once.
    /// A few coordinates a little outside (the tails of real data) stay well
    /// below it; one coordinate far outside exceeds it alone.
    var farThreshold: Float {
        let reach = Self.trustedOverreach * Float(levels)
        return reach * reach * Float(dimension)
    }

    /// The code of coordinate `t` in a row.
    @inline(__always)
    func code(_ codes: UnsafeRawPointer, _ t: Int) -> UInt8 {
        guard bits == 4 else { return codes.load(fromByteOffset: t, as: UInt8.self) }
        let byte = codes.load(fromByteOffset: t / 64 * 32 + t % 32, as: UInt8.self)
        return t % 64 < 32 ? byte & 15 : byte >> 4
    }

    /// The vector a packed row stands for.
    public func decode(_ codes: UnsafeRawPointer, into vector: UnsafeMutablePointer<Float>) {
        for t in 0..<dimension { vector[t] = minimum[t] + Float(code(codes, t)) * step[t] }
    }

    /// One query's side of the score, computed once per search.
    public struct QueryWeights {
        /// `step[t]·q[t]` scaled to −127…127, ``TraversalQuantizer/paddedDimension`` entries (0 past the dimension).
        public var weights: [Int8]
        /// `Σ minimum[t]·q[t]`.
        public var constant: Float
        /// Multiplies a code dot product back to the float scale.
        public var scale: Float
    }

    /// The weights of a prepared query.
    public func weights(for query: UnsafePointer<Float>) -> QueryWeights {
        let w = scaledQueryWeights(minimum: minimum, step: step, query: query, count: paddedDimension, limit: 127, as: Int8.self)
        return QueryWeights(weights: w.weights, constant: w.constant, scale: w.scale)
    }
}
