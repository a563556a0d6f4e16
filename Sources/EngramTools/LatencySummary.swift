/// Percentiles of per-query latencies (nearest-rank method).
package struct LatencySummary: Sendable, Equatable {
    package var count: Int
    package var meanMicroseconds: Double
    package var p50Microseconds: Double
    package var p95Microseconds: Double
    package var p99Microseconds: Double

    /// Summarises latencies given in nanoseconds; all zero when empty.
    package init(nanoseconds: [UInt64]) {
        count = nanoseconds.count
        guard !nanoseconds.isEmpty else {
            meanMicroseconds = 0; p50Microseconds = 0; p95Microseconds = 0; p99Microseconds = 0
            return
        }
        let sorted = nanoseconds.sorted()
        func percentile(_ p: Double) -> Double {
            // Nearest rank: the smallest value with at least p% of values at or below it.
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]) / 1000
        }
        meanMicroseconds = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
        p50Microseconds = percentile(50)
        p95Microseconds = percentile(95)
        p99Microseconds = percentile(99)
    }
}
