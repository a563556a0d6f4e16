/// Columns (centroids) packed eight to a panel, the layout
/// ``innerProductArgmax(rows:rowCount:panels:best:bestScore:secondScore:)``
/// reads: panel `p` holds columns `8p ..< 8p + 8`, and its float `t` of the
/// eight columns sit side by side, so one SIMD8 load brings coordinate `t`
/// of eight columns and a broadcast row coordinate scores all eight at once
/// (no horizontal sums).
///
/// Invariants:
/// - `panelCount` is even (the kernel takes two panels a step) and
///   `panelCount × 8 ≥ count`; lanes past `count` hold zeros and an offset of
///   `+∞`, so their score is `−∞` and they never win;
/// - `offsets[j]` is subtracted from column `j`'s score: `‖c_j‖²/2` when the
///   panels were packed for squared L2 (then the best score is the nearest
///   column), 0 otherwise (the largest inner product).
///
/// Immutable after `init`, so it can be shared across threads.
public final class ColumnPanels: @unchecked Sendable {
    public let count: Int
    public let dimension: Int
    public let panelCount: Int
    /// `panelCount × dimension × 8` floats.
    public let floats: UnsafeMutablePointer<Float>
    /// `panelCount × 8` offsets.
    public let offsets: UnsafeMutablePointer<Float>

    /// Packs `count` columns of `dimension` floats at `columns` (row after
    /// row); with `subtractingHalfSquaredNorms` the scores rank by squared L2.
    public init(columns: UnsafePointer<Float>, count: Int, dimension d: Int, subtractingHalfSquaredNorms: Bool) {
        self.count = count
        dimension = d
        panelCount = ((count + 7) / 8 + 1) & ~1
        floats = .allocate(capacity: panelCount * d * 8)
        floats.initialize(repeating: 0, count: panelCount * d * 8)
        offsets = .allocate(capacity: panelCount * 8)
        offsets.initialize(repeating: .infinity, count: panelCount * 8)
        for j in 0..<count {
            let column = columns + j * d, panel = floats + (j / 8) * d * 8 + j % 8
            for t in 0..<d { panel[t * 8] = column[t] }
            offsets[j] = subtractingHalfSquaredNorms ? 0.5 * innerProduct(column, column, count: d) : 0
        }
    }

    deinit {
        floats.deallocate()
        offsets.deallocate()
    }
}
