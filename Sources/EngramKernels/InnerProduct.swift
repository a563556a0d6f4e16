/// Inner product `Σ a[i]·b[i]` of two `count`-float vectors.
///
/// Four SIMD8 accumulators hide the add latency; an 8-wide loop and a
/// scalar loop finish any remainder, so every `count ≥ 0` is valid.
/// The summation order is fixed (it depends on `count` only), so the
/// result is deterministic for given inputs.
///
/// Non-finite input follows IEEE 754: a NaN anywhere gives NaN, and
/// overflow or ±∞ give ±∞ or NaN. The kernel does not check; the indexes
/// reject non-finite vectors before they reach it (Docs/KERNELS.md).
///
/// - Complexity: O(count), no allocation.
@inlinable @inline(__always)
public func innerProduct(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int
) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var i = 0
    while i &+ 32 <= count {
        acc0 = multiplyAdd(acc0, load8(a, i), load8(b, i))
        acc1 = multiplyAdd(acc1, load8(a, i &+ 8), load8(b, i &+ 8))
        acc2 = multiplyAdd(acc2, load8(a, i &+ 16), load8(b, i &+ 16))
        acc3 = multiplyAdd(acc3, load8(a, i &+ 24), load8(b, i &+ 24))
        i &+= 32
    }
    while i &+ 8 <= count {
        acc0 = multiplyAdd(acc0, load8(a, i), load8(b, i))
        i &+= 8
    }
    var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
    while i < count {
        sum += a[i] * b[i]
        i &+= 1
    }
    return sum
}
