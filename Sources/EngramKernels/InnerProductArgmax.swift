/// For each of `rowCount` rows, the column of `panels` with the largest
/// score `row·column_j − offset_j`, that score and the runner-up score: the
/// nearest-centroid assignment of k-means and IVF, computed as a blocked
/// matrix product (rows × columnsᵀ) instead of one distance at a time.
///
/// Why a score: with `offset_j = ‖c_j‖²/2` (``ColumnPanels`` packed for
/// squared L2) the best score is the nearest column (`‖x − c‖² = ‖x‖² −
/// 2·score`); with no offsets it is the largest inner product (inner
/// product, and cosine on unit vectors).
///
/// How: rows are taken 60 at a time and columns 128 at a time, so both
/// blocks stay in cache while every pair is scored. The register tile is six
/// rows by two panels (sixteen columns): per coordinate, two panel loads and
/// six broadcasts feed twelve multiply-adds into independent accumulators,
/// and each accumulator already holds eight columns' scores, so nothing is
/// summed across lanes. Each lane keeps its own best and runner-up; the
/// lanes are reduced once per row at the end. Measured on the project
/// machine: 108–111 GFLOP/s on one core at d 50 and d 384, against 38 for
/// four columns per row with ``innerProduct4(_:_:_:_:_:count:)``
/// (Docs/BENCHMARKS.md).
///
/// Ties keep the lower column number, so the result is deterministic and
/// independent of the blocking. `best`, `bestScore` and `secondScore` (when
/// given) receive `rowCount` entries; the runner-up is `−∞` with one column.
///
/// - Complexity: O(rowCount · columns · dimension); allocates one small
///   scratch block per call.
@inlinable
public func innerProductArgmax(
    rows: UnsafePointer<Float>, rowCount: Int, panels: ColumnPanels,
    best: UnsafeMutablePointer<Int32>, bestScore: UnsafeMutablePointer<Float>,
    secondScore: UnsafeMutablePointer<Float>?
) {
    let d = panels.dimension, panelCount = panels.panelCount
    let rowBlock = 60, panelBlock = 16
    let lanes = UnsafeMutablePointer<LaneBest>.allocate(capacity: rowBlock)
    defer { lanes.deallocate() }
    var r0 = 0
    while r0 < rowCount {
        let m = Swift.min(rowBlock, rowCount &- r0)
        for r in 0..<rowBlock { lanes[r] = LaneBest() }
        var p0 = 0
        while p0 < panelCount {
            let panelEnd = Swift.min(panelCount, p0 &+ panelBlock)
            var r = 0
            while r < m {
                // Six rows; past the end, the last row stands in (its lanes are never read).
                var x = (rows, rows, rows, rows, rows, rows)
                let last = rows + (r0 &+ m &- 1) &* d
                x.0 = rows + (r0 &+ r) &* d
                x.1 = r &+ 1 < m ? x.0 + d : last
                x.2 = r &+ 2 < m ? x.1 + d : last
                x.3 = r &+ 3 < m ? x.2 + d : last
                x.4 = r &+ 4 < m ? x.3 + d : last
                x.5 = r &+ 5 < m ? x.4 + d : last
                var p = p0
                while p < panelEnd {
                    scorePanelPair(x, panels, p, lanes + r)
                    p &+= 2
                }
                r &+= 6
            }
            p0 = panelEnd
        }
        for r in 0..<m {
            let (column, score, second) = lanes[r].reduced()
            best[r0 &+ r] = column
            bestScore[r0 &+ r] = score
            secondScore?[r0 &+ r] = second
        }
        r0 &+= m
    }
}

/// Scores six rows against panels `p` and `p + 1` and folds the sixteen
/// columns into each row's lane state.
@inlinable @inline(__always)
internal func scorePanelPair(
    _ x: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
    _ panels: ColumnPanels, _ p: Int, _ lanes: UnsafeMutablePointer<LaneBest>
) {
    let d = panels.dimension
    let u = UnsafePointer(panels.floats + p &* d &* 8), v = u + d &* 8
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>(), a4 = SIMD8<Float>(), a5 = SIMD8<Float>()
    var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>(), b4 = SIMD8<Float>(), b5 = SIMD8<Float>()
    var t = 0
    while t < d {
        let cu = load8(u, t &* 8), cv = load8(v, t &* 8)
        var s = SIMD8<Float>(repeating: x.0[t])
        a0 = multiplyAdd(a0, s, cu); b0 = multiplyAdd(b0, s, cv)
        s = SIMD8<Float>(repeating: x.1[t])
        a1 = multiplyAdd(a1, s, cu); b1 = multiplyAdd(b1, s, cv)
        s = SIMD8<Float>(repeating: x.2[t])
        a2 = multiplyAdd(a2, s, cu); b2 = multiplyAdd(b2, s, cv)
        s = SIMD8<Float>(repeating: x.3[t])
        a3 = multiplyAdd(a3, s, cu); b3 = multiplyAdd(b3, s, cv)
        s = SIMD8<Float>(repeating: x.4[t])
        a4 = multiplyAdd(a4, s, cu); b4 = multiplyAdd(b4, s, cv)
        s = SIMD8<Float>(repeating: x.5[t])
        a5 = multiplyAdd(a5, s, cu); b5 = multiplyAdd(b5, s, cv)
        t &+= 1
    }
    let ou = load8(UnsafePointer(panels.offsets), p &* 8), ov = load8(UnsafePointer(panels.offsets), p &* 8 &+ 8)
    let cu = Int32(truncatingIfNeeded: p &* 8), cv = cu &+ 8
    lanes[0].fold(a0 - ou, cu); lanes[0].fold(b0 - ov, cv)
    lanes[1].fold(a1 - ou, cu); lanes[1].fold(b1 - ov, cv)
    lanes[2].fold(a2 - ou, cu); lanes[2].fold(b2 - ov, cv)
    lanes[3].fold(a3 - ou, cu); lanes[3].fold(b3 - ov, cv)
    lanes[4].fold(a4 - ou, cu); lanes[4].fold(b4 - ov, cv)
    lanes[5].fold(a5 - ou, cu); lanes[5].fold(b5 - ov, cv)
}

/// One row's running best and runner-up, lane by lane: lane `l` has seen
/// the columns `≡ l (mod 8)` so far, in increasing order.
@usableFromInline
struct LaneBest {
    @usableFromInline var score = SIMD8<Float>(repeating: -.infinity)
    @usableFromInline var second = SIMD8<Float>(repeating: -.infinity)
    @usableFromInline var column = SIMD8<Int32>(repeating: 0)

    @inlinable init() {}

    /// Folds in the scores of the eight columns `first ..< first + 8`.
    /// Strictly greater wins, so the earlier column keeps a tie.
    @inlinable @inline(__always)
    mutating func fold(_ scores: SIMD8<Float>, _ first: Int32) {
        let beatsBest = scores .> score
        second.replace(with: scores, where: scores .> second)
        second.replace(with: score, where: beatsBest)
        score.replace(with: scores, where: beatsBest)
        column.replace(with: SIMD8(repeating: first) &+ SIMD8(0, 1, 2, 3, 4, 5, 6, 7), where: beatsBest)
    }

    /// The best column over all lanes (ties: the lower column), its score,
    /// and the runner-up: the winning lane's second or another lane's best.
    @inlinable
    func reduced() -> (column: Int32, score: Float, second: Float) {
        var winner = 0
        for l in 1..<8 where score[l] > score[winner] || (score[l] == score[winner] && column[l] < column[winner]) { winner = l }
        var runnerUp = second[winner]
        for l in 0..<8 where l != winner && score[l] > runnerUp { runnerUp = score[l] }
        return (column[winner], score[winner], runnerUp)
    }
}
