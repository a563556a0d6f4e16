import EngramDatasets
import EngramSync
import EngramEngine
import EngramIndex

#if canImport(Glibc)
import Glibc
#endif

extension BenchRunner {
    /// `engram bench --index hnsw --through-store`: the same vectors written
    /// to a store (one collection with the bench's M and efConstruction,
    /// operating-system-buffered log, in a scratch directory removed after),
    /// indexed by the store's own indexer, then the same efSearch sweep
    /// through ``Store/search(_:vector:k:efSearch:filter:)``: what a caller
    /// of the engine gets, records and metadata included. Rows are reported
    /// as index `store-hnsw`, beside the bare index's rows of the same run.
    func runThroughStore(_ data: Data) throws(BenchError) -> [BenchResult] {
        let c = configuration
        let dir = try scratchDirectory("engram-store-search")
        defer { _ = system("rm -rf '\(dir)'") }
        do {
            return try throughStore(data, directory: dir)
        } catch let error as BenchError {
            throw error
        } catch {
            throw .invalidArgument("--through-store: \(error) (index \(c.index.rawValue))")
        }
    }

    private func throughStore(_ data: Data, directory dir: String) throws -> [BenchResult] {
        let c = configuration
        let n = data.base.rows
        var options = StoreOptions(durability: .osBuffered)
        options.indexThreads = c.buildThreads
        options.mappedFloatsDirectory = c.mappedFloatsDirectory
        let store = try Store.open(directory: dir, options: options)
        defer { try? store.close(writingSnapshot: false) }
        try store.createCollection(CollectionConfiguration(
            name: "bench", dimension: data.base.columns, metric: c.metric,
            hnsw: HNSWConfiguration(m: c.m, efConstruction: c.efConstruction)))
        let start = MonotonicClock.nanoseconds()
        var row = 0
        while row < n {
            let end = Swift.min(n, row + 1000)
            try store.upsert("bench", (row..<end).map { r in Record(id: "v\(r)", vector: Array(data.base.row(r)), metadata: ["row": .number(Double(r))]) })
            row = end
        }
        try store.waitUntilIndexed()
        let buildSeconds = MonotonicClock.seconds(since: start)
        let info = try store.indexInfo("bench")
        progress("store: \(n) records written and indexed in \(format(buildSeconds, 1)) s; walks on codes: \(info.walksOnCodes)")
        var results = [BenchResult]()
        for ef in c.efSearch.isEmpty ? BenchConfiguration.defaultEfSearch : c.efSearch {
            let measured = try measure(data) { (query) throws(IndexError) -> [SearchResult] in
                let hits: [SearchHit]
                do { hits = try store.search("bench", vector: Array(query), k: c.k, efSearch: ef) } catch {
                    throw .invalidParameter(.efSearch, value: ef)
                }
                return hits.map { SearchResult(id: VectorID($0.id.dropFirst()) ?? .max, distance: $0.distance) }
            }
            progress("store ef=\(ef): recall@\(c.k) \(format(measured.recall, 4)), \(format(measured.qps, 0)) QPS")
            results.append(result(
                index: "store-hnsw", params: "M=\(c.m) efConstruction=\(c.efConstruction)", data: data,
                buildThreads: c.buildThreads, buildSeconds: buildSeconds, memoryBytes: info.memory.total, memory: info.memory,
                searchParam: "ef", searchValue: ef, measured: measured))
        }
        return results
    }
}
