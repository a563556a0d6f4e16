import EngramSync
import Metrics

/// Answers of repeated recalls (an agent loop asks the same things), kept
/// until a write touches their scope (Docs/MEMORY.md, "Recall cache").
///
/// What is cached is a recall's candidate pool (each experience with its
/// raw search scores), not its final ranking: the ranking depends on `now`
/// (recency, expiry) and is made again from the pool at every hit, by the
/// same code as a fresh recall.
///
/// Invalidation by versions: every scope tag — an agent of a tenant, a
/// group of a tenant, a whole tenant, and for recalls by text the whole
/// corpus (BM25's statistics are the collection's) — has a version that every write
/// touching it bumps *after* the write is applied. An entry remembers the
/// versions of its tags read *before* its search ran, and is served only
/// while they are unchanged. A write that lands during the search bumps
/// after it, so the entry is never served; a write applied before the
/// versions were read is in the search. So no answer is ever served that
/// misses a write that returned before the recall began (tested by a
/// property test against an uncached memory).
final class RecallCache: @unchecked Sendable {
    struct Key: Hashable {
        var tenant, agent: String
        var vector: [Float]?
        var text: String?
        var kinds: [String]?
        var task: String?
        var from, to, asOf, knownAt: MemoryTime?
        var halfLife, importanceWeight, mmr: Double?
        var k: Int

        init(_ q: RecallQuery) {
            tenant = q.tenant
            agent = q.agent
            vector = q.vector
            text = q.text
            kinds = q.kinds
            task = q.task
            from = q.from
            to = q.to
            asOf = q.asOf
            knownAt = q.knownAt
            halfLife = q.halfLife
            importanceWeight = q.importanceWeight
            mmr = q.mmr
            k = q.k
        }
    }

    enum Tag: Hashable {
        case agent(tenant: String, agent: String)
        case group(tenant: String, group: String)
        case tenant(String)
        /// Every experience: BM25's statistics (documents, lengths, term frequencies) are the whole
        /// collection's, so any write can reorder a text recall of any scope.
        case corpus
    }

    struct Entry {
        var pool: RecallPool
        var versions: [Tag: UInt64]
        /// The `now` the pool was drawn at: expiry only hides more as time goes on, so the pool serves
        /// recalls at or after it, never before.
        var drawnAt: MemoryTime
    }

    private let state = Locked<(entries: [Key: Entry], order: [Key], versions: [Tag: UInt64])>(([:], [], [:]))
    /// Hits and misses since the memory opened (also counted through swift-metrics).
    private let tally = Locked<(hits: Int, misses: Int)>((0, 0))
    let capacity: Int
    let hits = Counter(label: "engram_memory_recall_cache_hits")
    let misses = Counter(label: "engram_memory_recall_cache_misses")

    init(capacity: Int) { self.capacity = capacity }

    /// The versions of `tags` now (read before the search an entry is made from).
    func versions(_ tags: [Tag]) -> [Tag: UInt64] {
        state.withLock { s in Dictionary(uniqueKeysWithValues: tags.map { ($0, s.versions[$0, default: 0]) }) }
    }

    /// The pool cached for `key` if none of its tags changed since.
    func lookup(_ key: Key, at now: MemoryTime) -> RecallPool? {
        let found: RecallPool? = state.withLock { s in
            guard let entry = s.entries[key], entry.drawnAt <= now else { return nil }
            for (tag, version) in entry.versions where s.versions[tag, default: 0] != version {
                s.entries[key] = nil
                return nil
            }
            return entry.pool
        }
        if found == nil { misses.increment() } else { hits.increment() }
        tally.withLock { found == nil ? ($0.misses += 1) : ($0.hits += 1) }
        return found
    }

    func store(_ key: Key, _ pool: RecallPool, versions: [Tag: UInt64], drawnAt: MemoryTime) {
        guard capacity > 0 else { return }
        state.withLock { s in
            if s.entries.updateValue(Entry(pool: pool, versions: versions, drawnAt: drawnAt), forKey: key) == nil { s.order.append(key) }
            // First in, first out: an agent loop's repeated questions are recent ones.
            while s.entries.count > capacity, !s.order.isEmpty {
                s.entries[s.order.removeFirst()] = nil
            }
            if s.order.count > 2 * capacity { s.order = s.order.filter { s.entries[$0] != nil } }
        }
    }

    /// Marks `tags` changed (after the write that touches them is applied).
    func bump(_ tags: [Tag]) {
        state.withLock { s in for tag in tags { s.versions[tag, default: 0] &+= 1 } }
    }

    var count: Int { state.withLock { $0.entries.count } }
    var statistics: (hits: Int, misses: Int) { tally.withLock { $0 } }
}

/// A recall's candidates as the search drew them (what the cache keeps).
struct RecallPool: Sendable {
    struct Item: Sendable {
        var experience: Experience
        /// The search's own score: the cosine, BM25, or the fused score.
        var raw: Double
        var vectorDistance: Float?
        var textScore: Double?
    }

    var items: [Item]
    /// The search found fewer than it asked for: these are all the visible matches.
    var complete: Bool
}
