import EngramMetadata
import EngramSync
import EngramDatasets
import EngramEngine
import EngramIndex
import EngramWAL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `engram bench --ingest`: vectors per second through the full engine
/// (validation, write-ahead log with group commit, apply, staging; the
/// graph is built by the background indexer) for each durability mode, with
/// `writers` threads upserting at once; then the time until the graph holds
/// everything, the log's bytes per record with and without LZ4, and the
/// time to reopen the store by replaying the log and from a snapshot.
package struct IngestBench: Sendable {
    package struct Result: Sendable {
        package var dataset: String
        package var n: Int
        package var dim: Int
        package var durability: String
        package var batch: Int
        package var writers: Int
        /// Until the last upsert was acknowledged (durable and searchable).
        package var seconds: Double
        /// Until the background indexer had every vector in the graph.
        package var indexedSeconds: Double
        package var walBytes: Int
        package var payloadBytes: Int
        package var vectorLZ4Ratio: Double
        package var metadataLZ4Ratio: Double
        /// Reopening by replaying the whole log (records land in the staging buffer).
        package var recoverySeconds: Double
        /// Reopening from a snapshot (the saved graph is loaded, nothing rebuilt).
        package var snapshotRecoverySeconds: Double

        package var vectorsPerSecond: Double { Double(n) / seconds }

        package static let tableHeader = "durability  n  dim  writers×batch  acked vectors/s  indexed s  log B/record  "
            + "payload B/record  LZ4 vectors  LZ4 metadata  replay s  replay s/1M  snapshot s"

        package var tableLine: String {
            "\(durability)  \(n)  \(dim)  \(writers)×\(batch)  \(Int(vectorsPerSecond))  \(format(indexedSeconds, 1))  "
                + "\(walBytes / n)  \(payloadBytes / n)  \(format(vectorLZ4Ratio, 3))  \(format(metadataLZ4Ratio, 3))  "
                + "\(format(recoverySeconds, 3))  \(format(recoverySeconds * 1e6 / Double(n), 2))  \(format(snapshotRecoverySeconds, 3))"
        }

        package var jsonLine: String { JSONLine.encode(Line(self)) }

        /// The JSON line's fields.
        private struct Line: Encodable {
            let engine = "engram", mode = "ingest"
            let dataset, durability: String
            let n, dim, batch, writers, wal_bytes, vector_bytes_per_record: Int
            let ingest_s, vectors_per_s, indexed_s, wal_bytes_per_record, payload_bytes_per_record: Rounded
            let lz4_ratio_vectors, lz4_ratio_metadata, recovery_s, recovery_s_per_million, snapshot_recovery_s: Rounded

            init(_ r: Result) {
                dataset = r.dataset; durability = r.durability
                n = r.n; dim = r.dim; batch = r.batch; writers = r.writers; wal_bytes = r.walBytes; vector_bytes_per_record = r.dim * 4
                ingest_s = Rounded(r.seconds, 3)
                vectors_per_s = Rounded(r.vectorsPerSecond, 1)
                indexed_s = Rounded(r.indexedSeconds, 3)
                wal_bytes_per_record = Rounded(Double(r.walBytes) / Double(r.n), 1)
                payload_bytes_per_record = Rounded(Double(r.payloadBytes) / Double(r.n), 1)
                lz4_ratio_vectors = Rounded(r.vectorLZ4Ratio, 3)
                lz4_ratio_metadata = Rounded(r.metadataLZ4Ratio, 3)
                recovery_s = Rounded(r.recoverySeconds, 3)
                recovery_s_per_million = Rounded(r.recoverySeconds * 1e6 / Double(r.n), 2)
                snapshot_recovery_s = Rounded(r.snapshotRecoverySeconds, 3)
            }
        }
    }

    package var basePath: String
    package var datasetName: String
    package var maxVectors: Int?
    package var batch = 1000
    package var writers = 4
    package var durabilities: [GroupCommitLog.Mode] = [.fsync, .groupCommit(maxDelayMicroseconds: 200), .osBuffered]
    package var maxUnindexed = StoreOptions().maxUnindexed
    package var m = 16
    package var efConstruction = 200
    package let progress: @Sendable (String) -> Void

    package init(basePath: String, datasetName: String, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.basePath = basePath
        self.datasetName = datasetName
        self.progress = progress
    }

    static func record(_ base: FloatMatrix, _ r: Int) -> Record {
        Record(id: "v\(r)", vector: Array(base.row(r)),
               metadata: ["source": "bench", "row": .number(Double(r)), "kind": r % 3 == 0 ? "experience" : "task"])
    }

    package func run() throws(BenchError) -> [Result] {
        let base: FloatMatrix
        do { base = try DatasetReader.readFloats(basePath, limit: maxVectors) } catch { throw .dataset(error) }
        guard base.rows > 0 else { throw .inconsistentFiles("\(basePath) holds no vectors") }
        guard batch >= 1, writers >= 1 else { throw .invalidArgument("batch and writers must be at least 1") }
        var results = [Result]()
        for durability in durabilities {
            let dir = try scratchDirectory("engram-ingest")
            defer { _ = system("rm -rf '\(dir)'") }
            do {
                results.append(try measure(base, durability: durability, directory: dir))
            } catch let error as BenchError {
                throw error
            } catch {
                throw .invalidArgument("\(error)")
            }
        }
        return results
    }

    private func measure(_ base: FloatMatrix, durability: GroupCommitLog.Mode, directory dir: String) throws -> Result {
        var options = StoreOptions(durability: durability)
        options.snapshotEveryLogBytes = 0  // keep the whole log, to time its replay
        options.maxUnindexed = maxUnindexed
        let name = durability.name
        let store = try Store.open(directory: dir, options: options)
        try store.createCollection(CollectionConfiguration(
            name: "ingest", dimension: base.columns, metric: .cosine, hnsw: HNSWConfiguration(m: m, efConstruction: efConstruction)))
        // Writers take batches from a shared counter, so they finish together.
        let nextBatch = Atomic<Int>(0)
        let failure = Locked<String?>(nil)
        let batches = (base.rows + batch - 1) / batch
        let start = MonotonicClock.nanoseconds()
        runConcurrently(writers) { _ in
            while true {
                let b = nextBatch.wrappingAdd(1, ordering: .relaxed).oldValue
                if b >= batches { return }
                let rows = (b * batch)..<Swift.min(base.rows, (b + 1) * batch)
                do {
                    try store.upsert("ingest", rows.map { Self.record(base, $0) })
                } catch {
                    failure.withLock { $0 = $0 ?? "\(error)" }
                    return
                }
                if (b + 1) % Swift.max(1, batches / 10) == 0 {
                    progress("ingest (\(name)): \((b + 1) * batch) records acknowledged, \(format(MonotonicClock.seconds(since: start), 1)) s")
                }
            }
        }
        if let message = failure.withLock({ $0 }) { throw BenchError.invalidArgument(message) }
        let seconds = MonotonicClock.seconds(since: start)
        progress("ingest (\(name)): \(format(Double(base.rows) / seconds, 0)) vectors/s acknowledged; indexing the rest")
        try store.waitUntilIndexed()
        let indexedSeconds = MonotonicClock.seconds(since: start)
        let walBytes = store.logBytes
        try store.close(writingSnapshot: false)

        // Replay: every record from the log.
        let recoveryStart = MonotonicClock.nanoseconds()
        let reopened = try Store.open(directory: dir, options: options)
        let recovered = try reopened.count("ingest")
        let recoverySeconds = MonotonicClock.seconds(since: recoveryStart)
        guard recovered == base.rows else { throw BenchError.inconsistentFiles("recovered \(recovered) of \(base.rows) records") }
        try reopened.waitUntilIndexed()
        try reopened.close()

        let snapshotStart = MonotonicClock.nanoseconds()
        let fromSnapshot = try Store.open(directory: dir, options: options)
        guard try fromSnapshot.count("ingest") == base.rows, try fromSnapshot.unindexedCount("ingest") == 0 else {
            throw BenchError.inconsistentFiles("the snapshot lost records")
        }
        let snapshotRecoverySeconds = MonotonicClock.seconds(since: snapshotStart)
        try fromSnapshot.close(writingSnapshot: false)
        progress("ingest (\(name)): replay \(format(recoverySeconds, 2)) s, snapshot \(format(snapshotRecoverySeconds, 2)) s")

        // Payload bytes without LZ4 and the LZ4 ratios, from a sample of the records.
        let sample = (0..<Swift.min(base.rows, 1000)).map { Self.record(base, $0) }
        let vectorBytes = sample.flatMap { r in r.vector.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
        let metadataBytes = sample.flatMap { MetadataCodec.encode($0.metadata) }
        // Per record in an upsert payload: u32 + id, u32 dimension, the floats, the metadata (Docs/FORMATS.md).
        let idBytes = sample.reduce(0) { $0 + 4 + $1.id.utf8.count + 4 }
        let payloadPerRecord = Double(idBytes + vectorBytes.count + metadataBytes.count) / Double(sample.count)
        return Result(
            dataset: datasetName, n: base.rows, dim: base.columns, durability: name, batch: batch, writers: writers,
            seconds: seconds, indexedSeconds: indexedSeconds, walBytes: walBytes,
            payloadBytes: Int(payloadPerRecord * Double(base.rows)),
            vectorLZ4Ratio: WriteAheadLog.compressionRatio(vectorBytes),
            metadataLZ4Ratio: WriteAheadLog.compressionRatio(metadataBytes),
            recoverySeconds: recoverySeconds, snapshotRecoverySeconds: snapshotRecoverySeconds)
    }
}

/// Runs `body(i)` for `i` in `0..<threads`, each on its own thread, and waits.
func runConcurrently(_ threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
    var handles = [pthread_t]()
    final class Box: @unchecked Sendable { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    for i in 0..<threads {
        let box = Unmanaged.passRetained(Box { body(i) })
        var handle = pthread_t()
        pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box.toOpaque())
        handles.append(handle)
    }
    for h in handles { pthread_join(h, nil) }
}
