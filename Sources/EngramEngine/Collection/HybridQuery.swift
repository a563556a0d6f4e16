import EngramIndex
import EngramMetadata
import EngramText

/// One search of a collection by meaning, by words, or both
/// (``Store/search(_:_:)``, Docs/ENGINE.md, "Hybrid search").
///
/// The vector search and the BM25 text search each take their best
/// ``candidates`` records that ``filter`` allows; ``fusion`` merges the two
/// rankings; records whose fused score is below ``threshold`` are dropped;
/// then the best ``k`` are returned, or with ``mmr`` the ``k`` that maximal
/// marginal relevance picks from the fused candidates.
public struct HybridQuery: Sendable {
    /// The query embedding (nil: text only).
    public var vector: [Float]?
    /// The query text (nil: vector only); needs a collection with text fields.
    public var text: String?
    public var k: Int
    public var filter: MetadataFilter?
    public var fusion: HybridFusion.Method
    /// Hits taken from each search before fusing; nil: `max(k, 50)`.
    public var candidates: Int?
    /// MMR's λ in 0…1 (1: the fused order; smaller: more diverse); nil: no MMR.
    public var mmr: Double?
    /// The smallest fused score kept; nil: no threshold.
    public var threshold: Double?
    /// The vector search's effort (HNSW's ef, IVF's nprobe); nil: the collection's.
    public var efSearch: Int?

    public init(
        vector: [Float]? = nil, text: String? = nil, k: Int, filter: MetadataFilter? = nil,
        fusion: HybridFusion.Method = .reciprocalRank(), candidates: Int? = nil, mmr: Double? = nil,
        threshold: Double? = nil, efSearch: Int? = nil
    ) {
        self.vector = vector
        self.text = text
        self.k = k
        self.filter = filter
        self.fusion = fusion
        self.candidates = candidates
        self.mmr = mmr
        self.threshold = threshold
        self.efSearch = efSearch
    }

    /// The default number of candidates each search contributes.
    public static let defaultCandidates = 50

    /// The candidates each search contributes.
    var depth: Int { candidates ?? Swift.max(k, Self.defaultCandidates) }

    /// Checks every parameter against the collection it is for.
    func validate(for configuration: CollectionConfiguration) throws(EngineError) {
        guard vector != nil || text != nil else { throw .invalidArgument("a search needs a vector, a text, or both") }
        if vector != nil, configuration.dimension == 0 {
            throw .invalidArgument("collection '\(configuration.name)' holds records without vectors: search it by text")
        }
        if text != nil, configuration.text == nil {
            throw .invalidArgument("collection '\(configuration.name)' has no text fields: it cannot be searched by text")
        }
        if let text, text.utf8.count > Record.maxTextBytes {
            throw .invalidArgument("a query text of \(text.utf8.count) bytes; at most \(Record.maxTextBytes)")
        }
        guard (1...SearchLimits.maxK).contains(k) else { throw .invalidArgument("k must be between 1 and \(SearchLimits.maxK), got \(k)") }
        if let candidates, !(k...SearchLimits.maxK).contains(candidates) {
            throw .invalidArgument("candidates must be between k (\(k)) and \(SearchLimits.maxK), got \(candidates)")
        }
        if let efSearch, !(1...100_000).contains(efSearch) {
            throw .invalidArgument("efSearch must be between 1 and 100000, got \(efSearch)")
        }
        switch fusion {
        case .reciprocalRank(let c):
            guard c.isFinite, c >= 0 else { throw .invalidArgument("the RRF constant must be finite and at least 0, got \(c)") }
        case .weighted(let alpha):
            guard alpha.isFinite, (0...1).contains(alpha) else { throw .invalidArgument("alpha must be in 0...1, got \(alpha)") }
        }
        if let mmr, !(mmr.isFinite && (0...1).contains(mmr)) { throw .invalidArgument("the MMR lambda must be in 0...1, got \(mmr)") }
        if let threshold, !threshold.isFinite { throw .invalidArgument("the score threshold must be finite") }
    }
}
