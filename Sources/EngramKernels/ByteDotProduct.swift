#if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// `Σ code[t] · weights[t]` over 7-bit codes (0…127), one byte each, and
/// 8-bit signed weights, exact in 32-bit integers, in blocks of 32: the
/// walk on codes for short vectors (``nibbleDotProduct(_:_:blocks:)`` is
/// the 4-bit one).
///
/// In the project's x86-64-v3 builds (`ENGRAM_FMA`) each block is one
/// `vpmaddubsw` (unsigned code × signed weight, adjacent pairs summed to 16
/// bits: at most 2·127·127 = 32,258, below the 32,767 where it would
/// saturate: why the codes have 7 bits, not 8) and one `vpmaddwd` to 32 bits;
/// elsewhere a plain loop over the same integers, so both give the same value.
@inlinable @inline(__always)
public func byteDotProduct(_ codes: UnsafeRawPointer, _ weights: UnsafePointer<Int8>, blocks: Int) -> Int32 {
    #if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    let ones = _mm256_set1_epi16(1)
    var acc = _mm256_setzero_si256()
    let w = UnsafeRawPointer(weights)
    for b in 0..<blocks {
        let offset = b &* 32
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(load32Bytes(codes + offset), load32Bytes(w + offset)), ones))
    }
    return laneSum(acc)
    #else
    return byteDotProductPortable(codes, weights, blocks: blocks)
    #endif
}

/// ``byteDotProduct(_:_:blocks:)`` of four code rows against the same weights.
@inlinable @inline(__always)
public func byteDotProduct4(
    _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
    _ weights: UnsafePointer<Int8>, blocks: Int
) -> SIMD4<Int32> {
    #if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    let ones = _mm256_set1_epi16(1)
    var sa = _mm256_setzero_si256(), sb = sa, sc = sa, sd = sa
    let w = UnsafeRawPointer(weights)
    for k in 0..<blocks {
        let offset = k &* 32
        let wk = load32Bytes(w + offset)
        sa = _mm256_add_epi32(sa, _mm256_madd_epi16(_mm256_maddubs_epi16(load32Bytes(a + offset), wk), ones))
        sb = _mm256_add_epi32(sb, _mm256_madd_epi16(_mm256_maddubs_epi16(load32Bytes(b + offset), wk), ones))
        sc = _mm256_add_epi32(sc, _mm256_madd_epi16(_mm256_maddubs_epi16(load32Bytes(c + offset), wk), ones))
        sd = _mm256_add_epi32(sd, _mm256_madd_epi16(_mm256_maddubs_epi16(load32Bytes(d + offset), wk), ones))
    }
    return laneSums(sa, sb, sc, sd)
    #else
    return SIMD4(
        byteDotProductPortable(a, weights, blocks: blocks), byteDotProductPortable(b, weights, blocks: blocks),
        byteDotProductPortable(c, weights, blocks: blocks), byteDotProductPortable(d, weights, blocks: blocks))
    #endif
}

/// ``byteDotProduct(_:_:blocks:)`` in plain integer Swift: the portable path
/// and the reference the vector path is tested against.
@inlinable
public func byteDotProductPortable(_ codes: UnsafeRawPointer, _ weights: UnsafePointer<Int8>, blocks: Int) -> Int32 {
    let bytes = codes.assumingMemoryBound(to: UInt8.self)
    var sum: Int32 = 0
    for t in 0..<(blocks &* 32) { sum &+= Int32(truncatingIfNeeded: bytes[t]) &* Int32(truncatingIfNeeded: weights[t]) }
    return sum
}
