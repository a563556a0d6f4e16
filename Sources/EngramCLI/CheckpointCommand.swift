import ArgumentParser
import EngramEngine
import EngramMemoryPostgres
import EngramPostgres
import EngramTools


/// Seconds as people read them (two decimals).
func seconds(_ value: Double) -> String { format(value, 2) }

extension PostgresVectorType: ExpressibleByArgument {}

/// `engram checkpoint`: store every change since the database's last checkpoint in PostgreSQL.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint a data directory's collections into PostgreSQL + pgvector.",
        discussion: "The database comes from ENGRAM_DATABASE_URL or the standard PG* variables. Only records changed since the database's last checkpoint are sent; the log then drops what both the database and the local snapshot hold.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @OptionGroup var database: DatabaseOptions
    @Flag(name: .customLong("sql-index"), help: "Also build a pgvector HNSW index on each table, for SQL users.") var sqlIndex = false
    @Option(name: .customLong("vector-type"), help: "The column type of newly registered cosine collections: vector (float4) or halfvec (float2, half the storage). Collections created with --precision float16 are always halfvec; other collections vector.") var vectorType: PostgresVectorType = .vector
    @Flag(name: .customLong("with-graph"), help: "Also store each collection's graph, so `engram restore` loads it instead of rebuilding it.") var withGraph = false
    @OptionGroup var output: OutputOptions

    private struct Report: Encodable {
        var since_lsn, lsn: UInt64
        var upserts, deletes, rows_per_s: Int
        var capture_s, commit_s: Rounded
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path)
        // A store holding a memory also keeps its typed tables (Docs/MEMORY.md, "Typed tables").
        let projections: [any PostgresProjection] = store.collectionNames.contains("memory_experiences")
            ? [MemoryTables(dimension: try store.configuration("memory_experiences").dimension)] : []
        let target = try PostgresCheckpointTarget(pool: try database.pool(), createSQLIndex: sqlIndex, vectorType: vectorType, projections: projections)
        let report = try store.checkpoint(to: target, withGraphs: withGraph)
        try store.close()
        let total = report.captureSeconds + report.commitSeconds
        let rate = total > 0 ? Double(report.upserts) / total : 0
        if output.json {
            printAndFlush(JSONLine.encode(Report(
                since_lsn: report.since, lsn: report.lsn, upserts: report.upserts, deletes: report.deletes, rows_per_s: Int(rate),
                capture_s: Rounded(report.captureSeconds, 2), commit_s: Rounded(report.commitSeconds, 2))))
        } else {
            printAndFlush("checkpoint: LSN \(report.since) → \(report.lsn): \(report.upserts) upserts, \(report.deletes) deletes in \(seconds(total)) s (capture \(seconds(report.captureSeconds)) s, commit \(seconds(report.commitSeconds)) s, \(Int(rate)) rows/s)")
        }
    }
}
