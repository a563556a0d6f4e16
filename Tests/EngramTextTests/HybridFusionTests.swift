import EngramIndex
import EngramText
import Testing

/// Fusion and MMR against examples computed by hand.
@Suite("HybridFusion")
struct HybridFusionTests {
    // A = 1, B = 2, C = 3, D = 4.
    let vector = [SearchResult(id: 1, distance: 0.1), SearchResult(id: 2, distance: 0.2), SearchResult(id: 3, distance: 0.4)]
    let text = [TextIndex.Hit(label: 3, score: 5), TextIndex.Hit(label: 4, score: 2)]

    @Test("reciprocal rank fusion: 1/(60 + rank) summed over the lists; ties by label")
    func rrf() {
        let hits = HybridFusion.fuse(vector: vector, text: text, method: .reciprocalRank(constant: 60))
        #expect(hits.map(\.label) == [3, 1, 2, 4])
        let c = hits[0].explanation
        #expect(c.fused == 1.0 / 63 + 1.0 / 61)
        #expect(c.vectorRank == 3 && c.vectorDistance == 0.4 && c.textRank == 1 && c.textScore == 5)
        #expect(hits[1].explanation.fused == 1.0 / 61 && hits[1].explanation.textRank == nil)
        #expect(hits[2].explanation.fused == 1.0 / 62 && hits[3].explanation.fused == 1.0 / 62)
    }

    @Test("weighted sum: each list min-max normalised, α on the vector side; an absent record counts 0")
    func weighted() {
        let hits = HybridFusion.fuse(vector: vector, text: text, method: .weighted(alpha: 0.5))
        // vector: A 1, B (0.4 − 0.2) / 0.3 = 2/3, C 0; text: C 1, D 0.
        #expect(hits.map(\.label) == [1, 3, 2, 4])
        let fused = Dictionary(uniqueKeysWithValues: hits.map { ($0.label, $0.explanation.fused) })
        #expect(abs((fused[1] ?? -1) - 0.5) < 1e-12 && abs((fused[3] ?? -1) - 0.5) < 1e-12)
        #expect(abs((fused[2] ?? -1) - 1.0 / 3) < 1e-7)
        #expect(fused[4] == 0)
        let textOnly = HybridFusion.fuse(vector: [], text: text, method: .weighted(alpha: 0.3))
        #expect(textOnly.map(\.label) == [3, 4] && textOnly[0].explanation.fused == 0.7)
    }

    @Test("MMR picks A, then C over A's near-duplicate B, then B; λ = 1 keeps the fused order")
    func mmr() {
        func hit(_ label: VectorID, _ fused: Double) -> HybridFusion.Hit {
            HybridFusion.Hit(label: label, explanation: .init(fused: fused))
        }
        let candidates = [hit(1, 1.0), hit(2, 0.9), hit(3, 0.5), hit(4, 0.0)]
        let similarity: (VectorID, VectorID) -> Double = { a, b in Set([a, b]) == [1, 2] ? 0.95 : 0.1 }
        let picked = HybridFusion.diversify(candidates, k: 3, lambda: 0.5, similarity: similarity)
        #expect(picked.map(\.label) == [1, 3, 2])
        #expect(picked[0].explanation.mmr?.score == 0.5 && picked[0].explanation.mmr?.maxSimilarity == 0)
        #expect(picked[1].explanation.mmr?.score == 0.5 * 0.5 - 0.5 * 0.1)
        #expect(picked[2].explanation.mmr?.maxSimilarity == 0.95)
        #expect(HybridFusion.diversify(candidates, k: 4, lambda: 1, similarity: similarity).map(\.label) == [1, 2, 3, 4])
        #expect(HybridFusion.diversify(candidates, k: 10, lambda: 0.5, similarity: similarity).count == 4)
    }
}
