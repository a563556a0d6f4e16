import EngramMetadata
import EngramChecksum
import EngramEngine
import EngramIndex
import EngramPostgres
import EngramText
import EngramWAL

/// Every reader of untrusted bytes, as one fuzz target each
/// (Docs/DEVELOPMENT.md, "Fuzzing"). ``run(_:)`` feeds the bytes to the
/// reader as Engram would; a reader may accept them or throw a typed error,
/// never trap. Where a reader accepts, the result is used (searched,
/// re-encoded) so that accepting inconsistent bytes shows too.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A write-ahead log segment, read as the last segment of a log.
    case wal
    /// A local store snapshot (`snapshot-<LSN>.engram`).
    case storeSnapshot = "store-snapshot"
    /// An HNSW index snapshot.
    case hnswSnapshot = "hnsw-snapshot"
    /// An IVF index snapshot.
    case ivfSnapshot = "ivf-snapshot"
    /// A log record payload (first byte: its type).
    case logPayload = "log-payload"
    /// The binary metadata codec.
    case metadataCodec = "metadata-codec"
    /// Metadata as JSON text (`engram import` lines, `--filter` values).
    case metadataJSON = "metadata-json"
    /// A metadata filter as JSON text.
    case filterJSON = "filter-json"
    /// A binary `COPY ... TO STDOUT` stream of a collection table, with its vectors decoded.
    case copyReader = "copy-reader"
    /// The `CHECKPOINT` file.
    case checkpointFile = "checkpoint-file"
    /// A BM25 text index snapshot.
    case textSnapshot = "text-snapshot"

    /// Feeds `bytes` to the reader. Returns false when a reader broke a
    /// property it promises (a decoded value that does not round-trip);
    /// a trap ends the process, which is what the fuzzer looks for.
    @discardableResult
    public func run(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .wal:
            Self.withRecordCRCs(bytes).withUnsafeBytes { raw in
                var last: UInt64 = 0
                _ = try? WriteAheadLog.scanSegment(raw, firstLSN: raw.count >= 24 ? raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self) : 1) {
                    last = $0.lsn &+ UInt64($0.payload.count)
                }
                _ = last
            }
        case .storeSnapshot:
            EngineFuzzEntryPoints.storeSnapshot(Self.withTrailingCRC(bytes))
        case .hnswSnapshot:
            if let index = try? HNSWIndex.load(snapshot: Self.withTrailingCRC(bytes)) {
                _ = try? index.search([Float](repeating: 0.5, count: index.dimension), k: 3, efSearch: 16)
                _ = index.snapshot()
            }
        case .ivfSnapshot:
            if let index = try? IVFIndex.load(snapshot: Self.withTrailingCRC(bytes)) {
                _ = try? index.search([Float](repeating: 0.5, count: index.dimension), k: 3, nprobe: 2)
                _ = index.snapshot()
            }
        case .logPayload:
            EngineFuzzEntryPoints.logPayload(bytes)
        case .metadataCodec:
            return EngineFuzzEntryPoints.metadataCodec(bytes)
        case .metadataJSON:
            let text = String(decoding: bytes, as: UTF8.self)
            if let value = try? MetadataJSON.parse(text) {
                // Formatting and parsing again gives the same value.
                return (try? MetadataJSON.parse(MetadataJSON.format(value))) == value
            }
        case .filterJSON:
            _ = try? MetadataFilter.parse(json: String(decoding: bytes, as: UTF8.self))
        case .copyReader:
            var reader = BinaryCopyReader()
            let vector = UnsafeMutablePointer<Float>.allocate(capacity: 64)
            defer { vector.deallocate() }
            // In two chunks, split where the first byte says: rows may straddle chunks.
            let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
            for chunk in [Array(bytes[..<split]), Array(bytes[split...])] {
                let ok: Bool? = try? chunk.withUnsafeBytes { raw in
                    try reader.feed(raw) { fields in
                        for field in fields {
                            guard let field else { continue }
                            _ = try? BinaryCopy.vector(field, into: vector, capacity: 64)
                            _ = try? BinaryCopy.halfvec(field, into: vector, capacity: 64)
                            _ = try? BinaryCopy.int64(field)
                            _ = try? BinaryCopy.jsonb(field)
                            _ = BinaryCopy.text(field)
                        }
                    }
                    return true
                }
                if ok == nil { break }
            }
        case .checkpointFile:
            EngineFuzzEntryPoints.checkpointFile(bytes)
        case .textSnapshot:
            if let index = try? TextIndex.load(snapshot: Self.withTrailingCRC(bytes)) {
                _ = try? index.search(["a", "b", "c"], k: 3)
                // A loaded index writes the same bytes again.
                return index.snapshot() == Self.withTrailingCRC(bytes)
            }
        }
        return true
    }

    /// `bytes` with their last four bytes replaced by the CRC-32C of the rest,
    /// as every snapshot ends: a mutation then reaches the parser behind the
    /// checksum instead of stopping at it (the checksum check itself is
    /// covered by any input whose CRC is wrong, and by the unit tests).
    static func withTrailingCRC(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 8 else { return bytes }
        var out = bytes
        let crc = CRC32C.checksum(Array(bytes[..<(bytes.count - 4)]))
        withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { out[bytes.count - 4 + i] = b } }
        return out
    }

    /// A WAL segment with each record's CRC recomputed, walking records by
    /// their stored lengths while they fit: a mutation then reaches the LZ4
    /// blocks and the LSN checks behind the CRC.
    static func withRecordCRCs(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var at = 32
        while at + 24 <= out.count {
            let stored = Int(UInt32(out[at]) | UInt32(out[at + 1]) << 8 | UInt32(out[at + 2]) << 16 | UInt32(out[at + 3]) << 24)
            guard stored <= out.count - at - 24 else { break }
            var crc = CRC32C()
            crc.update(Array(out[at..<(at + 20)]))
            crc.update(Array(out[(at + 24)..<(at + 24 + stored)]))
            withUnsafeBytes(of: crc.value.littleEndian) { for (i, b) in $0.enumerated() { out[at + 20 + i] = b } }
            at += 24 + stored
        }
        return out
    }
}
