import EngramMetadata
import EngramEngine
import EngramPostgres
import EngramTestSupport

/// A table name no other test run uses.
func uniqueTable(_ label: String) -> String {
    "engram_test_\(label)_\(UInt32.random(in: 0...UInt32.max))"
}

/// A schema of its own for one test, so tests running at once do not share
/// Engram's tables; dropped by `cleanup`.
struct IsolatedDatabase {
    let schema: String
    let configuration: PostgresConfiguration
    let pool: PostgresPool

    init(_ label: String) throws {
        schema = "engram_test_\(label)_\(UInt32.random(in: 0...UInt32.max))"
        let base = PostgresConfiguration.fromEnvironment().connectionString
        let option = "options=-csearch_path%3D\(schema)%2Cpublic&application_name=\(schema)"
        configuration = PostgresConfiguration(connectionString: base.isEmpty ? "postgresql:///postgres?\(option)" : base + (base.contains("?") ? "&" : "?") + option)
        let admin = try PostgresConnection()
        try admin.execute("CREATE SCHEMA \(try PostgresIdentifier(schema))")
        pool = try PostgresPool(configuration, options: .init(maxConnections: 2, acquireTimeoutSeconds: 20))
    }

    func cleanup() {
        _ = try? PostgresConnection().execute("DROP SCHEMA \(try PostgresIdentifier(schema)) CASCADE")
    }

    /// Every row of a collection's table: id → (vector, metadata JSON, LSN).
    func rows(_ name: String) throws -> [String: ([Float], MetadataValue, UInt64)] {
        try pool.withConnection { db in
            let registered = try PostgresCollectionReader.configuration(name, db)
            var out = [String: ([Float], MetadataValue, UInt64)]()
            try PostgresCollectionReader.rows(of: registered, db) { row in
                out[row.id] = (Array(row.vector), try MetadataJSON.parse(row.metadataJSON), row.lsn)
            }
            return out
        }
    }
}

func vectors(_ label: String, seed: UInt64, n: Int, d: Int) -> [[Float]] {
    var rng = SeededGenerator.forTest(label, defaultSeed: seed)
    return (0..<n).map { _ in (0..<d).map { _ in Float.random(in: -1...1, using: &rng) } }
}

