import EngramMetadata
import EngramSync
import ArgumentParser
import EngramEngine
import EngramPostgres
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

/// The database every command uses: `ENGRAM_DATABASE_URL`, else the `PG*` variables.
private func databasePool() throws -> PostgresPool {
    try PostgresPool(.fromEnvironment(), options: .init(maxConnections: 2, acquireTimeoutSeconds: 10))
}

private func seconds(_ value: Double) -> String { format(value, 2) }

extension PostgresVectorType: ExpressibleByArgument {}

/// `engram checkpoint`: store every change since the database's last checkpoint in PostgreSQL.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint a data directory's collections into PostgreSQL + pgvector.",
        discussion: "The database comes from ENGRAM_DATABASE_URL or the standard PG* variables. Only records changed since the database's last checkpoint are sent; the log then drops what both the database and the local snapshot hold.")

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Flag(name: .customLong("sql-index"), help: "Also build a pgvector HNSW index on each table, for SQL users.") var sqlIndex = false
    @Option(name: .customLong("vector-type"), help: "The column type of newly registered cosine collections: vector (float4) or halfvec (float2, half the storage). Collections created with --precision float16 are always halfvec; other collections vector.") var vectorType: PostgresVectorType = .vector
    @Flag(name: .customLong("with-graph"), help: "Also store each collection's graph, so `engram restore` loads it instead of rebuilding it.") var withGraph = false
    @Flag var json = false

    func run() throws {
        let store = try Store.open(directory: dataDir)
        let target = try PostgresCheckpointTarget(pool: try databasePool(), createSQLIndex: sqlIndex, vectorType: vectorType)
        let report = try store.checkpoint(to: target, withGraphs: withGraph)
        try store.close()
        let total = report.captureSeconds + report.commitSeconds
        let rate = total > 0 ? Double(report.upserts) / total : 0
        if json {
            printAndFlush("{\"since_lsn\":\(report.since),\"lsn\":\(report.lsn),\"upserts\":\(report.upserts),\"deletes\":\(report.deletes),\"capture_s\":\(seconds(report.captureSeconds)),\"commit_s\":\(seconds(report.commitSeconds)),\"rows_per_s\":\(Int(rate))}")
        } else {
            printAndFlush("checkpoint: LSN \(report.since) → \(report.lsn): \(report.upserts) upserts, \(report.deletes) deletes in \(seconds(total)) s (capture \(seconds(report.captureSeconds)) s, commit \(seconds(report.commitSeconds)) s, \(Int(rate)) rows/s)")
        }
    }
}

/// `engram restore`: rebuild a collection from PostgreSQL into a data directory.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Rebuild a collection's index from PostgreSQL into a data directory.",
        discussion: "Streams the collection's rows with binary COPY, rebuilds its HNSW graph on every core and writes a local snapshot. --verify then compares searches against exact ORDER BY embedding <op> $1 LIMIT k in PostgreSQL and prints recall@k.")

    @Option var collection: String
    @Option(name: .customLong("data-dir")) var dataDir: String
    @Flag(help: "Check recall@k against exact search in PostgreSQL.") var verify = false
    @Option(help: "Queries for --verify.") var queries: Int = 100
    @Option var k: Int = 10
    @Option(help: "Seed of the --verify sample and its noise.") var seed: UInt64 = 7
    @Option(name: .customLong("build-threads"), help: "Threads building the graph (default: every core).") var buildThreads: Int?
    @Flag var json = false

    func validate() throws {
        guard queries >= 1, k >= 1, k <= 1000 else { throw ValidationError("--queries must be ≥ 1 and --k between 1 and 1000") }
    }

    func run() throws {
        let pool = try databasePool()
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
            return (try Store.open(directory: dataDir), nil)
        } catch {
            guard error.code == .corrupt else { throw error }
            why = error.message
        }
        printToStandardError("restore: \(dataDir) does not open (\(why)); rebuilding it from the database's last checkpoint and replaying its log")
        let start = MonotonicClock.seconds()
        let rebuilt = try Store.open(directory: dataDir, rebuildingFrom: PostgresCheckpointSource(pool: pool), threads: threads)
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
        if json {
            let r = recall.map { ",\"recall_at_k\":\(format($0, 4)),\"k\":\(k),\"queries\":\(queries),\"seed\":\(seed)" } ?? ""
            let fallback = report.snapshotFallback.map { ",\"graph_snapshot_fallback\":\(MetadataJSON.format(.string($0)))" } ?? ""
            printAndFlush("{\"collection\":\(MetadataJSON.format(.string(collection))),\"records\":\(report.records),\"checkpoint_lsn\":\(report.checkpointLSN),\"seconds\":\(seconds(report.seconds)),\"graph_snapshot\":\(report.usedGraphSnapshot)\(fallback)\(r)}")
        } else {
            let how = report.usedGraphSnapshot ? "graph loaded from the database's snapshot" : "graph rebuilt from the rows"
            printAndFlush("restored \(collection): \(report.records) records as of checkpoint LSN \(report.checkpointLSN) in \(seconds(report.seconds)) s (\(how))")
            if let fallback = report.snapshotFallback { printAndFlush("note: \(fallback)") }
            if let recall { printAndFlush("verify: recall@\(k) = \(format(recall, 4)) against exact search in PostgreSQL (\(queries) queries, seed \(seed))") }
        }
    }
}

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

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option(name: .customLong("sample-every"), help: "Compare the vector and metadata of one id in N (by a hash of the id; 1: every row).") var sampleEvery: Int = 1
    @Flag var json = false

    func validate() throws {
        guard sampleEvery >= 1 else { throw ValidationError("--sample-every must be at least 1") }
    }

    func run() throws {
        let store = try Store.open(directory: dataDir, options: .readOnly)
        defer { try? store.close() }
        let report = try PostgresVerify.compare(store: store, pool: try databasePool(), sampleEvery: sampleEvery)
        if json {
            let collections = report.collections.map {
                "{\"name\":\(MetadataJSON.format(.string($0.name))),\"engine_records\":\($0.engineRecords),\"table_rows\":\($0.tableRows),\"pending_upserts\":\($0.pendingUpserts),\"pending_deletes\":\($0.pendingDeletes),\"vectors_compared\":\($0.vectorsCompared)}"
            }
            let differences = report.differences.map { MetadataJSON.format(.string($0.description)) }
            printAndFlush("{\"consistent\":\(report.isConsistent),\"database_lsn\":\(report.databaseLSN),\"store_lsn\":\(report.storeLSN),\"differences\":\(report.differenceCount),\"collections\":[\(collections.joined(separator: ","))],\"listed\":[\(differences.joined(separator: ","))]}")
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
