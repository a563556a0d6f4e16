import EngramDatasets
import EngramEngine
import EngramIndex
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

/// `engram bench --ingest`: vectors per second through the full engine
/// (validation, write-ahead log, HNSW insert, metadata) in each durability
/// mode, the log's bytes per record, and the time to recover the store by
/// replaying its log (no snapshot).
public struct IngestBench {
    public struct Result: Sendable {
        public var dataset: String
        public var n: Int
        public var dim: Int
        public var durability: String
        public var batch: Int
        public var seconds: Double
        public var walBytes: Int
        public var recoverySeconds: Double
        /// Reopening after a snapshot: the saved graph is loaded, nothing rebuilt.
        public var snapshotRecoverySeconds: Double

        public var vectorsPerSecond: Double { Double(n) / seconds }

        public var jsonLine: String {
            "{\"engine\":\"engram\",\"mode\":\"ingest\",\"dataset\":\(quoted(dataset)),\"n\":\(n),\"dim\":\(dim),"
                + "\"durability\":\(quoted(durability)),\"batch\":\(batch),\"ingest_s\":\(number(seconds, 3)),"
                + "\"vectors_per_s\":\(number(vectorsPerSecond, 1)),\"wal_bytes\":\(walBytes),"
                + "\"wal_bytes_per_record\":\(number(Double(walBytes) / Double(n), 1)),"
                + "\"vector_bytes_per_record\":\(dim * 4),\"recovery_s\":\(number(recoverySeconds, 3)),"
                + "\"recovery_s_per_million\":\(number(recoverySeconds * 1e6 / Double(n), 2)),"
                + "\"snapshot_recovery_s\":\(number(snapshotRecoverySeconds, 3))}"
        }
    }

    public var basePath: String
    public var datasetName: String
    public var maxVectors: Int?
    public var batch = 1000
    public var durabilities: [WriteAheadLog.Durability] = [.fsync, .osBuffered]
    public var m = 16
    public var efConstruction = 200
    public let progress: (String) -> Void

    public init(basePath: String, datasetName: String, progress: @escaping (String) -> Void = { _ in }) {
        self.basePath = basePath
        self.datasetName = datasetName
        self.progress = progress
    }

    public func run() throws(BenchError) -> [Result] {
        let base: FloatMatrix
        do { base = try DatasetReader.readFloats(basePath, limit: maxVectors) } catch { throw .dataset(error) }
        guard base.rows > 0 else { throw .inconsistentFiles("\(basePath) holds no vectors") }
        var results = [Result]()
        for durability in durabilities {
            var template = Array("/tmp/engram-ingest-XXXXXX".utf8CString)
            guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw .invalidArgument("cannot create a temporary directory")
            }
            let dir = String(cString: made)
            defer { _ = system("rm -rf '\(dir)'") }
            do {
                let start = monotonicNanoseconds()
                var walBytes = 0
                do {
                    let store = try Store.open(directory: dir, durability: durability)
                    try store.createCollection(CollectionConfiguration(
                        name: "ingest", dimension: base.columns, metric: .cosine,
                        hnsw: HNSWConfiguration(m: m, efConstruction: efConstruction)))
                    var row = 0
                    while row < base.rows {
                        let end = Swift.min(base.rows, row + batch)
                        let records = (row..<end).map { r in
                            Record(id: "v\(r)", vector: Array(base.row(r)),
                                   metadata: ["source": "bench", "row": .number(Double(r)), "kind": r % 3 == 0 ? "experience" : "task"])
                        }
                        try store.upsert("ingest", records)
                        row = end
                        if row % Swift.max(batch, base.rows / 10) < batch {
                            progress("ingest (\(durability.rawValue)): \(row)/\(base.rows) durable, \(format(secondsSince(start), 1)) s")
                        }
                    }
                    walBytes = store.logBytes
                }
                let seconds = secondsSince(start)
                let recoveryStart = monotonicNanoseconds()
                var recoverySeconds = 0.0
                do {
                    let reopened = try Store.open(directory: dir, durability: durability)
                    let recovered = try reopened.count("ingest")
                    recoverySeconds = secondsSince(recoveryStart)
                    guard recovered == base.rows else {
                        throw BenchError.inconsistentFiles("recovered \(recovered) of \(base.rows) records")
                    }
                    try reopened.snapshot()
                }
                let snapshotStart = monotonicNanoseconds()
                let fromSnapshot = try Store.open(directory: dir, durability: durability)
                guard try fromSnapshot.count("ingest") == base.rows else {
                    throw BenchError.inconsistentFiles("the snapshot lost records")
                }
                let snapshotRecoverySeconds = secondsSince(snapshotStart)
                progress("ingest (\(durability.rawValue)): \(format(Double(base.rows) / seconds, 0)) vectors/s; recovery \(format(recoverySeconds, 2)) s")
                results.append(Result(dataset: datasetName, n: base.rows, dim: base.columns, durability: durability.rawValue,
                                      batch: batch, seconds: seconds, walBytes: walBytes, recoverySeconds: recoverySeconds,
                                      snapshotRecoverySeconds: snapshotRecoverySeconds))
            } catch let error as BenchError {
                throw error
            } catch {
                throw .invalidArgument("\(error)")
            }
        }
        return results
    }
}
