import EngramIndex

/// Fuses a vector search's ranking and a text search's ranking of the same
/// records into one, optionally diversified by maximal marginal relevance,
/// and says for every hit how it got its place. Pure functions over labels:
/// the engine runs both searches and hands their hits here.
///
/// - **Reciprocal rank fusion** (Cormack, Clarke and Büttcher, SIGIR 2009):
///   `fused(d) = Σ_lists 1 / (c + rank(d))`, ranks from 1, a list the
///   record is absent from adding nothing; `c` = 60 by default.
/// - **Weighted sum**: each list's scores are min-max normalised over its
///   own hits to [0, 1] (a vector hit's score is its negated distance, so
///   smaller distances score higher; a list whose hits all score the same
///   normalises to 1), then `fused(d) = α · vector(d) + (1 − α) · text(d)`,
///   an absent record counting 0.
/// - **MMR** (Carbonell and Goldstein, SIGIR 1998) over the fused
///   candidates: the next pick maximises
///   `λ · relevance(d) − (1 − λ) · max_{s picked} similarity(d, s)`, with
///   relevance the fused score min-max normalised to [0, 1] and similarity
///   the caller's (the vectors' cosine); λ = 1 is the fused order itself.
///
/// Ties break by the lower label everywhere, so the answer is deterministic.
public enum HybridFusion {
    public enum Method: Sendable, Equatable {
        case reciprocalRank(constant: Double = 60)
        case weighted(alpha: Double)
    }

    /// How a hit got its place.
    public struct Explanation: Sendable, Equatable {
        /// 1-based rank and distance in the vector search's hits, if it was among them.
        public var vectorRank: Int?
        public var vectorDistance: Float?
        /// 1-based rank and BM25 score in the text search's hits, if it was among them.
        public var textRank: Int?
        public var textScore: Double?
        /// The fused score (larger is better).
        public var fused: Double
        /// With MMR: the relevance it was picked with, the largest similarity to an earlier pick
        /// (0 for the first), and the MMR score that won.
        public var mmr: (relevance: Double, maxSimilarity: Double, score: Double)?

        public init(vectorRank: Int? = nil, vectorDistance: Float? = nil, textRank: Int? = nil, textScore: Double? = nil,
                    fused: Double, mmr: (relevance: Double, maxSimilarity: Double, score: Double)? = nil) {
            self.vectorRank = vectorRank
            self.vectorDistance = vectorDistance
            self.textRank = textRank
            self.textScore = textScore
            self.fused = fused
            self.mmr = mmr
        }

        public static func == (a: Explanation, b: Explanation) -> Bool {
            a.vectorRank == b.vectorRank && a.vectorDistance == b.vectorDistance && a.textRank == b.textRank
                && a.textScore == b.textScore && a.fused == b.fused
                && a.mmr?.relevance == b.mmr?.relevance && a.mmr?.maxSimilarity == b.mmr?.maxSimilarity && a.mmr?.score == b.mmr?.score
        }
    }

    public struct Hit: Sendable, Equatable {
        public var label: VectorID
        public var explanation: Explanation

        public init(label: VectorID, explanation: Explanation) {
            self.label = label
            self.explanation = explanation
        }
    }

    /// Fuses `vector` hits (best first, by distance) and `text` hits (best first, by score) with `method`;
    /// all of them, best first.
    public static func fuse(vector: [SearchResult], text: [TextIndex.Hit], method: Method) -> [Hit] {
        var explanations = [VectorID: Explanation]()
        for (i, hit) in vector.enumerated() {
            explanations[hit.id, default: Explanation(fused: 0)].vectorRank = i + 1
            explanations[hit.id, default: Explanation(fused: 0)].vectorDistance = hit.distance
        }
        for (i, hit) in text.enumerated() {
            explanations[hit.label, default: Explanation(fused: 0)].textRank = i + 1
            explanations[hit.label, default: Explanation(fused: 0)].textScore = hit.score
        }
        switch method {
        case .reciprocalRank(let c):
            for (label, e) in explanations {
                var fused = 0.0
                if let r = e.vectorRank { fused += 1 / (c + Double(r)) }
                if let r = e.textRank { fused += 1 / (c + Double(r)) }
                explanations[label]?.fused = fused
            }
        case .weighted(let alpha):
            let vectorScores = normalised(vector.map { (label: $0.id, score: -Double($0.distance)) })
            let textScores = normalised(text.map { (label: $0.label, score: $0.score) })
            for label in explanations.keys {
                explanations[label]?.fused = alpha * (vectorScores[label] ?? 0) + (1 - alpha) * (textScores[label] ?? 0)
            }
        }
        return explanations.map { Hit(label: $0.key, explanation: $0.value) }
            .sorted { $0.explanation.fused > $1.explanation.fused || ($0.explanation.fused == $1.explanation.fused && $0.label < $1.label) }
    }

    /// Min-max normalised scores, each list over its own hits (all equal: 1).
    static func normalised(_ scores: [(label: VectorID, score: Double)]) -> [VectorID: Double] {
        guard let low = scores.map(\.score).min(), let high = scores.map(\.score).max() else { return [:] }
        var out = [VectorID: Double]()
        for (label, score) in scores { out[label] = high > low ? (score - low) / (high - low) : 1 }
        return out
    }

    /// Picks `k` of `candidates` (fused, best first) by maximal marginal relevance with weight `lambda`
    /// (0…1); `similarity` compares two candidates' records.
    public static func diversify(
        _ candidates: [Hit], k: Int, lambda: Double, similarity: (VectorID, VectorID) -> Double
    ) -> [Hit] {
        let relevance = normalised(candidates.map { (label: $0.label, score: $0.explanation.fused) })
        var remaining = candidates
        var picked = [Hit]()
        while picked.count < k, !remaining.isEmpty {
            var best = -1
            var bestScore = -Double.infinity, bestSimilarity = 0.0
            for (i, candidate) in remaining.enumerated() {
                let rel = relevance[candidate.label] ?? 0
                let maxSimilarity = picked.map { similarity(candidate.label, $0.label) }.max() ?? 0
                let score = lambda * rel - (1 - lambda) * maxSimilarity
                if best < 0 || score > bestScore || (score == bestScore && candidate.label < remaining[best].label) {
                    best = i
                    bestScore = score
                    bestSimilarity = maxSimilarity
                }
            }
            var hit = remaining.remove(at: best)
            hit.explanation.mmr = (relevance[hit.label] ?? 0, bestSimilarity, bestScore)
            picked.append(hit)
        }
        return picked
    }
}
