import EngramEngine
import EngramMetadata
@testable import EngramMemory
import EngramTestSupport
import Testing

@Suite("EngramMemory: forgetting and timelines")
struct ForgettingTests {
    @Test("forgetting an agent, sweeping expired memories and forgetting a tenant remove exactly theirs, durably")
    func forgetting() throws {
        let dir = TemporaryDirectory("engram-forget")
        defer { dir.remove() }
        let t0 = MemoryTests.t0
        do {
            let (store, memory) = try MemoryTests.open(dir)
            for tenant in ["t", "u"] {
                for agent in ["a", "b"] {
                    try memory.upsert(Agent(tenant: tenant, id: agent, name: agent))
                    try memory.create(AgentTask(tenant: tenant, id: "task-\(agent)", title: "work", agent: agent))
                    try memory.remember((0..<20).map { i in
                        Experience(tenant: tenant, id: "\(agent)\(i)", agent: agent, task: "task-\(agent)", kind: "observation",
                                   content: "\(agent) saw \(i)", embedding: MemoryTests.embedding(i),
                                   occurredAt: t0.adding(seconds: Double(20 - i)), expiresAt: i < 5 ? t0.adding(seconds: 100) : nil)
                    }, entities: [Entity(tenant: tenant, id: "x-\(agent)", type: "thing", name: "X \(agent)", embedding: MemoryTests.embedding(agent == "a" ? 100 : 101))],
                    facts: [])
                }
            }
            // The timeline is in occurred order; a task's is the same experiences here.
            let timeline = try memory.timeline(tenant: "t", agent: "a")
            #expect(timeline.map(\.id) == (0..<20).reversed().map { "a\($0)" })
            #expect(try memory.timeline(tenant: "t", task: "task-a", from: t0.adding(seconds: 5), to: t0.adding(seconds: 10)).map(\.id) == ["a15", "a14", "a13", "a12", "a11"])

            #expect(try memory.forgetAgent(tenant: "t", agent: "a") == 20 + 1 + 1)
            #expect(try memory.agent(tenant: "t", id: "a") == nil && memory.task(tenant: "t", id: "task-a") == nil)
            #expect(try memory.timeline(tenant: "t", agent: "a").isEmpty)
            #expect(try memory.timeline(tenant: "t", agent: "b").count == 20 && memory.entity(tenant: "t", id: "x-a") != nil)
            #expect(try memory.timeline(tenant: "u", agent: "a").count == 20)

            #expect(try memory.sweepExpired(now: t0.adding(seconds: 200)) == 5 * 3)
            #expect(try memory.timeline(tenant: "u", agent: "a").count == 15)
            try store.close(writingSnapshot: false)
        }
        let (store, memory) = try MemoryTests.open(dir, registering: false)
        defer { try? store.close() }
        #expect(try memory.agent(tenant: "t", id: "a") == nil && memory.timeline(tenant: "t", agent: "b").count == 15)
        let before = try store.count(MemoryRecords.experiences)
        #expect(try memory.forgetTenant("t") == 15 + 1 + 1 + 2)
        #expect(try store.count(MemoryRecords.experiences) == before - 15)
        #expect(try memory.recall(RecallQuery(tenant: "t", agent: "b", text: "saw", k: 10)).isEmpty)
        #expect(try memory.recall(RecallQuery(tenant: "u", agent: "b", text: "saw", k: 10, now: t0)).count == 10)
    }
}
