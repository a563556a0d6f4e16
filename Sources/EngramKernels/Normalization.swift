/// Scales `vector` in place to unit Euclidean length and returns the
/// length it had.
///
/// A zero vector has no direction: it is left unchanged and `0` is
/// returned, so the caller can reject it (cosine is undefined for it).
/// The length is computed in `Float` with the SIMD inner product; inputs
/// whose squared length overflows `Float` give `+∞` and are left unchanged
/// as well, and the caller rejects them as non-finite.
///
/// Idempotent: a vector already of unit length (within 2⁻²⁰ in squared
/// length, a few float rounding steps) is left bit for bit as it is, so a
/// prepared vector prepared again (the indexer, a restore) does not drift.
@inlinable
public func normalize(_ vector: UnsafeMutablePointer<Float>, count: Int) -> Float {
    let squared = innerProduct(vector, vector, count: count)
    guard squared > 0, squared.isFinite else { return squared == 0 ? 0 : .infinity }
    if abs(squared - 1) <= 0x1p-20 { return 1 }
    let length = squared.squareRoot()
    let scale = 1 / length
    for i in 0..<count { vector[i] *= scale }
    return length
}

/// Whether every one of the `count` floats is finite (no NaN, no ±∞).
@inlinable
public func allFinite(_ vector: UnsafePointer<Float>, count: Int) -> Bool {
    // x − x is 0 for finite x and NaN for NaN or ±∞; NaN makes the sum NaN.
    var acc = SIMD8<Float>()
    var i = 0
    while i &+ 8 <= count {
        let v = load8(vector, i)
        acc += v - v
        i &+= 8
    }
    var tail: Float = 0
    while i < count {
        tail += vector[i] - vector[i]
        i &+= 1
    }
    return (horizontalSum(acc) + tail) == 0
}
