import EngramChecksum
import EngramIndex

#if canImport(Glibc)
import Glibc
#endif

/// The store's local snapshot: every collection at one LSN, so that opening
/// the store replays only the log records above it (Docs/FORMATS.md).
///
/// `snapshot-<LSN, 20 digits>.engram`, little-endian:
/// magic `ENGRSNAP`, u32 version 1, u32 byte-order mark 0x01020304, u64 LSN,
/// u32 collection count; per collection: the create-collection payload
/// (u32 length + bytes), u32 next label, u32 record count, per record
/// (u32 id length + UTF-8 id, u32 label, u32 metadata length + metadata),
/// u64 HNSW snapshot length + the HNSW snapshot; then the CRC-32C of every
/// byte before it. Written to a temporary file, fsynced, renamed, and the
/// directory fsynced, so a crash leaves the old snapshot or the new one.
enum StoreSnapshot {
    static let magic: [UInt8] = Array("ENGRSNAP".utf8)
    static let version: UInt32 = 1

    static func name(_ lsn: UInt64) -> String {
        let digits = String(lsn)
        return "snapshot-" + String(repeating: "0", count: Swift.max(0, 20 - digits.count)) + digits + ".engram"
    }

    static func encode(lsn: UInt64, collections: [Collection]) -> [UInt8] {
        var out = magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func blob(_ b: [UInt8]) { u32(b.count); out += b }
        u32(Int(version))
        u32(0x0102_0304)
        u64(lsn)
        u32(collections.count)
        for c in collections.sorted(by: { $0.configuration.name < $1.configuration.name }) {
            c.lock.withReadLock {
                blob(LogPayload.create(c.configuration).encode())
                u32(Int(c.nextLabel))
                u32(c.labelOfID.count)
                for (id, label) in c.labelOfID.sorted(by: { $0.value < $1.value }) {
                    blob(Array(id.utf8))
                    u32(Int(label))
                    blob(MetadataCodec.encode(c.metadata.metadata(of: label) ?? .object([:])))
                }
                let graph = c.index.snapshot()
                u64(UInt64(graph.count))
                out += graph
            }
        }
        withUnsafeBytes(of: CRC32C.checksum(out).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    static func decode(_ bytes: [UInt8], file: String) throws(EngineError) -> (UInt64, [Collection]) {
        func fail(_ why: String, _ at: Int) -> EngineError { .corrupt("snapshot \(file) at byte \(at): \(why)") }
        guard bytes.count >= 32 else { throw fail("shorter than its header", 0) }
        let body = Array(bytes[0..<(bytes.count - 4)])
        let stored = bytes[(bytes.count - 4)...].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard Array(bytes[0..<8]) == magic else { throw fail("bad magic", 0) }
        guard CRC32C.checksum(body) == stored else { throw fail("checksum mismatch", bytes.count - 4) }
        var at = 8
        func take(_ n: Int) throws(EngineError) -> ArraySlice<UInt8> {
            guard n >= 0, body.count - at >= n else { throw fail("truncated", at) }
            defer { at += n }
            return body[at..<(at + n)]
        }
        func u32() throws(EngineError) -> Int { try take(4).reversed().reduce(0) { $0 << 8 | Int($1) } }
        func u64() throws(EngineError) -> UInt64 { try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        guard try u32() == Int(version) else { throw fail("unsupported version", 8) }
        guard try u32() == 0x0102_0304 else { throw fail("bad byte-order mark", 12) }
        let lsn = try u64()
        var collections = [Collection]()
        for _ in 0..<(try u32()) {
            guard case .create(let configuration) = try LogPayload.decode(type: 1, Array(try take(try u32()))) else {
                throw fail("bad collection header", at)
            }
            let nextLabel = VectorID(try u32())
            var entries = [(String, VectorID, MetadataValue)]()
            for _ in 0..<(try u32()) {
                guard let id = String(validating: try take(try u32()), as: UTF8.self) else { throw fail("bad id", at) }
                let label = VectorID(try u32())
                let metadataBytes = Array(try take(try u32()))
                let metadata: MetadataValue
                do throws(MetadataError) { metadata = try MetadataCodec.decode(metadataBytes) } catch {
                    throw fail("metadata: \(error)", at)
                }
                entries.append((id, label, metadata))
            }
            let graphLength = Int(try u64())
            let graphBytes = Array(try take(graphLength))
            let graph: HNSWIndex
            do throws(SnapshotError) { graph = try HNSWIndex.load(snapshot: graphBytes) } catch {
                throw fail("index: \(error)", at)
            }
            collections.append(try Collection(configuration, index: graph, entries: entries, nextLabel: nextLabel))
        }
        guard at == body.count else { throw fail("trailing bytes", at) }
        return (lsn, collections)
    }
}

extension Collection {
    convenience init(
        _ configuration: CollectionConfiguration, index: HNSWIndex, entries: [(String, VectorID, MetadataValue)],
        nextLabel: VectorID
    ) throws(EngineError) {
        try self.init(configuration, index: index)
        for (id, label, metadata) in entries {
            guard index.contains(label), label < nextLabel else {
                throw .corrupt("snapshot of '\(configuration.name)': record '\(id)' has no live vector")
            }
            self.metadata.set(metadata, for: label)
            labelOfID[id] = label
            idOfLabel[label] = id
        }
        self.nextLabel = nextLabel
    }
}
