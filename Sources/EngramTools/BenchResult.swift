import EngramEngine
import EngramIndex

/// One measured sweep point of `engram bench`: one JSON line with `--json`.
///
/// The keys match `shared/harness` result rows, so both can sit in one table.
package struct BenchResult: Sendable, Equatable {
    package var index: String
    package var params: String
    package var dataset: String
    package var n: Int
    package var dim: Int
    package var metric: String
    package var k: Int
    package var buildThreads: Int
    package var buildSeconds: Double
    package var memoryBytes: Int
    /// The index's bytes by what they hold (nil for an index that does not say).
    package var memory: IndexMemory? = nil
    package var searchParam: String
    package var searchValue: Int
    package var recall: Double
    package var nq: Int
    package var qps: Double
    package var latency: LatencySummary

    /// One JSON object (the keys `shared/harness` uses).
    package var jsonLine: String { JSONLine.encode(Line(self)) }

    /// The JSON line's fields.
    private struct Line: Encodable {
        let engine = "engram"
        let index, params, dataset, metric: String
        let n, dim, k, nq: Int
        let build_threads, mem_bytes, search_value: Int
        let build_s, recall_at_k, qps, p50_us, p95_us, p99_us, mean_us: Rounded
        let search_param: String
        /// Only when k is 10 (the harness's name for recall@10).
        let recall_at_10: Rounded?
        /// `mem_bytes` by what it holds: floats, compact codes, links, the rest.
        let mem_floats_bytes, mem_codes_bytes, mem_links_bytes, mem_other_bytes: Int?
        /// `mem_bytes` less the floats when they live in a mapped file: what the heap holds.
        let mem_heap_bytes: Int?
        /// Whether the floats live in a memory-mapped file (`--map-floats`).
        let floats_mapped: Bool?

        init(_ r: BenchResult) {
            index = r.index; params = r.params; dataset = r.dataset; metric = r.metric
            n = r.n; dim = r.dim; k = r.k; nq = r.nq
            build_threads = r.buildThreads; mem_bytes = r.memoryBytes; search_value = r.searchValue
            build_s = Rounded(r.buildSeconds, 3)
            recall_at_k = Rounded(r.recall, 4)
            recall_at_10 = r.k == 10 ? Rounded(r.recall, 4) : nil
            qps = Rounded(r.qps, 1)
            p50_us = Rounded(r.latency.p50Microseconds, 1)
            p95_us = Rounded(r.latency.p95Microseconds, 1)
            p99_us = Rounded(r.latency.p99Microseconds, 1)
            mean_us = Rounded(r.latency.meanMicroseconds, 1)
            search_param = r.searchParam
            mem_floats_bytes = r.memory?.floats
            mem_codes_bytes = r.memory?.codes
            mem_links_bytes = r.memory?.links
            mem_other_bytes = r.memory?.other
            mem_heap_bytes = r.memory?.anonymous
            floats_mapped = r.memory?.floatsFileBacked
        }
    }
}
