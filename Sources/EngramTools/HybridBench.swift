import EngramDatasets
import EngramEngine
import EngramMetadata
import EngramSync
import EngramText

#if canImport(Glibc)
import Glibc
#endif

/// `engram bench --text-set DIR --hybrid`: the store's search on a
/// retrieval set with embeddings (`scripts/make-text-set.py`: `corpus.jsonl`,
/// `base.fvecs`, `queries.txt`, `query.fvecs`), through the public API a
/// user calls. The documents go into one collection (cosine, text field
/// `content`) of a store in a temporary directory, then every query runs
/// one at a time on one thread in each mode:
///
/// - `vector`: `Store.search(_:vector:k:)`, the plain vector search;
/// - `text`: a ``HybridQuery`` with the text only (BM25);
/// - `rrf`: vector and text, reciprocal rank fusion (constant 60);
/// - `weighted`: vector and text, the normalised weighted sum (``alpha``).
///
/// Each mode runs twice: at k = ``rankingK`` (with as many candidates) for
/// the rankings that `scripts/eval-text.py` scores (nDCG@10, recall@100),
/// and at k = ``latencyK`` with the default candidates for the latency a
/// caller sees. Record `i` of the collection is document `i`.
package struct HybridBench {
    package struct Mode: Sendable {
        package var name: String
        package var qps: Double
        package var latency: LatencySummary
        /// Per query: the document ids of the ranking run, best first, with their scores.
        package var rankings: [[(id: Int, score: Double)]]
    }

    package struct Result: Sendable {
        package var documents: Int
        package var queries: Int
        package var loadSeconds: Double
        package var modes: [Mode]

        /// One JSON line per mode.
        package var jsonLines: [String] {
            modes.map { mode in
                JSONLine.encode(Line(mode: "hybrid-\(mode.name)", documents: documents, queries: queries, load_s: Rounded(loadSeconds, 3),
                                     qps: Rounded(mode.qps, 1), p50_us: Rounded(mode.latency.p50Microseconds, 1),
                                     p99_us: Rounded(mode.latency.p99Microseconds, 1), mean_us: Rounded(mode.latency.meanMicroseconds, 1)))
            }
        }

        private struct Line: Encodable {
            let engine = "engram"
            let mode: String
            let documents, queries: Int
            let load_s, qps, p50_us, p99_us, mean_us: Rounded
        }
    }

    package var directory: String
    package var rankingK = 100
    package var latencyK = 10
    package var alpha = 0.5
    package var efSearch: Int?
    let progress: (String) -> Void

    package init(directory: String, progress: @escaping (String) -> Void) {
        self.directory = directory
        self.progress = progress
    }

    package func run() throws(BenchError) -> Result {
        let corpus = try TextBench.lines(directory + "/corpus.jsonl")
        let queryTexts = try TextBench.lines(directory + "/queries.txt")
        let base: FloatMatrix, queryVectors: FloatMatrix
        do {
            base = try DatasetReader.readFloats(directory + "/base.fvecs")
            queryVectors = try DatasetReader.readFloats(directory + "/query.fvecs")
        } catch {
            throw .dataset(error)
        }
        guard base.rows == corpus.count, queryVectors.rows == queryTexts.count, base.columns == queryVectors.columns else {
            throw .inconsistentFiles("\(directory): \(corpus.count) documents and \(base.rows) embeddings, \(queryTexts.count) queries and \(queryVectors.rows) query embeddings")
        }
        var texts = [String](repeating: "", count: corpus.count)
        for (n, line) in corpus.enumerated() {
            guard let value = try? MetadataJSON.parse(line), case .number(let id)? = value["id"], let i = Int(exactly: id), i >= 0, i < corpus.count,
                  case .string(let text)? = value["text"] else {
                throw .invalidArgument("\(directory)/corpus.jsonl:\(n + 1): needs an integer \"id\" below \(corpus.count) and a \"text\"")
            }
            texts[i] = text
        }
        let dir = try scratchDirectory("engram-hybrid")
        defer { _ = system("rm -rf '\(dir)'") }
        do {
            return try measure(texts: texts, base: base, queryTexts: queryTexts, queryVectors: queryVectors, directory: dir)
        } catch let error as BenchError {
            throw error
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    private func measure(texts: [String], base: FloatMatrix, queryTexts: [String], queryVectors: FloatMatrix, directory dir: String) throws -> Result {
        let store = try Store.open(directory: dir, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close(writingSnapshot: false) }
        try store.createCollection(CollectionConfiguration(name: "hybrid", dimension: base.columns, metric: .cosine,
                                                           text: TextSettings(fields: ["content"])))
        let start = MonotonicClock.nanoseconds()
        var batch = [Record]()
        for i in 0..<base.rows {
            batch.append(Record(id: String(i), vector: Array(base.row(i)), text: ["content": texts[i]]))
            if batch.count == 1000 || i == base.rows - 1 {
                try store.upsert("hybrid", batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try store.waitUntilIndexed()
        let loadSeconds = MonotonicClock.seconds(since: start)
        progress("loaded \(base.rows) documents (vectors and texts, indexed) in \(format(loadSeconds, 3)) s; \(queryTexts.count) queries per mode")
        let vectors = (0..<queryVectors.rows).map { Array(queryVectors.row($0)) }

        func hybrid(_ q: Int, k: Int, candidates: Int?, vector: Bool, text: Bool, fusion: HybridFusion.Method) throws -> [(id: Int, score: Double)] {
            try store.search("hybrid", HybridQuery(vector: vector ? vectors[q] : nil, text: text ? queryTexts[q] : nil, k: k,
                                                   fusion: fusion, candidates: candidates, efSearch: efSearch))
                .map { (Int($0.id) ?? -1, $0.score) }
        }
        let modes: [(String, (Int, Int, Int?) throws -> [(id: Int, score: Double)])] = [
            ("vector", { q, k, _ in try store.search("hybrid", vector: vectors[q], k: k, efSearch: efSearch).map { (Int($0.id) ?? -1, -Double($0.distance)) } }),
            ("text", { q, k, c in try hybrid(q, k: k, candidates: c, vector: false, text: true, fusion: .reciprocalRank()) }),
            ("rrf", { q, k, c in try hybrid(q, k: k, candidates: c, vector: true, text: true, fusion: .reciprocalRank()) }),
            ("weighted", { q, k, c in try hybrid(q, k: k, candidates: c, vector: true, text: true, fusion: .weighted(alpha: alpha)) }),
        ]
        var out = [Mode]()
        for (name, search) in modes {
            let rankings = try queryTexts.indices.map { q in try search(q, rankingK, rankingK) }
            var latencies = [UInt64]()
            latencies.reserveCapacity(queryTexts.count)
            let loopStart = MonotonicClock.nanoseconds()
            for q in queryTexts.indices {
                let t0 = MonotonicClock.nanoseconds()
                _ = try search(q, latencyK, nil)
                latencies.append(MonotonicClock.nanoseconds() &- t0)
            }
            let seconds = MonotonicClock.seconds(since: loopStart)
            let mode = Mode(name: name, qps: Double(queryTexts.count) / Swift.max(seconds, 1e-9), latency: LatencySummary(nanoseconds: latencies),
                            rankings: rankings)
            progress("\(name): \(format(mode.qps, 1)) QPS at k \(latencyK), p50 \(format(mode.latency.p50Microseconds, 1)) µs, p99 \(format(mode.latency.p99Microseconds, 1)) µs")
            out.append(mode)
        }
        return Result(documents: base.rows, queries: queryTexts.count, loadSeconds: loadSeconds, modes: out)
    }
}
