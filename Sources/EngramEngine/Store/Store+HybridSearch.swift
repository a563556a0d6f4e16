import EngramText

extension Store {
    /// Searches `collection` by a vector, a text, or both, fused into one
    /// ranking (``HybridQuery``); every hit says how it got its place.
    ///
    /// ```swift
    /// let hits = try store.search("memories", HybridQuery(vector: q, text: "ENOSPC on /var", k: 10,
    ///                                                      fusion: .reciprocalRank(), mmr: 0.7))
    /// ```
    public func search(_ collection: String, _ query: HybridQuery) throws(EngineError) -> [HybridHit] {
        try checkOpen()
        let c = try self.collection(collection)
        try query.validate(for: c.configuration)
        let start = engineNanoseconds()
        let hits = try c.search(query)
        let elapsed = engineNanoseconds() - start
        telemetry.searches.increment()
        telemetry.searchDuration.recordNanoseconds(elapsed)
        telemetry.slow("search", nanoseconds: elapsed, "hybrid, k \(query.k) in \(collection)")
        return hits
    }
}
