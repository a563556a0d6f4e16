import EngramIndex
import EngramMetadata
import EngramSync
import EngramText

#if canImport(Glibc)
import Glibc
#endif

/// `engram bench --text-set DIR`: the BM25 text index alone on a retrieval
/// set made by `scripts/make-text-set.py` (`corpus.jsonl`, `queries.txt`):
/// build time, then each query tokenised and searched one at a time on one
/// thread (top 100), as the anchors (bm25s, tantivy) are timed by
/// `scripts/eval-text.py`, which also scores the rankings written here.
package struct TextBench {
    package struct Result: Sendable {
        package var documents: Int
        package var queries: Int
        package var terms: Int
        package var memoryBytes: Int
        package var buildSeconds: Double
        package var qps: Double
        package var latency: LatencySummary

        package var jsonLine: String { JSONLine.encode(Line(self)) }

        private struct Line: Encodable {
            let engine = "engram", mode = "text"
            let documents, queries, terms, mem_bytes: Int
            let bytes_per_document, build_s, qps, p50_us, p99_us, mean_us: Rounded

            init(_ r: Result) {
                documents = r.documents; queries = r.queries; terms = r.terms; mem_bytes = r.memoryBytes
                bytes_per_document = Rounded(Double(r.memoryBytes) / Double(Swift.max(r.documents, 1)), 1)
                build_s = Rounded(r.buildSeconds, 3)
                qps = Rounded(r.qps, 1)
                p50_us = Rounded(r.latency.p50Microseconds, 1)
                p99_us = Rounded(r.latency.p99Microseconds, 1)
                mean_us = Rounded(r.latency.meanMicroseconds, 1)
            }
        }
    }

    package var directory: String
    package var k = 100
    package var parameters = TextIndex.Parameters()
    let progress: (String) -> Void

    package init(directory: String, progress: @escaping (String) -> Void) {
        self.directory = directory
        self.progress = progress
    }

    /// Builds, searches, and returns the figures and every query's ranked labels.
    package func run() throws(BenchError) -> (Result, [[TextIndex.Hit]]) {
        let corpus = try Self.lines(directory + "/corpus.jsonl")
        let queries = try Self.lines(directory + "/queries.txt")
        let tokenizer = Tokenizer()
        var documents = [(VectorID, [String])]()
        documents.reserveCapacity(corpus.count)
        for (n, line) in corpus.enumerated() {
            guard let value = try? MetadataJSON.parse(line), case .number(let id)? = value["id"], let label = VectorID(exactly: id),
                  case .string(let text)? = value["text"] else {
                throw .invalidArgument("\(directory)/corpus.jsonl:\(n + 1): needs an integer \"id\" and a \"text\"")
            }
            documents.append((label, tokenizer.terms(text)))
        }
        let index = TextIndex(parameters: parameters)
        let start = MonotonicClock.nanoseconds()
        for (label, terms) in documents { index.set(terms, for: label) }
        let buildSeconds = MonotonicClock.seconds(since: start)
        progress("indexed \(documents.count) documents (\(index.termCount) terms) in \(format(buildSeconds, 3)) s; \(queries.count) queries")
        var latencies = [UInt64]()
        var results = [[TextIndex.Hit]]()
        let loopStart = MonotonicClock.nanoseconds()
        for query in queries {
            let t0 = MonotonicClock.nanoseconds()
            let hits: [TextIndex.Hit]
            do throws(IndexError) { hits = try index.search(tokenizer.terms(query), k: k) } catch {
                throw .invalidArgument("k \(k): \(error)")
            }
            latencies.append(MonotonicClock.nanoseconds() &- t0)
            results.append(hits)
        }
        let loopSeconds = MonotonicClock.seconds(since: loopStart)
        let result = Result(documents: documents.count, queries: queries.count, terms: index.termCount, memoryBytes: index.memoryBytes,
                            buildSeconds: buildSeconds,
                            qps: Double(queries.count) / Swift.max(loopSeconds, 1e-9), latency: LatencySummary(nanoseconds: latencies))
        return (result, results)
    }

    /// The non-empty lines of a text file.
    static func lines(_ path: String) throws(BenchError) -> [String] {
        guard let bytes = readWholeFile(path) else { throw .invalidArgument("cannot read \(path): \(String(cString: strerror(errno)))") }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }
}
