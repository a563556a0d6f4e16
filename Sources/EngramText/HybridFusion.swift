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
    /// all of them, best first. (Arrays and one position table: this runs on every hybrid query.)
    public static func fuse(vector: [SearchResult], text: [TextIndex.Hit], method: Method) -> [Hit] {
        var hits = [Hit]()
        hits.reserveCapacity(vector.count + text.count)
        var position = [VectorID: Int](minimumCapacity: vector.count)
        for (i, hit) in vector.enumerated() {
            position[hit.id] = hits.count
            hits.append(Hit(label: hit.id, explanation: Explanation(vectorRank: i + 1, vectorDistance: hit.distance, fused: 0)))
        }
        for (i, hit) in text.enumerated() {
            if let at = position[hit.label] {
                hits[at].explanation.textRank = i + 1
                hits[at].explanation.textScore = hit.score
            } else {
                hits.append(Hit(label: hit.label, explanation: Explanation(textRank: i + 1, textScore: hit.score, fused: 0)))
            }
        }
        switch method {
        case .reciprocalRank(let c):
            for i in hits.indices {
                var fused = 0.0
                if let r = hits[i].explanation.vectorRank { fused += 1 / (c + Double(r)) }
                if let r = hits[i].explanation.textRank { fused += 1 / (c + Double(r)) }
                hits[i].explanation.fused = fused
            }
        case .weighted(let alpha):
            // Each list min-max normalised over its own hits; a vector hit scores its negated distance.
            var textLow = Double.infinity, textHigh = -Double.infinity
            for hit in text {
                textLow = Swift.min(textLow, hit.score)
                textHigh = Swift.max(textHigh, hit.score)
            }
            var vectorLowest = Double.infinity, vectorHighest = -Double.infinity
            for hit in vector {
                vectorLowest = Swift.min(vectorLowest, -Double(hit.distance))
                vectorHighest = Swift.max(vectorHighest, -Double(hit.distance))
            }
            func scaled(_ x: Double, _ low: Double, _ high: Double) -> Double { high > low ? (x - low) / (high - low) : 1 }
            for i in hits.indices {
                let e = hits[i].explanation
                let v = e.vectorDistance.map { scaled(-Double($0), vectorLowest, vectorHighest) } ?? 0
                let t = e.textScore.map { scaled($0, textLow, textHigh) } ?? 0
                hits[i].explanation.fused = alpha * v + (1 - alpha) * t
            }
        }
        hits.sort { $0.explanation.fused > $1.explanation.fused || ($0.explanation.fused == $1.explanation.fused && $0.label < $1.label) }
        return hits
    }

    /// Min-max normalised scores, each list over its own hits (all equal: 1).
    static func normalised(_ scores: [(label: VectorID, score: Double)]) -> [VectorID: Double] {
        guard let low = scores.map(\.score).min(), let high = scores.map(\.score).max() else { return [:] }
        var out = [VectorID: Double]()
        for (label, score) in scores { out[label] = high > low ? (score - low) / (high - low) : 1 }
        return out
    }

    /// Picks `k` of `candidates` (fused, best first) by maximal marginal relevance with weight `lambda`
    /// (0…1); `similarity` compares two candidates' records. Each candidate's largest similarity to the
    /// picks is kept up to date as picks are made, so every pair is compared once.
    public static func diversify(
        _ candidates: [Hit], k: Int, lambda: Double, similarity: (VectorID, VectorID) -> Double
    ) -> [Hit] {
        let relevance = normalised(candidates.map { (label: $0.label, score: $0.explanation.fused) })
        var remaining = candidates
        var closest = [Double](repeating: 0, count: remaining.count)  // each remaining candidate's largest similarity to the picks
        var picked = [Hit]()
        while picked.count < k, !remaining.isEmpty {
            var best = -1
            var bestScore = -Double.infinity
            for (i, candidate) in remaining.enumerated() {
                let score = lambda * (relevance[candidate.label] ?? 0) - (1 - lambda) * closest[i]
                if best < 0 || score > bestScore || (score == bestScore && candidate.label < remaining[best].label) {
                    best = i
                    bestScore = score
                }
            }
            var hit = remaining.remove(at: best)
            hit.explanation.mmr = (relevance[hit.label] ?? 0, closest.remove(at: best), bestScore)
            for i in remaining.indices { closest[i] = Swift.max(closest[i], similarity(remaining[i].label, hit.label)) }
            picked.append(hit)
        }
        return picked
    }

    /// The cosine of two vectors, accumulated in `Double`; 0 when their lengths differ or either is zero.
    public static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return 0 }
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            dot += Double(a[i]) * Double(b[i])
            na += Double(a[i]) * Double(a[i])
            nb += Double(b[i]) * Double(b[i])
        }
        return na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : 0
    }
}
