import EngramDatasets
import EngramIndex
import EngramKernels

/// Whether a ground-truth file answers the metric being measured: the exact
/// top-k of the first few queries, by a plain scan of the base, against the
/// file's rows (``Recall/at(_:found:groundTruth:)``).
///
/// A wrong `--metric`, or a ground truth made for other files, shows as an
/// agreement far below 1; ties at the k-th distance and float rounding can
/// put it a little below 1 legitimately, so ``suspect`` allows 0.1.
struct GroundTruthCheck {
    /// How many queries are checked.
    static let sampleQueries = 10
    /// Below this agreement the ground truth is reported as not matching.
    static let threshold = 0.9

    let agreement: Double
    let queries: Int

    var suspect: Bool { agreement < Self.threshold }

    init(base: FloatMatrix, queries: FloatMatrix, truth: Int32Matrix, metric: Metric, k: Int) {
        let n = base.rows, d = base.columns
        let sample = Swift.min(Self.sampleQueries, queries.rows)
        var found = [[VectorID]]()
        base.values.withUnsafeBufferPointer { rows in
            let rows = rows.baseAddress!
            // Cosine ranks by q̂·v / ‖v‖: the rows' norms once, the query normalised.
            var inverseNorms = [Float]()
            if metric == .cosine {
                inverseNorms = (0..<n).map { r in
                    let length = innerProduct(rows + r * d, rows + r * d, count: d).squareRoot()
                    return length > 0 ? 1 / length : 0
                }
            }
            for q in 0..<sample {
                var query = Array(queries.row(q))
                query.withUnsafeMutableBufferPointer { query in
                    let p = query.baseAddress!
                    if metric == .cosine { _ = normalize(p, count: d) }
                    var best = TopKHeap(capacity: k)
                    for r in 0..<n {
                        let row = rows + r * d
                        let distance: Float
                        switch metric {
                        case .squaredL2: distance = squaredEuclidean(p, row, count: d)
                        case .innerProduct: distance = -innerProduct(p, row, count: d)
                        case .cosine: distance = inverseNorms[r] == 0 ? .infinity : -innerProduct(p, row, count: d) * inverseNorms[r]
                        }
                        best.consider(distance: distance, id: VectorID(r))
                    }
                    found.append(best.sortedResults().map(\.id))
                }
            }
        }
        self.queries = sample
        self.agreement = Recall.at(k, found: found, groundTruth: truth)
    }
}
