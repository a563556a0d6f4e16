import EngramIndex
import EngramMetadata
import EngramText

/// Hybrid search: the vector search and the text search run under one
/// read lock (both see the same writes), then their rankings are fused
/// (``HybridFusion``) and optionally diversified.
extension Collection {
    func search(_ query: HybridQuery) throws(EngineError) -> [HybridHit] {
        // Tokenised before the lock: searches and writers never wait for it.
        let queryTerms = query.text.map { tokenizer.terms($0) }
        return try lock.withReadLock { () throws(EngineError) -> [HybridHit] in
            let allowed = query.filter.map { metadata.evaluate($0) }
            let depth = query.depth
            var vectorHits = [SearchResult]()
            if let vector = query.vector {
                vectorHits = try nearestLocked(vector, k: depth, efSearch: query.efSearch, allowed: allowed)
            }
            var textHits = [TextIndex.Hit]()
            if let queryTerms, let textIndex, !queryTerms.isEmpty {
                do throws(IndexError) {
                    textHits = try textIndex.search(queryTerms, k: depth, filter: allowed.map { .bitset($0) })
                } catch {
                    throw .invalidArgument("text search: \(error)")
                }
            }
            var fused = HybridFusion.fuse(vector: vectorHits, text: textHits, method: query.fusion)
            if let threshold = query.threshold { fused.removeAll { $0.explanation.fused < threshold } }
            let picked: [HybridFusion.Hit]
            if let lambda = query.mmr, fused.count > 1 {
                let vectors = candidateVectors(fused.map(\.label))
                picked = HybridFusion.diversify(fused, k: query.k, lambda: lambda) { a, b in
                    vectors[a].flatMap { x in vectors[b].map { HybridFusion.cosine(x, $0) } } ?? 0
                }
            } else {
                picked = Array(fused.prefix(query.k))
            }
            return picked.compactMap { hit in
                guard let id = id(of: hit.label) else { return nil }
                return HybridHit(id: id, score: hit.explanation.fused, metadata: metadata.metadata(of: hit.label) ?? .object([:]),
                                 explanation: hit.explanation)
            }
        }
    }

    /// The stored (prepared) vectors of live `labels`, for MMR's similarities (read lock held): from the
    /// graph, or for staged ones from the staging buffer.
    private func candidateVectors(_ wanted: [VectorID]) -> [VectorID: [Float]] {
        var out = [VectorID: [Float]](minimumCapacity: wanted.count)
        for label in wanted {
            if labels.placement(label) == .indexed, let v = try? index.vector(label) {
                out[label] = v
            } else if let v = stagedVector(label) {
                out[label] = v
            }
        }
        return out
    }
}
