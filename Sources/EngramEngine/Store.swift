import EngramIndex
import EngramWAL
import Logging
import Metrics

#if canImport(Glibc)
import Glibc
#endif

/// An Engram store on a data directory: collections of records, every write
/// logged in the write-ahead log before it is acknowledged.
///
/// ```swift
/// let store = try Store.open(directory: "/var/lib/engram")
/// try store.createCollection(CollectionConfiguration(name: "memories", dimension: 384))
/// try store.upsert("memories", [Record(id: "m1", vector: v, metadata: ["agent": "planner"])])
/// let hits = try store.search("memories", vector: q, k: 10, filter: .equals("agent", "planner"))
/// ```
///
/// **Durability.** A write is validated (all or nothing), appended to the
/// log, made durable as the mode says (``WriteAheadLog/Durability``), and
/// only then applied in memory and acknowledged. Opening the store replays
/// the log, so every acknowledged write survives a crash of the process
/// (and, with `.fsync`, of the machine). Snapshots and checkpoints that bound
/// replay time are the next steps of issue 4 and 5.
///
/// **Concurrency.** Any thread may call any method. Writes are serialised by
/// one writer lock, so the log's order is the order they are applied in;
/// searches take a collection's lock shared and run alongside each other.
/// Searches wait only while a write applies its (already validated) batch
/// in memory, never for the log's fsync.
public final class Store: @unchecked Sendable {
    public let directory: String
    private let log: WriteAheadLog
    private let writer = ReadWriteLock()
    private let catalog = ReadWriteLock()
    private var collections: [String: Collection] = [:]
    /// The data directory's `LOCK` file, held (flock) while the store is open.
    private var lockFD: Int32 = -1

    deinit { if lockFD >= 0 { close(lockFD) } }

    /// The LSN of the snapshot the store was opened from or last wrote (0: none).
    public private(set) var snapshotLSN: UInt64 = 0

    let telemetry: StoreTelemetry

    private init(directory: String, log: WriteAheadLog, telemetry: StoreTelemetry) {
        self.directory = directory
        self.log = log
        self.telemetry = telemetry
    }

    /// Opens (creating if needed) the store in `directory` and replays its log.
    /// `logger` and `metricsFactory` (default: the bootstrapped `MetricsSystem`)
    /// receive what the store reports (``StoreTelemetry``).
    public static func open(
        directory: String, durability: WriteAheadLog.Durability = .fsync,
        logger: Logger = Logger(label: "engram.store"), metricsFactory: MetricsFactory? = nil
    ) throws(EngineError) -> Store {
        let telemetry = StoreTelemetry(logger: logger, factory: metricsFactory)
        let recoveryStart = engineNanoseconds()
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw .log(WALError(kind: .io, segment: directory, reason: "cannot create the data directory", errno: errno))
        }
        // One store per data directory: a second writer would interleave logs.
        let lockFD = Glibc.open(directory + "/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else {
            throw .log(WALError(kind: .io, segment: directory + "/LOCK", reason: "cannot open the lock file", errno: errno))
        }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(lockFD)
            throw .invalidArgument("the data directory \(directory) is in use by another open store")
        }
        var handedOver = false
        defer { if !handedOver { close(lockFD) } }
        // The newest local snapshot, then the log records above its LSN.
        var base: (UInt64, [Collection]) = (0, [])
        if let (lsn, file) = snapshotFiles(directory).last {
            guard let bytes = readFile(file) else {
                throw .log(WALError(kind: .io, segment: file, reason: "cannot read the snapshot", errno: errno))
            }
            base = try StoreSnapshot.decode(bytes, file: file)
            guard base.0 == lsn else { throw .corrupt("snapshot \(file) holds LSN \(base.0), its name says \(lsn)") }
            logger.info("loaded snapshot", metadata: ["file": "\(file)", "lsn": "\(lsn)", "collections": "\(base.1.count)"])
        }
        var replayed = [WALRecord]()
        let log: WriteAheadLog
        let report: WriteAheadLog.RecoveryReport
        do {
            (log, report) = try WriteAheadLog.open(
                directory: directory + "/wal", options: .init(durability: durability)) { record in
                if record.lsn > base.0 { replayed.append(record) }
            }
        } catch let error as WALError {
            throw .log(error)
        } catch {
            throw .corrupt("\(error)")
        }
        guard log.nextLSN > base.0 else {
            throw .corrupt("the log ends at LSN \(log.nextLSN - 1), before the snapshot's LSN \(base.0): log segments are missing")
        }
        if let torn = report.truncatedTail {
            logger.warning("cut a torn tail off the write-ahead log",
                           metadata: ["segment": "\(torn.segment)", "offset": "\(torn.offset)", "bytes": "\(torn.bytes)"])
        }
        let store = Store(directory: directory, log: log, telemetry: telemetry)
        store.lockFD = lockFD
        handedOver = true
        for c in base.1 { store.collections[c.configuration.name] = c }
        store.snapshotLSN = base.0
        for record in replayed {
            try store.apply(try LogPayload.decode(type: record.type, record.payload), replaying: true)
        }
        let elapsed = engineNanoseconds() - recoveryStart
        telemetry.recoveryDuration.recordNanoseconds(elapsed)
        logger.info("opened store", metadata: [
            "directory": "\(directory)", "snapshot_lsn": "\(base.0)", "replayed": "\(replayed.count)",
            "next_lsn": "\(log.nextLSN)", "ms": "\(elapsed / 1_000_000)",
        ])
        return store
    }

    /// Creates a collection; creating one that exists with the same
    /// parameters does nothing, with other parameters is an error.
    public func createCollection(_ configuration: CollectionConfiguration) throws(EngineError) {
        guard !configuration.name.isEmpty, configuration.name.utf8.count <= 128 else {
            throw .invalidArgument("a collection name must be 1 to 128 UTF-8 bytes")
        }
        try writer.withWriteLock { () throws(EngineError) in
            if let existing = catalog.withReadLock({ collections[configuration.name] }) {
                guard existing.configuration == configuration else { throw .collectionExists(configuration.name) }
                return
            }
            _ = try Collection(configuration)  // validates the parameters before logging
            try logged(.create(configuration))
        }
    }

    /// Inserts or replaces records (all or nothing); returns once durable.
    public func upsert(_ collection: String, _ records: [Record]) throws(EngineError) {
        let start = engineNanoseconds()
        try writer.withWriteLock { () throws(EngineError) in
            try self.collection(collection).validate(records)
            try logged(.upsert(collection: collection, records: records))
        }
        let elapsed = engineNanoseconds() - start
        telemetry.upserts.increment(by: Int64(records.count))
        telemetry.upsertDuration.recordNanoseconds(elapsed)
        telemetry.slow("upsert", nanoseconds: elapsed, "\(records.count) records into \(collection)")
    }

    /// Deletes the records with these ids (ids not present are ignored);
    /// returns how many were deleted.
    @discardableResult
    public func delete(_ collection: String, ids: [String]) throws(EngineError) -> Int {
        try writer.withWriteLock { () throws(EngineError) -> Int in
            let c = try self.collection(collection)
            let present = ids.filter { c.labelOfIDContains($0) }
            guard !present.isEmpty else { return 0 }
            try logged(.delete(collection: collection, ids: present))
            telemetry.deletes.increment(by: Int64(present.count))
            return present.count
        }
    }

    public func get(_ collection: String, id: String) throws(EngineError) -> Record? {
        try self.collection(collection).get(id)
    }

    public func count(_ collection: String) throws(EngineError) -> Int {
        try self.collection(collection).count
    }

    public func configuration(_ collection: String) throws(EngineError) -> CollectionConfiguration {
        try self.collection(collection).configuration
    }

    public var collectionNames: [String] { catalog.withReadLock { collections.keys.sorted() } }

    /// The `k` nearest records to `vector` that `filter` allows, best first.
    public func search(
        _ collection: String, vector: [Float], k: Int, efSearch: Int? = nil, filter: MetadataFilter? = nil
    ) throws(EngineError) -> [SearchHit] {
        guard (1...SearchLimits.maxK).contains(k) else {
            throw .invalidArgument("k must be between 1 and \(SearchLimits.maxK), got \(k)")
        }
        let start = engineNanoseconds()
        let hits = try self.collection(collection).search(vector, k: k, efSearch: efSearch, filter: filter)
        let elapsed = engineNanoseconds() - start
        telemetry.searches.increment()
        telemetry.searchDuration.recordNanoseconds(elapsed)
        telemetry.slow("search", nanoseconds: elapsed, "k \(k) in \(collection)")
        return hits
    }

    /// Writes a local snapshot of every collection at the current LSN, then
    /// removes older snapshots and the log segments it makes redundant, so
    /// that opening the store replays only what came after. Returns its LSN.
    /// Writes wait meanwhile; searches go on.
    @discardableResult
    public func snapshot() throws(EngineError) -> UInt64 {
        try writer.withWriteLock { () throws(EngineError) -> UInt64 in
            let lsn = log.nextLSN - 1
            let bytes = StoreSnapshot.encode(lsn: lsn, collections: catalog.withReadLock { Array(collections.values) })
            let path = "\(directory)/\(StoreSnapshot.name(lsn))"
            try Self.writeDurably(bytes, to: path)
            for (old, file) in Self.snapshotFiles(directory) where old < lsn { unlink(file) }
            do {
                try log.truncate(below: lsn + 1)
            } catch let error as WALError {
                throw .log(error)
            } catch {
                throw .corrupt("\(error)")
            }
            snapshotLSN = lsn
            telemetry.logger.info("wrote snapshot", metadata: ["file": "\(path)", "lsn": "\(lsn)", "bytes": "\(bytes.count)"])
            return lsn
        }
    }

    static func snapshotFiles(_ directory: String) -> [(UInt64, String)] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found = [(UInt64, String)]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("snapshot-"), name.hasSuffix(".engram"), let lsn = UInt64(name.dropFirst(9).dropLast(7))
            else { continue }
            found.append((lsn, "\(directory)/\(name)"))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return ferror(f) == 0 ? out : nil
    }

    /// Writes `bytes` to `path.tmp`, fsyncs, renames over `path`, fsyncs the directory.
    static func writeDurably(_ bytes: [UInt8], to path: String) throws(EngineError) {
        func fail(_ what: String) -> EngineError {
            .log(WALError(kind: .io, segment: path, reason: "\(what): \(String(cString: strerror(errno)))", errno: errno))
        }
        let temporary = path + ".tmp"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot create") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                close(fd)
                unlink(temporary)
                throw fail("write failed")
            }
            done += n
        }
        guard fsync(fd) == 0 else { close(fd); unlink(temporary); throw fail("fsync failed") }
        close(fd)
        guard rename(temporary, path) == 0 else { throw fail("rename failed") }
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        let dirfd = Glibc.open(dir.isEmpty ? "." : dir, O_RDONLY | O_CLOEXEC)
        if dirfd >= 0 { fsync(dirfd); close(dirfd) }
    }

    /// Bytes held by the write-ahead log's segments.
    public var logBytes: Int {
        writer.withReadLock {
            log.segmentPaths.reduce(0) { total, path in
                var st = stat()
                return total + (stat(path, &st) == 0 ? Int(st.st_size) : 0)
            }
        }
    }

    /// The LSN the next write will get.
    public var nextLSN: UInt64 { writer.withReadLock { log.nextLSN } }

    private func collection(_ name: String) throws(EngineError) -> Collection {
        guard let c = catalog.withReadLock({ collections[name] }) else { throw .unknownCollection(name) }
        return c
    }

    /// Logs a payload (durably, per the mode), then applies it. Writer lock held.
    private func logged(_ payload: LogPayload) throws(EngineError) {
        let bytes = payload.encode()
        do {
            try log.append(type: payload.type, payload: bytes)
            telemetry.walBytes.increment(by: Int64(bytes.count))
        } catch let error as WALError {
            throw .log(error)
        } catch {
            throw .corrupt("\(error)")
        }
        try apply(payload, replaying: false)
    }

    private func apply(_ payload: LogPayload, replaying: Bool) throws(EngineError) {
        switch payload {
        case .create(let configuration):
            let c = try Collection(configuration)
            catalog.withWriteLock { collections[configuration.name] = collections[configuration.name] ?? c }
        case .upsert(let name, let records):
            let c = try collection(name)
            if replaying { try c.validate(records) }
            try c.apply(upsert: records)
        case .delete(let name, let ids):
            try collection(name).apply(delete: ids)
        }
    }
}

extension Collection {
    func labelOfIDContains(_ id: String) -> Bool { lock.withReadLock { labelOfID[id] != nil } }
}
