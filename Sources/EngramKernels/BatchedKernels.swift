/// Inner products of one query with four rows (each `count` floats),
/// anywhere in memory: a graph search gathers them from its neighbour list.
///
/// The batched form of ``innerProduct(_:_:count:)`` for scans: each query
/// load serves four rows, the four accumulators are independent (no
/// dependency chain between FMAs), and one reduction pass finishes all four.
/// Lane `i` equals `innerProduct(query, r_i, count)` up to
/// summation order; the order is fixed by `count`, so results are deterministic.
@inlinable @inline(__always)
public func innerProduct4(
    _ query: UnsafePointer<Float>,
    _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
    _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, count: Int
) -> SIMD4<Float> {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var i = 0
    while i &+ 8 <= count {
        let q = load8(query, i)
        acc0 = multiplyAdd(acc0, q, load8(r0, i))
        acc1 = multiplyAdd(acc1, q, load8(r1, i))
        acc2 = multiplyAdd(acc2, q, load8(r2, i))
        acc3 = multiplyAdd(acc3, q, load8(r3, i))
        i &+= 8
    }
    var sums = horizontalSums(acc0, acc1, acc2, acc3)
    while i < count {
        let q = SIMD4<Float>(repeating: query[i])
        let r = SIMD4<Float>(r0[i], r1[i], r2[i], r3[i])
        sums += q * r
        i &+= 1
    }
    return sums
}

/// Squared Euclidean distances of one query to four rows; the batched form
/// of ``squaredEuclidean(_:_:count:)`` (see ``innerProduct4(_:_:_:_:_:count:)``).
@inlinable @inline(__always)
public func squaredEuclidean4(
    _ query: UnsafePointer<Float>,
    _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
    _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, count: Int
) -> SIMD4<Float> {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
    var i = 0
    while i &+ 8 <= count {
        let q = load8(query, i)
        let d0 = q - load8(r0, i), d1 = q - load8(r1, i)
        let d2 = q - load8(r2, i), d3 = q - load8(r3, i)
        acc0 = multiplyAdd(acc0, d0, d0)
        acc1 = multiplyAdd(acc1, d1, d1)
        acc2 = multiplyAdd(acc2, d2, d2)
        acc3 = multiplyAdd(acc3, d3, d3)
        i &+= 8
    }
    var sums = horizontalSums(acc0, acc1, acc2, acc3)
    while i < count {
        let q = SIMD4<Float>(repeating: query[i])
        let d = q - SIMD4<Float>(r0[i], r1[i], r2[i], r3[i])
        sums += d * d
        i &+= 1
    }
    return sums
}

/// The lane sums of four vectors, as one SIMD4 (lane i = sum of vector i).
@inlinable @inline(__always)
internal func horizontalSums(
    _ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>
) -> SIMD4<Float> {
    // 8 → 4 lanes each, then pairwise, keeping the per-vector grouping.
    let a4 = a.lowHalf + a.highHalf, b4 = b.lowHalf + b.highHalf
    let c4 = c.lowHalf + c.highHalf, d4 = d.lowHalf + d.highHalf
    let ab = SIMD4<Float>(lowHalf: a4.lowHalf + a4.highHalf, highHalf: b4.lowHalf + b4.highHalf)
    let cd = SIMD4<Float>(lowHalf: c4.lowHalf + c4.highHalf, highHalf: d4.lowHalf + d4.highHalf)
    return SIMD4<Float>(lowHalf: ab.evenHalf + ab.oddHalf, highHalf: cd.evenHalf + cd.oddHalf)
}
