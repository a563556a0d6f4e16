import EngramMetadata
import EngramEngine
import EngramIndex
import EngramPostgres
import EngramText
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

extension FuzzTarget {
    /// Valid inputs to start from, made by the same code that writes them
    /// in use; `scratch` is an empty directory the seeds may write in.
    public func seeds(scratch: String) throws -> [[UInt8]] {
        switch self {
        case .wal:
            let (log, _) = try WriteAheadLog.open(directory: scratch + "/wal", options: .init(durability: .osBuffered))
            for i in 0..<12 {
                let payload = i % 2 == 0 ? Array("{\"id\":\"r\(i)\",\"agent\":\"planner\",\"agent2\":\"planner\"}".utf8) : (0..<(i * 5)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
                try log.append(type: UInt8(i % 3 + 1), payload: payload)
            }
            try log.sync()
            return log.segmentPaths.compactMap { read($0) }
        case .storeSnapshot:
            var out = [[UInt8]]()
            for ivf in [false, true] {
                let directory = scratch + (ivf ? "/ivf" : "/hnsw")
                let store = try Store.open(directory: directory, options: StoreOptions(durability: .osBuffered))
                try store.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2,
                                                                   ivf: ivf ? IVFSettings(nlist: 2, nprobe: 2, trainingSize: 8) : nil))
                try store.upsert("c", (0..<16).map { Record(id: "r\($0)", vector: [Float($0), 1, Float($0 % 3), 2], metadata: ["n": .number(Double($0))]) })
                try store.waitUntilIndexed()
                try store.upsert("c", [Record(id: "staged", vector: [9, 9, 9, 9])])
                _ = try store.delete("c", ids: ["r3"])
                try store.snapshot()
                try store.close(writingSnapshot: false)
                if let file = try listing(directory).first(where: { $0.hasPrefix("snapshot-") }), let bytes = read("\(directory)/\(file)") {
                    out.append(bytes)
                }
            }
            // Version 4's parts: a collection with text fields (texts and the text index) and one without vectors.
            let directory = scratch + "/text"
            let store = try Store.open(directory: directory, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "t", dimension: 4, text: TextSettings(fields: ["title", "content"])))
            try store.createCollection(CollectionConfiguration(name: "n", dimension: 0, text: TextSettings(fields: ["title"])))
            try store.upsert("t", (0..<6).map { Record(id: "r\($0)", vector: [Float($0) + 1, 1, 0, 2], text: $0 % 2 == 0 ? ["content": "disk \($0) full"] : [:]) })
            try store.upsert("n", (0..<4).map { Record(id: "k\($0)", vector: [], metadata: ["n": .number(Double($0))], text: ["title": "task \($0)"]) })
            try store.waitUntilIndexed()
            _ = try store.delete("n", ids: ["k1"])
            try store.snapshot()
            try store.close(writingSnapshot: false)
            if let file = try listing(directory).first(where: { $0.hasPrefix("snapshot-") }), let bytes = read("\(directory)/\(file)") {
                out.append(bytes)
            }
            return out
        case .hnswSnapshot:
            let index = try HNSWIndex(dimension: 4, metric: .squaredL2, configuration: HNSWConfiguration(m: 4, efConstruction: 8))
            try index.insert(contentsOf: (0..<80).map { Float($0 % 13) }, labels: (0..<20).map { VectorID($0) }, threads: 1)
            try index.delete(5)
            return [index.snapshot()]
        case .ivfSnapshot:
            let index = try IVFIndex(dimension: 4, metric: .squaredL2, nlist: 2)
            let data = (0..<80).map { Float($0 % 11) }
            _ = try index.train(data)
            try index.add(contentsOf: data, labels: (0..<20).map { VectorID($0) })
            return [index.snapshot()]
        case .textSnapshot:
            let index = TextIndex()
            for label in 0..<12 { index.set(["a", "b\(label % 3)", "c", "c"], for: VectorID(label)) }
            index.remove(4)
            return [index.snapshot()]
        case .logPayload:
            return EngineFuzzEntryPoints.seedLogPayloads()
        case .metadataCodec:
            return [MetadataCodec.encode(["agent": "planner", "step": 3, "tags": ["a", "b"], "ok": true, "none": nil,
                                          "at": .timestamp(microseconds: 1_700_000_000_000_000), "deep": ["x": ["y": 1.5]]])]
        case .metadataJSON:
            return [#"{"agent": "planner", "step": 3, "tags": ["a", "b"], "ok": true, "none": null, "f": -1.5e3, "s": "\u00e9\n"}"#,
                    #"{"$ts": 1700000000000000}"#, "[1, [2, [3]]]"].map { Array($0.utf8) }
        case .filterJSON:
            return [#"{"agent": "planner", "step": {"$gte": 3, "$lt": 10}}"#, #"{"$or": [{"a": 1}, {"b": {"$in": ["x", "y"]}}]}"#,
                    #"{"$not": {"tags": {"$exists": true}}}"#].map { Array($0.utf8) }
        case .copyReader:
            var writer = BinaryCopyWriter()
            for i in 0..<3 {
                writer.row(fields: 4)
                writer.text("r\(i)")
                let v: [Float] = [Float(i), 1, 2, 3]
                v.withUnsafeBufferPointer { i == 2 ? writer.halfvec($0) : writer.vector($0) }
                writer.jsonb(#"{"n": \#(i)}"#)
                writer.int64(Int64(i + 1))
            }
            writer.finish()
            return [writer.take()]
        case .checkpointFile:
            return [EngineFuzzEntryPoints.seedCheckpointFile()]
        }
    }
}

/// The whole file, or nil (the seed tool's and the replayer's reader).
public func read(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out = [UInt8](), chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        out += chunk[0..<n]
        if n < chunk.count { return ferror(f) != 0 ? nil : out }
    }
}

/// The names in a directory (not `.` and `..`).
func listing(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names = [String]()
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
