import ArgumentParser
import EngramDatasets
import EngramEngine
import EngramMetadata
import EngramText
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

extension SearchCommand {
    enum Fusion: String, ExpressibleByArgument, CaseIterable {
        case rrf
        case weighted
    }
}

/// `engram search`: records nearest to a vector, matching a text (BM25), or
/// both fused into one ranking; optionally filtered by metadata.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search a collection by vector, by text, or both (hybrid).",
        discussion: """
            Opens the data directory read-only: nothing in it is created or changed.
            With --text (or --text-file) the collection's BM25 text index is searched as well, and the two rankings
            are fused (--fusion rrf: reciprocal rank fusion, 1/(--rrf-constant + rank) summed; --fusion weighted:
            --alpha × normalised vector score + (1 − alpha) × normalised BM25 score). --mmr L re-ranks the fused
            candidates by maximal marginal relevance (L = 1: relevance only). --explain adds each hit's vector
            rank and distance, text rank and BM25 score, fused score and MMR step.
            """)

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var collection: String
    @Option(parsing: .unconditional, help: "The query vector, comma-separated (a leading minus is part of it: --vector -0.1,0.2).") var vector: String?
    @Option(name: .customLong("query-file"), help: "Query vectors in a .fvecs file (one search each).") var queryFile: String?
    @Option(help: "The query text (BM25 over the collection's text fields).") var text: String?
    @Option(name: .customLong("text-file"), help: "Query texts, one per line; line i goes with query vector i of --query-file.") var textFile: String?
    @Option var k: Int = 10
    @Option(name: .customLong("ef-search"), help: "HNSW: efSearch; IVF collections: the lists probed (nprobe).") var efSearch: Int?
    @Option(help: "A metadata filter as JSON, e.g. '{\"agent\": \"planner\", \"step\": {\"$gte\": 3}}'.") var filter: String?
    @Option(help: "How a vector and a text ranking are fused: rrf or weighted.") var fusion: Fusion = .rrf
    @Option(help: "--fusion weighted: the vector score's weight, 0...1.") var alpha: Double = 0.5
    @Option(name: .customLong("rrf-constant"), help: "--fusion rrf: the constant added to each rank.") var rrfConstant: Double = 60
    @Option(help: "Hits each search contributes before fusing (default max(k, 50)).") var candidates: Int?
    @Option(help: "Maximal marginal relevance over the fused candidates with this lambda, 0...1.") var mmr: Double?
    @Option(help: "Drop hits whose fused score is below this.") var threshold: Double?
    @Flag(help: "Say for every hit how it got its place.") var explain = false
    @OptionGroup var output: OutputOptions
    @OptionGroup var vectorMemory: VectorMemoryOptions

    private struct Hit: Encodable {
        var id: String
        var distance: Float
        var metadata: MetadataValue
    }
    private struct Answer: Encodable { var query: Int; var hits: [Hit] }

    private struct MMRStep: Encodable { var relevance, max_similarity, score: Double }
    private struct Explain: Encodable {
        var vector_rank: Int?
        var vector_distance: Float?
        var text_rank: Int?
        var text_score: Double?
        var fused: Double
        var mmr: MMRStep?
    }
    private struct HybridLine: Encodable {
        var id: String
        var score: Double
        var metadata: MetadataValue
        var explain: Explain?
    }
    private struct HybridAnswer: Encodable { var query: Int; var hits: [HybridLine] }

    /// Anything beyond a plain vector search.
    private var hybrid: Bool { text != nil || textFile != nil || explain || mmr != nil || threshold != nil || candidates != nil || fusion != .rrf }

    func validate() throws {
        guard vector == nil || queryFile == nil else { throw ValidationError("give at most one of --vector and --query-file") }
        guard text == nil || textFile == nil else { throw ValidationError("give at most one of --text and --text-file") }
        guard vector != nil || queryFile != nil || text != nil || textFile != nil else {
            throw ValidationError("give a query: --vector, --query-file, --text or --text-file")
        }
        if textFile != nil, vector != nil { throw ValidationError("--text-file goes with --query-file (line i with query i), not with --vector") }
        if queryFile != nil, text != nil { throw ValidationError("--query-file goes with --text-file (line i with query i), not with --text") }
        guard alpha.isFinite, (0...1).contains(alpha) else { throw ValidationError("--alpha must be in 0...1") }
        guard rrfConstant.isFinite, rrfConstant >= 0 else { throw ValidationError("--rrf-constant must be at least 0") }
        if let mmr, !(mmr.isFinite && (0...1).contains(mmr)) { throw ValidationError("--mmr must be in 0...1") }
        _ = try parsedVector()
    }

    /// `--vector` as numbers (nil without it).
    private func parsedVector() throws -> [Float]? {
        guard let vector else { return nil }
        return try vector.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let x = Float(part.trimmingSpaces) else { throw ValidationError("--vector takes comma-separated numbers, got '\(part)'") }
            return x
        }
    }

    /// The queries: a vector, a text, or both, per query.
    private func queries() throws -> [(vector: [Float]?, text: String?)] {
        var vectors = [[Float]]()
        if let q = try parsedVector() {
            vectors = [q]
        } else if let queryFile {
            let m = try DatasetReader.readFloats(queryFile)
            vectors = (0..<m.rows).map { Array(m.row($0)) }
        }
        var texts = [String]()
        if let text {
            texts = [text]
        } else if let textFile {
            guard let bytes = readWholeFile(textFile) else { throw ValidationError("cannot read \(textFile): \(String(cString: strerror(errno)))") }
            guard let all = String(validating: bytes, as: UTF8.self) else { throw ValidationError("\(textFile) is not UTF-8") }
            texts = all.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if texts.last == "" { texts.removeLast() }  // the final newline
        }
        if !vectors.isEmpty, !texts.isEmpty, vectors.count != texts.count {
            throw ValidationError("\(queryFile ?? "--vector") holds \(vectors.count) queries but \(textFile ?? "--text") \(texts.count) lines")
        }
        let n = max(vectors.count, texts.count)
        return (0..<n).map { (vectors.isEmpty ? nil : vectors[$0], texts.isEmpty ? nil : texts[$0]) }
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path, options: vectorMemory.applied(to: .readOnly))
        let parsedFilter = try filter.map { try MetadataFilter.parse(json: $0) }
        let method: HybridFusion.Method = fusion == .rrf ? .reciprocalRank(constant: rrfConstant) : .weighted(alpha: alpha)
        for (n, q) in try queries().enumerated() {
            if !hybrid, let vector = q.vector {
                let hits = try store.search(collection, vector: vector, k: k, efSearch: efSearch, filter: parsedFilter)
                if output.json {
                    printAndFlush(JSONLine.encode(Answer(query: n, hits: hits.map { Hit(id: $0.id, distance: $0.distance, metadata: $0.metadata) })))
                } else {
                    printAndFlush("query \(n):")
                    for (rank, hit) in hits.enumerated() {
                        printAndFlush("  \(rank + 1). \(hit.id)  distance \(hit.distance)  \(MetadataJSON.format(hit.metadata))")
                    }
                }
                continue
            }
            let hits = try store.search(collection, HybridQuery(
                vector: q.vector, text: q.text, k: k, filter: parsedFilter, fusion: method, candidates: candidates, mmr: mmr,
                threshold: threshold, efSearch: efSearch))
            if output.json {
                let lines = hits.map { hit in
                    HybridLine(id: hit.id, score: hit.score, metadata: hit.metadata, explain: explain ? Self.explanation(hit.explanation) : nil)
                }
                printAndFlush(JSONLine.encode(HybridAnswer(query: n, hits: lines)))
            } else {
                printAndFlush("query \(n):")
                for (rank, hit) in hits.enumerated() {
                    printAndFlush("  \(rank + 1). \(hit.id)  score \(hit.score)  \(MetadataJSON.format(hit.metadata))")
                    if explain { printAndFlush("     " + Self.describe(hit.explanation)) }
                }
            }
        }
        try store.close()
    }

    private static func explanation(_ e: HybridFusion.Explanation) -> Explain {
        Explain(vector_rank: e.vectorRank, vector_distance: e.vectorDistance, text_rank: e.textRank, text_score: e.textScore, fused: e.fused,
                mmr: e.mmr.map { MMRStep(relevance: $0.relevance, max_similarity: $0.maxSimilarity, score: $0.score) })
    }

    private static func describe(_ e: HybridFusion.Explanation) -> String {
        var parts = [String]()
        parts.append(e.vectorRank.map { "vector rank \($0) (distance \(e.vectorDistance ?? .nan))" } ?? "not in the vector hits")
        parts.append(e.textRank.map { "text rank \($0) (BM25 \(e.textScore ?? .nan))" } ?? "not in the text hits")
        parts.append("fused \(e.fused)")
        if let m = e.mmr { parts.append("MMR: relevance \(m.relevance), max similarity \(m.maxSimilarity), score \(m.score)") }
        return parts.joined(separator: "; ")
    }
}
