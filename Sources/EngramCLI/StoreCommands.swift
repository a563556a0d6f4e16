import EngramMetadata
import ArgumentParser
import EngramDatasets
import EngramEngine
import EngramIndex
import EngramKernels
import EngramTools
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

extension StoredPrecision: ExpressibleByArgument {}

extension GroupCommitLog.Mode: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// `engram import`: write a file of vectors into a collection through the engine.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import .fvecs or JSON Lines (id, vector, metadata) into a collection.",
        discussion: "Progress lines report how many records are durable so far (printed only after the log made them durable in the chosen mode).")

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option var collection: String
    @Option var file: String
    @Option(help: "Create the collection with this dimension if it does not exist.") var dimension: Int?
    @Option(help: "The metric when creating: cosine, ip or l2.") var metric: Metric = .cosine
    @Option(help: "The index when creating: hnsw or ivf (Docs/ENGINE.md).") var index: String = "hnsw"
    @Option(help: "ivf: inverted lists when creating (default 4·√n of the vectors held at training).") var nlist: Int?
    @Option(help: "ivf: lists a search probes unless it says (default 16).") var nprobe: Int = 16
    @Option(help: "The precision the database keeps the vectors at, when creating: float32 (vector) or float16 (halfvec: half the storage, values within ±65504).") var precision: StoredPrecision = .float32
    @Option(help: "Records per logged batch.") var batch: Int = 1000
    @Option(help: "fsync, group-commit[:µs] or os-buffered (Docs/ENGINE.md).") var durability: GroupCommitLog.Mode = .fsync
    @Flag(name: .customLong("wait-indexed"), help: "Before closing, wait until the graph holds every record (else the rest is indexed when the store next opens).") var waitIndexed = false
    @Option(name: .customLong("snapshot-every-mib"), help: "Write a local snapshot each time the log grows by this many MiB (0: only on close).") var snapshotEveryMiB: Int = StoreOptions().snapshotEveryLogBytes >> 20
    @Flag var json = false

    func validate() throws {
        guard batch >= 1 && batch <= 100_000 else { throw ValidationError("--batch must be between 1 and 100000") }
        guard snapshotEveryMiB >= 0 && snapshotEveryMiB <= 1 << 30 else { throw ValidationError("--snapshot-every-mib must be between 0 and 2^30") }
        guard index == "hnsw" || index == "ivf" else { throw ValidationError("--index must be hnsw or ivf, got '\(index)'") }
        if index != "ivf" && nlist != nil { throw ValidationError("--nlist applies to --index ivf") }
    }

    func run() throws {
        var options = StoreOptions(durability: durability)
        options.snapshotEveryLogBytes = snapshotEveryMiB << 20
        let store = try Store.open(directory: dataDir, options: options)
        if let dimension {
            try store.createCollection(CollectionConfiguration(
                name: collection, dimension: dimension, metric: metric,
                ivf: index == "ivf" ? IVFSettings(nlist: nlist, nprobe: nprobe) : nil, storedPrecision: precision))
        }
        var done = 0
        var pending = [Record]()
        func flush() throws {
            guard !pending.isEmpty else { return }
            try store.upsert(collection, pending)
            done += pending.count
            pending.removeAll(keepingCapacity: true)
            let line = json ? "{\"durable\":\(done),\"lsn\":\(store.lastLSN)}" : "durable: \(done) records (LSN \(store.lastLSN))"
            printAndFlush(line)
        }
        if file.hasSuffix(".jsonl") || file.hasSuffix(".json") {
            guard let f = fopen(file, "r") else { throw ValidationError("cannot open \(file): \(String(cString: strerror(errno)))") }
            defer { fclose(f) }
            var lineNumber = 0
            var buffer: UnsafeMutablePointer<CChar>? = nil
            var capacity = 0
            defer { free(buffer) }
            while getline(&buffer, &capacity, f) > 0 {
                lineNumber += 1
                let text = String(cString: buffer!).trimmingNewline
                if text.isEmpty { continue }
                pending.append(try Self.record(from: text, line: lineNumber, file: file))
                if pending.count == batch { try flush() }
            }
        } else {
            let matrix = try DatasetReader.readFloats(file)
            for r in 0..<matrix.rows {
                pending.append(Record(id: String(r), vector: Array(matrix.row(r))))
                if pending.count == batch { try flush() }
            }
        }
        try flush()
        if waitIndexed {
            try store.waitUntilIndexed()
            printAndFlush(json ? "{\"indexed\":\(done)}" : "indexed: \(done) records in the graph")
        }
        try store.close()
    }

    static func record(from text: String, line: Int, file: String) throws -> Record {
        let value: MetadataValue
        do { value = try MetadataJSON.parse(text) } catch {
            throw ValidationError("\(file):\(line): not a JSON object: \(error)")
        }
        let id: String
        switch value["id"] {
        case .string(let s)?: id = s
        case .number(let x)?:
            // Integers are exact in a JSON number up to 2^53; beyond, two ids could read as one.
            guard let n = Int64(exactly: x), abs(n) <= 1 << 53 else {
                throw ValidationError("\(file):\(line): a numeric \"id\" must be an integer of at most 2^53 in magnitude, got \(x) (write larger ids as strings)")
            }
            id = String(n)
        default: throw ValidationError("\(file):\(line): needs an \"id\" (string or integer)")
        }
        guard case .array(let items)? = value["vector"] else { throw ValidationError("\(file):\(line): needs a \"vector\" array") }
        var vector = [Float]()
        for item in items {
            guard case .number(let x) = item else { throw ValidationError("\(file):\(line): the vector holds a non-number") }
            guard Float(x).isFinite else { throw ValidationError("\(file):\(line): the vector holds \(x), beyond float32's range") }
            vector.append(Float(x))
        }
        return Record(id: id, vector: vector, metadata: value["metadata"] ?? .object([:]))
    }
}

/// `engram search`: nearest records to a vector, optionally filtered by metadata.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search a collection.",
        discussion: "Opens the data directory read-only: nothing in it is created or changed.")

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option var collection: String
    @Option(parsing: .unconditional, help: "The query vector, comma-separated (a leading minus is part of it: --vector -0.1,0.2).") var vector: String?
    @Option(name: .customLong("query-file"), help: "Queries in a .fvecs file (one search each).") var queryFile: String?
    @Option var k: Int = 10
    @Option(name: .customLong("ef-search"), help: "HNSW: efSearch; IVF collections: the lists probed (nprobe).") var efSearch: Int?
    @Option(help: "A metadata filter as JSON, e.g. '{\"agent\": \"planner\", \"step\": {\"$gte\": 3}}'.") var filter: String?
    @Flag var json = false

    func validate() throws {
        guard (vector == nil) != (queryFile == nil) else { throw ValidationError("give exactly one of --vector and --query-file") }
    }

    func run() throws {
        let store = try Store.open(directory: dataDir, options: .readOnly)
        let parsedFilter = try filter.map { try MetadataFilter.parse(json: $0) }
        var queries = [[Float]]()
        if let vector {
            var q = [Float]()
            for part in vector.split(separator: ",") {
                guard let x = Float(part.trimmingSpaces) else { throw ValidationError("--vector takes comma-separated numbers") }
                q.append(x)
            }
            queries.append(q)
        } else if let queryFile {
            let m = try DatasetReader.readFloats(queryFile)
            queries = (0..<m.rows).map { Array(m.row($0)) }
        }
        for (n, q) in queries.enumerated() {
            let hits = try store.search(collection, vector: q, k: k, efSearch: efSearch, filter: parsedFilter)
            if json {
                let items = hits.map { "{\"id\":\(MetadataJSON.format(.string($0.id))),\"distance\":\($0.distance),\"metadata\":\(MetadataJSON.format($0.metadata))}" }
                printAndFlush("{\"query\":\(n),\"hits\":[\(items.joined(separator: ","))]}")
            } else {
                printAndFlush("query \(n):")
                for (rank, hit) in hits.enumerated() {
                    printAndFlush("  \(rank + 1). \(hit.id)  distance \(hit.distance)  \(MetadataJSON.format(hit.metadata))")
                }
            }
        }
        try store.close()
    }
}

/// `engram delete`: delete records by id.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete records of a collection by id.",
        discussion: "Ids come from --id (repeatable) or --file (one id per line; blank lines are skipped). Ids not present are ignored. Prints how many records were deleted once the delete is durable.")

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option var collection: String
    @Option(name: .customLong("id"), parsing: .unconditionalSingleValue, help: "An id to delete (repeatable).") var ids: [String] = []
    @Option(help: "A file of ids, one per line.") var file: String?
    @Option(help: "Ids per logged batch.") var batch: Int = 10_000
    @Flag var json = false

    func validate() throws {
        guard ids.isEmpty != (file == nil) else { throw ValidationError("give --id (one or more) or --file, not both") }
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 100000") }
    }

    func run() throws {
        var all = ids
        if let file {
            guard let bytes = readWholeFile(file) else { throw ValidationError("cannot read \(file): \(String(cString: strerror(errno)))") }
            guard let text = String(validatingUTF8: bytes.map { CChar(bitPattern: $0) } + [0]), !bytes.contains(0) else {
                throw ValidationError("\(file) is not UTF-8 text")
            }
            all = text.split(separator: "\n", omittingEmptySubsequences: true).map { String($0).trimmingNewline }.filter { !$0.isEmpty }
        }
        let store = try Store.open(directory: dataDir)
        guard store.collectionNames.contains(collection) else {
            try store.close()
            throw ValidationError("no collection '\(collection)' in \(dataDir)")
        }
        var deleted = 0
        var start = 0
        while start < all.count {
            let end = min(all.count, start + batch)
            deleted += try store.delete(collection, ids: Array(all[start..<end]))
            start = end
        }
        try store.close()
        printAndFlush(json ? "{\"requested\":\(all.count),\"deleted\":\(deleted),\"lsn\":\(store.lastLSN)}" : "deleted \(deleted) of \(all.count) ids (durable, LSN \(store.lastLSN))")
    }
}

/// The whole file, or nil (errno set).
func readWholeFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n > 0 { out += chunk[0..<n] }
        if n < chunk.count { return ferror(f) != 0 ? nil : out }
    }
}

/// `engram stats`: what a data directory holds.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Collections, counts, log size, LSNs.",
        discussion: "Opens the data directory read-only: nothing in it is created or changed.")

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Flag var json = false

    func run() throws {
        let store = try Store.open(directory: dataDir, options: .readOnly)
        let names = store.collectionNames
        if json {
            let items = try names.map { name -> String in
                let c = try store.configuration(name), index = try store.indexInfo(name)
                var ivf = ""
                if index.kind == "ivf" {
                    ivf = ",\"trained\":\(index.trained),\"lists\":\(index.lists.map(String.init) ?? "null"),\"drift\":\(index.drift.map { format($0, 3) } ?? "null")"
                }
                return "{\"name\":\(MetadataJSON.format(.string(name))),\"count\":\(try store.count(name)),\"unindexed\":\(try store.unindexedCount(name)),\"dimension\":\(c.dimension),\"metric\":\"\(c.metric)\",\"index\":\"\(index.kind)\"\(ivf)}"
            }
            printAndFlush("{\"collections\":[\(items.joined(separator: ","))],\"wal_bytes\":\(store.logBytes),\"last_lsn\":\(store.lastLSN),\"snapshot_lsn\":\(store.snapshotLSN)}")
        } else {
            for name in names {
                let c = try store.configuration(name), index = try store.indexInfo(name)
                var kind = index.kind
                if index.kind == "ivf" {
                    kind += index.trained ? " (\(index.lists ?? 0) lists, drift \(format(index.drift ?? 0, 2)))" : " (searched exactly until trained)"
                }
                printAndFlush("\(name): \(try store.count(name)) records, dimension \(c.dimension), metric \(c.metric), index \(kind)")
            }
            printAndFlush("log: \(store.logBytes) bytes, last LSN \(store.lastLSN), snapshot at LSN \(store.snapshotLSN)")
        }
        try store.close()
    }
}

extension String {
    var trimmingNewline: String {
        var s = self
        while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
        return s
    }
}
