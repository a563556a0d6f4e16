import EngramEngine
import EngramPostgres
import EngramTestSupport
import Testing

/// The README's store + checkpoint example, compiled and run against the real server
/// (in a schema of its own).
@Test("the README's checkpoint example runs", .enabled(if: PostgresTestEnvironment.shouldRun))
func readmeCheckpointExample() throws {
    let dir = TemporaryDirectory("engram-readme")
    defer { dir.remove() }
    let schema = "engram_test_readme_\(UInt32.random(in: 0...UInt32.max))"
    let admin = try PostgresConnection()
    try admin.execute("CREATE SCHEMA \(try PostgresIdentifier(schema))")
    defer { _ = try? admin.execute("DROP SCHEMA \(try PostgresIdentifier(schema)) CASCADE") }
    let base = PostgresConfiguration.fromEnvironment().connectionString
    let url = base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)%2Cpublic"
    let v: [Float] = (0..<384).map { Float($0 % 7) + 1 }
    let q: [Float] = (0..<384).map { Float($0 % 7) + 1.1 }

    let store = try Store.open(directory: dir.path)                         // creates or recovers
    try store.createCollection(CollectionConfiguration(name: "memories", dimension: 384, metric: .cosine))
    try store.upsert("memories", [Record(id: "m1", vector: v, metadata: ["agent": "planner", "step": 3])])
    let hits = try store.search("memories", vector: q, k: 10, filter: .equals("agent", "planner"))
    #expect(hits.map(\.id) == ["m1"])

    let database = try PostgresCheckpointTarget(pool: PostgresPool(PostgresConfiguration(connectionString: url)))
    let report = try store.checkpoint(to: database)                          // or in the background:
    #expect(report.upserts == 1)
    let checkpointer = try store.startCheckpointing(to: database, schedule: .init(intervalSeconds: 60))
    try store.close()
    #expect(checkpointer.status.failures == 0)
    let rows = try admin.execute("SELECT count(*) FROM \(try PostgresIdentifier(schema)).\(try PostgresIdentifier(PostgresSchema.tableName(forCollection: "memories")))")
    #expect(rows.text(row: 0, column: 0) == "1")
}
