import ArgumentParser
import EngramEngine
import EngramPostgres
import EngramTools


/// `engram verify`: compare the engine with PostgreSQL, id by id.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare a data directory with its PostgreSQL database: counts, ids, versions, and vectors and metadata.",
        discussion: """
            Opens the data directory read-only and reads the database in one consistent view as of its last checkpoint. \
            Records written or deleted after that checkpoint are reported as pending, not as differences. \
            Exits with status 1 if anything differs (missing, phantom or stale rows, another vector or metadata, \
            a database owned by another store or ahead of it), 0 otherwise.
            """)

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("sample-every"), help: "Compare the vector and metadata of one id in N (by a hash of the id; 1: every row).") var sampleEvery: Int = 1
    @OptionGroup var output: OutputOptions

    private struct CollectionLine: Encodable {
        var name: String
        var engine_records, table_rows, pending_upserts, pending_deletes, vectors_compared: Int
    }
    private struct Verified: Encodable {
        var consistent: Bool
        var database_lsn, store_lsn: UInt64
        var differences: Int
        var collections: [CollectionLine]
        /// The first differences, described.
        var listed: [String]
    }

    func validate() throws {
        guard sampleEvery >= 1 else { throw ValidationError("--sample-every must be at least 1") }
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path, options: .readOnly)
        defer { try? store.close() }
        let report = try PostgresVerify.compare(store: store, pool: try database.pool(), sampleEvery: sampleEvery)
        if output.json {
            let collections = report.collections.map {
                CollectionLine(name: $0.name, engine_records: $0.engineRecords, table_rows: $0.tableRows, pending_upserts: $0.pendingUpserts,
                               pending_deletes: $0.pendingDeletes, vectors_compared: $0.vectorsCompared)
            }
            printAndFlush(JSONLine.encode(Verified(
                consistent: report.isConsistent, database_lsn: report.databaseLSN, store_lsn: report.storeLSN,
                differences: report.differenceCount, collections: collections, listed: report.differences.map(\.description))))
        } else {
            for c in report.collections {
                printAndFlush("\(c.name): engine \(c.engineRecords) records, table \(c.tableRows) rows, pending \(c.pendingUpserts) upserts and \(c.pendingDeletes) deletes, \(c.vectorsCompared) vectors compared")
            }
            for d in report.differences { printAndFlush("difference: \(d)") }
            printAndFlush(report.isConsistent
                ? "consistent: the database (checkpoint LSN \(report.databaseLSN)) holds what the store (LSN \(report.storeLSN)) held then"
                : "NOT consistent: \(report.differenceCount) differences (database checkpoint LSN \(report.databaseLSN), store LSN \(report.storeLSN))")
        }
        if !report.isConsistent { throw ExitCode(1) }
    }
}
