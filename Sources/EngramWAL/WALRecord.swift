import EngramChecksum

/// One record of the log: a log sequence number, a type the layer above
/// defines, and its payload (uncompressed).
public struct WALRecord: Sendable, Equatable {
    public var lsn: UInt64
    public var type: UInt8
    public var payload: [UInt8]

    public init(lsn: UInt64, type: UInt8, payload: [UInt8]) {
        self.lsn = lsn
        self.type = type
        self.payload = payload
    }

    /// A copy of a replayed record that outlives the replay callback.
    public init(_ view: WALRecordView) {
        self.init(lsn: view.lsn, type: view.type, payload: Array(view.payload))
    }
}

/// A record as replay hands it over. `payload` is borrowed from the log's
/// read buffers and valid only during the replay callback: copy it
/// (``WALRecord/init(_:)``) to keep it.
public struct WALRecordView {
    public let lsn: UInt64
    public let type: UInt8
    public let payload: UnsafeRawBufferPointer
}

/// Growable raw memory reused across reads, so replay neither allocates nor
/// faults in fresh pages per record. Not synchronised.
final class ReadBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = Swift.max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    /// Makes room for `bytes` (the contents are not kept).
    func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        base.deallocate()
        capacity = Swift.max(bytes, capacity * 2)
        base = .allocate(byteCount: capacity, alignment: 64)
    }
}

/// The byte layout of segments and records, version 1 (Docs/FORMATS.md).
/// Little-endian; every header and record carries a CRC-32C.
///
/// Segment header, 32 bytes: magic `ENGRMWAL`, u32 version 1, u32 byte-order
/// mark 0x01020304, u64 first LSN, u32 reserved 0, u32 CRC-32C of bytes 0..<28.
///
/// Record: u32 stored length, u32 raw length, u64 LSN, u8 type, u8 flags
/// (bit 0: payload is an LZ4 block), u16 reserved 0, u32 CRC-32C of the 20
/// header bytes before it and the stored payload; then the stored payload.
enum WALFormat {
    static let magic: [UInt8] = Array("ENGRMWAL".utf8)
    static let version: UInt32 = 1
    static let byteOrderMark: UInt32 = 0x0102_0304
    static let segmentHeaderSize = 32
    static let recordHeaderSize = 24
    /// The largest raw payload of one record.
    static let maxPayload = 64 << 20
    /// The largest LSN: what PostgreSQL's `bigint` holds (checkpoints store
    /// LSNs there). A segment named beyond it is damage, and the log refuses
    /// to append past it.
    static let maxLSN = UInt64(Int64.max)
    static let flagLZ4: UInt8 = 1

    static func put32(_ v: UInt32, _ out: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    static func put64(_ v: UInt64, _ out: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }

    static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }

    static func segmentHeader(firstLSN: UInt64) -> [UInt8] {
        var out = magic
        put32(version, &out)
        put32(byteOrderMark, &out)
        put64(firstLSN, &out)
        put32(0, &out)
        put32(CRC32C.checksum(out), &out)
        return out
    }

    /// A payload is stored compressed only when LZ4 saves at least this
    /// fraction of it: a payload of float vectors saves about 3%, which does
    /// not pay for decompressing every byte of it on replay.
    static let minimumSaving = 1.0 / 8

    /// Encodes a record, LZ4-compressing the payload when that saves at
    /// least ``minimumSaving`` of it.
    static func encode(_ record: WALRecord) -> [UInt8] {
        let compressed = record.payload.withUnsafeBytes { LZ4Block.compress($0) }.flatMap {
            Double($0.count) <= Double(record.payload.count) * (1 - minimumSaving) ? $0 : nil
        }
        let stored = compressed ?? record.payload
        var out = [UInt8]()
        out.reserveCapacity(recordHeaderSize + stored.count)
        put32(UInt32(stored.count), &out)
        put32(UInt32(record.payload.count), &out)
        put64(record.lsn, &out)
        out.append(record.type)
        out.append(compressed == nil ? 0 : flagLZ4)
        out += [0, 0]
        var crc = CRC32C()
        crc.update(out)
        crc.update(stored)
        put32(crc.value, &out)
        out += stored
        return out
    }

    /// What the bytes at an offset hold.
    enum Decoded {
        /// A valid record; `payload` points into the decoded bytes or, for an
        /// LZ4 record, into the scratch buffer (valid until its next use).
        case record(WALRecordView, size: Int)
        /// The header is plausible but the file ends before the record does:
        /// a torn write, or a damaged length (the reader tells them apart by
        /// whether a valid record follows).
        case incomplete
        /// The bytes are there but wrong (checksum, flags, lengths, LSN, LZ4).
        case invalid(String)
    }

    /// The LSNs a record at some offset may carry: exactly `expected`, or
    /// (looking for a valid record past damage) anything in `range`.
    enum LSNCheck {
        case expected(UInt64)
        case range(ClosedRange<UInt64>)
        case any

        func admits(_ lsn: UInt64) -> Bool {
            switch self {
            case .expected(let e): return lsn == e
            case .range(let r): return r.contains(lsn)
            case .any: return true
            }
        }
    }

    /// Checks a record header's fields that do not need the payload: the
    /// lengths (within ``maxPayload``; equal when stored raw; an LZ4 block
    /// no longer than its bound), the flags and reserved bytes, and the LSN.
    /// A length is trusted only once this passes. Nil when plausible.
    static func checkHeader(_ bytes: UnsafeRawBufferPointer, at offset: Int, lsn check: LSNCheck) -> String? {
        let storedLength = Int(u32(bytes, offset))
        let rawLength = Int(u32(bytes, offset + 4))
        let lsn = u64(bytes, offset + 8)
        let flags = bytes[offset + 17]
        guard rawLength <= maxPayload, storedLength <= maxPayload else {
            return "record lengths \(storedLength)/\(rawLength) exceed \(maxPayload)"
        }
        guard flags & ~flagLZ4 == 0, bytes[offset + 18] == 0, bytes[offset + 19] == 0 else { return "unknown flags \(flags)" }
        if flags & flagLZ4 != 0 {
            // LZ4_compressBound: an LZ4 block is never longer than this.
            guard rawLength > 0, storedLength > 0, storedLength <= rawLength + rawLength / 255 + 16 else {
                return "LZ4 record of \(storedLength) stored bytes cannot hold \(rawLength)"
            }
        } else {
            guard storedLength == rawLength else { return "raw payload of \(storedLength) bytes claims \(rawLength)" }
        }
        guard check.admits(lsn) else {
            if case .expected(let e) = check { return "LSN \(lsn), expected \(e)" }
            return "LSN \(lsn) out of place"
        }
        return nil
    }

    /// Decodes the record starting at `offset` of `bytes`, decompressing an
    /// LZ4 payload into `scratch`. The header is checked (``checkHeader``)
    /// before its length is used. Never reads out of bounds.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, lsn check: LSNCheck = .any, scratch: ReadBuffer) -> Decoded {
        guard bytes.count - offset >= recordHeaderSize else { return .incomplete }
        if let why = checkHeader(bytes, at: offset, lsn: check) { return .invalid(why) }
        let storedLength = Int(u32(bytes, offset))
        let rawLength = Int(u32(bytes, offset + 4))
        let lsn = u64(bytes, offset + 8)
        let type = bytes[offset + 16]
        let flags = bytes[offset + 17]
        guard bytes.count - offset - recordHeaderSize >= storedLength else { return .incomplete }
        var crc = CRC32C()
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 20)]))
        let payloadStart = offset + recordHeaderSize
        let stored = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<(payloadStart + storedLength)])
        crc.update(stored)
        guard crc.value == u32(bytes, offset + 20) else { return .invalid("checksum mismatch") }
        let payload: UnsafeRawBufferPointer
        if flags & flagLZ4 != 0 {
            scratch.reserve(rawLength)
            let target = UnsafeMutableRawBufferPointer(start: scratch.base, count: rawLength)
            guard LZ4Block.decompress(stored, into: target) else {
                return .invalid("LZ4 payload does not decompress to \(rawLength) bytes")
            }
            payload = UnsafeRawBufferPointer(target)
        } else {
            payload = stored
        }
        return .record(WALRecordView(lsn: lsn, type: type, payload: payload), size: recordHeaderSize + storedLength)
    }
}
