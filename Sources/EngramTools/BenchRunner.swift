import EngramSync
import EngramDatasets
import EngramEngine
import EngramIndex
import EngramKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs `engram bench`: loads a dataset, builds the index, then runs the
/// queries **one at a time on one thread** (the way the engine serves),
/// for each search setting, and measures recall@k against the ground truth,
/// QPS and latency percentiles.
///
/// Protocol (the same as `shared/harness`): `warmupQueries` untimed queries
/// first, then every query in order, each timed on its own; `qps` is the
/// number of queries over the loop's wall time.
package struct BenchRunner {
    package let configuration: BenchConfiguration
    /// Receives progress lines (the command line prints them to stderr).
    package let progress: (String) -> Void

    package init(configuration: BenchConfiguration, progress: @escaping (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.progress = progress
    }

    /// The loaded dataset.
    struct Data {
        var base: FloatMatrix
        var queries: FloatMatrix
        var groundTruth: Int32Matrix
    }

    package func run() throws(BenchError) -> [BenchResult] {
        try configuration.validate()
        let data = try load()
        let c = configuration
        let check = GroundTruthCheck(base: data.base, queries: data.queries, truth: data.groundTruth, metric: c.metric, k: c.k)
        progress("ground truth check: an exact \(c.metric) scan agrees with it on \(format(check.agreement, 3)) "
            + "of the top-\(c.k) of the first \(check.queries) queries")
        if check.suspect {
            progress("warning: the ground truth does not look like exact \(c.metric) search, so recall will be wrong: "
                + "is --metric right, and is \(c.groundTruthPath) made for these base and query files?")
        }
        switch configuration.index {
        case .flat:
            return try runFlat(data)
        case .hnsw, .hnswSQ8, .hnswFloat:
            let bare = try runHNSW(data)
            return configuration.throughStore ? bare + (try runThroughStore(data)) : bare
        case .ivf, .ivfSQ8:
            return try runIVF(data)
        }
    }

    func runIVF(_ data: Data) throws(BenchError) -> [BenchResult] {
        let c = configuration
        let n = data.base.rows, d = data.base.columns
        let nlist = Swift.min(n, c.nlist ?? Swift.max(1, Int((4 * Double(n).squareRoot()).rounded())))
        let encoding: IVFIndex.Encoding = c.index == .ivfSQ8 ? .sq8 : .flat
        let start = MonotonicClock.nanoseconds()
        let index: IVFIndex
        do {
            index = try IVFIndex(dimension: d, metric: c.metric, nlist: nlist, encoding: encoding)
            let trained = try index.train(data.base.values, threads: c.buildThreads)
            progress("trained \(c.index.rawValue) (nlist \(nlist)) in \(format(MonotonicClock.seconds(since: start), 1)) s on \(c.buildThreads) thread(s): "
                + "\(trained.iterations) iterations over \(trained.sampled) points, "
                + "\(format(Double(trained.pointsScored) / Double(trained.sampled * trained.iterations) * 100, 0))% of them scored")
            try index.add(contentsOf: data.base.values, labels: (0..<n).map { VectorID($0) }, threads: c.buildThreads)
        } catch {
            throw .index(error)
        }
        let buildSeconds = MonotonicClock.seconds(since: start)
        progress("built \(c.index.rawValue) in \(format(buildSeconds, 1)) s")
        // Re-ranking reads the full-precision vectors a collection keeps anyway; here, the base set, prepared.
        var prepared = data.base.values
        if c.metric.normalizesVectors {
            prepared.withUnsafeMutableBufferPointer { p in for i in 0..<n { _ = normalize(p.baseAddress! + i * d, count: d) } }
        }
        let params = "nlist=\(nlist)" + (encoding == .sq8 ? " rerank=\(c.rerank)" : "")
        var results = [BenchResult]()
        try prepared.withUnsafeBufferPointer { (vectors) throws(BenchError) in
            let base = vectors.baseAddress!
            let fullPrecision: (VectorID) -> UnsafePointer<Float>? = { Int($0) < n ? base + Int($0) * d : nil }
            for nprobe in (c.nprobe.isEmpty ? BenchConfiguration.defaultNprobe : c.nprobe) where nprobe <= nlist {
                let measured = try measure(data) { (query) throws(IndexError) in
                    try index.search(query, k: c.k, nprobe: nprobe, rerank: c.rerank, fullPrecision: fullPrecision)
                }
                progress("nprobe=\(nprobe): recall@\(c.k) \(format(measured.recall, 4)), \(format(measured.qps, 0)) QPS")
                results.append(result(
                    index: c.index.rawValue, params: params, data: data, buildThreads: c.buildThreads, buildSeconds: buildSeconds,
                    memoryBytes: index.memoryBytes, searchParam: "nprobe", searchValue: nprobe, measured: measured))
            }
        }
        return results
    }

    func load() throws(BenchError) -> Data {
        let c = configuration
        do {
            let start = MonotonicClock.nanoseconds()
            let base = try DatasetReader.readFloats(c.basePath)
            progress("loaded \(c.basePath): \(base.rows) × \(base.columns) in \(format(MonotonicClock.seconds(since: start), 2)) s")
            let queries = try DatasetReader.readFloats(c.queriesPath, limit: c.maxQueries)
            let truth = try DatasetReader.readInt32s(c.groundTruthPath, limit: c.maxQueries)
            progress("loaded \(queries.rows) queries and their ground truth (top-\(truth.columns))")
            guard base.rows > 0 else { throw BenchError.inconsistentFiles("\(c.basePath) holds no vectors") }
            guard queries.rows > 0 else { throw BenchError.inconsistentFiles("\(c.queriesPath) holds no vectors") }
            guard queries.columns == base.columns else {
                throw BenchError.inconsistentFiles(
                    "queries are \(queries.columns)-dimensional but the base is \(base.columns)-dimensional")
            }
            guard truth.rows >= queries.rows else {
                throw BenchError.inconsistentFiles(
                    "\(c.groundTruthPath) has \(truth.rows) rows for \(queries.rows) queries")
            }
            guard truth.columns >= c.k else {
                throw BenchError.inconsistentFiles(
                    "\(c.groundTruthPath) holds the top-\(truth.columns), fewer than --k \(c.k)")
            }
            if let bad = truth.values.first(where: { $0 < 0 || Int($0) >= base.rows }) {
                throw BenchError.inconsistentFiles(
                    "\(c.groundTruthPath) names row \(bad), outside the base's \(base.rows) rows")
            }
            return Data(base: base, queries: queries, groundTruth: truth)
        } catch let error as DatasetError {
            throw .dataset(error)
        } catch let error as BenchError {
            throw error
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    func runFlat(_ data: Data) throws(BenchError) -> [BenchResult] {
        let c = configuration
        if c.buildThreads > 1 { progress("note: the flat index builds on one thread (a copy); --build-threads ignored") }
        let start = MonotonicClock.nanoseconds()
        let index: FlatIndex
        do {
            index = try FlatIndex(dimension: data.base.columns, metric: c.metric, reserve: data.base.rows)
            let chunkRows = 100_000
            var row = 0
            while row < data.base.rows {
                let end = Swift.min(data.base.rows, row + chunkRows)
                try index.add(contentsOf: Array(data.base.values[(row * data.base.columns)..<(end * data.base.columns)]))
                row = end
                progress("building flat: \(row)/\(data.base.rows) vectors")
            }
        } catch {
            throw .index(error)
        }
        let buildSeconds = MonotonicClock.seconds(since: start)
        let measured = try measure(data) { (query) throws(IndexError) in try index.search(query, k: c.k) }
        return [result(index: "flat", params: "", data: data, buildThreads: 1, buildSeconds: buildSeconds,
                       memoryBytes: index.memoryBytes, searchParam: "exact", searchValue: 0, measured: measured)]
    }

    func runHNSW(_ data: Data) throws(BenchError) -> [BenchResult] {
        let c = configuration
        let n = data.base.rows
        let start = MonotonicClock.nanoseconds()
        let index: HNSWIndex
        let vectorMemory = try makeVectorMemory()
        let cached = try loadGraphCache(dimension: data.base.columns, vectorMemory: vectorMemory)
        let loaded = cached != nil
        if let cached {
            index = cached
        } else {
            do {
                index = try HNSWIndex(
                    dimension: data.base.columns, metric: c.metric,
                    configuration: HNSWConfiguration(m: c.m, efConstruction: c.efConstruction), capacity: n,
                    walksOnCodes: c.index == .hnsw, vectorMemory: vectorMemory)
                let report = SerializedProgress(progress)
                let began = start
                try index.insert(
                    contentsOf: data.base.values, labels: (0..<n).map { VectorID($0) }, threads: c.buildThreads
                ) { done in
                    if done % Swift.max(1, n / 10) < Swift.max(1, n / 100) {
                        report.send("building hnsw: \(done)/\(n) vectors, \(format(MonotonicClock.seconds(since: began), 1)) s")
                    }
                }
            } catch {
                throw .index(error)
            }
            try saveGraphCache(index)
        }
        if c.index == .hnswSQ8 {
            do { try index.quantize(keepingFloats: c.keepFloats) } catch { throw .index(error) }
        }
        let buildSeconds = loaded ? 0 : MonotonicClock.seconds(since: start)
        progress("built \(c.index.rawValue) in \(format(buildSeconds, 1)) s on \(c.buildThreads) thread(s)")
        let breakdown = index.memory
        let memory = breakdown.total
        progress("memory: floats \(breakdown.floats)\(breakdown.floatsFileBacked ? " (mapped)" : ""), codes \(breakdown.codes), links \(breakdown.links), other \(breakdown.other) bytes")
        var params = "M=\(c.m) efConstruction=\(c.efConstruction)"
        if c.index == .hnswSQ8 { params += c.keepFloats ? " floats kept" : " codes only rerank=\(c.rerank)" }
        // Re-ranking reads the full-precision vectors the caller keeps; here, the base set, prepared.
        var prepared = c.rerank > 0 ? data.base.values : []
        let d = data.base.columns
        if c.rerank > 0 && c.metric.normalizesVectors {
            prepared.withUnsafeMutableBufferPointer { p in for i in 0..<n { _ = normalize(p.baseAddress! + i * d, count: d) } }
        }
        var results = [BenchResult]()
        try prepared.withUnsafeBufferPointer { (vectors) throws(BenchError) in
            for ef in c.efSearch.isEmpty ? BenchConfiguration.defaultEfSearch : c.efSearch {
                let measured = try measure(data) { (query) throws(IndexError) in
                    guard c.rerank > 0, let base = vectors.baseAddress else { return try index.search(query, k: c.k, efSearch: ef) }
                    return try index.searchReranked(query, k: c.k, efSearch: ef, rerank: c.rerank, fullPrecision: { Int($0) < n ? base + Int($0) * d : nil })
                }
                progress("ef=\(ef): recall@\(c.k) \(format(measured.recall, 4)), \(format(measured.qps, 0)) QPS")
                results.append(result(
                    index: c.index.rawValue, params: params, data: data,
                    buildThreads: c.buildThreads, buildSeconds: buildSeconds, memoryBytes: memory, memory: breakdown,
                    searchParam: "ef", searchValue: ef, measured: measured))
            }
        }
        for selectivity in c.filterSelectivities {
            results += try measureFiltered(data, index: index, selectivity: selectivity, ef: c.efSearch.first ?? 64,
                                           buildSeconds: buildSeconds, memory: memory)
        }
        return results
    }

    /// Filtered search at one selectivity: a seeded random subset of ids is
    /// allowed; the ground truth is the exact filtered top-k (flat index, all cores).
    func measureFiltered(
        _ data: Data, index: HNSWIndex, selectivity: Double, ef: Int, buildSeconds: Double, memory: Int
    ) throws(BenchError) -> [BenchResult] {
        let c = configuration
        let n = data.base.rows
        var rng = SplitMix64(seed: UInt64(selectivity * 1_000_000) &+ 42)
        var bits = Bitset(capacity: n)
        for i in 0..<n where Double(rng.next() >> 11) / Double(1 << 53) < selectivity { bits.insert(VectorID(i)) }
        let allowed = bits
        progress("filter \(selectivity): \(allowed.count) allowed; exact filtered ground truth")
        let truth: Int32Matrix
        do {
            let flat = try FlatIndex(dimension: data.base.columns, metric: c.metric, reserve: n)
            try flat.add(contentsOf: data.base.values)
            let exact = try flat.search(batch: data.queries.values, k: c.k, filter: .bitset(allowed))
            let rows = exact.map { hits in (0..<c.k).map { $0 < hits.count ? Int32(hits[$0].id) : -1 } }
            truth = Int32Matrix(rows: rows.count, columns: c.k, values: rows.flatMap { $0 })!
        } catch {
            throw .index(error)
        }
        let filtered = Data(base: data.base, queries: data.queries, groundTruth: truth)
        var plans = [String: Int]()
        let measured = try measure(filtered) { (query) throws(IndexError) in
            let outcome = try index.searchWithPlan(query, k: c.k, efSearch: ef, filter: .bitset(allowed))
            plans[outcome.plan.rawValue, default: 0] += 1
            return outcome.results
        }
        let plan = plans.max { $0.value < $1.value }?.key ?? "-"
        progress("filter \(selectivity): plans \(plans), recall@\(c.k) \(format(measured.recall, 4)), \(format(measured.qps, 0)) QPS")
        return [result(
            index: "hnsw", params: "M=\(c.m) efConstruction=\(c.efConstruction) filter=\(selectivity) plan=\(plan)",
            data: data, buildThreads: c.buildThreads, buildSeconds: buildSeconds, memoryBytes: memory,
            searchParam: "ef", searchValue: ef, measured: measured)]
    }

    struct Measured {
        var recall: Double
        var qps: Double
        var latency: LatencySummary
    }

    /// Warm-up, then every query once, timed one by one.
    func measure(
        _ data: Data, search: (UnsafeBufferPointer<Float>) throws(IndexError) -> [SearchResult]
    ) throws(BenchError) -> Measured {
        let c = configuration
        let nq = data.queries.rows
        let d = data.queries.columns
        var latencies = [UInt64](repeating: 0, count: nq)
        var found = [[VectorID]](repeating: [], count: nq)
        var loopSeconds = 0.0
        do {
            try data.queries.values.withUnsafeBufferPointer { (all) throws(IndexError) in
                func query(_ i: Int) -> UnsafeBufferPointer<Float> {
                    UnsafeBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)])
                }
                for w in 0..<c.warmupQueries { _ = try search(query(w % nq)) }
                let step = Swift.max(1, nq / 10)
                let loopStart = MonotonicClock.nanoseconds()
                var reported = loopStart
                for i in 0..<nq {
                    let t0 = MonotonicClock.nanoseconds()
                    let hits = try search(query(i))
                    let t1 = MonotonicClock.nanoseconds()
                    latencies[i] = t1 &- t0
                    found[i] = hits.map(\.id)
                    if (i + 1) % step == 0 && t1 &- reported > 2_000_000_000 {
                        progress("searching: \(i + 1)/\(nq) queries")
                        reported = t1
                    }
                }
                loopSeconds = MonotonicClock.seconds(since: loopStart)
            }
        } catch {
            throw .index(error)
        }
        return Measured(
            recall: Recall.at(c.k, found: found, groundTruth: data.groundTruth),
            qps: Double(nq) / loopSeconds, latency: LatencySummary(nanoseconds: latencies))
    }

    func result(
        index: String, params: String, data: Data, buildThreads: Int, buildSeconds: Double,
        memoryBytes: Int, memory: IndexMemory? = nil, searchParam: String, searchValue: Int, measured: Measured
    ) -> BenchResult {
        BenchResult(
            index: index, params: params, dataset: configuration.datasetName, n: data.base.rows,
            dim: data.base.columns, metric: configuration.metric.rawValue, k: configuration.k,
            buildThreads: buildThreads, buildSeconds: buildSeconds, memoryBytes: memoryBytes, memory: memory,
            searchParam: searchParam, searchValue: searchValue, recall: measured.recall,
            nq: data.queries.rows, qps: measured.qps, latency: measured.latency)
    }
}

/// `value` with `decimals` decimals, for progress lines and tables.
package func format(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    guard decimals > 0 else { return "\(whole)" }
    let fraction = String(abs(scaled) % Int(scale))
    let sign = scaled < 0 && whole == 0 ? "-" : ""
    return "\(sign)\(whole).\(String(repeating: "0", count: decimals - fraction.count))\(fraction)"
}

/// Passes progress lines from worker threads to a non-thread-safe receiver, one at a time.
final class SerializedProgress: @unchecked Sendable {
    private let receive: (String) -> Void
    private let lock = Mutex<Void>(())

    init(_ receive: @escaping (String) -> Void) { self.receive = receive }

    func send(_ line: String) { lock.withLock { _ in receive(line) } }
}

extension BenchRunner {
    /// The graph in `--graph-cache`, when the file exists.
    /// Where the index's floats go: a mapped file with `--map-floats`, else the heap (nil).
    func makeVectorMemory() throws(BenchError) -> (any VectorMemory)? {
        guard let directory = configuration.mappedFloatsDirectory else { return nil }
        do throws(EngineError) { return try MappedVectorMemory(directory: directory) } catch { throw .engine(error) }
    }

    func loadGraphCache(dimension: Int, vectorMemory: (any VectorMemory)?) throws(BenchError) -> HNSWIndex? {
        guard let path = configuration.graphCache, access(path, F_OK) == 0 else { return nil }
        let file: PosixFile
        do { file = try PosixFile.openForReading(path) } catch { throw .dataset(error) }
        let index: HNSWIndex
        do {
            // Mapped, not read: the file's bytes stay in the page cache, out of the process's heap.
            index = try file.withContents { bytes in
                try HNSWIndex.load(snapshot: bytes, walksOnCodes: configuration.index == .hnsw, vectorMemory: vectorMemory)
            }
        } catch let error as DatasetError {
            throw .dataset(error)
        } catch {
            throw .invalidArgument("--graph-cache \(path): \(error)")
        }
        guard index.dimension == dimension, index.metric == configuration.metric,
              index.configuration.m == configuration.m, index.configuration.efConstruction == configuration.efConstruction else {
            throw .invalidArgument("--graph-cache \(path) holds a graph of dimension \(index.dimension), \(index.metric), M \(index.configuration.m), efConstruction \(index.configuration.efConstruction): not this run's")
        }
        progress("loaded the graph from \(path)")
        return index
    }

    /// Writes the built graph to `--graph-cache`.
    func saveGraphCache(_ index: HNSWIndex) throws(BenchError) {
        guard let path = configuration.graphCache else { return }
        let file: PosixFile
        do { file = try PosixFile.createForWriting(path) } catch { throw .dataset(error) }
        do {
            try index.writeSnapshot { chunk in
                guard let base = chunk.baseAddress else { return }
                try file.write(base, count: chunk.count)
            }
        } catch {
            throw .invalidArgument("--graph-cache \(path): \(error)")
        }
    }
}
