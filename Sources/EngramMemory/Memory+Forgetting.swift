import EngramEngine
import EngramMetadata

/// Forgetting and timelines (Docs/MEMORY.md, "Forgetting").
extension Memory {
    /// Records deleted per logged batch when forgetting many (a batch must fit one log record).
    static let forgetBatch = 5_000

    /// Forgets an agent: its record, its experiences and the tasks assigned to it (the tenant's entities
    /// and facts stay: they are the tenant's knowledge). Returns how many records went. Batches of
    /// ``forgetBatch``: a crash midway leaves the rest, which a second call forgets.
    @discardableResult
    public func forgetAgent(tenant: String, agent: String) throws(MemoryError) -> Int {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(agent, "an agent id")
        let scope: MetadataFilter = .and([.equals("tenant", .string(tenant)), .equals("agent", .string(agent))])
        var removed = try deleteAll(MemoryRecords.experiences, matching: scope)
        removed += try deleteAll(MemoryRecords.tasks, matching: scope)
        do { removed += try store.delete(MemoryRecords.agents, ids: [MemoryRecords.key(tenant, agent)]) } catch { throw .engine(error) }
        cache.bump([.tenant(tenant), .corpus])
        return removed
    }

    /// Forgets a tenant entirely: every agent, task, experience, entity, fact and declaration of it.
    /// Returns how many records went (batches, as ``forgetAgent(tenant:agent:)``). The log keeps them
    /// until the next snapshot lets it drop its old segments; PostgreSQL until the next checkpoint.
    @discardableResult
    public func forgetTenant(_ tenant: String) throws(MemoryError) -> Int {
        try Identifier.check(tenant, "a tenant")
        var removed = 0
        for collection in [MemoryRecords.experiences, MemoryRecords.facts, MemoryRecords.entities, MemoryRecords.tasks,
                           MemoryRecords.agents, MemoryRecords.predicates] {
            removed += try deleteAll(collection, matching: .equals("tenant", .string(tenant)))
        }
        cache.bump([.tenant(tenant), .corpus])
        return removed
    }

    /// Deletes the experiences whose expiry is at or before `now` (recall hides them already); returns how many.
    @discardableResult
    public func sweepExpired(now: MemoryTime = .now()) throws(MemoryError) -> Int {
        try deleteAll(MemoryRecords.experiences, matching: .range("expires_at", lower: nil, lowerInclusive: true,
                                                                   upper: MemoryRecords.time(now), upperInclusive: true))
    }

    /// An agent's experiences (its own, not its groups') in the order they occurred, within the
    /// half-open window `from ..< to` if given.
    public func timeline(tenant: String, agent: String, from: MemoryTime? = nil, to: MemoryTime? = nil, limit: Int = 1000) throws(MemoryError) -> [Experience] {
        try Identifier.check(agent, "an agent id")
        return try timeline(tenant: tenant, .equals("agent", .string(agent)), from: from, to: to, limit: limit)
    }

    /// A task's experiences in the order they occurred.
    public func timeline(tenant: String, task: String, from: MemoryTime? = nil, to: MemoryTime? = nil, limit: Int = 1000) throws(MemoryError) -> [Experience] {
        try Identifier.check(task, "a task id")
        return try timeline(tenant: tenant, .equals("task", .string(task)), from: from, to: to, limit: limit)
    }

    private func timeline(tenant: String, _ condition: MetadataFilter, from: MemoryTime?, to: MemoryTime?, limit: Int) throws(MemoryError) -> [Experience] {
        try Identifier.check(tenant, "a tenant")
        guard (1...1_000_000).contains(limit) else { throw .invalid("limit must be 1...1000000, got \(limit)") }
        var parts: [MetadataFilter] = [.equals("tenant", .string(tenant)), condition]
        if from != nil || to != nil {
            parts.append(.range("occurred_at", lower: from.map(MemoryRecords.time), lowerInclusive: true, upper: to.map(MemoryRecords.time), upperInclusive: false))
        }
        let found: [Record]
        do { found = try store.find(MemoryRecords.experiences, filter: .and(parts), limit: 1_000_000) } catch { throw .engine(error) }
        let experiences = try found.map { (r) throws(MemoryError) in try MemoryRecords.experience(r) }
            .sorted { ($0.occurredAt, $0.id) < ($1.occurredAt, $1.id) }
        return Array(experiences.prefix(limit))
    }

    /// Deletes every record of `collection` that `filter` admits, a batch at a time.
    private func deleteAll(_ collection: String, matching filter: MetadataFilter) throws(MemoryError) -> Int {
        var removed = 0
        while true {
            let ids: [String]
            do { ids = try store.find(collection, filter: filter, limit: Self.forgetBatch).map(\.id) } catch { throw .engine(error) }
            guard !ids.isEmpty else { return removed }
            do { removed += try store.delete(collection, ids: ids) } catch { throw .engine(error) }
        }
    }
}
