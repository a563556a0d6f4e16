import Dispatch
import EngramKernels

/// The nearest of `clusters` centroids to each of many prepared vectors —
/// k-means' assignment step and IVF's add — as blocked matrix products
/// (``innerProductArgmax(rows:rowCount:panels:best:bestScore:secondScore:)``)
/// split across threads.
///
/// Nearest is by the metric: squared L2 scores each centroid `x·c − ‖c‖²/2`
/// (the same order as `‖x − c‖²`); inner product and cosine (unit vectors)
/// score `x·c`.
///
/// Invariant: `panels` holds the centroids as they were at `init` (a copy).
struct CentroidAssigner {
    let dimension: Int
    private let panels: ColumnPanels

    init(centroids: UnsafePointer<Float>, clusters: Int, dimension d: Int, metric: Metric) {
        dimension = d
        panels = ColumnPanels(columns: centroids, count: clusters, dimension: d, subtractingHalfSquaredNorms: metric == .squaredL2)
    }

    /// Fills `labels[i]`, `scores[i]` and, when given, `runnerUp[i]` (the
    /// second best score) for each of `count` rows at `rows`, on up to
    /// `threads` threads. Each row's result depends on that row alone, so
    /// it is the same for any thread count.
    func assign(
        _ rows: UnsafePointer<Float>, count: Int, labels: UnsafeMutablePointer<Int32>,
        scores: UnsafeMutablePointer<Float>, runnerUp: UnsafeMutablePointer<Float>?, threads: Int
    ) {
        guard count > 0 else { return }
        let input = SendablePointer(UnsafeMutablePointer(mutating: rows))
        let best = SendablePointer(labels), bestScores = SendablePointer(scores)
        let second = runnerUp.map { SendablePointer($0) }
        let d = dimension, panels = panels
        // Chunks of 240 rows (four row blocks of the kernel) handed out in turn, so a slow core does not hold up the other.
        let chunk = 240, chunks = (count + chunk - 1) / chunk
        let workers = Swift.max(1, Swift.min(threads, chunks))
        let next = AtomicCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let c = next.increment()
                guard c < chunks else { return }
                let start = c * chunk, n = Swift.min(chunk, count - start)
                innerProductArgmax(
                    rows: input.pointer + start * d, rowCount: n, panels: panels,
                    best: best.pointer + start, bestScore: bestScores.pointer + start,
                    secondScore: second.map { $0.pointer + start })
            }
        }
    }
}
