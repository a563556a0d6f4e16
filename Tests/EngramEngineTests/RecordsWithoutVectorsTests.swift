import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import Testing

/// Collections of dimension 0: records of metadata and texts only (the
/// memory layer's agents and tasks), written, indexed, snapshotted,
/// replayed and searched by text and filters like any other.
@Suite("Store: collections of records without vectors")
struct RecordsWithoutVectorsTests {
    @Test("records without vectors: written alone or in a batch, searched by text with filters, deleted, snapshotted and replayed")
    func lifecycle() throws {
        let dir = TemporaryDirectory("engram-novec")
        defer { dir.remove() }
        let configuration = CollectionConfiguration(name: "tasks", dimension: 0, text: TextSettings(fields: ["title"]))
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(configuration)
            try store.createCollection(CollectionConfiguration(name: "notes", dimension: 4))
            for bad in [CollectionConfiguration(name: "x", dimension: 0, ivf: IVFSettings()),
                        CollectionConfiguration(name: "x", dimension: 0, storedPrecision: .float16),
                        CollectionConfiguration(name: "x", dimension: -1)] {
                #expect(throws: EngineError.self) { try store.createCollection(bad) }
            }
            try store.upsert("tasks", (0..<50).map { i in
                Record(id: "t\(i)", vector: [], metadata: ["agent": .string("a\(i % 3)"), "status": "pending"], text: ["title": "task \(i): deploy the cache"])
            })
            #expect(throws: EngineError.self) { try store.upsert("tasks", [Record(id: "bad", vector: [1, 2])]) }
            #expect(throws: EngineError.self) { try store.search("tasks", vector: [], k: 5) }
            #expect(throws: EngineError.self) { try store.search("tasks", HybridQuery(vector: [1], text: "cache", k: 5)) }
            var batch = WriteBatch()
            batch.upsert("tasks", [Record(id: "t7", vector: [], metadata: ["agent": "a1", "status": "running"], text: ["title": "rollback the deploy"])])
            batch.upsert("notes", [Record(id: "n1", vector: [1, 0, 0, 0], metadata: ["task": "t7"])])
            batch.delete("tasks", ids: ["t8"])
            try store.write(batch)
            try store.waitUntilIndexed()
            try store.snapshot()
            try store.upsert("tasks", [Record(id: "t50", vector: [], metadata: ["agent": "a2", "status": "pending"], text: ["title": "after the snapshot"])])
            try store.delete("tasks", ids: ["t9"])
            #expect(try store.count("tasks") == 49)
            try store.close(writingSnapshot: false)
        }
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        #expect(try store.count("tasks") == 49)
        #expect(try store.indexInfo("tasks").kind == "none")
        let t7 = try #require(try store.get("tasks", id: "t7"))
        #expect(t7.vector.isEmpty && t7.metadata["status"] == "running" && t7.text == ["title": "rollback the deploy"])
        #expect(try store.get("tasks", id: "t8") == nil && store.get("tasks", id: "t9") == nil)
        #expect(try store.search("tasks", HybridQuery(text: "rollback", k: 5)).map(\.id) == ["t7"])
        let a1 = try store.search("tasks", HybridQuery(text: "deploy", k: 100, filter: .equals("agent", "a1")))
        #expect(a1.count == (0..<50).filter { $0 % 3 == 1 }.count && a1.allSatisfy { $0.metadata["agent"] == "a1" })
        #expect(try store.search("tasks", HybridQuery(text: "snapshot", k: 5)).map(\.id) == ["t50"])
        #expect(try store.get("notes", id: "n1")?.metadata == ["task": "t7"])
    }
}
