/// Squared Euclidean distance `Σ (a[i] − b[i])²` of two `count`-float vectors.
///
/// Same structure, remainder handling and non-finite behaviour as
/// ``innerProduct(_:_:count:)``. The square root is never taken: it does
/// not change the order of results.
///
/// - Complexity: O(count), no allocation.
@inlinable @inline(__always)
public func squaredEuclidean(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= count {
        let d0 = load8(a, i) - load8(b, i)
        let d1 = load8(a, i &+ 8) - load8(b, i &+ 8)
        let d2 = load8(a, i &+ 16) - load8(b, i &+ 16)
        let d3 = load8(a, i &+ 24) - load8(b, i &+ 24)
        acc0 = multiplyAdd(acc0, d0, d0)
        acc1 = multiplyAdd(acc1, d1, d1)
        acc2 = multiplyAdd(acc2, d2, d2)
        acc3 = multiplyAdd(acc3, d3, d3)
        i &+= 32
    }
    while i &+ 8 <= count {
        let d0 = load8(a, i) - load8(b, i)
        acc0 = multiplyAdd(acc0, d0, d0)
        i &+= 8
    }
    var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
    while i < count {
        let d = a[i] - b[i]
        sum += d * d
        i &+= 1
    }
    return sum
}
