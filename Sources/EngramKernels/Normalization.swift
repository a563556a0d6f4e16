/// Scales `vector` in place to unit Euclidean length and returns the
/// length it had.
///
/// A zero vector has no direction: it is left unchanged and `0` is
/// returned, so the caller can reject it (cosine is undefined for it).
/// The length is computed in `Float` with the SIMD inner product; inputs
/// whose squared length overflows `Float` give `+∞` and are left unchanged
/// as well, and the caller rejects them as non-finite.
@inlinable
public func normalize(_ vector: UnsafeMutablePointer<Float>, count: Int) -> Float {
    let squared = innerProduct(vector, vector, count: count)
    guard squared > 0, squared.isFinite else { return squared == 0 ? 0 : .infinity }
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
