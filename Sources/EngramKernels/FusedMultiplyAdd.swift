/// `acc + x * y` on eight lanes, fused when the build enables FMA.
///
/// A default SwiftPM build targets baseline x86-64 (SSE2), where
/// `SIMD.addingProduct` lowers to one libm `fmaf` call per lane and runs
/// 20–40× slower than a multiply followed by an add (Docs/KERNELS.md).
/// The project's own builds pass `-Xcc -march=x86-64-v3 -DENGRAM_FMA`
/// together (scripts/toolset-x86-64-v3.json), so the fused form is used
/// exactly when the hardware instruction is available.
@inlinable @inline(__always)
internal func multiplyAdd(
    _ acc: SIMD8<Float>, _ x: SIMD8<Float>, _ y: SIMD8<Float>
) -> SIMD8<Float> {
    #if ENGRAM_FMA
    return acc.addingProduct(x, y)
    #else
    return acc + x * y
    #endif
}

/// Loads eight floats starting at `p + offset`; no alignment required.
@inlinable @inline(__always)
internal func load8(_ p: UnsafePointer<Float>, _ offset: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + offset).loadUnaligned(as: SIMD8<Float>.self)
}

/// The sum of the eight lanes, by halving (4 + 4, 2 + 2, 1 + 1): three
/// vector adds instead of the generic `sum()`'s lane-by-lane shuffles.
@inlinable @inline(__always)
internal func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}
