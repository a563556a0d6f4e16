import EngramEngine
import EngramMetadata
import EngramText

/// Entities, facts and the calls that write them with experiences, as one
/// (Docs/MEMORY.md, "Entities and facts").
extension Memory {
    /// What one ``remember(_:entities:facts:at:)`` call did.
    public struct Report: Sendable, Equatable {
        public var experiences: [Remembered] = []
        /// Each entity of the call: its id as given → the id memory holds it under (another, when it was
        /// resolved to an entity memory already knew).
        public var entities: [String: String] = [:]
        /// The facts stored (their subjects and objects rewritten to the resolved entities).
        public var facts: [String] = []
        /// Facts whose validity a single-valued predicate closed.
        public var closed: [String] = []
    }

    /// The similarity (cosine of the embeddings) above which an entity of the same type and tenant is
    /// taken for one memory holds, when no name or alias matches.
    public static let entityResolutionThreshold: Float = 0.92

    /// Remembers experiences, the entities they mention and the facts they assert, as one write: all
    /// or nothing, durable when it returns.
    ///
    /// - Experiences: deduplicated as in ``remember(_:at:)``.
    /// - Entities: resolved, in this order, to the entity of the same tenant with the same id; to one of
    ///   the same type whose name or an alias equals one of its own (case-folded); to the closest one of
    ///   the same type whose embedding's cosine is at least ``entityResolutionThreshold``; else stored as
    ///   new. A resolved entity gains the new name and aliases as aliases, a summary if it had none, and
    ///   the new attributes (merged over the old).
    /// - Facts: subjects and objects name entities of the call (by the ids given) or of memory; a fact
    ///   id already held is a conflict (facts change only by closing and retracting). A fact of a
    ///   single-valued predicate closes the validity of the subject's current fact of it at its own
    ///   valid-from (or, if a later one exists, ends where that one starts).
    @discardableResult
    public func remember(_ experiences: [Experience], entities: [Entity], facts: [Fact], at now: MemoryTime = .now()) throws(MemoryError) -> Report {
        for e in experiences { try e.validate(dimension: dimension) }
        for e in entities { try e.validate(dimension: dimension) }
        for f in facts { try f.validate(dimension: dimension) }
        var keys = Set<String>()
        for e in entities where !keys.insert(MemoryRecords.key(e.tenant, e.id)).inserted { throw .invalid("entity '\(e.id)' appears twice in the call") }
        keys = []
        for f in facts where !keys.insert(MemoryRecords.key(f.tenant, f.id)).inserted { throw .invalid("fact '\(f.id)' appears twice in the call") }
        let tenants = Set(entities.map(\.tenant) + facts.map(\.tenant))
        let stripes = Set(experiences.map { stripe(Self.scopeKey($0)) } + tenants.map { stripe("knowledge\u{1}" + $0) }).sorted()
        return try lockingStripes(stripes[...]) { () throws(MemoryError) -> Report in
            var report = Report()
            var batch = WriteBatch()
            let (outcome, experienceRecords) = try planExperiences(experiences, at: now)
            report.experiences = outcome
            if !experienceRecords.isEmpty { batch.upsert(MemoryRecords.experiences, experienceRecords) }

            // Entities, resolved against memory and against each other.
            var held = [String: Entity]()  // tenant-qualified key → the entity as it will be written
            for incoming in entities {
                let target = try resolve(incoming, among: held)
                var merged = target ?? incoming
                if let target { merged = Self.merge(incoming, into: target) }
                held[MemoryRecords.key(merged.tenant, merged.id)] = merged
                report.entities[incoming.id] = merged.id
            }
            if !held.isEmpty { batch.upsert(MemoryRecords.entities, held.values.sorted { $0.id < $1.id }.map(MemoryRecords.record)) }

            // Facts, on the resolved entities; single-valued predicates close what they replace.
            var written = [String: Fact]()  // version key → fact version as it will be written
            for var fact in facts {
                fact.subject = report.entities[fact.subject] ?? fact.subject
                if case .entity(let object) = fact.object { fact.object = .entity(report.entities[object] ?? object) }
                try requireEntity(fact.tenant, fact.subject, held: held, for: fact.id)
                if case .entity(let object) = fact.object { try requireEntity(fact.tenant, object, held: held, for: fact.id) }
                guard try versions(tenant: fact.tenant, id: fact.id).isEmpty, !written.values.contains(where: { $0.tenant == fact.tenant && $0.id == fact.id }) else {
                    throw MemoryError(.conflict, "fact '\(fact.id)' of tenant '\(fact.tenant)' exists: close or retract it instead")
                }
                fact.recordedAt = now
                fact.invalidatedAt = nil
                if try isSingleValued(tenant: fact.tenant, predicate: fact.predicate) {
                    // The subject's current versions of the predicate: stored (unless this call rewrote them) and of this call.
                    let stored = try currentFacts(tenant: fact.tenant, subject: fact.subject, predicate: fact.predicate)
                        .filter { written[MemoryRecords.versionKey($0)] == nil }
                    let pending = written.values.filter {
                        $0.tenant == fact.tenant && $0.subject == fact.subject && $0.predicate == fact.predicate && $0.invalidatedAt == nil
                    }
                    for old in stored + pending {
                        if old.validFrom < fact.validFrom {
                            guard old.validTo.map({ $0 > fact.validFrom }) ?? true else { continue }
                            if old.recordedAt == now {
                                // A version of this call: close it in place (memory never knew it open-ended).
                                var closed = old
                                closed.validTo = fact.validFrom
                                written[MemoryRecords.versionKey(closed)] = closed
                            } else {
                                // A version memory knew: invalidate it now, and record a closed version now.
                                var retired = old
                                retired.invalidatedAt = now
                                written[MemoryRecords.versionKey(retired)] = retired
                                var closed = old
                                closed.validTo = fact.validFrom
                                closed.recordedAt = now
                                written[MemoryRecords.versionKey(closed)] = closed
                            }
                            if !report.closed.contains(old.id) { report.closed.append(old.id) }
                        } else if fact.validTo.map({ $0 > old.validFrom }) ?? true {
                            fact.validTo = old.validFrom  // a later value is already known: this one ends where it starts
                        }
                    }
                    if let validTo = fact.validTo, validTo <= fact.validFrom {
                        throw MemoryError(.conflict, "fact '\(fact.id)': \(fact.predicate) of '\(fact.subject)' already has a value from \(fact.validFrom) on")
                    }
                }
                written[MemoryRecords.versionKey(fact)] = fact
                report.facts.append(fact.id)
            }
            if !written.isEmpty {
                batch.upsert(MemoryRecords.facts, written.values.sorted { ($0.id, $0.recordedAt) < ($1.id, $1.recordedAt) }.map(MemoryRecords.record))
            }
            if !batch.changes.isEmpty { try write(batch) }
            // After the write: the recalls of every scope it touched are answered afresh from now on.
            var touched = Set<RecallCache.Tag>()
            if !experienceRecords.isEmpty { touched.insert(.corpus) }
            for e in experiences {
                touched.insert(.agent(tenant: e.tenant, agent: e.agent))
                if case .group(let g) = e.visibility { touched.insert(.group(tenant: e.tenant, group: g)) }
            }
            if !touched.isEmpty { cache.bump(Array(touched)) }
            return report
        }
    }

    /// Declares `predicate` single-valued in `tenant`: from then on a new fact of it closes the current one.
    public func declareSingleValued(tenant: String, predicate: String) throws(MemoryError) {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(predicate, "a predicate")
        try locked("knowledge\u{1}" + tenant) { () throws(MemoryError) in
            try write(WriteBatch([.upsert(collection: MemoryRecords.predicates, records: [
                Record(id: MemoryRecords.key(tenant, predicate), vector: [],
                       metadata: ["tenant": .string(tenant), "predicate": .string(predicate), "single_valued": true]),
            ])]))
        }
    }

    func isSingleValued(tenant: String, predicate: String) throws(MemoryError) -> Bool {
        try get(MemoryRecords.predicates, tenant, predicate)?.metadata["single_valued"] == true
    }

    /// Retracts a fact: memory stops knowing it at `now` (its versions stay, for queries known at earlier times).
    @discardableResult
    public func retract(tenant: String, fact id: String, at now: MemoryTime = .now()) throws(MemoryError) -> Fact {
        try locked("knowledge\u{1}" + tenant) { () throws(MemoryError) -> Fact in
            guard var current = try versions(tenant: tenant, id: id).first(where: { $0.invalidatedAt == nil }) else {
                throw MemoryError(.notFound, "no fact '\(id)' known in tenant '\(tenant)'")
            }
            current.invalidatedAt = now
            try write(WriteBatch([.upsert(collection: MemoryRecords.facts, records: [MemoryRecords.record(current)])]))
            return current
        }
    }

    /// Every recorded version of a fact, oldest record first.
    public func versions(tenant: String, id: String) throws(MemoryError) -> [Fact] {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(id, "a fact id")
        let found: [Record]
        do {
            found = try store.find(MemoryRecords.facts, filter: .and([.equals("tenant", .string(tenant)), .equals("id", .string(id))]), limit: 100_000)
        } catch {
            throw .engine(error)
        }
        return try found.map { (r) throws(MemoryError) in try MemoryRecords.fact(r) }.sorted { $0.recordedAt < $1.recordedAt }
    }

    /// The fact as memory knows it now (its newest version), if it was ever recorded.
    public func fact(tenant: String, id: String) throws(MemoryError) -> Fact? {
        try versions(tenant: tenant, id: id).last
    }

    public func entity(tenant: String, id: String) throws(MemoryError) -> Entity? {
        try get(MemoryRecords.entities, tenant, id).map { (r) throws(MemoryError) in try MemoryRecords.entity(r) }
    }

    /// The facts about `entity` (as subject or object) that were true at `asOf` and known at `knownAt`
    /// (both default to `now`), optionally of some predicates only, by valid-from then id.
    public func facts(tenant: String, entity: String, asOf: MemoryTime? = nil, knownAt: MemoryTime? = nil,
                      predicates: [String]? = nil, now: MemoryTime = .now()) throws(MemoryError) -> [Fact] {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(entity, "an entity id")
        let found: [Record]
        do {
            found = try store.find(MemoryRecords.facts, filter: Self.aboutFilter(tenant, entity, predicates), limit: 1_000_000)
        } catch {
            throw .engine(error)
        }
        let valid = asOf ?? now, known = knownAt ?? now
        return try found.map { (r) throws(MemoryError) in try MemoryRecords.fact(r) }
            .filter { $0.isValid(at: valid) && $0.isKnown(at: known) }
            .sorted { ($0.validFrom, $0.id) < ($1.validFrom, $1.id) }
    }

    /// The stored fact versions with `entity` at one end, optionally of some predicates only.
    static func aboutFilter(_ tenant: String, _ entity: String, _ predicates: [String]?) -> MetadataFilter {
        var filter: [MetadataFilter] = [.equals("tenant", .string(tenant)),
                                        .or([.equals("subject", .string(entity)), .equals("object_entity", .string(entity))])]
        if let predicates { filter.append(.isIn("predicate", predicates.map { .string($0) })) }
        return .and(filter)
    }

    /// The edges at `node` (facts between two entities) true at `valid` and known at `known`, read from
    /// metadata alone.
    func edges(tenant: String, at node: String, valid: MemoryTime, known: MemoryTime, predicates: [String]? = nil) throws(MemoryError) -> [FactEdge] {
        let found: [RecordMetadata]
        do {
            found = try store.findMetadata(MemoryRecords.facts, filter: Self.aboutFilter(tenant, node, predicates), limit: 1_000_000)
        } catch {
            throw .engine(error)
        }
        var out = [FactEdge]()
        out.reserveCapacity(found.count)
        for stored in found {
            if let edge = try FactEdge(stored), edge.holds(validAt: valid, knownAt: known) { out.append(edge) }
        }
        return out
    }

    /// The entities within `depth` hops of `entity` along facts (either direction) true at `asOf` and
    /// known at `knownAt`, with the hop count each was first reached at.
    public func neighbours(tenant: String, entity: String, depth: Int, predicates: [String]? = nil, asOf: MemoryTime? = nil,
                           knownAt: MemoryTime? = nil, now: MemoryTime = .now()) throws(MemoryError) -> [String: Int] {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(entity, "an entity id")
        for predicate in predicates ?? [] { try Identifier.check(predicate, "a predicate") }
        guard (1...6).contains(depth) else { throw .invalid("depth must be 1...6, got \(depth)") }
        let valid = asOf ?? now, known = knownAt ?? now
        var reached = [entity: 0]
        var frontier = [entity]
        for hop in 1...depth {
            var next = [String]()
            for node in frontier {
                for edge in try edges(tenant: tenant, at: node, valid: valid, known: known, predicates: predicates) {
                    let other = edge.other(than: node)
                    if reached[other] == nil {
                        reached[other] = hop
                        next.append(other)
                    }
                }
            }
            frontier = next
        }
        reached[entity] = nil
        return reached
    }

    /// A shortest chain of facts from `from` to `to` (either direction along each), or nil.
    public func path(tenant: String, from: String, to: String, maxDepth: Int = 6, asOf: MemoryTime? = nil, knownAt: MemoryTime? = nil,
                     now: MemoryTime = .now()) throws(MemoryError) -> [Fact]? {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(from, "an entity id")
        try Identifier.check(to, "an entity id")
        guard (1...6).contains(maxDepth) else { throw .invalid("maxDepth must be 1...6, got \(maxDepth)") }
        if from == to { return [] }
        let valid = asOf ?? now, known = knownAt ?? now
        var via = [String: (previous: String, edge: FactEdge)]()
        var frontier = [from]
        var seen: Set<String> = [from]
        for _ in 0..<maxDepth {
            var next = [String]()
            for node in frontier {
                // In (valid from, id) order, as `facts` lists them: the chain found is the same from run to run.
                let sorted = try edges(tenant: tenant, at: node, valid: valid, known: known)
                    .sorted { ($0.validFrom, $0.id) < ($1.validFrom, $1.id) }
                for edge in sorted {
                    let other = edge.other(than: node)
                    guard seen.insert(other).inserted else { continue }
                    via[other] = (node, edge)
                    if other == to { return try chain(to: to, via: via) }
                    next.append(other)
                }
            }
            frontier = next
        }
        return nil
    }

    /// The facts of the chain that `via` records back from `to`, first hop first.
    private func chain(to: String, via: [String: (previous: String, edge: FactEdge)]) throws(MemoryError) -> [Fact] {
        var chain = [Fact]()
        var at = to
        while let step = via[at] {
            let record: Record?
            do { record = try store.get(MemoryRecords.facts, id: step.edge.recordID) } catch { throw .engine(error) }
            guard let record else { throw MemoryError(.conflict, "fact '\(step.edge.id)' changed while its path was read") }
            chain.append(try MemoryRecords.fact(record))
            at = step.previous
        }
        return chain.reversed()
    }

    // MARK: Helpers (a stripe lock held)

    /// The experiences to write and what became of each (deduplication).
    func planExperiences(_ experiences: [Experience], at now: MemoryTime) throws(MemoryError) -> ([Remembered], [Record]) {
        var ids = Set<String>()
        for e in experiences where !ids.insert(MemoryRecords.key(e.tenant, e.id)).inserted {
            throw .invalid("experience '\(e.id)' of tenant '\(e.tenant)' appears twice in the call")
        }
        var outcome = [Remembered](), records = [Record]()
        var seen = [String: String]()  // scope + content → id, within this call
        // Its agent (and task, if named) must exist: the typed tables' foreign keys hold.
        var known = Set<String>()
        for e in experiences {
            if known.insert("a\u{1}" + MemoryRecords.key(e.tenant, e.agent)).inserted, try agent(tenant: e.tenant, id: e.agent) == nil {
                throw MemoryError(.notFound, "experience '\(e.id)': no agent '\(e.agent)' in tenant '\(e.tenant)'")
            }
            if let task = e.task, known.insert("t\u{1}" + MemoryRecords.key(e.tenant, task)).inserted, try self.task(tenant: e.tenant, id: task) == nil {
                throw MemoryError(.notFound, "experience '\(e.id)': no task '\(task)' in tenant '\(e.tenant)'")
            }
        }
        for var e in experiences {
            let seenKey = Self.scopeKey(e) + "\u{1}" + e.content
            if let earlier = seen[seenKey] {
                outcome.append(.duplicate(of: earlier))
                continue
            }
            let hash = MemoryRecords.contentHash(e.content)
            if let existing = try storedDuplicate(of: e, hash: hash) {
                outcome.append(.duplicate(of: existing))
                continue
            }
            if try get(MemoryRecords.experiences, e.tenant, e.id) != nil {
                throw MemoryError(.conflict, "experience '\(e.id)' of tenant '\(e.tenant)' exists with other content")
            }
            e.recordedAt = now
            seen[seenKey] = e.id
            records.append(MemoryRecords.record(e, contentHash: hash))
            outcome.append(.stored(id: e.id))
        }
        return (outcome, records)
    }

    /// The entity `incoming` resolves to, if any: in the call first, then in memory.
    private func resolve(_ incoming: Entity, among held: [String: Entity]) throws(MemoryError) -> Entity? {
        if let same = held[MemoryRecords.key(incoming.tenant, incoming.id)] { return same }
        if let stored = try entity(tenant: incoming.tenant, id: incoming.id) { return stored }
        let names = Set(incoming.names)
        if let inCall = held.values.first(where: { $0.tenant == incoming.tenant && $0.type == incoming.type && !names.isDisjoint(with: $0.names) }) {
            return inCall
        }
        let scope: [MetadataFilter] = [.equals("tenant", .string(incoming.tenant)), .equals("type", .string(incoming.type))]
        do {
            let byName = try store.find(MemoryRecords.entities, filter: .and(scope + [.isIn("names", incoming.names.map { .string($0) })]), limit: 1)
            if let match = byName.first { return try MemoryRecords.entity(match) }
            let near = try store.search(MemoryRecords.entities, vector: incoming.embedding, k: 1, filter: .and(scope))
            if let best = near.first, 1 - best.distance >= Self.entityResolutionThreshold,
               let record = try store.get(MemoryRecords.entities, id: best.id) {
                return try MemoryRecords.entity(record)
            }
        } catch let error as EngineError {
            throw .engine(error)
        } catch let error as MemoryError {
            throw error
        } catch {
            throw MemoryError(.engine, "\(error)")
        }
        return nil
    }

    /// `incoming` folded into the entity it resolved to.
    static func merge(_ incoming: Entity, into target: Entity) -> Entity {
        var merged = target
        for name in [incoming.name] + incoming.aliases
        where Entity.normalised(name) != Entity.normalised(merged.name) && !merged.aliases.contains(where: { Entity.normalised($0) == Entity.normalised(name) }) {
            merged.aliases.append(name)
        }
        if merged.summary.isEmpty { merged.summary = incoming.summary }
        if case .object(var fields) = merged.attributes, case .object(let more) = incoming.attributes {
            for (key, value) in more { fields[key] = value }
            merged.attributes = .object(fields)
        }
        return merged
    }

    private func requireEntity(_ tenant: String, _ id: String, held: [String: Entity], for fact: String) throws(MemoryError) {
        guard held[MemoryRecords.key(tenant, id)] == nil else { return }
        guard try entity(tenant: tenant, id: id) != nil else {
            throw MemoryError(.notFound, "fact '\(fact)': no entity '\(id)' in tenant '\(tenant)'")
        }
    }

    /// The subject's facts of `predicate` not retracted.
    private func currentFacts(tenant: String, subject: String, predicate: String) throws(MemoryError) -> [Fact] {
        let found: [Record]
        do {
            found = try store.find(MemoryRecords.facts, filter: .and([
                .equals("tenant", .string(tenant)), .equals("subject", .string(subject)), .equals("predicate", .string(predicate)),
                .not(.exists("invalidated_at")),
            ]), limit: 100_000)
        } catch {
            throw .engine(error)
        }
        return try found.map { (r) throws(MemoryError) in try MemoryRecords.fact(r) }
    }
}
