import ArgumentParser
import EngramEngine
import EngramPostgres
import EngramSync
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

/// `engram restore`: rebuild a collection from PostgreSQL into a data directory.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Rebuild a collection's index from PostgreSQL into a data directory.",
        discussion: "Streams the collection's rows with binary COPY, rebuilds its HNSW graph on every core and writes a local snapshot. --verify then compares searches against exact ORDER BY embedding <op> $1 LIMIT k in PostgreSQL and prints recall@k.")

    @Option var collection: String
    @OptionGroup var dataDirectory: DataDirectoryOptions
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Check recall@k against exact search in PostgreSQL.") var verify = false
    @Option(help: "Queries for --verify.") var queries: Int = 100
    @Option var k: Int = 10
    @Option(help: "Seed of the --verify sample and its noise.") var seed: UInt64 = 7
    @Option(name: .customLong("build-threads"), help: "Threads building the graph (default: every core).") var buildThreads: Int?
    @OptionGroup var output: OutputOptions
    @OptionGroup var vectorMemory: VectorMemoryOptions

    private struct Restored: Encodable {
        var collection: String
        var records: Int
        var checkpoint_lsn: UInt64
        var seconds: Rounded
        var graph_snapshot: Bool
        var graph_snapshot_fallback: String?
        /// With --verify.
        var recall_at_k: Rounded?
        var k: Int?
        var queries: Int?
        var seed: UInt64?
    }

    var dataDir: String { dataDirectory.path }

    func validate() throws {
        guard queries >= 1, k >= 1, k <= 1000 else { throw ValidationError("--queries must be ≥ 1 and --k between 1 and 1000") }
    }

    func run() throws {
        let pool = try database.pool()
        let threads = buildThreads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let (store, rebuilt) = try openOrRebuild(pool: pool, threads: threads)
        if let rebuilt {
            try finish(store: store, pool: pool, report: rebuilt)
            return
        }
        let report = try PostgresRestore.restore(collection, into: store, pool: pool, threads: threads) { phase, done in
            printToStandardError("restore \(collection): \(done) \(phase.hasPrefix("bytes") ? "" : "records ")\(phase)")
        }
        try finish(store: store, pool: pool, report: report)
    }

    /// The data directory's store; when it no longer opens (a damaged snapshot), rebuilt: every
    /// collection from the database's last checkpoint, then the directory's own log above it, with
    /// what that did.
    private func openOrRebuild(pool: PostgresPool, threads: Int) throws -> (Store, PostgresRestore.Report?) {
        let why: String
        do {
            return (try Store.open(directory: dataDir, options: vectorMemory.applied(to: StoreOptions())), nil)
        } catch {
            guard error.code == .corrupt else { throw error }
            why = error.message
        }
        printToStandardError("restore: \(dataDir) does not open (\(why)); rebuilding it from the database's last checkpoint and replaying its log")
        let start = MonotonicClock.seconds()
        let rebuilt = try Store.open(
            directory: dataDir, options: vectorMemory.applied(to: StoreOptions()), rebuildingFrom: PostgresCheckpointSource(pool: pool), threads: threads)
        guard rebuilt.collectionNames.contains(collection) else {
            try rebuilt.close()
            throw ValidationError("collection '\(collection)' is in neither the database's checkpoint nor the log of \(dataDir)")
        }
        let report = PostgresRestore.Report(
            collection: collection, records: try rebuilt.count(collection), checkpointLSN: rebuilt.checkpointLSN,
            seconds: MonotonicClock.seconds() - start, usedGraphSnapshot: false, snapshotFallback: "rebuilt from the checkpoint and the local log")
        return (rebuilt, report)
    }

    private func finish(store: Store, pool: PostgresPool, report: PostgresRestore.Report) throws {
        var recall: Double?
        if verify {
            recall = try PostgresRestore.verify(collection, store: store, pool: pool, queries: queries, k: k, seed: seed)
        }
        try store.close()
        if output.json {
            printAndFlush(JSONLine.encode(Restored(
                collection: collection, records: report.records, checkpoint_lsn: report.checkpointLSN, seconds: Rounded(report.seconds, 2),
                graph_snapshot: report.usedGraphSnapshot, graph_snapshot_fallback: report.snapshotFallback,
                recall_at_k: recall.map { Rounded($0, 4) }, k: recall == nil ? nil : k, queries: recall == nil ? nil : queries,
                seed: recall == nil ? nil : seed)))
        } else {
            let how = report.usedGraphSnapshot ? "graph loaded from the database's snapshot" : "graph rebuilt from the rows"
            printAndFlush("restored \(collection): \(report.records) records as of checkpoint LSN \(report.checkpointLSN) in \(seconds(report.seconds)) s (\(how))")
            if let fallback = report.snapshotFallback { printAndFlush("note: \(fallback)") }
            if let recall { printAndFlush("verify: recall@\(k) = \(format(recall, 4)) against exact search in PostgreSQL (\(queries) queries, seed \(seed))") }
        }
    }
}
