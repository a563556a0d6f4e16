import EngramEngine
import EngramMetadata
import EngramSync
import EngramText

/// An agent platform's memory over an Engram store (Docs/MEMORY.md):
/// agents, their tasks and their experiences, every call all or nothing
/// and durable when it returns (one ``WriteBatch`` through the store's
/// log), recalled by meaning, words and time within an exact scope.
///
/// ```swift
/// let memory = try Memory.open(store, dimension: 384)
/// try memory.upsert(Agent(tenant: "acme", id: "planner", name: "Planner"))
/// try memory.remember([Experience(tenant: "acme", id: "e1", agent: "planner", kind: "observation",
///                                 content: "the deploy failed: ENOSPC on /var", embedding: v, occurredAt: .now())])
/// let hits = try memory.recall(RecallQuery(tenant: "acme", agent: "planner", vector: q, text: "disk full", k: 10))
/// ```
///
/// Invariants: every object is stored under its tenant-qualified key
/// (`MemoryRecords.key`) in its kind's collection, with its tenant in its
/// metadata; a recall's scope is a filter inside the search; calls that
/// read before they write (deduplication, task transitions, agent
/// timestamps) hold the lock of their scope's stripe, so two such calls on
/// one scope never interleave, while calls on different scopes run (and
/// share fsyncs) at once.
public final class Memory: Sendable {
    public let store: Store
    /// The dimension of every embedding this memory holds.
    public let dimension: Int
    /// Read-modify-write calls lock the stripe of their scope.
    private let stripes: [Locked<Void>] = (0..<64).map { _ in Locked(()) }
    /// Repeated recalls (``RecallCache``).
    let cache: RecallCache

    /// A memory over `store`, whose collections exist (``open(_:dimension:)`` creates them, ``open(_:)`` finds them).
    init(store: Store, dimension: Int, cacheCapacity: Int = Memory.defaultCacheCapacity) {
        self.store = store
        self.dimension = dimension
        cache = RecallCache(capacity: cacheCapacity)
    }

    /// Recalls whose answers the cache keeps (0: no cache).
    public static let defaultCacheCapacity = 10_000

    /// Recalls whose answers the cache holds now.
    public var cachedRecalls: Int { cache.count }

    /// Recalls answered from the cache, and recalls that searched, since the memory opened (also the
    /// swift-metrics counters `engram_memory_recall_cache_hits` and `_misses`).
    public var recallCacheStatistics: (hits: Int, misses: Int) { cache.statistics }

    /// The memory over `store`, its collections created if new (their parameters checked if not).
    public static func open(_ store: Store, dimension: Int, cacheCapacity: Int = defaultCacheCapacity) throws(MemoryError) -> Memory {
        guard (1...4096).contains(dimension) else { throw .invalid("dimension \(dimension): expected 1...4096") }
        guard (0...10_000_000).contains(cacheCapacity) else { throw .invalid("cache capacity \(cacheCapacity): expected 0...10000000") }
        do {
            try store.createCollection(CollectionConfiguration(name: MemoryRecords.agents, dimension: 0))
            try store.createCollection(CollectionConfiguration(name: MemoryRecords.tasks, dimension: 0,
                                                               text: TextSettings(fields: ["title", "description"])))
            try store.createCollection(CollectionConfiguration(name: MemoryRecords.experiences, dimension: dimension, metric: .cosine,
                                                               text: TextSettings(fields: ["content"])))
            try store.createCollection(CollectionConfiguration(name: MemoryRecords.entities, dimension: dimension, metric: .cosine,
                                                               text: TextSettings(fields: ["name", "summary"])))
            try store.createCollection(CollectionConfiguration(name: MemoryRecords.facts, dimension: dimension, metric: .cosine,
                                                               text: TextSettings(fields: ["text"])))
            try store.createCollection(CollectionConfiguration(name: MemoryRecords.predicates, dimension: 0))
        } catch {
            throw .engine(error)
        }
        return Memory(store: store, dimension: dimension, cacheCapacity: cacheCapacity)
    }

    /// The stripe a scope's read-modify-write calls lock.
    func stripe(_ scope: String) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in scope.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return Int(h % UInt64(stripes.count))
    }

    func locked<R>(_ scope: String, _ body: () throws(MemoryError) -> R) throws(MemoryError) -> R {
        try lockingStripes([stripe(scope)][...], body)
    }

    /// Holds every stripe of `indices` (distinct, ascending: a fixed order, so two callers never wait on
    /// each other in a cycle) while `body` runs.
    func lockingStripes<R>(_ indices: ArraySlice<Int>, _ body: () throws(MemoryError) -> R) throws(MemoryError) -> R {
        guard let first = indices.first else { return try body() }
        return try stripes[first].withLock { (_) throws(MemoryError) -> R in try lockingStripes(indices.dropFirst(), body) }
    }

    func get(_ collection: String, _ tenant: String, _ id: String) throws(MemoryError) -> Record? {
        do { return try store.get(collection, id: MemoryRecords.key(tenant, id)) } catch { throw .engine(error) }
    }

    func write(_ batch: WriteBatch) throws(MemoryError) {
        do { try store.write(batch) } catch { throw .engine(error) }
    }

    // MARK: Agents

    /// Writes an agent (created, or updated in place); returns it with its times.
    @discardableResult
    public func upsert(_ agent: Agent, at now: MemoryTime = .now()) throws(MemoryError) -> Agent {
        try agent.validate()
        return try locked("agent\u{1}\(agent.tenant)\u{1}\(agent.id)") { () throws(MemoryError) -> Agent in
            var stored = agent
            stored.createdAt = try self.agent(tenant: agent.tenant, id: agent.id)?.createdAt ?? now
            stored.updatedAt = now
            try write(WriteBatch([.upsert(collection: MemoryRecords.agents, records: [MemoryRecords.record(stored)])]))
            cache.bump([.agent(tenant: agent.tenant, agent: agent.id)])  // its groups, hence its scope, may have changed
            return stored
        }
    }

    public func agent(tenant: String, id: String) throws(MemoryError) -> Agent? {
        try get(MemoryRecords.agents, tenant, id).map { (r) throws(MemoryError) in try MemoryRecords.agent(r) }
    }

    // MARK: Tasks

    /// Creates a task, pending; its agent and parent, if named, must exist in its tenant.
    @discardableResult
    public func create(_ task: AgentTask, at now: MemoryTime = .now()) throws(MemoryError) -> AgentTask {
        try task.validate()
        return try locked("task\u{1}\(task.tenant)\u{1}\(task.id)") { () throws(MemoryError) -> AgentTask in
            guard try self.task(tenant: task.tenant, id: task.id) == nil else {
                throw MemoryError(.conflict, "task '\(task.id)' of tenant '\(task.tenant)' exists")
            }
            if let agent = task.agent, try self.agent(tenant: task.tenant, id: agent) == nil {
                throw MemoryError(.notFound, "task '\(task.id)': no agent '\(agent)' in tenant '\(task.tenant)'")
            }
            if let parent = task.parent, try self.task(tenant: task.tenant, id: parent) == nil {
                throw MemoryError(.notFound, "task '\(task.id)': no parent task '\(parent)' in tenant '\(task.tenant)'")
            }
            var stored = task
            stored.status = .pending
            stored.createdAt = now
            try write(WriteBatch([.upsert(collection: MemoryRecords.tasks, records: [MemoryRecords.record(stored)])]))
            return stored
        }
    }

    public func task(tenant: String, id: String) throws(MemoryError) -> AgentTask? {
        try get(MemoryRecords.tasks, tenant, id).map { (r) throws(MemoryError) in try MemoryRecords.task(r) }
    }

    /// Moves a task to `status` if ``TaskStatus/allows(_:)`` lets it (else `.conflict`), stamping its
    /// start or finish; a final status may carry a `result`.
    @discardableResult
    public func transition(tenant: String, task id: String, to status: TaskStatus, result: MetadataValue? = nil,
                           at now: MemoryTime = .now()) throws(MemoryError) -> AgentTask {
        if let why = result?.problem { throw .invalid("task '\(id)': its result \(why)") }
        guard result == nil || status.isFinal else { throw .invalid("task '\(id)': only a final status carries a result") }
        return try locked("task\u{1}\(tenant)\u{1}\(id)") { () throws(MemoryError) -> AgentTask in
            guard var task = try self.task(tenant: tenant, id: id) else {
                throw MemoryError(.notFound, "no task '\(id)' in tenant '\(tenant)'")
            }
            guard task.status.allows(status) else {
                throw MemoryError(.conflict, "task '\(id)' is \(task.status.rawValue): it cannot become \(status.rawValue)")
            }
            task.status = status
            if status == .running { task.startedAt = now }
            if status.isFinal {
                task.finishedAt = now
                task.result = result
            }
            try write(WriteBatch([.upsert(collection: MemoryRecords.tasks, records: [MemoryRecords.record(task)])]))
            return task
        }
    }

    // MARK: Experiences

    /// What became of one remembered experience.
    public enum Remembered: Sendable, Equatable {
        /// Stored under its id.
        case stored(id: String)
        /// Its content was already remembered in the same scope (tenant, agent, visibility): nothing was
        /// written; the existing experience's id.
        case duplicate(of: String)
    }

    /// Remembers experiences, all or nothing, durable when it returns. An experience whose content is
    /// already remembered in its scope (tenant, agent and visibility), by an earlier call or earlier in
    /// this one, is not stored again (``Remembered/duplicate(of:)``).
    @discardableResult
    public func remember(_ experiences: [Experience], at now: MemoryTime = .now()) throws(MemoryError) -> [Remembered] {
        try remember(experiences, entities: [], facts: [], at: now).experiences
    }

    public func experience(tenant: String, id: String) throws(MemoryError) -> Experience? {
        try get(MemoryRecords.experiences, tenant, id).map { (r) throws(MemoryError) in try MemoryRecords.experience(r) }
    }

    /// Forgets an experience (nothing if memory does not hold it); whether it did.
    @discardableResult
    public func forgetExperience(tenant: String, id: String) throws(MemoryError) -> Bool {
        let forgotten: Bool
        do { forgotten = try store.delete(MemoryRecords.experiences, ids: [MemoryRecords.key(tenant, id)]) == 1 } catch { throw .engine(error) }
        if forgotten { cache.bump([.tenant(tenant), .corpus]) }
        return forgotten
    }

    /// The scope deduplication works in: tenant, agent, visibility.
    static func scopeKey(_ e: Experience) -> String {
        let group: String
        switch e.visibility {
        case .agent: group = ""
        case .group(let g): group = "g" + g
        }
        return "experience\u{1}\(e.tenant)\u{1}\(e.agent)\u{1}\(group)"
    }

    /// The id of a stored experience of `e`'s scope with the same content, if any: the content hash
    /// looked up exactly in the metadata index, then the contents compared.
    func storedDuplicate(of e: Experience, hash: String) throws(MemoryError) -> String? {
        var scope: [MetadataFilter] = [.equals("tenant", .string(e.tenant)), .equals("agent", .string(e.agent)), .equals("content_hash", .string(hash))]
        switch e.visibility {
        case .agent: scope.append(.not(.exists("group")))
        case .group(let g): scope.append(.equals("group", .string(g)))
        }
        let found: [Record]
        do { found = try store.find(MemoryRecords.experiences, filter: .and(scope), limit: 64) } catch { throw .engine(error) }
        return found.first { $0.text["content"] == e.content }.flatMap { MemoryRecords.string($0.metadata["id"]) }
    }
}
