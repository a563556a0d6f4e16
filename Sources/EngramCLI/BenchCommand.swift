import ArgumentParser
import EngramKernels
import EngramPostgres
import EngramText
import EngramTools
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

extension Metric: ExpressibleByArgument {}
extension BenchConfiguration.IndexKind: ExpressibleByArgument {}

/// `engram bench`: recall and latency of an index against exact ground truth.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure recall@k, QPS and latency of an index against exact ground truth.",
        discussion: """
            Give the files with --base, --queries and --groundtruth, or a folder laid out as
            shared/harness lays it (base.fvecs, query.fvecs, groundtruth.ivecs) with --dataset.
            Queries run one at a time on one thread after --warmup untimed ones. A table goes to
            stdout, progress to stderr, and with --json one JSON object per sweep point to FILE.
            """
    )

    @Option(help: "A dataset folder holding base.fvecs, query.fvecs and groundtruth.ivecs.")
    var dataset: String?

    @Option(help: "Base vectors (.fvecs or .fbin).")
    var base: String?

    @Option(help: "Query vectors (.fvecs or .fbin).")
    var queries: String?

    @Option(help: "Exact neighbour ids of each query, best first (.ivecs or .ibin).")
    var groundtruth: String?

    @Option(help: "The dataset name reported in the results (default: the folder's name).")
    var name: String?

    @Option(help: "The index to build: \(BenchConfiguration.IndexKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var index: BenchConfiguration.IndexKind = .flat

    @Option(help: "The metric: cosine, ip or l2 (default: the one the --dataset folder's meta.json names, else cosine).")
    var metric: Metric?

    @Option(help: "How many neighbours each query asks for; recall is measured at k.")
    var k: Int = 10

    @Option(name: .customLong("ef-search"), help: "Comma-separated efSearch values to sweep (hnsw; default 10,20,40,80,120,200,400).")
    var efSearch: String?

    @Option(help: "IVF: inverted lists (default 4·√n).")
    var nlist: Int?

    @Option(help: "IVF: comma-separated lists probed per search, swept (default 1,2,4,8,16,32,64).")
    var nprobe: String?

    @Option(help: "ivf-sq8, hnsw-sq8: candidates re-ranked with the full-precision vectors (default 0: the codes' order is the answer).")
    var rerank: Int = 0

    @Flag(name: .customLong("keep-floats"), help: "hnsw-sq8: keep the float vectors beside the codes (layer 0 on codes, re-ranked with the floats) instead of codes only.")
    var keepFloats = false

    @Option(name: .customLong("graph-cache"), help: "hnsw, hnsw-sq8: a snapshot of the built graph; loaded when the file exists (the build time reported is then 0), else written after the build.")
    var graphCache: String?

    @Option(name: .customLong("map-floats"), help: ArgumentHelp(
        "hnsw, hnsw-float: keep the float vectors in a memory-mapped file in this directory instead of on the heap (the store's too with --through-store).",
        valueName: "dir"))
    var mapFloats: String?

    @Flag(name: .customLong("through-store"), help: "hnsw: also write the vectors to a store in a scratch directory and sweep the same efSearch values through the store's search (rows 'store-hnsw').")
    var throughStore = false

    @Option(name: .customLong("build-threads"), help: "Threads used to build the index.")
    var buildThreads: Int = 1

    @Option(name: .customLong("m"), help: "HNSW: links per node (layer 0 keeps 2·M).")
    var m: Int = 16

    @Option(name: .customLong("ef-construction"), help: "HNSW: candidate list size while building.")
    var efConstruction: Int = 200

    @Option(name: .customLong("filter-selectivity"), help: "HNSW: comma-separated fractions of allowed ids to measure filtered search at (e.g. 0.001,0.01,0.1,0.5).")
    var filterSelectivity: String?

    @Option(help: "Untimed warm-up queries before each sweep point.")
    var warmup: Int = 200

    @Option(name: .customLong("max-queries"), help: "Use only the first N queries.")
    var maxQueries: Int?

    @Option(help: "Append one JSON object per sweep point to this file.")
    var json: String?

    @Flag(help: "Measure ingest through the full engine (log + index) instead of search: vectors/s per durability mode, log bytes per record, recovery time. Uses --dataset or --base.")
    var ingest = false

    @Option(name: .customLong("text-set"), help: "Measure the BM25 text index on a retrieval set made by scripts/make-text-set.py (corpus.jsonl, queries.txt): build time and queries one at a time on one thread.")
    var textSet: String?

    @Option(name: .customLong("results"), help: "--text-set: write each query's ranking (top 100) to this file as JSON lines, for scripts/eval-text.py (with --hybrid: one file per mode, FILE with -vector, -text, -rrf, -weighted before its extension).")
    var results: String?

    @Flag(help: "--text-set with embeddings: measure the store's search by vector, by text, and both fused (rrf, weighted), rankings at k 100 and latency at --k.")
    var hybrid = false

    @Option(help: "--hybrid: the vector score's weight in the weighted fusion.")
    var alpha: Double = 0.5

    @Option(name: .customLong("ingest-batch"), help: "Records per upsert call in --ingest.")
    var ingestBatch: Int = 1000

    @Option(name: .customLong("max-vectors"), help: "Use only the first N base vectors (--ingest).")
    var maxVectors: Int?

    @Option(help: "Threads upserting at once in --ingest (their writes share fsyncs).")
    var writers: Int = 4

    @Option(help: "Durability modes for --ingest, comma-separated: fsync, group-commit[:µs], os-buffered (default: all three).")
    var durability: String?

    @Option(name: .customLong("max-unindexed"), help: "--ingest: acknowledged vectors a collection may hold outside its graph before writers help index.")
    var maxUnindexed: Int?

    @Flag(help: "Measure the memory layer (synthetic unit vectors, for scale): remember throughput with --writers threads under one --durability mode, scoped recall p50/p99 and recall@10 against exact, the recall cache's hit rate.")
    var memory = false

    @Option(name: .customLong("memory-experiences"), help: "--memory: experiences to remember.")
    var memoryExperiences: Int = 100_000

    @Option(name: .customLong("memory-agents"), help: "--memory: agents they belong to (recalls are scoped to one).")
    var memoryAgents: Int = 1_000

    @Option(name: .customLong("memory-dimension"), help: "--memory: the embeddings' dimension.")
    var memoryDimension: Int = 384

    @Option(name: .customLong("memory-batch"), help: "--memory: experiences per remember call.")
    var memoryBatch: Int = 1

    @Option(name: .customLong("memory-database-url"), help: "--memory: also time the same scoped recall as SQL on the typed tables with pgvector in this database (checkpointed into first).")
    var memoryDatabaseURL: String?

    @Flag(name: .customLong("memory-defer-indexing"), help: "--memory: build the graph after the remember phase (the write path's own rate), timed apart.")
    var memoryDeferIndexing = false

    @Flag(name: .customLong("memory-graph"), help: "Measure the memory layer's graph queries (synthetic, for scale): --memory-entities entities and --memory-facts facts between random pairs loaded 1,000 per call, then neighbours to --memory-depth from random entities, p50/p99.")
    var memoryGraph = false

    @Option(name: .customLong("memory-entities"), help: "--memory-graph: entities.")
    var memoryEntities: Int = 100_000

    @Option(name: .customLong("memory-facts"), help: "--memory-graph: facts between them.")
    var memoryFacts: Int = 1_000_000

    @Option(name: .customLong("memory-depth"), help: "--memory-graph: the neighbours' depth (1...6).")
    var memoryDepth: Int = 2

    /// Appends `lines` to the `--json` file, if one was given.
    func appendJSON(_ lines: [String]) throws {
        guard let json else { return }
        guard let file = fopen(json, "a") else {
            throw ValidationError("cannot open \(json) for appending: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        for line in lines { fputs(line + "\n", file) }
    }

    /// The one `--durability` mode the memory benches take, if given.
    func singleDurability() throws -> GroupCommitLog.Mode? {
        guard let durability else { return nil }
        guard let mode = GroupCommitLog.Mode(name: durability) else {
            throw ValidationError("--durability: '\(durability)' is not fsync, group-commit[:µs] or os-buffered")
        }
        return mode
    }

    func runMemoryGraph() throws {
        var bench = MemoryGraphBench { line in printToStandardError("engram bench: \(line)") }
        bench.entities = memoryEntities
        bench.facts = memoryFacts
        bench.dimension = memoryDimension
        bench.depth = memoryDepth
        bench.writers = writers
        bench.queries = maxQueries ?? 1000
        if let mode = try singleDurability() { bench.durability = mode }
        let r = try bench.run()
        print("memory graph: \(bench.entities) entities, \(bench.facts) facts (\(format(r.factsPerEntity, 1)) per entity) at \(bench.dimension) d, loaded in \(format(r.loadSeconds, 1)) s; "
              + "neighbours to depth \(bench.depth): p50 \(format(r.neighbours.p50Microseconds, 1)) µs, p99 \(format(r.neighbours.p99Microseconds, 1)) µs, "
              + "\(format(r.reachedMean, 1)) entities reached on average (\(bench.queries) queries)")
        try appendJSON([r.jsonLine(bench)])
    }

    func runMemory() throws {
        var bench = MemoryBench { line in printToStandardError("engram bench: \(line)") }
        bench.experiences = memoryExperiences
        bench.agents = memoryAgents
        bench.dimension = memoryDimension
        bench.writers = writers
        bench.batch = memoryBatch
        bench.deferIndexing = memoryDeferIndexing
        if let memoryDatabaseURL { bench.database = PostgresConfiguration(connectionString: memoryDatabaseURL) }
        bench.queries = maxQueries ?? 1000
        if let mode = try singleDurability() { bench.durability = mode }
        let r = try bench.run()
        print("memory: \(bench.experiences) experiences of \(bench.agents) agents at \(bench.dimension) d: remember \(format(r.rememberPerSecond, 0))/s "
              + "(\(bench.writers) writers, \(bench.batch) per call; graph \(bench.deferIndexing ? "built" : "caught up") \(format(r.indexedSeconds, 1)) s later); "
              + "scoped recall p50 \(format(r.recall.p50Microseconds, 1)) µs, p99 \(format(r.recall.p99Microseconds, 1)) µs, recall@10 \(format(r.recallAt10, 4)); "
              + "cache hit rate \(format(r.hitRate, 3)) (repeats \(format(r.repeatHitRate, 3))), hit p50 \(format(r.hit.p50Microseconds, 1)) µs, miss p50 \(format(r.miss.p50Microseconds, 1)) µs")
        if let sql = r.sql {
            print("pgvector SQL on the typed tables (HNSW m 16, ef_construction 64, built in \(format(r.sqlIndexSeconds ?? 0, 1)) s; iterative scan, ef_search 40): "
                  + "p50 \(format(sql.p50Microseconds, 1)) µs, p99 \(format(sql.p99Microseconds, 1)) µs, recall@10 \(format(r.sqlRecallAt10 ?? 0, 4)); "
                  + "Engram's p50 is \(format(sql.p50Microseconds / Swift.max(r.recall.p50Microseconds, 1e-9), 1))× faster")
        }
        try appendJSON([r.jsonLine])
    }

    func runIngest() throws {
        guard let basePath = base ?? dataset.map({ "\($0)/base.fvecs" }) else {
            throw ValidationError("--ingest needs --dataset or --base")
        }
        guard ingestBatch >= 1 else { throw ValidationError("--ingest-batch must be ≥ 1") }
        let folder = basePath.split(separator: "/").dropLast().last.map(String.init) ?? "dataset"
        var bench = IngestBench(basePath: basePath, datasetName: name ?? folder) { line in
            printToStandardError("engram bench: \(line)")
        }
        bench.batch = ingestBatch
        bench.writers = writers
        bench.maxVectors = maxVectors
        bench.m = m
        bench.efConstruction = efConstruction
        if let maxUnindexed { bench.maxUnindexed = maxUnindexed }
        if let durability {
            var modes = [GroupCommitLog.Mode]()
            for name in durability.split(separator: ",") {
                guard let mode = GroupCommitLog.Mode(name: String(name)) else {
                    throw ValidationError("unknown durability '\(name)': use fsync, group-commit[:µs] or os-buffered")
                }
                modes.append(mode)
            }
            bench.durabilities = modes
        }
        let results: [IngestBench.Result]
        do {
            results = try bench.run()
        } catch {
            printToStandardError("engram bench: error: \(error)")
            throw ExitCode(2)
        }
        print(IngestBench.Result.tableHeader)
        for r in results { print(r.tableLine) }
        try appendJSON(results.map(\.jsonLine))
    }

    func runText(_ directory: String) throws {
        let bench = TextBench(directory: directory) { line in printToStandardError("engram bench: \(line)") }
        let (result, rankings): (TextBench.Result, [[TextIndex.Hit]])
        do { (result, rankings) = try bench.run() } catch {
            printToStandardError("engram bench: error: \(error)")
            throw ExitCode(2)
        }
        print("text index: \(result.documents) documents, \(result.terms) terms, \(result.memoryBytes / Swift.max(result.documents, 1)) bytes per document, "
              + "built in \(format(result.buildSeconds, 3)) s; "
              + "\(result.queries) queries: \(format(result.qps, 1)) QPS, p50 \(format(result.latency.p50Microseconds, 1)) µs, "
              + "p99 \(format(result.latency.p99Microseconds, 1)) µs")
        try appendJSON([result.jsonLine])
        if let results {
            guard let file = fopen(results, "w") else { throw ValidationError("cannot open \(results) for writing") }
            defer { fclose(file) }
            struct Ranked: Encodable { var id: UInt32; var score: Double }
            struct Line: Encodable { var query: Int; var hits: [Ranked] }
            for (q, hits) in rankings.enumerated() {
                fputs(JSONLine.encode(Line(query: q, hits: hits.map { Ranked(id: $0.label, score: $0.score) })) + "\n", file)
            }
        }
    }

    func runHybrid(_ directory: String) throws {
        var bench = HybridBench(directory: directory) { line in printToStandardError("engram bench: \(line)") }
        bench.latencyK = k
        bench.alpha = alpha
        if let efSearch {
            guard let ef = Int(efSearch), (1...100_000).contains(ef) else { throw ValidationError("--hybrid takes one --ef-search value, 1...100000") }
            bench.efSearch = ef
        }
        let result: HybridBench.Result
        do { result = try bench.run() } catch {
            printToStandardError("engram bench: error: \(error)")
            throw ExitCode(2)
        }
        print("| mode | QPS | p50 µs | p99 µs |")
        print("|---|---|---|---|")
        for mode in result.modes {
            print("| \(mode.name) | \(format(mode.qps, 1)) | \(format(mode.latency.p50Microseconds, 1)) | \(format(mode.latency.p99Microseconds, 1)) |")
        }
        try appendJSON(result.jsonLines)
        if let results {
            struct Ranked: Encodable { var id: Int; var score: Double }
            struct Line: Encodable { var query: Int; var hits: [Ranked] }
            let dot = results.lastIndex(of: ".") ?? results.endIndex
            for mode in result.modes {
                let path = String(results[..<dot]) + "-" + mode.name + String(results[dot...])
                guard let file = fopen(path, "w") else { throw ValidationError("cannot open \(path) for writing") }
                defer { fclose(file) }
                for (q, hits) in mode.rankings.enumerated() {
                    fputs(JSONLine.encode(Line(query: q, hits: hits.map { Ranked(id: $0.id, score: $0.score) })) + "\n", file)
                }
            }
        }
    }

    func makeConfiguration() throws -> BenchConfiguration {
        var c: BenchConfiguration
        switch (dataset, base, queries, groundtruth) {
        case (let dir?, nil, nil, nil):
            c = BenchConfiguration(datasetDirectory: dir)
        case (nil, let b?, let q?, let g?):
            let folder = b.split(separator: "/").dropLast().last.map(String.init) ?? "dataset"
            c = BenchConfiguration(basePath: b, queriesPath: q, groundTruthPath: g, datasetName: folder)
        default:
            throw ValidationError("give either --dataset DIR, or all of --base, --queries and --groundtruth")
        }
        if let name { c.datasetName = name }
        c.index = index
        c.metric = try metric ?? datasetMetric()?.metric ?? .cosine
        c.k = k
        c.buildThreads = buildThreads
        c.m = m
        c.efConstruction = efConstruction
        c.warmupQueries = warmup
        c.maxQueries = maxQueries
        if let filterSelectivity {
            c.filterSelectivities = try filterSelectivity.split(separator: ",").map { part in
                guard let value = Double(part.trimmingSpaces) else {
                    throw ValidationError("--filter-selectivity takes comma-separated fractions, got '\(filterSelectivity)'")
                }
                return value
            }
        }
        c.nlist = nlist
        c.rerank = rerank
        c.keepFloats = keepFloats
        c.graphCache = graphCache
        c.throughStore = throughStore
        c.mappedFloatsDirectory = mapFloats
        if let nprobe { c.nprobe = try Self.wholeNumbers(nprobe, option: "--nprobe") }
        if let efSearch { c.efSearch = try Self.wholeNumbers(efSearch, option: "--ef-search") }
        return c
    }

    /// The metric the --dataset folder's meta.json names, when --metric is not given.
    func datasetMetric() throws -> (metric: Metric, name: String)? {
        guard metric == nil, let dataset else { return nil }
        return try DatasetMetric.named(inDirectory: dataset)
    }

    /// `text` as comma-separated whole numbers.
    static func wholeNumbers(_ text: String, option: String) throws -> [Int] {
        try text.split(separator: ",").map { part in
            guard let value = Int(part.trimmingSpaces) else {
                throw ValidationError("\(option) takes comma-separated whole numbers, got '\(text)'")
            }
            return value
        }
    }

    func validate() throws {
        if ingest || textSet != nil || memory || memoryGraph { return }
        do {
            try makeConfiguration().validate()
        } catch let error as BenchError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        if ingest { return try runIngest() }
        if memory { return try runMemory() }
        if memoryGraph { return try runMemoryGraph() }
        if let textSet { return hybrid ? try runHybrid(textSet) : try runText(textSet) }
        let configuration = try makeConfiguration()
        if let named = try datasetMetric() {
            printToStandardError("engram bench: metric \(named.metric), as the dataset's meta.json names it (\"\(named.name)\")")
        }
        let runner = BenchRunner(configuration: configuration) { line in
            printToStandardError("engram bench: \(line)")
        }
        let results: [BenchResult]
        do {
            results = try runner.run()
        } catch {
            printToStandardError("engram bench: error: \(error)")
            throw ExitCode(2)
        }
        print(BenchTable.render(results))
        try appendJSON(results.map(\.jsonLine))
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
