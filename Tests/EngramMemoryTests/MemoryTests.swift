import EngramEngine
import EngramMetadata
@testable import EngramMemory
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The memory layer over a real store: scope, deduplication, tasks, time
/// windows, ranking, and everything still there after a reopen.
@Suite("EngramMemory: agents, tasks, experiences, recall")
struct MemoryTests {
    static let d = 16

    /// A unit-ish embedding that depends on `seed` only.
    static func embedding(_ seed: Int) -> [Float] {
        var rng = SeededGenerator(seed: UInt64(seed) &+ 0x9E37)
        return (0..<d).map { _ in rng.gaussian() }
    }

    /// A store and its memory, with agents `a` and `b` of tenant `t` registered (an experience needs its agent).
    static func open(_ dir: TemporaryDirectory, registering: Bool = true) throws -> (Store, Memory) {
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        let memory = try Memory.open(store, dimension: d)
        for agent in ["a", "b"] where try registering && memory.agent(tenant: "t", id: agent) == nil {
            try memory.upsert(Agent(tenant: "t", id: agent, name: agent.uppercased(), groups: ["g", "team"]), at: t0)
        }
        return (store, memory)
    }

    static let t0 = ISO8601.parse("2026-01-01T00:00:00Z")!

    @Test("no recall ever returns another tenant's or another agent's private experience, and each returns min(k, visible)")
    func scopeIsolation() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        var rng = SeededGenerator.forTest("memory.scope", defaultSeed: 1801)
        // Tenants share agent ids and group names: only the exact tenant key keeps them apart.
        let tenants = ["acme", "acme2", "ac", "me"]
        let agents = ["a", "b", "c"]
        for tenant in tenants {
            for agent in agents {
                try memory.upsert(Agent(tenant: tenant, id: agent, name: agent.uppercased(), groups: agent == "c" ? [] : ["team"]))
            }
        }
        var all = [Experience]()
        for i in 0..<600 {
            let tenant = tenants[Int.random(in: 0..<tenants.count, using: &rng)]
            let agent = agents[Int.random(in: 0..<agents.count, using: &rng)]
            let shared = Bool.random(using: &rng)
            all.append(Experience(tenant: tenant, id: "e\(i)", agent: agent, visibility: shared ? .group("team") : .agent, kind: "observation",
                                  content: "note \(i) about the deploy and the cache", embedding: Self.embedding(i),
                                  occurredAt: Self.t0.adding(seconds: Double(i))))
        }
        for chunk in stride(from: 0, to: all.count, by: 50) { try memory.remember(Array(all[chunk..<min(chunk + 50, all.count)])) }
        for q in 0..<120 {
            let tenant = tenants[q % tenants.count], agent = agents[(q / 4) % agents.count]
            let groups = agent == "c" ? [String]() : ["team"]
            let visible = all.filter { e in
                e.tenant == tenant && (e.agent == agent || (e.visibility == .group("team") && groups.contains("team")))
            }
            let k = [1, 10, 50, 400][q % 4]
            let query = q % 3 == 0
                ? RecallQuery(tenant: tenant, agent: agent, text: "deploy cache", k: k)
                : RecallQuery(tenant: tenant, agent: agent, vector: Self.embedding(q * 7), k: k)
            let hits = try memory.recall(query)
            #expect(hits.count == min(k, visible.count), "query \(q): \(hits.count) hits, \(visible.count) visible, k \(k)")
            let visibleIDs = Set(visible.map(\.id))
            for hit in hits {
                #expect(hit.experience.tenant == tenant && visibleIDs.contains(hit.experience.id), "query \(q): \(hit.experience.tenant)/\(hit.experience.id)")
            }
        }
    }

    @Test("the same content in the same scope is remembered once, in one call or across calls; another scope stores it again")
    func deduplication() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        func e(_ id: String, agent: String = "a", visibility: Visibility = .agent, content: String = "the disk is full") -> Experience {
            Experience(tenant: "t", id: id, agent: agent, visibility: visibility, kind: "observation", content: content,
                       embedding: Self.embedding(id.hashValue & 0xFFFF), occurredAt: Self.t0)
        }
        #expect(try memory.remember([e("1"), e("2"), e("3", content: "the disk is fine")]) == [.stored(id: "1"), .duplicate(of: "1"), .stored(id: "3")])
        #expect(try memory.remember([e("4")]) == [.duplicate(of: "1")])
        #expect(try memory.remember([e("5", agent: "b"), e("6", visibility: .group("team"))]) == [.stored(id: "5"), .stored(id: "6")])
        #expect(try memory.experience(tenant: "t", id: "2") == nil)
        #expect(try store.count(MemoryRecords.experiences) == 4)
        // An id reused for other content is a conflict, not an overwrite; bad input is refused whole.
        #expect(throws: MemoryError.self) { try memory.remember([e("1", content: "something else")]) }
        #expect(throws: MemoryError.self) { try memory.remember([e("7", content: "fine"), e("8", content: "")]) }
        #expect(try memory.experience(tenant: "t", id: "7") == nil)
    }

    @Test("tasks move only along the status graph, need their agent and parent, and keep their times and result")
    func tasks() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        try memory.upsert(Agent(tenant: "t", id: "planner", name: "Planner"), at: Self.t0)
        #expect(throws: MemoryError.self) { try memory.create(AgentTask(tenant: "t", id: "x", title: "no such agent", agent: "ghost")) }
        #expect(throws: MemoryError.self) { try memory.create(AgentTask(tenant: "other", id: "x", title: "agent of another tenant", agent: "planner")) }
        try memory.create(AgentTask(tenant: "t", id: "parent", title: "ship it", agent: "planner"), at: Self.t0)
        try memory.create(AgentTask(tenant: "t", id: "child", title: "run the tests", agent: "planner", parent: "parent"), at: Self.t0)
        #expect(throws: MemoryError.self) { try memory.create(AgentTask(tenant: "t", id: "child", title: "again")) }
        #expect(throws: MemoryError.self) { try memory.transition(tenant: "t", task: "child", to: .succeeded) }  // not running yet
        try memory.transition(tenant: "t", task: "child", to: .running, at: Self.t0.adding(seconds: 5))
        let done = try memory.transition(tenant: "t", task: "child", to: .succeeded, result: ["passed": 412], at: Self.t0.adding(seconds: 65))
        #expect(done.status == .succeeded && done.startedAt == Self.t0.adding(seconds: 5) && done.finishedAt == Self.t0.adding(seconds: 65))
        #expect(throws: MemoryError.self) { try memory.transition(tenant: "t", task: "child", to: .running) }  // final
        #expect(try memory.task(tenant: "t", id: "child") == done)
        #expect(try memory.task(tenant: "t", id: "child")?.result == ["passed": 412])
        for from in TaskStatus.allCases {
            for to in TaskStatus.allCases {
                let expected = [(TaskStatus.pending, TaskStatus.running), (.pending, .cancelled), (.running, .succeeded), (.running, .failed), (.running, .cancelled)]
                    .contains { $0 == (from, to) }
                #expect(from.allows(to) == expected, "\(from) -> \(to)")
            }
        }
    }

    @Test("time windows are half-open, as-of and known-at travel in time, expired memories are hidden at once")
    func timeFilters() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        let day = 86_400.0
        // Experience i happened on day i and was recorded on day i + 1; e3 expires on day 20.
        for i in 0..<10 {
            try memory.remember([Experience(tenant: "t", id: "e\(i)", agent: "a", kind: i % 2 == 0 ? "action" : "observation",
                                            content: "memory number \(i)", embedding: Self.embedding(i),
                                            occurredAt: Self.t0.adding(seconds: Double(i) * day),
                                            expiresAt: i == 3 ? Self.t0.adding(seconds: 20 * day) : nil)],
                                at: Self.t0.adding(seconds: Double(i + 1) * day))
        }
        func ids(_ q: RecallQuery) throws -> Set<String> { Set(try memory.recall(q).map(\.experience.id)) }
        let now = Self.t0.adding(seconds: 15 * day)
        let base = RecallQuery(tenant: "t", agent: "a", text: "memory", k: 100, now: now)
        var q = base
        q.from = Self.t0.adding(seconds: 2 * day)
        q.to = Self.t0.adding(seconds: 5 * day)
        #expect(try ids(q) == ["e2", "e3", "e4"])
        q = base
        q.asOf = Self.t0.adding(seconds: 4 * day)
        #expect(try ids(q) == ["e0", "e1", "e2", "e3", "e4"])
        q = base
        q.knownAt = Self.t0.adding(seconds: 4 * day)  // recorded on day i + 1 ≤ 4
        #expect(try ids(q) == ["e0", "e1", "e2", "e3"])
        q = base
        q.kinds = ["action"]
        #expect(try ids(q) == ["e0", "e2", "e4", "e6", "e8"])
        q = base
        q.now = Self.t0.adding(seconds: 21 * day)
        #expect(try ids(q).count == 9 && !ids(q).contains("e3"))
        #expect(throws: MemoryError.self) { try memory.recall(RecallQuery(tenant: "t", agent: "a", k: 5)) }
        #expect(throws: MemoryError.self) { try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: [1, 2], k: 5)) }
        #expect(throws: MemoryError.self) { try memory.recall(RecallQuery(tenant: "t", agent: "a", text: "x", halfLife: 0)) }
    }

    @Test("without a half-life or an importance weight hits rank by similarity; with them the explanation adds up")
    func ranking() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        let day = 86_400.0
        for i in 0..<40 {
            try memory.remember([Experience(tenant: "t", id: "e\(i)", agent: "a", kind: "observation", content: "event \(i)",
                                            embedding: Self.embedding(i), importance: Double(i % 10) / 10,
                                            occurredAt: Self.t0.adding(seconds: Double(i) * day))])
        }
        let now = Self.t0.adding(seconds: 50 * day)
        let query = Self.embedding(7)
        let plain = try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: query, k: 10, now: now))
        #expect(plain.first?.experience.id == "e7" && plain.first?.explanation.relevance == 1)
        #expect(zip(plain, plain.dropFirst()).allSatisfy { $0.explanation.vectorDistance ?? 0 <= $1.explanation.vectorDistance ?? 0 })
        let weighted = try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: query, halfLife: 10 * day, importanceWeight: 0.5, k: 10, now: now))
        #expect(zip(weighted, weighted.dropFirst()).allSatisfy { $0.score >= $1.score })
        for hit in weighted {
            let e = hit.explanation
            let decay = try #require(e.decay)
            #expect(abs(decay - pow(0.5, e.ageSeconds / (10 * day))) < 1e-12)
            #expect(abs(hit.score - (e.relevance * decay + 0.5 * e.importance)) < 1e-12)
        }
    }

    @Test("MMR: lambda 1 keeps the ranking; a small lambda skips near-copies of earlier hits and explains why")
    func diversification() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        // Three near-copies of one memory, and other memories less similar to the query.
        let base = Self.embedding(1)
        var experiences = (0..<3).map { i in
            Experience(tenant: "t", id: "copy\(i)", agent: "a", kind: "observation", content: "copy \(i)",
                       embedding: base.enumerated().map { $0.element + ($0.offset == i ? 0.01 : 0) }, occurredAt: Self.t0)
        }
        experiences += (0..<6).map { i in
            Experience(tenant: "t", id: "other\(i)", agent: "a", kind: "observation", content: "other \(i)",
                       embedding: zip(base, Self.embedding(100 + i)).map { 0.6 * $0 + $1 }, occurredAt: Self.t0)
        }
        try memory.remember(experiences)
        let plain = try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: base, k: 4, now: Self.t0))
        #expect(plain.prefix(3).allSatisfy { $0.experience.id.hasPrefix("copy") })
        let same = try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: base, mmr: 1, k: 4, now: Self.t0))
        #expect(same.map(\.experience.id) == plain.map(\.experience.id))
        let diverse = try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: base, mmr: 0.3, k: 4, now: Self.t0))
        #expect(diverse.first?.experience.id.hasPrefix("copy") == true && diverse.filter { $0.experience.id.hasPrefix("copy") }.count == 1)
        #expect(diverse.first?.explanation.mmrMaxSimilarity == 0 && diverse.dropFirst().allSatisfy { $0.explanation.mmrScore != nil })
        #expect(throws: MemoryError.self) { try memory.recall(RecallQuery(tenant: "t", agent: "a", vector: base, mmr: 1.5, k: 4)) }
    }

    @Test("agents, tasks and experiences are still there after the store reopens (replayed or from a snapshot)")
    func durable() throws {
        let dir = TemporaryDirectory("engram-memory")
        defer { dir.remove() }
        do {
            let (store, memory) = try Self.open(dir)
            try memory.upsert(Agent(tenant: "t", id: "a", name: "A", configuration: ["model": "m1"], groups: ["g"]), at: Self.t0)
            try memory.create(AgentTask(tenant: "t", id: "k", title: "task", agent: "a"), at: Self.t0)
            try memory.remember([Experience(tenant: "t", id: "e", agent: "a", visibility: .group("g"), task: "k", kind: "result",
                                            content: "it worked", embedding: Self.embedding(1), occurredAt: Self.t0)], at: Self.t0)
            try memory.upsert(Agent(tenant: "t", id: "a", name: "A2", groups: ["g"]), at: Self.t0.adding(seconds: 9))
            try store.close(writingSnapshot: false)
        }
        let (store, memory) = try Self.open(dir)
        defer { try? store.close() }
        let agent = try #require(try memory.agent(tenant: "t", id: "a"))
        #expect(agent.name == "A2" && agent.createdAt == Self.t0 && agent.updatedAt == Self.t0.adding(seconds: 9))
        #expect(try memory.task(tenant: "t", id: "k")?.status == .pending)
        let e = try #require(try memory.experience(tenant: "t", id: "e"))
        #expect(e.visibility == .group("g") && e.task == "k" && e.content == "it worked" && e.recordedAt == Self.t0)
        #expect(try memory.forgetExperience(tenant: "t", id: "e"))
        #expect(try memory.recall(RecallQuery(tenant: "t", agent: "a", text: "worked", k: 5)).isEmpty)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A real child writing memories through the API, killed with SIGKILL.
@Suite("EngramMemory: killed writer")
struct MemoryKillTests {
    @Test("SIGKILL while remembering experiences with entities and facts: nothing acknowledged lost, no call half applied, one current value per entity")
    func killedMemoryWriter() throws {
        let dir = TemporaryDirectory("engram-memory-kill")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("memory.kill", defaultSeed: 181)
        let trials = getenv("ENGRAM_KILL_TRIALS").flatMap { Int(String(cString: $0)) } ?? 20
        let writerPath = ChildProcess.sibling("EngramCrashWriter")
        var acknowledged = Set<Int>()
        var next = 0
        var lost = 0, halfApplied = 0, doubleValued = 0
        for trial in 0..<trials {
            guard let child = ChildProcess(writerPath, ["--memory", "--data-dir", dir.path, "--start", "\(next)",
                                                        "--snapshot-every", "\(Int.random(in: 10...80, using: &rng))"]) else {
                Issue.record("cannot start \(writerPath)")
                return
            }
            let lines = child.readLines(for: Int.random(in: 20...150, using: &rng))
            child.kill()
            for line in lines where line.hasPrefix("ack ") { if let i = Int(line.dropFirst(4)) { acknowledged.insert(i) } }
            let store = try Store.open(directory: dir.path)
            guard store.collectionNames.contains("memory_facts") else {
                #expect(acknowledged.isEmpty, "trial \(trial): memory missing after acknowledged calls")
                try store.close(writingSnapshot: false)
                continue
            }
            let memory = try Memory.open(store, dimension: 8)
            var highest = next - 1
            for i in 0..<(next + 400) {
                let hasExperience = try memory.experience(tenant: "t", id: "e\(i)") != nil
                let hasFact = try !memory.versions(tenant: "t", id: "f\(i)").isEmpty
                if hasExperience != hasFact { halfApplied += 1 }
                if hasExperience { highest = max(highest, i) }
                if acknowledged.contains(i) && !(hasExperience && hasFact) { lost += 1 }
            }
            for p in 0..<20 {
                let current = try memory.facts(tenant: "t", entity: "p\(p)", asOf: MemoryTime(seconds: 1e9), predicates: ["state"])
                if current.count > 1 { doubleValued += 1 }
            }
            next = highest + 1
            try store.close(writingSnapshot: Bool.random(using: &rng))
        }
        print("[kill] memory: \(trials) trials, \(acknowledged.count) acknowledged calls; lost \(lost), half-applied \(halfApplied), entities with two current values \(doubleValued)")
        #expect(acknowledged.count > 0)
        #expect(lost == 0)
        #expect(halfApplied == 0)
        #expect(doubleValued == 0)
    }
}
