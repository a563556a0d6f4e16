import EngramEngine
import EngramMetadata
import EngramIndex
import EngramKernels

/// Reads collections back out of PostgreSQL (``PostgresCheckpointTarget``'s
/// tables) for `engram restore`: the registry entry, and every row streamed
/// with binary `COPY`.
package enum PostgresCollectionReader {
    /// A registered collection: its parameters and its table.
    package struct Registered: Sendable {
        package var configuration: CollectionConfiguration
        package var table: String
        package var vectorType: PostgresVectorType
    }

    /// The registered collection `name`; an `.invalidArgument` error if there is none.
    package static func configuration(_ name: String, _ db: PostgresConnection) throws -> Registered {
        let r = try db.execute("""
            SELECT table_name, dimension, metric, hnsw_m, hnsw_ef_construction, hnsw_ef_search, hnsw_seed, vector_type,
                   index_kind, ivf_nlist, ivf_nprobe, ivf_training_size, text_fields, text_k1, text_b
            FROM engram_collections WHERE name = \(name)
            """)
        guard r.rowCount == 1 else { throw PostgresError(kind: .invalidArgument, message: "unknown collection '\(name)' in the database") }
        func int(_ c: Int) throws -> Int {
            guard let text = r.text(row: 0, column: c), let v = Int(text) else {
                throw PostgresError(kind: .decoding, message: "collection '\(name)': column \(c) of its registry row is not a number")
            }
            return v
        }
        guard let metric = r.text(row: 0, column: 2).flatMap(Metric.init(rawValue:)) else {
            throw PostgresError(kind: .decoding, message: "collection '\(name)': unknown metric in its registry row")
        }
        var ivf: IVFSettings?
        switch r.text(row: 0, column: 8) {
        case "hnsw": ivf = nil
        case "ivf":
            let nlist = try int(9), trainingSize = try int(11)
            ivf = IVFSettings(nlist: nlist == 0 ? nil : nlist, nprobe: try int(10), trainingSize: trainingSize == 0 ? nil : trainingSize)
        default: throw PostgresError(kind: .decoding, message: "collection '\(name)': unknown index kind in its registry row")
        }
        guard let type = r.text(row: 0, column: 7).flatMap(PostgresVectorType.init(rawValue:)) else {
            throw PostgresError(kind: .decoding, message: "collection '\(name)': unknown vector type in its registry row")
        }
        // The text fields: a PostgreSQL array of plain identifiers ("{title,content}"); none: no text.
        var text: TextSettings?
        let fieldList = r.text(row: 0, column: 12) ?? ""
        guard fieldList.hasPrefix("{"), fieldList.hasSuffix("}") else {
            throw PostgresError(kind: .decoding, message: "collection '\(name)': text fields \(fieldList) in its registry row")
        }
        let fields = fieldList.dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if fieldList != "{}" {
            guard let k1 = r.text(row: 0, column: 13).flatMap(Double.init), let b = r.text(row: 0, column: 14).flatMap(Double.init) else {
                throw PostgresError(kind: .decoding, message: "collection '\(name)': BM25 parameters in its registry row are not numbers")
            }
            text = TextSettings(fields: fields, k1: k1, b: b)
        }
        // A halfvec table holds half precision: a collection restored from it refuses what it cannot store.
        let configuration = CollectionConfiguration(
            name: name, dimension: try int(1), metric: metric,
            hnsw: HNSWConfiguration(m: try int(3), efConstruction: try int(4), efSearch: try int(5), seed: UInt64(bitPattern: Int64(try int(6)))),
            ivf: ivf, storedPrecision: type == .halfvec ? .float16 : .float32, text: text)
        do { try configuration.validate() } catch {
            throw PostgresError(kind: .decoding, message: "collection '\(name)': its registry row holds invalid parameters: \(error)")
        }
        return Registered(configuration: configuration, table: r.text(row: 0, column: 0) ?? "", vectorType: type)
    }

    /// The names of every registered collection, sorted.
    package static func collectionNames(_ db: PostgresConnection) throws -> [String] {
        let r = try db.execute("SELECT name FROM engram_collections ORDER BY name")
        return (0..<r.rowCount).compactMap { r.text(row: $0, column: 0) }
    }

    /// One row of a collection's table, as ``rows(of:_:_:)`` streams it.
    package struct Row {
        package var id: String
        /// `dimension` floats, valid during the call only.
        package var vector: UnsafeBufferPointer<Float>
        package var metadataJSON: String
        package var lsn: UInt64
        /// The text fields that are not NULL.
        package var text: [String: String]

        /// The row as a restore streams it in (its metadata parsed).
        package func restored() throws -> Store.RestoredRecord {
            Store.RestoredRecord(id: id, vector: vector, metadata: try MetadataJSON.parse(metadataJSON), lsn: lsn, text: text)
        }
    }

    /// The columns a collection's table is read and written by, in order:
    /// `id, embedding, metadata, lsn`, then each text field (no `embedding`
    /// for a collection of records without vectors, dimension 0).
    package static func columns(_ configuration: CollectionConfiguration) throws -> [PostgresIdentifier] {
        let fixed = configuration.dimension > 0 ? ["id", "embedding", "metadata", "lsn"] : ["id", "metadata", "lsn"]
        return try (fixed + (configuration.text?.fields ?? [])).map { name throws(PostgresError) in try PostgresIdentifier(name) }
    }

    /// Streams every row of a registered collection to `row`.
    package static func rows(of registered: Registered, _ db: PostgresConnection, _ row: (Row) throws -> Void) throws {
        let d = registered.configuration.dimension
        let fields = registered.configuration.text?.fields ?? []
        let vector = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(d, 1))
        defer { vector.deallocate() }
        var reader = BinaryCopyReader()
        let table = try PostgresIdentifier(registered.table)
        let columns = try columns(registered.configuration)
        let fixed = columns.count - fields.count  // id, [embedding,] metadata, lsn
        try db.copyOut("COPY \(table) (\(columns)) TO STDOUT (FORMAT binary)") { chunk in
            try reader.feed(chunk) { values in
                guard values.count == columns.count, let id = values[0], let metadata = values[fixed - 2], let lsn = values[fixed - 1] else {
                    throw PostgresError(kind: .decoding, message: "a row of \(registered.table) with a missing field")
                }
                if d > 0 {
                    guard let embedding = values[1] else {
                        throw PostgresError(kind: .decoding, message: "a row of \(registered.table) without its vector")
                    }
                    let n = registered.vectorType == .halfvec
                        ? try BinaryCopy.halfvec(embedding, into: vector, capacity: d)
                        : try BinaryCopy.vector(embedding, into: vector, capacity: d)
                    guard n == d else {
                        throw PostgresError(kind: .decoding, message: "a vector of \(n) dimensions in collection '\(registered.configuration.name)' of dimension \(d)")
                    }
                }
                var text = [String: String]()
                for (i, field) in fields.enumerated() {
                    if let value = values[fixed + i] { text[field] = BinaryCopy.text(value) }
                }
                try row(Row(id: BinaryCopy.text(id), vector: UnsafeBufferPointer(start: vector, count: d), metadataJSON: try BinaryCopy.jsonb(metadata),
                            lsn: UInt64(bitPattern: try BinaryCopy.int64(lsn)), text: text))
            }
        }
        guard reader.finished else { throw PostgresError(kind: .decoding, message: "the COPY of \(registered.table) ended early") }
    }
}
