import EngramKernels
import EngramTestSupport
import Testing

/// Double-precision references, written the plain way.
private func referenceDot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

private func referenceL2(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
}

/// Float rounding bound for a sum of `count` terms whose magnitudes add up to `scale`.
private func tolerance(_ scale: Double, count: Int) -> Double {
    Double(count) * Double(Float.ulpOfOne) * scale + 1e-30
}

private let dimensions = Array(1...72) + [95, 96, 97, 127, 128, 129, 383, 384, 385, 767, 768, 1536, 4095, 4096]

@Suite("Distance kernels against a scalar reference")
struct KernelTests {
    @Test("inner product matches the reference for every tested dimension")
    func innerProductMatchesReference() {
        var rng = SeededGenerator.forTest("innerProductMatchesReference", defaultSeed: 11)
        for d in dimensions {
            for _ in 0..<4 {
                let a = (0..<d).map { _ in rng.gaussian() }
                let b = (0..<d).map { _ in rng.gaussian() }
                let got = Double(innerProduct(a, b, count: d))
                let scale = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(got - referenceDot(a, b)) <= tolerance(scale, count: d), "d=\(d)")
            }
        }
    }

    @Test("squared L2 matches the reference for every tested dimension")
    func squaredL2MatchesReference() {
        var rng = SeededGenerator.forTest("squaredL2MatchesReference", defaultSeed: 12)
        for d in dimensions {
            for _ in 0..<4 {
                let a = (0..<d).map { _ in rng.gaussian() }
                let b = (0..<d).map { _ in rng.gaussian() * 3 }
                let got = Double(squaredEuclidean(a, b, count: d))
                let ref = referenceL2(a, b)
                #expect(abs(got - ref) <= tolerance(ref, count: d), "d=\(d)")
                #expect(got >= 0)
            }
        }
    }

    @Test("the four-row kernels agree with the reference in every lane")
    func batchedKernelsMatchReference() {
        var rng = SeededGenerator.forTest("batchedKernelsMatchReference", defaultSeed: 17)
        for d in dimensions where d <= 1536 {
            let stride = d + Int.random(in: 0...3, using: &rng)  // rows need not be adjacent
            let q = (0..<d).map { _ in rng.gaussian() }
            let rows = (0..<(4 * stride)).map { _ in rng.gaussian() }
            let dots = rows.withUnsafeBufferPointer { r in
                let p = r.baseAddress!
                return innerProduct4(q, p, p + stride, p + 2 * stride, p + 3 * stride, count: d)
            }
            let l2s = rows.withUnsafeBufferPointer { r in
                let p = r.baseAddress!
                return squaredEuclidean4(q, p, p + stride, p + 2 * stride, p + 3 * stride, count: d)
            }
            for lane in 0..<4 {
                let row = Array(rows[(lane * stride)..<(lane * stride + d)])
                let scale = zip(q, row).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(Double(dots[lane]) - referenceDot(q, row)) <= tolerance(scale, count: d), "d=\(d) lane \(lane)")
                let ref = referenceL2(q, row)
                #expect(abs(Double(l2s[lane]) - ref) <= tolerance(ref, count: d), "d=\(d) lane \(lane)")
            }
            // Each metric's batched form is its single form, lane by lane.
            for metric in Metric.allCases {
                let four: SIMD4<Float> = rows.withUnsafeBufferPointer { r in
                    let p = r.baseAddress!
                    let (a, b, c, e) = (p, p + stride, p + 2 * stride, p + 3 * stride)
                    switch metric {
                    case .squaredL2: return SquaredL2Kernel.distances4(q, a, b, c, e, count: d)
                    case .innerProduct: return InnerProductKernel.distances4(q, a, b, c, e, count: d)
                    case .cosine: return CosineKernel.distances4(q, a, b, c, e, count: d)
                    }
                }
                for lane in 0..<4 {
                    let single = rows.withUnsafeBufferPointer { metric.distance(q, $0.baseAddress! + lane * stride, count: d) }
                    #expect(abs(four[lane] - single) <= 1e-4 * max(1, abs(single)), "\(metric) d=\(d) lane \(lane)")
                }
            }
        }
    }

    @Test("every metric points one way: a vector is closest to itself")
    func metricsPointOneWay() {
        var rng = SeededGenerator.forTest("metricsPointOneWay", defaultSeed: 13)
        for d in [3, 50, 384] {
            var a = (0..<d).map { _ in rng.gaussian() }
            var b = (0..<d).map { _ in rng.gaussian() }
            _ = normalize(&a, count: d)
            _ = normalize(&b, count: d)
            for metric in Metric.allCases {
                let same = metric.distance(a, a, count: d)
                let other = metric.distance(a, b, count: d)
                #expect(same < other, "\(metric) d=\(d): self \(same), other \(other)")
            }
            #expect(abs(Metric.cosine.distance(a, a, count: d)) < 1e-5)
            #expect(abs(Metric.innerProduct.distance(a, a, count: d) + 1) < 1e-5)
            #expect(Metric.squaredL2.distance(a, a, count: d) == 0)
        }
    }

    @Test("equal inputs give bit-identical distances (ties stay ties)")
    func tiesAreExact() {
        var rng = SeededGenerator.forTest("tiesAreExact", defaultSeed: 14)
        for d in [7, 50, 128, 385] {
            let q = (0..<d).map { _ in rng.gaussian() }
            let a = (0..<d).map { _ in rng.gaussian() }
            let copy = a
            #expect(innerProduct(q, a, count: d) == innerProduct(q, copy, count: d))
            #expect(squaredEuclidean(q, a, count: d) == squaredEuclidean(q, copy, count: d))
            // Symmetry in the arguments.
            #expect(innerProduct(q, a, count: d) == innerProduct(a, q, count: d))
            #expect(squaredEuclidean(q, a, count: d) == squaredEuclidean(a, q, count: d))
        }
    }

    @Test("zero padding changes no distance")
    func zeroPaddingIsNeutral() {
        var rng = SeededGenerator.forTest("zeroPaddingIsNeutral", defaultSeed: 15)
        for d in [1, 5, 50, 383] {
            let a = (0..<d).map { _ in rng.gaussian() }
            let b = (0..<d).map { _ in rng.gaussian() }
            let padded = (d + 7) & ~7
            let pa = a + [Float](repeating: 0, count: padded - d)
            let pb = b + [Float](repeating: 0, count: padded - d)
            let scale = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            #expect(abs(Double(innerProduct(pa, pb, count: padded)) - referenceDot(a, b)) <= tolerance(scale, count: d))
            #expect(abs(Double(squaredEuclidean(pa, pb, count: padded)) - referenceL2(a, b)) <= tolerance(referenceL2(a, b), count: d))
        }
    }

    @Test("non-finite input follows IEEE 754, at every position", arguments: [1, 8, 31, 32, 33, 50])
    func nonFiniteInput(d: Int) {
        for position in 0..<d {
            var a = [Float](repeating: 1, count: d)
            let b = [Float](repeating: 1, count: d)
            a[position] = .nan
            #expect(innerProduct(a, b, count: d).isNaN)
            #expect(squaredEuclidean(a, b, count: d).isNaN)
            #expect(!allFinite(a, count: d))
            a[position] = .infinity
            #expect(innerProduct(a, b, count: d) == .infinity)
            #expect(squaredEuclidean(a, b, count: d) == .infinity)
            #expect(!allFinite(a, count: d))
            a[position] = -.infinity
            #expect(innerProduct(a, b, count: d) == -.infinity)
            #expect(!allFinite(a, count: d))
            a[position] = 1
            #expect(allFinite(a, count: d))
        }
        // +∞ and −∞ products in one sum give NaN, as the scalar reference does.
        if d >= 2 {
            var a = [Float](repeating: 0, count: d)
            a[0] = .infinity
            a[d - 1] = -.infinity
            let b = [Float](repeating: 1, count: d)
            #expect(innerProduct(a, b, count: d).isNaN)
            #expect(referenceDot(a, b).isNaN)
        }
    }

    @Test("finite input that overflows Float gives infinity, not a crash")
    func overflowIsInfinite() {
        let d = 16
        let a = [Float](repeating: 1e30, count: d)
        let b = [Float](repeating: -1e30, count: d)
        #expect(squaredEuclidean(a, b, count: d) == .infinity)
        #expect(innerProduct(a, b, count: d) == -.infinity)
    }

    @Test("normalize gives unit length and leaves zero vectors alone")
    func normalization() {
        var rng = SeededGenerator.forTest("normalization", defaultSeed: 16)
        for d in [1, 9, 50, 384, 4096] {
            var v = (0..<d).map { _ in rng.gaussian() * 7 }
            let length = normalize(&v, count: d)
            #expect(length > 0)
            #expect(abs(innerProduct(v, v, count: d) - 1) < 1e-5, "d=\(d)")
            // Idempotent: normalising a unit vector again changes no bit.
            let once = v
            _ = normalize(&v, count: d)
            #expect(v == once, "d=\(d)")
            var zero = [Float](repeating: 0, count: d)
            #expect(normalize(&zero, count: d) == 0)
            #expect(zero.allSatisfy { $0 == 0 })
        }
        var huge = [Float](repeating: 3e38, count: 8)
        #expect(normalize(&huge, count: 8) == .infinity)
        #expect(huge[0] == 3e38)
    }

    @Test("metrics parse from their command-line names")
    func metricNames() {
        #expect(Metric(rawValue: "cosine") == .cosine)
        #expect(Metric(rawValue: "ip") == .innerProduct)
        #expect(Metric(rawValue: "l2") == .squaredL2)
        #expect(Metric(rawValue: "euclid") == nil)
    }
}
