/// The human-readable table `engram bench` prints on stdout.
package enum BenchTable {
    package static func render(_ results: [BenchResult]) -> String {
        let header = ["index", "params", "search", "recall@k", "QPS", "p50 µs", "p95 µs", "p99 µs",
                      "build s", "threads", "memory MiB"]
        var rows = [header]
        for r in results {
            rows.append([
                r.index, r.params.isEmpty ? "-" : r.params,
                r.searchParam == "exact" ? "exact" : "\(r.searchParam)=\(r.searchValue)",
                format(r.recall, 4), format(r.qps, 0), format(r.latency.p50Microseconds, 1),
                format(r.latency.p95Microseconds, 1), format(r.latency.p99Microseconds, 1),
                format(r.buildSeconds, 2), "\(r.buildThreads)", format(Double(r.memoryBytes) / 1_048_576, 1),
            ])
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = Swift.max(widths[i], cell.count) } }
        var lines = [String]()
        if let first = results.first {
            lines.append("dataset \(first.dataset): n=\(first.n) dim=\(first.dim) metric=\(first.metric) k=\(first.k) queries=\(first.nq), one at a time on one thread")
        }
        for (r, row) in rows.enumerated() {
            let cells = row.enumerated().map { i, cell in
                i < 3 ? cell + String(repeating: " ", count: widths[i] - cell.count)
                      : String(repeating: " ", count: widths[i] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  "))
            if r == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n")
    }
}
