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
/// magic `ENGRSNAP`, u32 version 4, u32 byte-order mark 0x01020304, u64 LSN,
/// u64 checkpoint LSN (the last checkpoint the store committed, 0 if none;
/// absent in version 2), u32 collection count; per collection: the create-collection payload
/// (u32 length + bytes), u32 label bound, u32 record count, per record
/// (u32 id length + UTF-8 id, u32 label, u8 placement 0 graph / 1 staged,
/// u64 LSN of its last write, u32 metadata length + metadata, and (version
/// 4) u32 text count + per text, in field-name order, the field name and the
/// text, each u32 length + UTF-8), u32 staged
/// row count, per staged row (u32 label, `dimension` float32 values),
/// u64 HNSW snapshot length + the HNSW snapshot, and (version 3) u32
/// tombstone count + per tombstone (u32 id length + UTF-8 id, u64 LSN of
/// the delete), and (version 4) u64 text index length + the text index
/// snapshot (`ENGRTEXT`; length 0: none, or rebuilt from the texts); then the CRC-32C of every
/// byte before it. Written to a temporary file, fsynced, renamed, and the
/// directory fsynced, so a crash leaves the old snapshot or the new one.
enum StoreSnapshot {
    static let magic: [UInt8] = Array("ENGRSNAP".utf8)
    static let version: UInt32 = 4

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
        var writer = SnapshotWriter(magic)
        writer.u32(Int(version))
        writer.u32(0x0102_0304)
        writer.u64(lsn)
        writer.u64(checkpointLSN)
        writer.u32(collections.count)
        for c in collections.sorted(by: { $0.configuration.name < $1.configuration.name }) {
            c.writeSnapshotSection(to: &writer)
        }
        return writer.finished()
    }

    static func decode(_ bytes: [UInt8], file: String, vectors: VectorPlacement = .heap) throws(EngineError) -> Contents {
        do {
            // (An untyped closure: a typed one here crashes the Swift 6.3 compiler.)
            return try bytes.withUnsafeBytes { raw in try decode(raw, file: file, vectors: vectors) }
        } catch let error as EngineError {
            throw error
        } catch {
            throw .corrupt("snapshot \(file): \(error)")
        }
    }

    static func decode(_ raw: UnsafeRawBufferPointer, file: String, vectors: VectorPlacement = .heap) throws(EngineError) -> Contents {
        func fail(_ why: String, _ at: Int) -> EngineError { .corrupt("snapshot \(file) at byte \(at): \(why)") }
        guard raw.count >= 32 else { throw fail("shorter than its header", 0) }
        let body = UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)])
        guard Array(body[0..<8]) == magic else { throw fail("bad magic", 0) }
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw fail("checksum mismatch", raw.count - 4) }
        var reader = SnapshotReader(body: body, at: 8, file: file)
        let fileVersion = try reader.u32()
        guard (2...Int(version)).contains(fileVersion) else { throw fail("unsupported version \(fileVersion)", 8) }
        guard try reader.u32() == 0x0102_0304 else { throw fail("bad byte-order mark", 12) }
        let lsn = try reader.u64()
        let checkpointLSN = fileVersion >= 3 ? try reader.u64() : 0
        guard lsn <= WriteAheadLog.maxLSN, checkpointLSN <= WriteAheadLog.maxLSN else {
            throw fail("LSN \(lsn) or checkpoint LSN \(checkpointLSN) beyond the largest LSN", 16)
        }
        var collections = [Collection]()
        for _ in 0..<(try reader.u32()) { collections.append(try Collection.readSnapshotSection(from: &reader, version: fileVersion, vectors: vectors)) }
        guard reader.at == body.count else { throw fail("trailing bytes", reader.at) }
        return Contents(lsn: lsn, checkpointLSN: checkpointLSN, collections: collections)
    }
}
