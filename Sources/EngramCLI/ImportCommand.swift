import ArgumentParser
import EngramDatasets
import EngramEngine
import EngramKernels
import EngramMetadata
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
        abstract: "Import .fvecs or JSON Lines (id, vector, metadata, text) into a collection.",
        discussion: "Progress lines report how many records are durable so far (printed only after the log made them durable in the chosen mode).")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var collection: String
    @Option var file: String
    @Option(help: "Create the collection with this dimension if it does not exist.") var dimension: Int?
    @Option(help: "The metric when creating: cosine, ip or l2.") var metric: Metric = .cosine
    @Option(help: "The index when creating: hnsw or ivf (Docs/ENGINE.md).") var index: CollectionIndexKind = .hnsw
    @Option(help: "ivf: inverted lists when creating (default 4·√n of the vectors held at training).") var nlist: Int?
    @Option(help: "ivf: lists a search probes unless it says (default 16).") var nprobe: Int = 16
    @Option(help: "The precision the database keeps the vectors at, when creating: float32 (vector) or float16 (halfvec: half the storage, values within ±65504).") var precision: StoredPrecision = .float32
    @Option(name: .customLong("text-field"), help: "When creating: declare a text field (repeatable); JSON Lines records carry texts as \"text\": {\"NAME\": \"...\"}.") var textFields: [String] = []
    @Option(help: "Records per logged batch.") var batch: Int = 1000
    @Option(help: "fsync, group-commit[:µs] or os-buffered (Docs/ENGINE.md).") var durability: GroupCommitLog.Mode = .fsync
    @Flag(name: .customLong("wait-indexed"), help: "Before closing, wait until the graph holds every record (else the rest is indexed when the store next opens).") var waitIndexed = false
    @Option(name: .customLong("snapshot-every-mib"), help: "Write a local snapshot each time the log grows by this many MiB (0: only on close).") var snapshotEveryMiB: Int = StoreOptions().snapshotEveryLogBytes >> 20
    @OptionGroup var output: OutputOptions
    @OptionGroup var vectorMemory: VectorMemoryOptions

    func validate() throws {
        guard batch >= 1 && batch <= 100_000 else { throw ValidationError("--batch must be between 1 and 100000") }
        guard snapshotEveryMiB >= 0 && snapshotEveryMiB <= 1 << 30 else { throw ValidationError("--snapshot-every-mib must be between 0 and 2^30") }
        if index != .ivf && nlist != nil { throw ValidationError("--nlist applies to --index ivf") }
        if !textFields.isEmpty && dimension == nil { throw ValidationError("--text-field declares fields when creating the collection: give --dimension too") }
    }

    private struct Progress: Encodable { var durable: Int; var lsn: UInt64 }
    private struct Indexed: Encodable { var indexed: Int }

    func run() throws {
        var options = StoreOptions(durability: durability)
        options.snapshotEveryLogBytes = snapshotEveryMiB << 20
        let store = try Store.open(directory: dataDirectory.path, options: vectorMemory.applied(to: options))
        if let dimension {
            try store.createCollection(CollectionConfiguration(
                name: collection, dimension: dimension, metric: metric,
                ivf: index == .ivf ? IVFSettings(nlist: nlist, nprobe: nprobe) : nil, storedPrecision: precision,
                text: textFields.isEmpty ? nil : TextSettings(fields: textFields)))
        }
        var done = 0
        var pending = [Record]()
        func flush() throws {
            guard !pending.isEmpty else { return }
            try store.upsert(collection, pending)
            done += pending.count
            pending.removeAll(keepingCapacity: true)
            let line = output.json ? JSONLine.encode(Progress(durable: done, lsn: store.lastLSN)) : "durable: \(done) records (LSN \(store.lastLSN))"
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
            printAndFlush(output.json ? JSONLine.encode(Indexed(indexed: done)) : "indexed: \(done) records in the graph")
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
        // A collection without vectors (dimension 0) takes records without one.
        var items = [MetadataValue]()
        switch value["vector"] {
        case .array(let values)?: items = values
        case nil: break
        default: throw ValidationError("\(file):\(line): \"vector\" must be an array of numbers")
        }
        var vector = [Float]()
        for item in items {
            guard case .number(let x) = item else { throw ValidationError("\(file):\(line): the vector holds a non-number") }
            guard Float(x).isFinite else { throw ValidationError("\(file):\(line): the vector holds \(x), beyond float32's range") }
            vector.append(Float(x))
        }
        var texts = [String: String]()
        switch value["text"] {
        case nil, .null?: break
        case .object(let fields)?:
            for (field, item) in fields {
                guard case .string(let s) = item else { throw ValidationError("\(file):\(line): \"text\".\(field) must be a string") }
                texts[field] = s
            }
        default: throw ValidationError("\(file):\(line): \"text\" must be an object of field names to strings")
        }
        return Record(id: id, vector: vector, metadata: value["metadata"] ?? .object([:]), text: texts)
    }
}
