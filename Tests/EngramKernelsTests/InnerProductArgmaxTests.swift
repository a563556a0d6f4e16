import EngramKernels
import EngramTestSupport
import Testing

@Suite("The blocked nearest-column kernel (k-means and IVF assignment) against a plain reference")
struct InnerProductArgmaxTests {
    /// Scores of `row` against every column, in Double: `x·c − offset`.
    private func referenceScores(_ row: ArraySlice<Float>, _ columns: [Float], count: Int, d: Int, halfNorms: Bool) -> [Double] {
        (0..<count).map { j in
            let c = columns[(j * d)..<((j + 1) * d)]
            let dot = zip(row, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let offset = halfNorms ? 0.5 * c.reduce(0.0) { $0 + Double($1) * Double($1) } : 0
            return dot - offset
        }
    }

    @Test("best column, its score and the runner-up match the reference at every row, column and dimension remainder")
    func matchesReference() {
        var rng = SeededGenerator.forTest("innerProductArgmax.reference", defaultSeed: 601)
        for d in [1, 3, 8, 13, 50, 384] {
            for (rows, columns) in [(1, 1), (5, 7), (6, 8), (13, 9), (61, 17), (130, 129), (7, 300)] {
                for halfNorms in [false, true] {
                    let x = (0..<(rows * d)).map { _ in rng.gaussian() }
                    let c = (0..<(columns * d)).map { _ in rng.gaussian() }
                    let panels = c.withUnsafeBufferPointer {
                        ColumnPanels(columns: $0.baseAddress!, count: columns, dimension: d, subtractingHalfSquaredNorms: halfNorms)
                    }
                    var best = [Int32](repeating: -1, count: rows)
                    var score = [Float](repeating: .nan, count: rows), second = score
                    x.withUnsafeBufferPointer { xs in
                        innerProductArgmax(rows: xs.baseAddress!, rowCount: rows, panels: panels,
                                           best: &best, bestScore: &score, secondScore: &second)
                    }
                    for r in 0..<rows {
                        let reference = referenceScores(x[(r * d)..<((r + 1) * d)], c, count: columns, d: d, halfNorms: halfNorms)
                        let sorted = reference.sorted(by: >)
                        // Float rounding may swap two near-equal columns, never more than the rounding allows.
                        let scale = Double(d) * 16 * Double(Float.ulpOfOne) * (sorted.map(abs).max()! + Double(d))
                        let context = "d \(d), \(rows)×\(columns), half norms \(halfNorms), row \(r)"
                        #expect((0..<columns).contains(Int(best[r])), "\(context)")
                        guard (0..<columns).contains(Int(best[r])) else { continue }
                        #expect(reference[Int(best[r])] >= sorted[0] - scale, "\(context)")
                        #expect(abs(Double(score[r]) - reference[Int(best[r])]) <= scale, "\(context)")
                        if columns == 1 {
                            #expect(second[r] == -.infinity, "\(context)")
                        } else {
                            #expect(abs(Double(second[r]) - sorted[1]) <= scale, "\(context)")
                        }
                    }
                }
            }
        }
    }

    @Test("equal columns tie to the lower column number, in any lane")
    func tiesKeepTheLowerColumn() {
        let d = 5
        // 20 columns: column j equals column j mod 6, so each of 0…5 has copies in other lanes and panels.
        let base = (0..<(6 * d)).map { Float(($0 * 7) % 11) - 5 }
        let c = (0..<20).flatMap { j in base[((j % 6) * d)..<((j % 6 + 1) * d)] }
        let panels = c.withUnsafeBufferPointer { ColumnPanels(columns: $0.baseAddress!, count: 20, dimension: d, subtractingHalfSquaredNorms: true) }
        for j in 0..<6 {
            // A row equal to column j: nearest by squared L2 is column j itself and its copies j + 6, j + 12 …
            var best: [Int32] = [-1], score: [Float] = [0], second: [Float] = [0]
            base.withUnsafeBufferPointer { b in
                innerProductArgmax(rows: b.baseAddress! + j * d, rowCount: 1, panels: panels, best: &best, bestScore: &score, secondScore: &second)
            }
            #expect(best[0] == Int32(j))
            #expect(second[0] == score[0])  // a copy is the runner-up
        }
    }
}
