import EngramEngine
import EngramMetadata
@testable import EngramMemory
import EngramTestSupport
import Testing

/// Entities (resolution on write), facts with valid time and record time,
/// single-valued predicates, graph queries, and one call writing an
/// experience with its entities and facts.
@Suite("EngramMemory: entities and bi-temporal facts")
struct KnowledgeTests {
    static let d = MemoryTests.d
    static let t0 = MemoryTests.t0
    static let year = 365 * 86_400.0

    static func at(_ years: Double) -> MemoryTime { t0.adding(seconds: years * year) }

    static func entity(_ id: String, _ name: String, type: String = "person", aliases: [String] = [], seed: Int) -> Entity {
        Entity(tenant: "t", id: id, type: type, name: name, aliases: aliases, summary: "\(name), a \(type)", embedding: MemoryTests.embedding(seed))
    }

    static func fact(_ id: String, _ subject: String, _ predicate: String, _ object: Fact.Object, from: Double, seed: Int = 99) -> Fact {
        Fact(tenant: "t", id: id, subject: subject, predicate: predicate, object: object, text: "\(subject) \(predicate) \(object)",
             embedding: MemoryTests.embedding(seed), validFrom: at(from))
    }

    @Test("entities resolve by id, by name or alias (case-folded), by close embedding, never across types or tenants")
    func resolution() throws {
        let dir = TemporaryDirectory("engram-knowledge")
        defer { dir.remove() }
        let (store, memory) = try MemoryTests.open(dir)
        defer { try? store.close() }
        var report = try memory.remember([], entities: [Self.entity("alice", "Alice Smith", aliases: ["Ali"], seed: 1)], facts: [], at: Self.at(0))
        #expect(report.entities == ["alice": "alice"])
        // By alias, case-folded: the new id maps to the stored entity, which gains the new name as an alias.
        report = try memory.remember([], entities: [Self.entity("a-smith", "ALI", seed: 2)], facts: [], at: Self.at(0))
        #expect(report.entities == ["a-smith": "alice"])
        // By embedding: a near-identical vector, another name.
        var near = Self.entity("as", "A. S.", seed: 1)
        near.embedding = near.embedding.map { $0 * 1.001 }
        report = try memory.remember([], entities: [near], facts: [], at: Self.at(0))
        #expect(report.entities == ["as": "alice"])
        let alice = try #require(try memory.entity(tenant: "t", id: "alice"))
        #expect(alice.aliases == ["Ali", "A. S."])
        // Another type, or another tenant, is another entity even with the same name.
        report = try memory.remember([], entities: [Self.entity("alice-svc", "Alice Smith", type: "service", seed: 1)], facts: [], at: Self.at(0))
        #expect(report.entities == ["alice-svc": "alice-svc"])
        var other = Self.entity("alice", "Alice Smith", seed: 1)
        other.tenant = "t2"
        report = try memory.remember([], entities: [other], facts: [], at: Self.at(0))
        #expect(report.entities == ["alice": "alice"])
        #expect(try memory.entity(tenant: "t2", id: "alice")?.aliases == [])
        // A distant embedding and no shared name: a new entity.
        report = try memory.remember([], entities: [Self.entity("bob", "Bob", seed: 3)], facts: [], at: Self.at(0))
        #expect(report.entities == ["bob": "bob"])
    }

    @Test("a single-valued predicate closes the old value instead of deleting it; as-of and known-at see each moment as it was")
    func biTemporal() throws {
        let dir = TemporaryDirectory("engram-knowledge")
        defer { dir.remove() }
        let (store, memory) = try MemoryTests.open(dir)
        defer { try? store.close() }
        try memory.declareSingleValued(tenant: "t", predicate: "works_at")
        try memory.remember([], entities: [Self.entity("alice", "Alice", seed: 1), Self.entity("acme", "Acme", type: "company", seed: 2),
                                          Self.entity("initech", "Initech", type: "company", seed: 3)],
                            facts: [Self.fact("f1", "alice", "works_at", .entity("acme"), from: 0),
                                    Self.fact("f2", "alice", "likes", .value("tea"), from: 0)], at: Self.at(0.1))
        // Learned at year 3.5: she moved to Initech at year 3.
        let report = try memory.remember([], entities: [], facts: [Self.fact("f3", "alice", "works_at", .entity("initech"), from: 3)], at: Self.at(3.5))
        #expect(report.closed == ["f1"])
        func employer(asOf: Double, knownAt: Double) throws -> [String] {
            try memory.facts(tenant: "t", entity: "alice", asOf: Self.at(asOf), knownAt: Self.at(knownAt), predicates: ["works_at"]).map(\.id)
        }
        #expect(try employer(asOf: 1, knownAt: 4) == ["f1"])
        #expect(try employer(asOf: 3.2, knownAt: 4) == ["f3"])
        #expect(try employer(asOf: 3.2, knownAt: 3.4) == ["f1"])  // before memory learned of the move, she still worked at Acme
        #expect(try employer(asOf: 0.5, knownAt: 0.05).isEmpty)  // before anything was recorded
        let versions = try memory.versions(tenant: "t", id: "f1")
        #expect(versions.count == 2 && versions[0].invalidatedAt == Self.at(3.5) && versions[1].validTo == Self.at(3) && versions[1].invalidatedAt == nil)
        // An older value learned late ends where the known later one starts.
        try memory.remember([], entities: [Self.entity("globex", "Globex", type: "company", seed: 4)],
                            facts: [Self.fact("f0", "alice", "works_at", .entity("globex"), from: -2)], at: Self.at(4))
        #expect(try memory.fact(tenant: "t", id: "f0")?.validTo == Self.at(0))
        #expect(try employer(asOf: -1, knownAt: 5) == ["f0"])
        // Retraction: known until then, not after.
        try memory.retract(tenant: "t", fact: "f2", at: Self.at(5))
        #expect(try memory.facts(tenant: "t", entity: "alice", asOf: Self.at(5), knownAt: Self.at(4.9), predicates: ["likes"]).map(\.id) == ["f2"])
        #expect(try memory.facts(tenant: "t", entity: "alice", asOf: Self.at(5), knownAt: Self.at(5.1), predicates: ["likes"]).isEmpty)
        #expect(throws: MemoryError.self) { try memory.retract(tenant: "t", fact: "f2") }
        // A fact id is never reused, and a fact needs its entities.
        #expect(throws: MemoryError.self) { try memory.remember([], entities: [], facts: [Self.fact("f3", "alice", "likes", .value("coffee"), from: 4)]) }
        #expect(throws: MemoryError.self) { try memory.remember([], entities: [], facts: [Self.fact("f9", "nobody", "likes", .value("coffee"), from: 4)]) }
    }

    @Test("neighbours to a depth and the path between entities follow facts true at the time asked")
    func graph() throws {
        let dir = TemporaryDirectory("engram-knowledge")
        defer { dir.remove() }
        let (store, memory) = try MemoryTests.open(dir)
        defer { try? store.close() }
        // A chain a - b - c - d, and a - e only until year 1.
        let names = ["a", "b", "c", "d", "e"]
        var facts = [Self.fact("ab", "a", "knows", .entity("b"), from: 0), Self.fact("bc", "b", "knows", .entity("c"), from: 0),
                     Self.fact("cd", "c", "reports_to", .entity("d"), from: 0)]
        var ae = Self.fact("ae", "a", "knows", .entity("e"), from: 0)
        ae.validTo = Self.at(1)
        facts.append(ae)
        try memory.remember([], entities: names.enumerated().map { Self.entity($1, "Person \($1.uppercased())", seed: 10 + $0) }, facts: facts, at: Self.at(0))
        let now = Self.at(2)
        #expect(try memory.neighbours(tenant: "t", entity: "a", depth: 2, now: now) == ["b": 1, "c": 2])
        #expect(try memory.neighbours(tenant: "t", entity: "a", depth: 1, asOf: Self.at(0.5), now: now) == ["b": 1, "e": 1])
        #expect(try memory.neighbours(tenant: "t", entity: "a", depth: 3, predicates: ["knows"], now: now) == ["b": 1, "c": 2])
        #expect(try memory.path(tenant: "t", from: "a", to: "d", now: now)?.map(\.id) == ["ab", "bc", "cd"])
        #expect(try memory.path(tenant: "t", from: "a", to: "e", now: now) == nil)
        #expect(try memory.path(tenant: "t", from: "d", to: "a", asOf: Self.at(0.5), now: now)?.count == 3)
    }

    @Test("graph walks agree with a breadth-first search over the facts as read in full, at random times, through closes and retractions")
    func graphAgreesWithFacts() throws {
        var rng = SeededGenerator.forTest("memory.graph", defaultSeed: 808)
        let dir = TemporaryDirectory("engram-knowledge")
        defer { dir.remove() }
        let (store, memory) = try MemoryTests.open(dir)
        defer { try? store.close() }
        try memory.declareSingleValued(tenant: "t", predicate: "reports_to")
        let nodes = (0..<25).map { "n\($0)" }
        try memory.remember([], entities: nodes.enumerated().map { Self.entity($1, "Node \($1)", seed: 100 + $0) }, facts: [], at: Self.at(0))
        let predicates = ["knows", "reports_to", "likes"]
        var ids = [String]()
        for round in 0..<6 {
            // Facts between random nodes (and a few literal ones), valid from random years, some ending; then some retracted.
            var facts = [Fact]()
            for i in 0..<15 {
                let subject = nodes.randomElement(using: &rng)!
                let predicate = predicates.randomElement(using: &rng)!
                let object: Fact.Object = predicate == "likes" ? .value("tea") : .entity(nodes.filter { $0 != subject }.randomElement(using: &rng)!)
                // A single-valued predicate's values of one subject must start at distinct times.
                let from = Double(Int.random(in: 0...8, using: &rng)) + Double(round * 15 + i) / 1_000
                var fact = Self.fact("r\(round)f\(i)", subject, predicate, object, from: from)
                if Bool.random(using: &rng) { fact.validTo = fact.validFrom.adding(seconds: Double(Int.random(in: 1...4, using: &rng)) * Self.year) }
                facts.append(fact)
            }
            // Single-valued facts of one subject in one call would close each other: one per subject per call.
            var bossOf = Set<String>()
            facts = facts.filter { $0.predicate != "reports_to" || bossOf.insert($0.subject).inserted }
            try memory.remember([], entities: [], facts: facts, at: Self.at(Double(round) + 0.5))
            ids += facts.map(\.id)
            for id in ids.shuffled(using: &rng).prefix(2) { try? memory.retract(tenant: "t", fact: id, at: Self.at(Double(round) + 0.7)) }
        }
        /// Breadth-first search over `facts(...)`: the reference, reading every fact in full.
        func reference(_ from: String, depth: Int, predicates: [String]?, asOf: MemoryTime, knownAt: MemoryTime) throws -> [String: Int] {
            var reached = [from: 0], frontier = [from]
            for hop in 1...depth {
                var next = [String]()
                for node in frontier {
                    for fact in try memory.facts(tenant: "t", entity: node, asOf: asOf, knownAt: knownAt, predicates: predicates, now: Self.at(20)) {
                        guard case .entity(let object) = fact.object else { continue }
                        let other = fact.subject == node ? object : fact.subject
                        if reached[other] == nil { reached[other] = hop; next.append(other) }
                    }
                }
                frontier = next
            }
            reached[from] = nil
            return reached
        }
        for _ in 0..<60 {
            let from = nodes.randomElement(using: &rng)!, to = nodes.randomElement(using: &rng)!
            let asOf = Self.at(Double.random(in: 0...12, using: &rng)), knownAt = Self.at(Double.random(in: 0...7, using: &rng))
            let depth = Int.random(in: 1...3, using: &rng)
            let only: [String]? = Bool.random(using: &rng) ? nil : ["knows"]
            let expected = try reference(from, depth: depth, predicates: only, asOf: asOf, knownAt: knownAt)
            #expect(try memory.neighbours(tenant: "t", entity: from, depth: depth, predicates: only, asOf: asOf, knownAt: knownAt, now: Self.at(20))
                    == expected, "from \(from), depth \(depth), \(only ?? [])")
            // The path: as long as the breadth-first distance, each fact holding then, linking the two ends.
            let distances = try reference(from, depth: 6, predicates: nil, asOf: asOf, knownAt: knownAt)
            let chain = try memory.path(tenant: "t", from: from, to: to, asOf: asOf, knownAt: knownAt, now: Self.at(20))
            if from == to {
                #expect(chain == [])
            } else {
                #expect(chain?.count == distances[to], "path \(from) → \(to)")
                var at = from
                for fact in chain ?? [] {
                    #expect(fact.isValid(at: asOf) && fact.isKnown(at: knownAt))
                    guard case .entity(let object) = fact.object else { Issue.record("a literal fact in a path"); break }
                    #expect(fact.subject == at || object == at, "path \(from) → \(to) is linked")
                    at = fact.subject == at ? object : fact.subject
                }
                if chain != nil { #expect(at == to) }
            }
        }
    }

    @Test("one call writes an experience with its entities and facts, or nothing when any part is bad")
    func atomicCall() throws {
        let dir = TemporaryDirectory("engram-knowledge")
        defer { dir.remove() }
        let (store, memory) = try MemoryTests.open(dir)
        defer { try? store.close() }
        let experience = Experience(tenant: "t", id: "e1", agent: "a", kind: "message", content: "Alice said the deploy broke",
                                    embedding: MemoryTests.embedding(50), occurredAt: Self.at(1))
        let lsn = store.lastLSN
        #expect(throws: MemoryError.self) {
            try memory.remember([experience], entities: [Self.entity("alice", "Alice", seed: 1)],
                                facts: [Self.fact("f1", "alice", "reported", .entity("deploy"), from: 1)])  // no entity "deploy"
        }
        #expect(store.lastLSN == lsn)
        #expect(try memory.experience(tenant: "t", id: "e1") == nil && memory.entity(tenant: "t", id: "alice") == nil)
        var fact = Self.fact("f1", "alice", "reported", .value("deploy broke"), from: 1)
        fact.sources = ["e1"]
        let report = try memory.remember([experience], entities: [Self.entity("alice", "Alice", seed: 1)], facts: [fact])
        #expect(store.lastLSN == lsn + 1)  // one log record
        #expect(report.experiences == [.stored(id: "e1")] && report.facts == ["f1"])
        #expect(try memory.fact(tenant: "t", id: "f1")?.sources == ["e1"])
    }
}
