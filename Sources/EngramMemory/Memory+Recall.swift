import EngramEngine
import EngramMetadata
import EngramText

#if canImport(Glibc)
import Glibc
#endif

extension Memory {
    /// The agent's experiences that best match `query` (``RecallQuery``), best first.
    public func recall(_ query: RecallQuery) throws(MemoryError) -> [RecallHit] {
        try Identifier.check(query.tenant, "a tenant")
        try Identifier.check(query.agent, "an agent id")
        guard query.vector != nil || query.text != nil else { throw .invalid("a recall needs a vector, a text, or both") }
        if let v = query.vector, v.count != dimension { throw .invalid("a query vector of \(v.count) dimensions; memory holds \(dimension)") }
        guard (1...1000).contains(query.k) else { throw .invalid("k must be 1...1000, got \(query.k)") }
        if let h = query.halfLife, !(h.isFinite && h > 0) { throw .invalid("the half-life must be a positive number of seconds") }
        if let w = query.importanceWeight, !(w.isFinite && w >= 0) { throw .invalid("the importance weight must be at least 0") }
        if let from = query.from, let to = query.to, to < from { throw .invalid("the window ends before it starts") }
        for kind in query.kinds ?? [] { try Identifier.check(kind, "a kind") }
        if let task = query.task { try Identifier.check(task, "a task id") }

        let now = query.now ?? .now()
        let groups = try agent(tenant: query.tenant, id: query.agent)?.groups ?? []
        let filter = Self.scopeFilter(query, groups: groups, now: now)
        let reranked = query.halfLife != nil || query.importanceWeight != nil
        // Re-ranking by recency or importance draws from a deeper pool than k.
        let depth = reranked ? Swift.min(1000, Swift.max(4 * query.k, 100)) : Swift.max(query.k, 50)
        let hits: [HybridHit]
        do {
            hits = try store.search(MemoryRecords.experiences, HybridQuery(
                vector: query.vector, text: query.text, k: reranked ? depth : query.k, filter: filter, candidates: depth))
        } catch {
            throw .engine(error)
        }
        guard !hits.isEmpty else { return [] }
        // Relevance on one scale whatever was searched: the search's own score over the best one's.
        func raw(_ hit: HybridHit) -> Double {
            switch (query.vector != nil, query.text != nil) {
            case (true, false): return 1 - Double(hit.explanation.vectorDistance ?? 1)  // the cosine
            case (false, true): return hit.explanation.textScore ?? 0
            default: return hit.score
            }
        }
        let best = hits.map(raw).max() ?? 1
        var out = [RecallHit]()
        out.reserveCapacity(hits.count)
        for hit in hits {
            guard let record = try? store.get(MemoryRecords.experiences, id: hit.id) else { continue }  // forgotten meanwhile
            let experience = try MemoryRecords.experience(record)
            let relevance = best > 0 ? raw(hit) / best : 0
            let age = Swift.max(0, Double(now.microseconds &- experience.occurredAt.microseconds) / 1_000_000)
            let decay = query.halfLife.map { pow(0.5, age / $0) }
            let importancePart = query.importanceWeight.map { $0 * experience.importance }
            let score = relevance * (decay ?? 1) + (importancePart ?? 0)
            out.append(RecallHit(experience: experience, score: score, explanation: RecallHit.Explanation(
                relevance: relevance, vectorDistance: hit.explanation.vectorDistance, textScore: hit.explanation.textScore, decay: decay,
                ageSeconds: age, importance: experience.importance, importancePart: importancePart)))
        }
        if reranked {
            out.sort { $0.score > $1.score || ($0.score == $1.score && $0.experience.id < $1.experience.id) }
        }
        return Array(out.prefix(query.k))
    }

    /// The recall's filter: the exact scope, then the kinds, task and time conditions.
    static func scopeFilter(_ q: RecallQuery, groups: [String], now: MemoryTime) -> MetadataFilter {
        var visible: [MetadataFilter] = [.equals("agent", .string(q.agent))]
        if !groups.isEmpty { visible.append(.isIn("group", groups.map { .string($0) })) }
        var parts: [MetadataFilter] = [.equals("tenant", .string(q.tenant)), .or(visible)]
        if let kinds = q.kinds { parts.append(.isIn("kind", kinds.map { .string($0) })) }
        if let task = q.task { parts.append(.equals("task", .string(task))) }
        if q.from != nil || q.to != nil {
            parts.append(.range("occurred_at", lower: q.from.map(MemoryRecords.time), lowerInclusive: true,
                                upper: q.to.map(MemoryRecords.time), upperInclusive: false))
        }
        if let asOf = q.asOf {
            parts.append(.range("occurred_at", lower: nil, lowerInclusive: true, upper: MemoryRecords.time(asOf), upperInclusive: true))
        }
        if let knownAt = q.knownAt {
            parts.append(.range("recorded_at", lower: nil, lowerInclusive: true, upper: MemoryRecords.time(knownAt), upperInclusive: true))
        }
        // Expired memories are hidden at once (swept later).
        parts.append(.or([.not(.exists("expires_at")),
                          .range("expires_at", lower: MemoryRecords.time(now), lowerInclusive: false, upper: nil, upperInclusive: false)]))
        return .and(parts)
    }
}
