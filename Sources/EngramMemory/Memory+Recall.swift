import EngramEngine
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

    /// Recall's depth: the candidates drawn from the search, whether or not the ranking changes them.
    static func depth(_ q: RecallQuery) -> Int {
        reranks(q) ? Swift.min(1000, Swift.max(4 * q.k, 100)) : Swift.max(q.k, 50)
    }

    /// Whether the final order differs from the search's (recency, importance or MMR).
    static func reranks(_ q: RecallQuery) -> Bool { q.halfLife != nil || q.importanceWeight != nil || q.mmr != nil }

    /// The search's candidates, with their raw scores, best first.
    func searchPool(_ query: RecallQuery, groups: [String], now: MemoryTime) throws(MemoryError) -> RecallPool {
        let depth = Self.depth(query)
        let hits: [HybridHit]
        do {
            hits = try store.search(MemoryRecords.experiences, HybridQuery(
                vector: query.vector, text: query.text, k: depth, filter: Self.scopeFilter(query, groups: groups, now: now), candidates: depth))
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

    /// Picks `k` of `ranked` by maximal marginal relevance: the score min-max normalised to 0…1 as
    /// relevance, the embeddings' cosine as similarity; ties by the earlier rank.
    static func diversify(_ ranked: [RecallHit], k: Int, lambda: Double) -> [RecallHit] {
        guard let high = ranked.map(\.score).max(), let low = ranked.map(\.score).min() else { return [] }
        func relevance(_ hit: RecallHit) -> Double { high > low ? (hit.score - low) / (high - low) : 1 }
        func cosine(_ a: [Float], _ b: [Float]) -> Double {
            var dot = 0.0, na = 0.0, nb = 0.0
            for i in 0..<Swift.min(a.count, b.count) {
                dot += Double(a[i]) * Double(b[i])
                na += Double(a[i]) * Double(a[i])
                nb += Double(b[i]) * Double(b[i])
            }
            return na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : 0
        }
        var remaining = ranked, picked = [RecallHit]()
        var closest = [Double](repeating: 0, count: remaining.count)  // each candidate's largest cosine to the picks
        while picked.count < k, !remaining.isEmpty {
            var best = 0, bestScore = -Double.infinity
            for (i, candidate) in remaining.enumerated() {
                let score = lambda * relevance(candidate) - (1 - lambda) * closest[i]
                if score > bestScore { best = i; bestScore = score }
            }
            var hit = remaining.remove(at: best)
            let similarity = closest.remove(at: best)
            hit.explanation.mmrMaxSimilarity = similarity
            hit.explanation.mmrScore = bestScore
            for i in remaining.indices { closest[i] = Swift.max(closest[i], cosine(remaining[i].experience.embedding, hit.experience.embedding)) }
            picked.append(hit)
        }
        return picked
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
