import ArgumentParser
import EngramEngine
import EngramTools


/// `engram stats`: what a data directory holds.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Collections, counts, log size, LSNs.",
        discussion: "Opens the data directory read-only: nothing in it is created or changed.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var vectorMemory: VectorMemoryOptions

    private struct CollectionStats: Encodable {
        var name: String
        var count, unindexed, dimension: Int
        var metric, index: String
        /// IVF only.
        var trained: Bool?
        var lists: Int?
        var drift: Rounded?
        var text_fields: [String]?
        var text_documents: Int?
        var text_terms: Int?
        var text_index_bytes: Int?
        /// The vector index's bytes, by what they hold.
        var floats_bytes, codes_bytes, links_bytes, other_bytes: Int
        /// HNSW only: whether searches walk the graph on compact codes.
        var walks_on_codes: Bool?
        /// Whether the floats live in a memory-mapped file (`--map-floats`), not on the heap.
        var floats_mapped: Bool
    }
    private struct Stats: Encodable {
        var collections: [CollectionStats]
        var wal_bytes: Int
        var last_lsn, snapshot_lsn: UInt64
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path, options: vectorMemory.applied(to: .readOnly))
        let names = store.collectionNames
        if output.json {
            let collections = try names.map { name -> CollectionStats in
                let c = try store.configuration(name), index = try store.indexInfo(name)
                let ivf = index.kind == "ivf"
                let text = try store.textIndexInfo(name)
                return CollectionStats(
                    name: name, count: try store.count(name), unindexed: try store.unindexedCount(name), dimension: c.dimension,
                    metric: "\(c.metric)", index: index.kind, trained: ivf ? index.trained : nil, lists: ivf ? index.lists : nil,
                    drift: ivf ? index.drift.map { Rounded($0, 3) } : nil, text_fields: text?.fields, text_documents: text?.documents,
                    text_terms: text?.terms, text_index_bytes: text?.memoryBytes,
                    floats_bytes: index.memory.floats, codes_bytes: index.memory.codes, links_bytes: index.memory.links,
                    other_bytes: index.memory.other, walks_on_codes: index.kind == "hnsw" ? index.walksOnCodes : nil,
                    floats_mapped: index.memory.floatsFileBacked)
            }
            printAndFlush(JSONLine.encode(Stats(collections: collections, wal_bytes: store.logBytes, last_lsn: store.lastLSN, snapshot_lsn: store.snapshotLSN)))
        } else {
            for name in names {
                let c = try store.configuration(name), index = try store.indexInfo(name)
                var kind = index.kind
                if index.kind == "ivf" {
                    kind += index.trained ? " (\(index.lists ?? 0) lists, drift \(format(index.drift ?? 0, 2)))" : " (searched exactly until trained)"
                }
                if index.kind == "hnsw" { kind += index.walksOnCodes ? " (walks on compact codes)" : " (walks on floats)" }
                let m = index.memory
                var line = "\(name): \(try store.count(name)) records, dimension \(c.dimension), metric \(c.metric), index \(kind)"
                if index.kind != "none" {
                    line += "; memory: floats \(m.floats)\(m.floatsFileBacked ? " (mapped)" : ""), codes \(m.codes), links \(m.links), other \(m.other) bytes"
                }
                if let text = try store.textIndexInfo(name) {
                    line += "; text fields \(text.fields.joined(separator: ", ")): \(text.documents) documents, \(text.terms) terms, \(text.memoryBytes) bytes"
                }
                printAndFlush(line)
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
