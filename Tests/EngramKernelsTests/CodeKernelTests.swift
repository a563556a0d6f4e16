import EngramKernels
import EngramTestSupport
import Testing

/// `Σ code·weight` written the plain way over unpacked codes, in 64-bit integers.
private func reference(_ codes: [UInt8], _ weights: [Int8]) -> Int64 {
    zip(codes, weights).reduce(0) { $0 + Int64($1.0) * Int64($1.1) }
}

/// Packs 64 codes per block the way the kernel reads them: byte `j` holds code `j` low and `32 + j` high.
private func pack(_ codes: [UInt8]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: codes.count / 2)
    for (t, code) in codes.enumerated() {
        let block = t / 64, within = t % 64
        bytes[block * 32 + within % 32] |= within < 32 ? code : code << 4
    }
    return bytes
}

/// Runs `body` with pointers to the four code rows and the weights.
private func withRows(
    _ rows: [[UInt8]], _ weights: [Int8],
    _ body: (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafePointer<Int8>) -> Void
) {
    weights.withUnsafeBufferPointer { w in
        rows[0].withUnsafeBytes { a in
            rows[1].withUnsafeBytes { b in
                rows[2].withUnsafeBytes { c in
                    rows[3].withUnsafeBytes { d in body(a.baseAddress!, b.baseAddress!, c.baseAddress!, d.baseAddress!, w.baseAddress!) }
                }
            }
        }
    }
}

@Suite("4-bit and 7-bit code kernels against a scalar reference")
struct CodeKernelTests {
    @Test("one row and four rows equal the reference, at the extremes too, for every block count")
    func matchesReference() {
        var rng = SeededGenerator.forTest("nibbleDotProduct", defaultSeed: 71)
        for blocks in [1, 2, 3, 5, 6, 8, 16, 64] {
            let n = 64 * blocks
            for trial in 0..<6 {
                // Trial 0: every code 15 against every weight ±127 (the largest sums); the rest random.
                let weights: [Int8] = (0..<n).map { t in trial == 0 ? (t % 3 == 0 ? -127 : 127) : Int8.random(in: -127...127, using: &rng) }
                let rows: [[UInt8]] = (0..<4).map { r in (0..<n).map { _ in trial == 0 && r < 2 ? 15 : UInt8.random(in: 0...15, using: &rng) } }
                let packed = rows.map(pack)
                let expected = rows.map { reference($0, weights) }
                withRows(packed, weights) { a, b, c, d, w in
                    #expect(Int64(nibbleDotProduct(a, w, blocks: blocks)) == expected[0], "blocks \(blocks) trial \(trial)")
                    #expect(Int64(nibbleDotProductPortable(a, w, blocks: blocks)) == expected[0])
                    let four = nibbleDotProduct4(a, b, c, d, w, blocks: blocks)
                    for r in 0..<4 { #expect(Int64(four[r]) == expected[r], "row \(r), blocks \(blocks) trial \(trial)") }
                }
            }
        }
    }

    @Test("7-bit codes: one row and four rows equal the reference, at the largest sums too")
    func bytesMatchReference() {
        var rng = SeededGenerator.forTest("byteDotProduct", defaultSeed: 73)
        for blocks in [1, 2, 3, 4, 7, 12, 128] {
            let n = 32 * blocks
            for trial in 0..<6 {
                // Trial 0: every code 127 against weights of ±127 (pairs at 32,258, the most a 16-bit lane holds here).
                let weights: [Int8] = (0..<n).map { t in trial == 0 ? (t % 5 == 0 ? -127 : 127) : Int8.random(in: -127...127, using: &rng) }
                let rows: [[UInt8]] = (0..<4).map { r in (0..<n).map { _ in trial == 0 && r < 2 ? 127 : UInt8.random(in: 0...127, using: &rng) } }
                let expected = rows.map { reference($0, weights) }
                withRows(rows, weights) { a, b, c, d, w in
                    #expect(Int64(byteDotProduct(a, w, blocks: blocks)) == expected[0], "blocks \(blocks) trial \(trial)")
                    #expect(Int64(byteDotProductPortable(a, w, blocks: blocks)) == expected[0])
                    let four = byteDotProduct4(a, b, c, d, w, blocks: blocks)
                    for r in 0..<4 { #expect(Int64(four[r]) == expected[r], "row \(r), blocks \(blocks) trial \(trial)") }
                }
            }
        }
    }
}
