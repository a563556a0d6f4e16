#if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel

// The pieces the integer code kernels (`nibbleDotProduct`, `byteDotProduct`)
// share: a 32-byte load and the sums of 32-bit accumulator lanes.

/// 32 bytes from `p`, unaligned.
@inlinable @inline(__always)
func load32Bytes(_ p: UnsafeRawPointer) -> __m256i {
    unsafeBitCast(p.loadUnaligned(as: SIMD32<UInt8>.self), to: __m256i.self)
}

/// The sum of the eight 32-bit lanes of `v` (wrapping, as the kernels' sums do).
@inlinable @inline(__always)
func laneSum(_ v: __m256i) -> Int32 {
    unsafeBitCast(v, to: SIMD8<Int32>.self).wrappedSum()
}

/// ``laneSum(_:)`` of four accumulators, one per row.
@inlinable @inline(__always)
func laneSums(_ a: __m256i, _ b: __m256i, _ c: __m256i, _ d: __m256i) -> SIMD4<Int32> {
    SIMD4(laneSum(a), laneSum(b), laneSum(c), laneSum(d))
}
#endif
