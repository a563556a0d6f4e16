/// A query's side of a scalar-quantised score, `q·x̂ = Σ minimum·q + Σ code·(step·q)`: the constant
/// `Σ minimum·q`, and the weights `step·q` scaled so that the largest magnitude becomes `limit` and
/// rounded to integers of type `W`, `count` entries (0 past `minimum.count`: padding). A weight is
/// clamped to ±`limit`, and one that is not finite becomes 0: ranges loaded from bytes may be extreme,
/// and no value may trap the conversion. `scale` multiplies an integer dot product back to floats.
@inline(__always)
func scaledQueryWeights<W: FixedWidthInteger & SignedInteger>(
    minimum: [Float], step: [Float], query: UnsafePointer<Float>, count: Int, limit: Int, as _: W.Type
) -> (weights: [W], constant: Float, scale: Float) {
    var constant: Float = 0, largest: Float = 0
    var raw = [Float](repeating: 0, count: count)
    for t in 0..<minimum.count {
        constant += minimum[t] * query[t]
        raw[t] = step[t] * query[t]
        largest = Swift.max(largest, abs(raw[t]))
    }
    let bound = Float(limit)
    let scale = largest > 0 && largest.isFinite ? largest / bound : 1
    let weights = raw.map { value -> W in
        let w = (value / scale).rounded()
        return w.isFinite ? W(Swift.max(-bound, Swift.min(bound, w))) : 0
    }
    return (weights, constant, scale)
}
