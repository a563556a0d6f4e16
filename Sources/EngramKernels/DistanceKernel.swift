/// A distance function fixed at compile time, so index code generic over it
/// is specialised per metric: one kernel per metric, no per-distance
/// dispatch, no existential in a hot loop.
///
/// Every kernel returns a distance where smaller means closer (see
/// ``Metric``). Indexes pick the kernel once, from their `Metric`, and
/// pass it down as a generic parameter.
public protocol DistanceKernel {
    /// The metric this kernel implements.
    static var metric: Metric { get }

    /// The distance between two vectors of `count` floats.
    static func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
    ) -> Float

    /// The distances from `query` to four rows: the same metric, batched
    /// for scans and graph expansions (lane i is row i).
    static func distances4(
        _ query: UnsafePointer<Float>,
        _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
        _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, count: Int
    ) -> SIMD4<Float>

    /// Whether ``distance(product:queryLength:rowLength:)`` reads the squared
    /// lengths (squared L2 only), so quantised scoring keeps them only then.
    static var usesLengths: Bool { get }

    /// The distance from the inner product of the query with a row and (when
    /// ``usesLengths``) their squared lengths `‖q‖²` and `‖x‖²`: how scoring
    /// on 8-bit codes turns its integer products into this metric's distance.
    static func distance(product: Float, queryLength: Float, rowLength: Float) -> Float

    /// The same for four rows at once (lane i is row i).
    static func distances4(products: SIMD4<Float>, queryLength: Float, rowLengths: SIMD4<Float>) -> SIMD4<Float>
}

/// `Σ (a−b)²`.
public enum SquaredL2Kernel: DistanceKernel {
    public static var metric: Metric { .squaredL2 }

    @inlinable @inline(__always)
    public static func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
    ) -> Float {
        squaredEuclidean(a, b, count: count)
    }

    @inlinable @inline(__always)
    public static func distances4(
        _ query: UnsafePointer<Float>,
        _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
        _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, count: Int
    ) -> SIMD4<Float> {
        squaredEuclidean4(query, r0, r1, r2, r3, count: count)
    }

    public static var usesLengths: Bool { true }

    @inlinable @inline(__always)
    public static func distance(product: Float, queryLength: Float, rowLength: Float) -> Float {
        queryLength - 2 * product + rowLength
    }

    @inlinable @inline(__always)
    public static func distances4(products: SIMD4<Float>, queryLength: Float, rowLengths: SIMD4<Float>) -> SIMD4<Float> {
        SIMD4(repeating: queryLength) - 2 * products + rowLengths
    }
}

/// `−Σ a·b`: the negated inner product, so that smaller is closer.
public enum InnerProductKernel: DistanceKernel {
    public static var metric: Metric { .innerProduct }

    @inlinable @inline(__always)
    public static func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
    ) -> Float {
        -innerProduct(a, b, count: count)
    }

    @inlinable @inline(__always)
    public static func distances4(
        _ query: UnsafePointer<Float>,
        _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
        _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, count: Int
    ) -> SIMD4<Float> {
        -innerProduct4(query, r0, r1, r2, r3, count: count)
    }

    public static var usesLengths: Bool { false }

    @inlinable @inline(__always)
    public static func distance(product: Float, queryLength: Float, rowLength: Float) -> Float { -product }

    @inlinable @inline(__always)
    public static func distances4(products: SIMD4<Float>, queryLength: Float, rowLengths: SIMD4<Float>) -> SIMD4<Float> { -products }
}

/// `1 − Σ a·b`, for vectors already normalised to unit length.
public enum CosineKernel: DistanceKernel {
    public static var metric: Metric { .cosine }

    @inlinable @inline(__always)
    public static func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
    ) -> Float {
        1 - innerProduct(a, b, count: count)
    }

    @inlinable @inline(__always)
    public static func distances4(
        _ query: UnsafePointer<Float>,
        _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
        _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, count: Int
    ) -> SIMD4<Float> {
        1 - innerProduct4(query, r0, r1, r2, r3, count: count)
    }

    public static var usesLengths: Bool { false }

    @inlinable @inline(__always)
    public static func distance(product: Float, queryLength: Float, rowLength: Float) -> Float { 1 - product }

    @inlinable @inline(__always)
    public static func distances4(products: SIMD4<Float>, queryLength: Float, rowLengths: SIMD4<Float>) -> SIMD4<Float> { 1 - products }
}

extension Metric {
    /// The distance between two vectors under this metric (dispatches per
    /// call: for tests and one-off use, never inside a loop).
    @inlinable
    public func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
    ) -> Float {
        switch self {
        case .squaredL2: return SquaredL2Kernel.distance(a, b, count: count)
        case .innerProduct: return InnerProductKernel.distance(a, b, count: count)
        case .cosine: return CosineKernel.distance(a, b, count: count)
        }
    }
}
