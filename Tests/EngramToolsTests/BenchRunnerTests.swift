import EngramDatasets
import EngramIndex
import EngramTestSupport
import EngramKernels
@testable import EngramTools
import Testing

@Suite("engram bench")
struct BenchRunnerTests {
    @Test("the flat index reproduces the fixture's numpy ground truth exactly (recall@10 = 1)")
    func flatOnFixture() throws {
        var config = BenchConfiguration(datasetDirectory: RepositoryPaths.fixture)
        config.warmupQueries = 5
        var lines = [String]()
        let results = try BenchRunner(configuration: config) { lines.append($0) }.run()
        #expect(results.count == 1)
        let r = try #require(results.first)
        #expect(r.recall == 1.0)
        #expect(r.n == 5000 && r.dim == 64 && r.nq == 200 && r.k == 10)
        #expect(r.dataset == "fixture-64-5k")
        #expect(r.memoryBytes == 5000 * 64 * 4)
        #expect(r.qps > 0 && r.latency.p50Microseconds > 0)
        #expect(r.latency.p50Microseconds <= r.latency.p95Microseconds && r.latency.p95Microseconds <= r.latency.p99Microseconds)
        #expect(lines.contains { $0.contains("building flat") })
        // Recall is measured, not assumed: the wrong metric on unnormalised
        // ids would not match, and neither does a truncated answer.
        let truth = try DatasetReader.readInt32s("\(RepositoryPaths.fixture)/groundtruth.ivecs")
        let wrong = (0..<truth.rows).map { q in truth.row(q).prefix(10).map { VectorID($0 + 1) } }
        #expect(Recall.at(10, found: wrong, groundTruth: truth) < 0.5)
    }

    @Test("hnsw on the fixture: recall@10 ≥ 0.95 from efSearch 40, rising with ef; filtered rows report their plan")
    func hnswOnFixture() throws {
        var config = BenchConfiguration(datasetDirectory: RepositoryPaths.fixture)
        config.index = .hnsw
        config.warmupQueries = 5
        config.efSearch = [10, 40, 200]
        config.efConstruction = 100
        config.buildThreads = 2
        config.filterSelectivities = [0.01, 0.5]
        let results = try BenchRunner(configuration: config).run()
        #expect(results.count == 5)
        #expect(results[1].recall >= 0.95 && results[2].recall >= results[1].recall - 0.002)
        #expect(results.allSatisfy { $0.index == "hnsw" && $0.buildThreads == 2 && $0.memoryBytes > 5000 * 64 * 4 })
        #expect(results[2].latency.p50Microseconds > results[0].latency.p50Microseconds)
        #expect(results[3].params.contains("plan=exactScan") && results[3].recall == 1)
        #expect(results[4].params.contains("plan=") && results[4].recall >= 0.95)
        #expect(results[0].jsonLine.contains("\"search_param\":\"ef\",\"search_value\":10"))
    }

    @Test("every key the harness reads is in the JSON line")
    func jsonKeys() throws {
        var config = BenchConfiguration(datasetDirectory: RepositoryPaths.fixture)
        config.warmupQueries = 0
        config.maxQueries = 20
        let line = try #require(try BenchRunner(configuration: config).run().first).jsonLine
        for key in ["engine", "index", "dataset", "n", "dim", "metric", "k", "build_threads", "build_s", "mem_bytes",
                    "search_param", "search_value", "recall_at_10", "nq", "qps", "p50_us", "p95_us", "p99_us"] {
            #expect(line.contains("\"\(key)\":"), "missing \(key)")
        }
        #expect(line.hasPrefix("{") && line.hasSuffix("}") && !line.contains("\n"))
        #expect(line.contains("\"engine\":\"engram\"") && line.contains("\"index\":\"flat\""))
        #expect(line.contains("\"nq\":20,"))
    }

    @Test("bad arguments and inconsistent files are clear errors")
    func errors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var config = BenchConfiguration(datasetDirectory: RepositoryPaths.fixture)
        config.efSearch = [10]
        #expect(throws: BenchError.self) { try config.validate() }
        config.efSearch = []
        config.k = 0
        #expect(throws: BenchError.self) { try config.validate() }
        config.k = 101
        let tooDeep = #expect(throws: BenchError.self) { try BenchRunner(configuration: config).run() }
        #expect(tooDeep?.description.contains("fewer than --k 101") == true)

        var missing = BenchConfiguration(datasetDirectory: dir.path)
        missing.warmupQueries = 0
        let noFile = #expect(throws: BenchError.self) { try BenchRunner(configuration: missing).run() }
        #expect(noFile?.description.contains("base.fvecs") == true)

        // Queries of another dimension than the base.
        try DatasetWriter.write(FloatMatrix(rows: 3, columns: 2, values: [1, 0, 0, 1, 1, 1])!, to: dir.file("base.fvecs"))
        try DatasetWriter.write(FloatMatrix(rows: 1, columns: 3, values: [1, 0, 0])!, to: dir.file("query.fvecs"))
        try DatasetWriter.write(Int32Matrix(rows: 1, columns: 1, values: [0])!, to: dir.file("groundtruth.ivecs"))
        var mismatched = BenchConfiguration(datasetDirectory: dir.path)
        mismatched.k = 1
        let dims = #expect(throws: BenchError.self) { try BenchRunner(configuration: mismatched).run() }
        #expect(dims?.description.contains("3-dimensional") == true)

        // Ground truth naming a row the base does not have.
        try DatasetWriter.write(FloatMatrix(rows: 1, columns: 2, values: [1, 0])!, to: dir.file("query.fvecs"))
        try DatasetWriter.write(Int32Matrix(rows: 1, columns: 1, values: [7])!, to: dir.file("groundtruth.ivecs"))
        let outside = #expect(throws: BenchError.self) { try BenchRunner(configuration: mismatched).run() }
        #expect(outside?.description.contains("row 7") == true)

        // A zero base vector under cosine is an index error, not a crash.
        try DatasetWriter.write(FloatMatrix(rows: 2, columns: 2, values: [1, 0, 0, 0])!, to: dir.file("base.fvecs"))
        try DatasetWriter.write(Int32Matrix(rows: 1, columns: 1, values: [0])!, to: dir.file("groundtruth.ivecs"))
        #expect(throws: BenchError.self) { try BenchRunner(configuration: mismatched).run() }
    }

    @Test("bench checks the ground truth against an exact scan with its metric, and takes the metric meta.json names")
    func groundTruthMetric() throws {
        let dir = TemporaryDirectory("engram-bench-metric")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("bench.metric", defaultSeed: 71)
        let n = 400, d = 8, nq = 12, k = 10
        // Rows of lengths 0.2 to 5: inner product and L2 rank them differently.
        var base = [Float]()
        for _ in 0..<n {
            let length = Float.random(in: 0.2...5, using: &rng)
            base += (0..<d).map { _ in rng.gaussian() * length }
        }
        let queries = rng.gaussianVectors(count: nq, dimension: d)
        // The L2 ground truth, by a brute force of its own.
        var truth = [Int32]()
        for q in 0..<nq {
            let distances = (0..<n).map { r in (0..<d).reduce(Float(0)) { $0 + (queries[q * d + $1] - base[r * d + $1]) * (queries[q * d + $1] - base[r * d + $1]) } }
            truth += (0..<n).sorted { (distances[$0], $0) < (distances[$1], $1) }.prefix(k).map { Int32($0) }
        }
        let baseMatrix = FloatMatrix(rows: n, columns: d, values: base)!
        let queryMatrix = FloatMatrix(rows: nq, columns: d, values: queries)!
        let truthMatrix = Int32Matrix(rows: nq, columns: k, values: truth)!
        let right = GroundTruthCheck(base: baseMatrix, queries: queryMatrix, truth: truthMatrix, metric: .squaredL2, k: k)
        #expect(right.agreement == 1 && right.queries == 10 && !right.suspect)
        for wrong: Metric in [.innerProduct, .cosine] {
            let check = GroundTruthCheck(base: baseMatrix, queries: queryMatrix, truth: truthMatrix, metric: wrong, k: k)
            #expect(check.suspect, "\(wrong): agreement \(check.agreement)")
        }

        // A bench run says which: a warning under the wrong metric, none under the right one.
        try DatasetWriter.write(baseMatrix, to: dir.file("base.fvecs"))
        try DatasetWriter.write(queryMatrix, to: dir.file("query.fvecs"))
        try DatasetWriter.write(truthMatrix, to: dir.file("groundtruth.ivecs"))
        var config = BenchConfiguration(datasetDirectory: dir.path)
        config.warmupQueries = 0
        for metric: Metric in [.innerProduct, .squaredL2] {
            config.metric = metric
            var lines = [String]()
            let results = try BenchRunner(configuration: config) { lines.append($0) }.run()
            let warned = lines.contains { $0.hasPrefix("warning: the ground truth does not look like exact \(metric) search") }
            #expect(warned == (metric != .squaredL2), "\(metric): \(lines)")
            if metric == .squaredL2 { #expect(results.first?.recall == 1) }
        }

        // meta.json's metric: harness names and others; unknown names and bad JSON are clear errors.
        #expect(try DatasetMetric.named(inDirectory: dir.path) == nil)
        #expect(try DatasetMetric.named(inDirectory: RepositoryPaths.fixture)?.metric == .cosine)
        for (name, metric) in [("euclidean", Metric.squaredL2), ("angular", .cosine), ("IP", .innerProduct)] {
            dir.write(Array("{\"n\": 400, \"metric\": \"\(name)\", \"files\": {}}".utf8), to: "meta.json")
            let named = try DatasetMetric.named(inDirectory: dir.path)
            #expect(named?.metric == metric && named?.name == name)
        }
        dir.write(Array("{\"n\": 400}".utf8), to: "meta.json")
        #expect(try DatasetMetric.named(inDirectory: dir.path) == nil)
        dir.write(Array("{\"metric\": \"hamming\"}".utf8), to: "meta.json")
        let unknown = #expect(throws: BenchError.self) { try DatasetMetric.named(inDirectory: dir.path) }
        #expect(unknown?.description.contains("\"hamming\"") == true && unknown?.description.contains("--metric") == true)
        dir.write(Array("{\"metric\": ".utf8), to: "meta.json")
        let broken = #expect(throws: BenchError.self) { try DatasetMetric.named(inDirectory: dir.path) }
        #expect(broken?.description.contains("not valid JSON") == true)
    }
}

@Suite("Measurement helpers")
struct MeasurementTests {
    @Test("latency percentiles use the nearest rank")
    func percentiles() {
        let s = LatencySummary(nanoseconds: (1...100).map { UInt64($0) * 1000 })
        #expect(s.p50Microseconds == 50)
        #expect(s.p95Microseconds == 95)
        #expect(s.p99Microseconds == 99)
        #expect(s.meanMicroseconds == 50.5)
        #expect(LatencySummary(nanoseconds: [7000]).p99Microseconds == 7)
        #expect(LatencySummary(nanoseconds: []).count == 0)
    }

    @Test("recall counts id overlap in the top k only")
    func recall() {
        let truth = Int32Matrix(rows: 2, columns: 3, values: [1, 2, 3, 4, 5, 6])!
        #expect(Recall.at(2, found: [[2, 1], [4, 9]], groundTruth: truth) == 0.75)
        #expect(Recall.at(1, found: [[2, 1], [4, 9]], groundTruth: truth) == 0.5)
        #expect(Recall.at(3, found: [[3, 2, 1], [6, 5, 4]], groundTruth: truth) == 1)
        #expect(Recall.at(3, found: [[], []], groundTruth: truth) == 0)
    }
}
