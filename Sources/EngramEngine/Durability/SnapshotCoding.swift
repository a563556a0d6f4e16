import EngramChecksum

/// Appends a store snapshot's fields, little-endian (``StoreSnapshot``);
/// ``finished()`` seals it with the CRC-32C of every byte before.
struct SnapshotWriter {
    private(set) var bytes: [UInt8]

    init(_ magic: [UInt8]) { bytes = magic }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// A u32 length, then the bytes.
    mutating func blob(_ b: [UInt8]) {
        u32(b.count)
        bytes += b
    }
    mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
    mutating func append(_ b: [UInt8]) { bytes += b }

    /// The bytes with their CRC-32C appended.
    func finished() -> [UInt8] {
        var out = bytes
        withUnsafeBytes(of: CRC32C.checksum(out).littleEndian) { out.append(contentsOf: $0) }
        return out
    }
}

/// Reads a snapshot's fields, bounds-checked, naming the offset on failure.
struct SnapshotReader {
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

    mutating func u8() throws(EngineError) -> UInt8 {
        try bytes(1).load(as: UInt8.self)
    }

    mutating func u32() throws(EngineError) -> Int {
        Int(UInt32(littleEndian: try bytes(4).loadUnaligned(as: UInt32.self)))
    }

    mutating func u64() throws(EngineError) -> UInt64 {
        UInt64(littleEndian: try bytes(8).loadUnaligned(as: UInt64.self))
    }
}
