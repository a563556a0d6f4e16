import EngramMetadata
import EngramEngine
import EngramTestSupport
import Testing

@Test("the Docs/ENGINE.md example runs")
func engineDocExample() throws {
    let dir = TemporaryDirectory("engram-doc")
    defer { dir.remove() }
    let v: [Float] = (0..<384).map { Float($0 % 7) + 1 }
    let q: [Float] = (0..<384).map { Float($0 % 7) + 1.1 }
    var store: Store? = try Store.open(directory: dir.path)         // creates or recovers
    try runExample(store!, v, q)
    #expect(throws: EngineError.self) { try Store.open(directory: dir.path) }   // one open store per directory
    try store!.close()                                                // final snapshot, releases the directory
    store = nil
    let reopened = try Store.open(directory: dir.path)
    #expect(try reopened.count("memories") == 0)
    try reopened.close()
}

private func runExample(_ store: Store, _ v: [Float], _ q: [Float]) throws {
    try store.createCollection(CollectionConfiguration(name: "memories", dimension: 384, metric: .cosine))
    try store.upsert("memories", [Record(id: "m1", vector: v, metadata: ["agent": "planner", "step": 3])])
    let hits = try store.search("memories", vector: q, k: 10,
                                filter: try MetadataFilter.parse(json: #"{"agent": "planner", "step": {"$gte": 2}}"#))
    #expect(hits.map(\.id) == ["m1"])
    try store.delete("memories", ids: ["m1"])
    try store.snapshot()                                                      // bounds recovery time
}
