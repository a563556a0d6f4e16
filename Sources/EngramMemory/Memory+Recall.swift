import EngramEngine
import EngramIndex
import EngramMetadata
import EngramText

#if canImport(Glibc)
import Glibc
#endif

extension Memory {
    /// The agent's experiences that best match `query` (``RecallQuery``), best first. Repeated recalls
    /// are answered from the recall cache until a write touches their scope (Docs/MEMORY.md, "Recall cache").
    public func recall(_ query: RecallQuery) throws(MemoryError) -> [RecallHit] {
        try Identifier.check(query.tenant, "a tenant")
        try Identifier.check(query.agent, "an agent id")
        guard query.vector != nil || query.text != nil else { throw .invalid("a recall needs a vector, a text, or both") }
        if let v = query.vector, v.count != dimension { throw .invalid("a query vector of \(v.count) dimensions; memory holds \(dimension)") }
        guard (1...1000).contains(query.k) else { throw .invalid("k must be 1...1000, got \(query.k)") }
        if let h = query.halfLife, !(h.isFinite && h > 0) { throw .invalid("the half-life must be a positive number of seconds") }
        if let w = query.importanceWeight, !(w.isFinite && w >= 0) { throw .invalid("the importance weight must be at least 0") }
        if let m = query.mmr, !(m.isFinite && (0...1).contains(m)) { throw .invalid("the MMR lambda must be in 0...1, got \(m)") }
        if let from = query.from, let to = query.to, to < from { throw .invalid("the window ends before it starts") }
        for kind in query.kinds ?? [] { try Identifier.check(kind, "a kind") }
        if let task = query.task { try Identifier.check(task, "a task id") }

        let now = query.now ?? .now()
        let key = RecallCache.Key(query)
        if cache.capacity > 0, let pool = cache.lookup(key, at: now), let hits = Self.answer(pool, query, now: now) {
            return hits
        }
        // The scope's versions before anything is read for it (the agent's own first: its groups are read next).
        var versions = cache.versions([.agent(tenant: query.tenant, agent: query.agent), .tenant(query.tenant)] + (query.text != nil ? [.corpus] : []))
        let groups = try agent(tenant: query.tenant, id: query.agent)?.groups ?? []
        versions.merge(cache.versions(groups.map { .group(tenant: query.tenant, group: $0) })) { a, _ in a }
        let pool = try searchPool(query, groups: groups, now: now)
        cache.store(key, pool, versions: versions, drawnAt: now)
        return Self.answer(pool, query, now: now) ?? []
    }

    /// Recall's depth: the experiences read from the search. When the ranking keeps the search's
    /// order, exactly `k` (each one read costs a record copy and a decode); when it re-ranks, a deeper
    /// pool for recency, importance or MMR to choose from.
    static func depth(_ q: RecallQuery) -> Int {
        reranks(q) ? Swift.min(1000, Swift.max(4 * q.k, 100)) : q.k
    }

    /// How many candidates each of the two searches offers the fusion (at least 50, so that a hit
    /// ranked low by one search and high by the other can still win).
    static func candidates(_ q: RecallQuery) -> Int { Swift.max(depth(q), 50) }

    /// Whether the final order differs from the search's (recency, importance or MMR).
    static func reranks(_ q: RecallQuery) -> Bool { q.halfLife != nil || q.importanceWeight != nil || q.mmr != nil }

    /// The search's candidates, with their raw scores, best first.
    func searchPool(_ query: RecallQuery, groups: [String], now: MemoryTime) throws(MemoryError) -> RecallPool {
        let depth = Self.depth(query)
        let hits: [HybridHit]
        do {
            hits = try store.search(MemoryRecords.experiences, HybridQuery(
                vector: query.vector, text: query.text, k: depth, filter: Self.scopeFilter(query, groups: groups, now: now),
                candidates: Self.candidates(query)))
        } catch {
            throw .engine(error)
        }
        var items = [RecallPool.Item]()
        items.reserveCapacity(hits.count)
        for hit in hits {
            guard let record = try? store.get(MemoryRecords.experiences, id: hit.id) else { continue }  // forgotten meanwhile
            let raw: Double
            switch (query.vector != nil, query.text != nil) {
            case (true, false): raw = 1 - Double(hit.explanation.vectorDistance ?? 1)  // the cosine
            case (false, true): raw = hit.explanation.textScore ?? 0
            default: raw = hit.score
            }
            items.append(RecallPool.Item(experience: try MemoryRecords.experience(record), raw: raw,
                                         vectorDistance: hit.explanation.vectorDistance, textScore: hit.explanation.textScore))
        }
        return RecallPool(items: items, complete: hits.count < depth)
    }

    /// The ranking of `pool` at `now`; nil when experiences of it expired since it was drawn and it may
    /// have left out others that would now take their places (the caller searches again).
    static func answer(_ pool: RecallPool, _ query: RecallQuery, now: MemoryTime) -> [RecallHit]? {
        let live = pool.items.filter { $0.experience.expiresAt.map { $0 > now } ?? true }
        let reranked = reranks(query)
        if live.count < pool.items.count {
            // A fused score is rank-based: every candidate's depends on the others in the lists.
            if query.vector != nil && query.text != nil { return nil }
            if !pool.complete && (reranked || live.count < query.k) { return nil }
        }
        guard !live.isEmpty else { return [] }
        // Relevance on one scale whatever was searched: the raw score over the best one's.
        let best = live.map(\.raw).max() ?? 1
        var out = [RecallHit]()
        out.reserveCapacity(live.count)
        for item in live {
            let experience = item.experience
            let relevance = best > 0 ? item.raw / best : 0
            let age = Swift.max(0, Double(now.microseconds &- experience.occurredAt.microseconds) / 1_000_000)
            let decay = query.halfLife.map { pow(0.5, age / $0) }
            let importancePart = query.importanceWeight.map { $0 * experience.importance }
            let score = relevance * (decay ?? 1) + (importancePart ?? 0)
            out.append(RecallHit(experience: experience, score: score, explanation: RecallHit.Explanation(
                relevance: relevance, vectorDistance: item.vectorDistance, textScore: item.textScore, decay: decay,
                ageSeconds: age, importance: experience.importance, importancePart: importancePart)))
        }
        if reranked {
            out.sort { $0.score > $1.score || ($0.score == $1.score && $0.experience.id < $1.experience.id) }
        }
        if let lambda = query.mmr { return diversify(out, k: query.k, lambda: lambda) }
        return Array(out.prefix(query.k))
    }

    /// Picks `k` of `ranked` by maximal marginal relevance (``HybridFusion/diversify``): the score as
    /// relevance, the embeddings' cosine as similarity; ties by the earlier rank.
    static func diversify(_ ranked: [RecallHit], k: Int, lambda: Double) -> [RecallHit] {
        // Labels are ranks, so HybridFusion's tie rule (the lower label) is the earlier rank.
        let candidates = ranked.indices.map {
            HybridFusion.Hit(label: VectorID(truncatingIfNeeded: $0), explanation: HybridFusion.Explanation(fused: ranked[$0].score))
        }
        let picked = HybridFusion.diversify(candidates, k: k, lambda: lambda) { a, b in
            HybridFusion.cosine(ranked[Int(a)].experience.embedding, ranked[Int(b)].experience.embedding)
        }
        return picked.map { choice in
            var hit = ranked[Int(choice.label)]
            hit.explanation.mmrMaxSimilarity = choice.explanation.mmr?.maxSimilarity
            hit.explanation.mmrScore = choice.explanation.mmr?.score
            return hit
        }
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
