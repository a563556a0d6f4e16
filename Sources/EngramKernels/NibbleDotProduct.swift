#if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// `Σ code[t] · weights[t]` over 4-bit codes packed two to a byte and
/// 8-bit signed weights, exact in 32-bit integers: the inner loop of a
/// graph search that walks on 4-bit scalar codes (a query's weights are
/// quantised once per search).
///
/// Layout, in blocks of 64 coordinates: block `b` is 32 code bytes, and byte
/// `j` holds coordinate `64b + j` in its low nibble and `64b + 32 + j` in
/// its high nibble; `weights` holds 64 per block in coordinate order. So the
/// low nibbles of a 32-byte load line up with the block's first 32 weights
/// and the high nibbles with the next 32, with no shuffle.
///
/// In the project's x86-64-v3 builds (`ENGRAM_FMA`) each block is two
/// `vpmaddubsw` (unsigned nibble × signed weight, pairs summed to 16 bits:
/// at most 2·15·127 each, then two of them: 7,620, no saturation) and one
/// `vpmaddwd` to 32 bits; elsewhere a plain loop over the same integers, so
/// both give the same value.
///
/// The caller keeps the sum in range: `15 · 127 · 64 · blocks < 2³¹` for
/// any `blocks` below 17,000.
@inlinable @inline(__always)
public func nibbleDotProduct(_ codes: UnsafeRawPointer, _ weights: UnsafePointer<Int8>, blocks: Int) -> Int32 {
    #if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    let mask = _mm256_set1_epi8(0x0F)
    let ones = _mm256_set1_epi16(1)
    var acc = _mm256_setzero_si256()
    let w = UnsafeRawPointer(weights)
    for b in 0..<blocks {
        let c = load32Bytes(codes + b &* 32)
        let lo = _mm256_and_si256(c, mask)
        let hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), mask)
        let wl = load32Bytes(w + b &* 64), wh = load32Bytes(w + (b &* 64 &+ 32))
        let pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, wl), _mm256_maddubs_epi16(hi, wh))
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones))
    }
    return laneSum(acc)
    #else
    return nibbleDotProductPortable(codes, weights, blocks: blocks)
    #endif
}

/// ``nibbleDotProduct(_:_:blocks:)`` of four code rows against the same
/// weights: the rows' loads are independent (their cache misses overlap)
/// and each weight register is loaded once for the four.
@inlinable @inline(__always)
public func nibbleDotProduct4(
    _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ c: UnsafeRawPointer, _ d: UnsafeRawPointer,
    _ weights: UnsafePointer<Int8>, blocks: Int
) -> SIMD4<Int32> {
    #if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    let mask = _mm256_set1_epi8(0x0F)
    let ones = _mm256_set1_epi16(1)
    var sa = _mm256_setzero_si256(), sb = sa, sc = sa, sd = sa
    let w = UnsafeRawPointer(weights)
    @inline(__always) func step(_ row: UnsafeRawPointer, _ offset: Int, _ wl: __m256i, _ wh: __m256i) -> __m256i {
        let v = load32Bytes(row + offset)
        let lo = _mm256_and_si256(v, mask)
        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask)
        return _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, wl), _mm256_maddubs_epi16(hi, wh)), ones)
    }
    for k in 0..<blocks {
        let wl = load32Bytes(w + k &* 64), wh = load32Bytes(w + (k &* 64 &+ 32))
        let offset = k &* 32
        sa = _mm256_add_epi32(sa, step(a, offset, wl, wh))
        sb = _mm256_add_epi32(sb, step(b, offset, wl, wh))
        sc = _mm256_add_epi32(sc, step(c, offset, wl, wh))
        sd = _mm256_add_epi32(sd, step(d, offset, wl, wh))
    }
    return laneSums(sa, sb, sc, sd)
    #else
    return SIMD4(
        nibbleDotProductPortable(a, weights, blocks: blocks), nibbleDotProductPortable(b, weights, blocks: blocks),
        nibbleDotProductPortable(c, weights, blocks: blocks), nibbleDotProductPortable(d, weights, blocks: blocks))
    #endif
}

/// ``nibbleDotProduct(_:_:blocks:)`` in plain integer Swift: the portable
/// path, and the reference the vector path is tested against.
@inlinable
public func nibbleDotProductPortable(_ codes: UnsafeRawPointer, _ weights: UnsafePointer<Int8>, blocks: Int) -> Int32 {
    let bytes = codes.assumingMemoryBound(to: UInt8.self)
    var sum: Int32 = 0
    for b in 0..<blocks {
        let row = bytes + b &* 32, w = weights + b &* 64
        for j in 0..<32 {
            let byte = Int32(truncatingIfNeeded: row[j])
            sum &+= (byte & 15) &* Int32(truncatingIfNeeded: w[j]) &+ (byte >> 4) &* Int32(truncatingIfNeeded: w[32 &+ j])
        }
    }
    return sum
}
