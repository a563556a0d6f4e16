import EngramIndex
import EngramMetadata
import EngramText

/// A collection's section of the store snapshot (``StoreSnapshot``,
/// Docs/FORMATS.md): the create-collection payload, the label bound, the
/// records (id, label, placement, LSN, metadata, and from version 4 the
/// texts), the staged rows, the index in its own format, (version 3) the
/// tombstones and (version 4) the text index in its own format.
///
/// Writing reads the collection under its locks; reading checks every
/// field and hands the new collection its state through
/// ``Collection/install(_:staged:tombstones:)``, so only `Collection.swift`
/// writes the collection's maps.
extension Collection {
    /// One record as the snapshot holds it.
    struct SnapshotRecord {
        var id: String
        var label: VectorID
        var placement: LabelTable.Placement
        var lsn: UInt64
        var metadata: MetadataValue
        var text: [String: String] = [:]
    }

    /// Appends this collection's section: a still picture, with no block in
    /// flight (the caller has paused writers).
    func writeSnapshotSection(to out: inout SnapshotWriter) {
        withIndexingPaused {
            lock.withReadLock {
                out.blob(LogPayload.create(configuration).encode())
                out.u32(labels.bound)
                out.u32(labelOfID.count)
                for (key, label) in labelOfID {
                    out.blob(Array(key.id.utf8))
                    out.u32(Int(label))
                    out.u8(labels.placement(label) == .indexed ? 0 : 1)
                    out.u64(labels.lsn(label))
                    out.blob(MetadataCodec.encode(metadata.metadata(of: label) ?? .object([:])))
                    let texts = text(of: label)
                    out.u32(texts.count)
                    for (field, value) in texts.sorted(by: { $0.key < $1.key }) {
                        out.blob(Array(field.utf8))
                        out.blob(Array(value.utf8))
                    }
                }
                var staged = [(VectorID, UnsafeMutablePointer<Float>)]()
                for block in staging.blocks {
                    for (row, label) in block.labels.enumerated() where labels.placement(label) == .staged {
                        staged.append((label, block.row(row)))
                    }
                }
                out.u32(staged.count)
                for (label, row) in staged {
                    out.u32(Int(label))
                    out.raw(UnsafeRawBufferPointer(start: row, count: configuration.dimension * 4))
                }
                let graph = index.snapshot()
                out.u64(UInt64(graph.count))
                out.append(graph)
                out.u32(tombstones.count)
                for (key, deleted) in tombstones {
                    out.blob(Array(key.id.utf8))
                    out.u64(deleted)
                }
                let text = textIndex?.snapshot() ?? []
                out.u64(UInt64(text.count))
                out.append(text)
            }
        }
    }

    /// Reads one collection's section of a snapshot file of `version`.
    static func readSnapshotSection(
        from reader: inout SnapshotReader, version: Int, vectors: VectorPlacement = .heap
    ) throws(EngineError) -> Collection {
        let header = try reader.bytes(try reader.u32())
        guard case .create(let configuration) = try LogPayload.decode(type: 1, header) else {
            throw reader.fail("bad collection header")
        }
        let bound = try reader.u32()
        let recordCount = try reader.u32()
        guard recordCount <= bound else { throw reader.fail("\(recordCount) records but a label bound of \(bound)") }
        // Before anything is sized by it: a record takes at least 22 bytes. (Nothing is sized by the
        // declared bound: the label table follows the records.)
        guard recordCount <= reader.remaining / 22 else { throw reader.fail("\(recordCount) records cannot fit in \(reader.remaining) bytes") }
        var records = [SnapshotRecord]()
        records.reserveCapacity(recordCount)
        var seen = Set<UInt32>(minimumCapacity: recordCount)
        for _ in 0..<recordCount {
            guard let id = String(validUTF8: try reader.bytes(try reader.u32())) else { throw reader.fail("bad id") }
            let label = try reader.u32()
            guard label < bound, seen.insert(UInt32(label)).inserted else { throw reader.fail("label \(label) out of range or repeated") }
            let placement: LabelTable.Placement
            switch try reader.u8() {
            case 0: placement = .indexed
            case 1: placement = .staged
            default: throw reader.fail("unknown placement")
            }
            let lsn = try reader.u64()
            let metadata: MetadataValue
            let metadataBytes = try reader.bytes(try reader.u32())
            do throws(MetadataError) { metadata = try MetadataCodec.decode(metadataBytes) } catch {
                throw reader.fail("metadata: \(error)")
            }
            var text = [String: String]()
            if version >= 4 {
                let count = try reader.u32()
                guard count <= TextSettings.maxFields else { throw reader.fail("\(count) texts in a record") }
                for _ in 0..<count {
                    guard let field = String(validUTF8: try reader.bytes(try reader.u32())),
                          let value = String(validUTF8: try reader.bytes(try reader.u32())),
                          text.updateValue(value, forKey: field) == nil else { throw reader.fail("bad or repeated text field") }
                }
            }
            records.append(SnapshotRecord(id: id, label: VectorID(label), placement: placement, lsn: lsn, metadata: metadata, text: text))
        }
        let d = configuration.dimension
        let stagedCount = try reader.u32()
        var staged = [(VectorID, UnsafeRawBufferPointer)]()
        for _ in 0..<stagedCount { staged.append((VectorID(try reader.u32()), try reader.bytes(4 * d))) }
        let storedLength = try reader.u64()
        guard let indexLength = Int(exactly: storedLength) else { throw reader.fail("index length \(storedLength)") }
        let index = try loadIndex(reader.bytes(indexLength), configuration, vectors, &reader)
        var tombstones: [RecordKey: UInt64] = [:]
        if version >= 3 {
            for _ in 0..<(try reader.u32()) {
                guard let id = String(validUTF8: try reader.bytes(try reader.u32())) else { throw reader.fail("bad tombstone id") }
                tombstones[RecordKey(id)] = try reader.u64()
            }
        }
        var textIndex: TextIndex?
        if version >= 4 {
            let stored = try reader.u64()
            guard let length = Int(exactly: stored), length <= reader.remaining else { throw reader.fail("text index length \(stored)") }
            if length > 0 {
                guard configuration.text != nil else { throw reader.fail("a text index in a collection without text fields") }
                let bytes = Array(try reader.bytes(length))
                do throws(SnapshotError) { textIndex = try TextIndex.load(snapshot: bytes) } catch {
                    throw reader.fail("text index: \(error)")
                }
            }
        }
        let c = try Collection(configuration, index: index, textIndex: textIndex)
        do throws(RestoreProblem) {
            try c.install(records, staged: staged, tombstones: tombstones)
        } catch {
            throw reader.fail(error.reason)
        }
        return c
    }

    /// The index of a collection's section, in the format its kind writes.
    private static func loadIndex(
        _ bytes: UnsafeRawBufferPointer, _ configuration: CollectionConfiguration, _ vectors: VectorPlacement,
        _ reader: inout SnapshotReader
    ) throws(EngineError) -> CollectionIndex {
        if configuration.dimension == 0 {
            do throws(SnapshotError) { return try RecordsOnlyIndex.load(bytes) } catch { throw reader.fail("index: \(error)") }
        }
        if let ivf = configuration.ivf {
            return try IVFCollectionIndex.load(bytes, dimension: configuration.dimension, metric: configuration.metric, settings: ivf)
        }
        let hnsw: HNSWIndex
        let memory = try vectors.memory()
        do throws(SnapshotError) { hnsw = try HNSWIndex.load(snapshot: bytes, vectorMemory: memory) } catch {
            if error.kind == .vectorMemoryUnavailable {
                throw vectors.unavailable(configuration.name, error.reason)
            }
            throw reader.fail("index: \(error)")
        }
        guard hnsw.dimension == configuration.dimension, hnsw.metric == configuration.metric, hnsw.configuration.m == configuration.hnsw.m else {
            throw reader.fail("collection '\(configuration.name)': its index does not match its parameters")
        }
        return hnsw
    }
}

/// Why a snapshot's records cannot be installed into a collection.
struct RestoreProblem: Error {
    var reason: String
}
