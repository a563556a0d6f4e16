/// `Σ codes[t] · weights[t]` over `count` 8-bit codes and 16-bit weights,
/// in wrapping 32-bit integer arithmetic: the inner loop of scalar-quantised
/// (SQ8) search, where `weights` is the query quantised once per search.
///
/// Written as a plain loop with wrapping `&+`/`&*` so that LLVM vectorises
/// it (zero-extend to 16 bits, `vpmaddwd`, 32-bit adds): 15 ns at d 384 on
/// the project machine against 64 ns for the float inner product over the
/// same rows (Docs/KERNELS.md). Checked arithmetic would block the
/// vectorisation (notes: 281 ns).
///
/// The caller keeps the sum in range: with `|weights[t]| ≤ w`, the result
/// is exact while `255 · w · count < 2³¹` (``ScalarQuantizer`` picks `w`
/// from the dimension).
@inlinable
public func codeDotProduct(_ codes: UnsafePointer<UInt8>, _ weights: UnsafePointer<Int16>, count: Int) -> Int32 {
    var sum: Int32 = 0
    for t in 0..<count {
        sum &+= Int32(truncatingIfNeeded: codes[t]) &* Int32(truncatingIfNeeded: weights[t])
    }
    return sum
}

/// ``codeDotProduct(_:_:count:)`` of four code rows against the same
/// weights, interleaved: the four rows' loads are independent, so their
/// cache misses overlap (a graph search gathers rows from all over memory).
@inlinable
public func codeDotProduct4(
    _ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ c: UnsafePointer<UInt8>, _ d: UnsafePointer<UInt8>,
    _ weights: UnsafePointer<Int16>, count: Int
) -> SIMD4<Int32> {
    var sa: Int32 = 0, sb: Int32 = 0, sc: Int32 = 0, sd: Int32 = 0
    for t in 0..<count {
        let w = Int32(truncatingIfNeeded: weights[t])
        sa &+= Int32(truncatingIfNeeded: a[t]) &* w
        sb &+= Int32(truncatingIfNeeded: b[t]) &* w
        sc &+= Int32(truncatingIfNeeded: c[t]) &* w
        sd &+= Int32(truncatingIfNeeded: d[t]) &* w
    }
    return SIMD4(sa, sb, sc, sd)
}
