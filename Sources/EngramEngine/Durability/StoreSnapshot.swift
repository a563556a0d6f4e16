import EngramMetadata
import EngramChecksum
import EngramIndex
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

/// The store's local snapshot: every collection at one LSN, so that opening
/// the store replays only the log records above it (Docs/FORMATS.md).
///
/// `snapshot-<LSN, 20 digits>.engram`, little-endian:
/// magic `ENGRSNAP`, u32 version 3, u32 byte-order mark 0x01020304, u64 LSN,
/// u64 checkpoint LSN (the last checkpoint the store committed, 0 if none;
/// absent in version 2), u32 collection count; per collection: the create-collection payload
/// (u32 length + bytes), u32 label bound, u32 record count, per record
/// (u32 id length + UTF-8 id, u32 label, u8 placement 0 graph / 1 staged,
/// u64 LSN of its last write, u32 metadata length + metadata), u32 staged
/// row count, per staged row (u32 label, `dimension` float32 values),
/// u64 HNSW snapshot length + the HNSW snapshot, and (version 3) u32
/// tombstone count + per tombstone (u32 id length + UTF-8 id, u64 LSN of
/// the delete); then the CRC-32C of every
/// byte before it. Written to a temporary file, fsynced, renamed, and the
/// directory fsynced, so a crash leaves the old snapshot or the new one.
enum StoreSnapshot {
    static let magic: [UInt8] = Array("ENGRSNAP".utf8)
    static let version: UInt32 = 3

    static func name(_ lsn: UInt64) -> String {
        let digits = String(lsn)
        return "snapshot-" + String(repeating: "0", count: Swift.max(0, 20 - digits.count)) + digits + ".engram"
    }

    /// What a snapshot holds.
    struct Contents {
        var lsn: UInt64
        var checkpointLSN: UInt64
        var collections: [Collection]
    }

    static func encode(lsn: UInt64, checkpointLSN: UInt64, collections: [Collection]) -> [UInt8] {
        var out = magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func blob(_ b: [UInt8]) { u32(b.count); out += b }
        u32(Int(version))
        u32(0x0102_0304)
        u64(lsn)
        u64(checkpointLSN)
        u32(collections.count)
        for c in collections.sorted(by: { $0.configuration.name < $1.configuration.name }) {
            // No block in flight, writers paused by the caller: a still picture.
            c.withIndexingPaused {
                c.lock.withReadLock {
                    blob(LogPayload.create(c.configuration).encode())
                    u32(c.labels.bound)
                    u32(c.labelOfID.count)
                    for (key, label) in c.labelOfID {
                        blob(Array(key.id.utf8))
                        u32(Int(label))
                        out.append(c.labels.placement(label) == .indexed ? 0 : 1)
                        u64(c.labels.lsn(label))
                        blob(MetadataCodec.encode(c.metadata.metadata(of: label) ?? .object([:])))
                    }
                    var staged = [(VectorID, UnsafeMutablePointer<Float>)]()
                    for block in c.staging.blocks {
                        for (row, label) in block.labels.enumerated() where c.labels.placement(label) == .staged {
                            staged.append((label, block.row(row)))
                        }
                    }
                    u32(staged.count)
                    for (label, row) in staged {
                        u32(Int(label))
                        UnsafeRawBufferPointer(start: row, count: c.configuration.dimension * 4).withMemoryRebound(to: UInt8.self) {
                            out.append(contentsOf: $0)
                        }
                    }
                    let graph = c.index.snapshot()
                    u64(UInt64(graph.count))
                    out += graph
                    u32(c.tombstones.count)
                    for (key, deleted) in c.tombstones {
                        blob(Array(key.id.utf8))
                        u64(deleted)
                    }
                }
            }
        }
        withUnsafeBytes(of: CRC32C.checksum(out).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    static func decode(_ bytes: [UInt8], file: String) throws(EngineError) -> Contents {
        do {
            // (An untyped closure: a typed one here crashes the Swift 6.3 compiler.)
            return try bytes.withUnsafeBytes { raw in try decode(raw, file: file) }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .corrupt("snapshot \(file): \(error)")
        }
    }

    static func decode(_ raw: UnsafeRawBufferPointer, file: String) throws(EngineError) -> Contents {
        func fail(_ why: String, _ at: Int) -> EngineError { .corrupt("snapshot \(file) at byte \(at): \(why)") }
        guard raw.count >= 32 else { throw fail("shorter than its header", 0) }
        let body = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)])
        guard Array(body[0..<8]) == magic else { throw fail("bad magic", 0) }
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw fail("checksum mismatch", raw.count - 4) }
        var reader = SnapshotReader(body: body, at: 8, file: file)
        let fileVersion = try reader.u32()
        guard fileVersion == 2 || fileVersion == Int(version) else { throw fail("unsupported version \(fileVersion)", 8) }
        guard try reader.u32() == 0x0102_0304 else { throw fail("bad byte-order mark", 12) }
        let lsn = try reader.u64()
        let checkpointLSN = fileVersion >= 3 ? try reader.u64() : 0
        guard lsn <= WriteAheadLog.maxLSN, checkpointLSN <= WriteAheadLog.maxLSN else {
            throw fail("LSN \(lsn) or checkpoint LSN \(checkpointLSN) beyond the largest LSN", 16)
        }
        var collections = [Collection]()
        for _ in 0..<(try reader.u32()) { collections.append(try decodeCollection(&reader, version: fileVersion)) }
        guard reader.at == body.count else { throw fail("trailing bytes", reader.at) }
        return Contents(lsn: lsn, checkpointLSN: checkpointLSN, collections: collections)
    }

    private static func decodeCollection(_ reader: inout SnapshotReader, version: Int) throws(EngineError) -> Collection {
        let header = try reader.bytes(try reader.u32())
        guard case .create(let configuration) = try LogPayload.decode(type: 1, header) else {
            throw reader.fail("bad collection header")
        }
        let bound = try reader.u32()
        let recordCount = try reader.u32()
        guard recordCount <= bound else { throw reader.fail("\(recordCount) records but a label bound of \(bound)") }
        // Before anything is sized by it: a record takes at least 22 bytes. (Nothing is sized by the
        // declared bound: the label table follows the records, below.)
        guard recordCount <= reader.remaining / 22 else { throw reader.fail("\(recordCount) records cannot fit in \(reader.remaining) bytes") }
        var records = [(id: String, label: VectorID, placement: LabelTable.Placement, lsn: UInt64, metadata: MetadataValue)]()
        records.reserveCapacity(recordCount)
        var seen = Set<UInt32>(minimumCapacity: recordCount)
        for _ in 0..<recordCount {
            guard let id = String(validUTF8: try reader.bytes(try reader.u32())) else { throw reader.fail("bad id") }
            let label = try reader.u32()
            guard label < bound, seen.insert(UInt32(label)).inserted else { throw reader.fail("label \(label) out of range or repeated") }
            let placement: LabelTable.Placement
            switch try reader.bytes(1).first! {
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
            records.append((id, VectorID(label), placement, lsn, metadata))
        }
        let d = configuration.dimension
        let stagedCount = try reader.u32()
        var staged = [(VectorID, UnsafeRawBufferPointer)]()
        for _ in 0..<stagedCount { staged.append((VectorID(try reader.u32()), try reader.bytes(4 * d))) }
        let storedLength = try reader.u64()
        guard let indexLength = Int(exactly: storedLength) else { throw reader.fail("index length \(storedLength)") }
        let graphBytes = try reader.bytes(indexLength)
        let graph: CollectionIndex
        if let ivf = configuration.ivf {
            graph = try IVFCollectionIndex.load(graphBytes, dimension: configuration.dimension, metric: configuration.metric, settings: ivf)
        } else {
            let hnsw: HNSWIndex
            do throws(SnapshotError) { hnsw = try HNSWIndex.load(snapshot: graphBytes) } catch {
                throw reader.fail("index: \(error)")
            }
            guard hnsw.dimension == configuration.dimension, hnsw.metric == configuration.metric, hnsw.configuration.m == configuration.hnsw.m else {
                throw reader.fail("collection '\(configuration.name)': its index does not match its parameters")
            }
            graph = hnsw
        }
        let c = try Collection(configuration, index: graph)
        // Labels above the highest live one are as good as never handed out (nothing refers to them):
        // the table is built up to it, so its size follows the records, not a declared bound.
        let used = records.lazy.map { Int($0.label) + 1 }.max() ?? 0
        c.labels = LabelTable(bound: used, placed: records.map { ($0.label, $0.placement, $0.lsn) })
        c.metadata.deferPostings()  // built in the background (Store.maintain)
        for r in records {
            c.labelOfID[RecordKey(r.id)] = r.label
            c.setID(r.id, of: r.label)
            c.metadata.set(r.metadata, for: r.label)
        }
        guard c.labelOfID.count == records.count else { throw reader.fail("an id appears twice") }
        // Every graph label is a record's indexed version; every staged row a staged one.
        guard graph.count == records.lazy.filter({ $0.placement == .indexed }).count,
              records.allSatisfy({ $0.placement != .indexed || graph.contains($0.label) }) else {
            throw reader.fail("the graph and the records disagree")
        }
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        for (label, bytes) in staged {
            guard Int(label) < c.labels.bound, c.labels.placement(label) == .staged else { throw reader.fail("staged row for label \(label), which is not staged") }
            do throws(IndexError) {
                try c.format.prepare(bytes.bindMemory(to: Float.self), into: row, row: Int(label))
            } catch {
                throw reader.fail("staged vector: \(error)")
            }
            c.staging.append(row, label: label)
        }
        guard c.staging.count == records.count - graph.count else { throw reader.fail("staged rows missing") }
        if version >= 3 {
            for _ in 0..<(try reader.u32()) {
                guard let id = String(validUTF8: try reader.bytes(try reader.u32())) else { throw reader.fail("bad tombstone id") }
                c.tombstones[RecordKey(id)] = try reader.u64()
            }
        }
        return c
    }
}

/// Reads a snapshot's fields, bounds-checked, naming the offset on failure.
private struct SnapshotReader {
    let body: UnsafeRawBufferPointer
    var at: Int
    let file: String

    func fail(_ why: String) -> EngineError { .corrupt("snapshot \(file) at byte \(at): \(why)") }

    /// Bytes left to read.
    var remaining: Int { body.count - at }

    mutating func bytes(_ n: Int) throws(EngineError) -> UnsafeRawBufferPointer {
        guard n >= 0, body.count - at >= n else { throw fail("truncated") }
        defer { at += n }
        return UnsafeRawBufferPointer(rebasing: body[at..<(at + n)])
    }

    mutating func u32() throws(EngineError) -> Int {
        Int(UInt32(littleEndian: try bytes(4).loadUnaligned(as: UInt32.self)))
    }

    mutating func u64() throws(EngineError) -> UInt64 {
        UInt64(littleEndian: try bytes(8).loadUnaligned(as: UInt64.self))
    }
}
