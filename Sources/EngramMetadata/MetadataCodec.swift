/// The compact binary form of ``MetadataValue`` stored in log records and
/// snapshots (Docs/FORMATS.md). Little-endian. One tag byte, then:
///
/// | tag | value | then |
/// |---|---|---|
/// | 0 | null | — |
/// | 1 / 2 | false / true | — |
/// | 3 | number | float64 |
/// | 4 | string | u32 byte length, UTF-8 |
/// | 5 | timestamp | int64 microseconds since the epoch |
/// | 6 | array | u32 count, the items |
/// | 7 | object | u32 count, then (string without tag, value) pairs, keys ascending by UTF-8 bytes |
public enum MetadataCodec {
    public static func encode(_ value: MetadataValue) -> [UInt8] {
        var out = [UInt8]()
        encode(value, into: &out)
        return out
    }

    static func put32(_ v: UInt32, _ out: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    static func put64(_ v: UInt64, _ out: inout [UInt8]) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }

    static func putString(_ s: String, _ out: inout [UInt8]) {
        let bytes = Array(s.utf8)
        put32(UInt32(bytes.count), &out)
        out += bytes
    }

    public static func encode(_ value: MetadataValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .number(let x):
            out.append(3)
            put64(x.bitPattern, &out)
        case .string(let s):
            out.append(4)
            putString(s, &out)
        case .timestamp(let us):
            out.append(5)
            put64(UInt64(bitPattern: us), &out)
        case .array(let items):
            out.append(6)
            put32(UInt32(items.count), &out)
            for item in items { encode(item, into: &out) }
        case .object(let fields):
            out.append(7)
            put32(UInt32(fields.count), &out)
            for key in fields.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                putString(key, &out)
                encode(fields[key]!, into: &out)
            }
        }
    }

    /// Decodes exactly one value filling `bytes`; never reads out of bounds.
    public static func decode(_ bytes: [UInt8]) throws(MetadataError) -> MetadataValue {
        var result: Result<MetadataValue, MetadataError> = .success(.null)
        bytes.withUnsafeBytes { raw in
            do throws(MetadataError) { result = .success(try decode(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Decodes exactly one value filling `bytes`; never reads out of bounds.
    package static func decode(_ bytes: UnsafeRawBufferPointer) throws(MetadataError) -> MetadataValue {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 1)
        guard reader.offset == bytes.count else {
            throw MetadataError(offset: reader.offset, reason: "\(bytes.count - reader.offset) bytes after the value")
        }
        return value
    }

    /// Reads values from borrowed bytes (valid while the reader is used).
    /// Where the encoded value that starts at `offset` in `bytes` ends
    /// (checked as far as its structure, without building it), for a
    /// reader that finds a value's extent now and decodes it later.
    package static func endOfValue(in bytes: UnsafeRawBufferPointer, at offset: Int) throws(MetadataError) -> Int {
        var reader = Reader(bytes: bytes, offset: offset)
        try reader.skipValue(depth: 1)
        return reader.offset
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func take(_ n: Int) throws(MetadataError) -> UnsafeRawBufferPointer {
            guard n >= 0, bytes.count - offset >= n else {
                throw MetadataError(offset: offset, reason: "needs \(n) bytes, \(bytes.count - offset) left")
            }
            defer { offset += n }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        }

        mutating func u32() throws(MetadataError) -> Int {
            Int(UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)))
        }

        mutating func u64() throws(MetadataError) -> UInt64 {
            UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self))
        }

        mutating func string() throws(MetadataError) -> String {
            let start = offset
            let n = try u32()
            let raw = try take(n)
            guard let s = String(validUTF8: raw) else {
                throw MetadataError(offset: start, reason: "a string is not valid UTF-8")
            }
            return s
        }

        /// Steps over one value, checking its tags, lengths and depth but
        /// building nothing (``value(depth:)`` checks the rest: UTF-8,
        /// finite numbers, duplicate keys).
        mutating func skipValue(depth: Int) throws(MetadataError) {
            guard depth <= MetadataValue.maxDepth else {
                throw MetadataError(offset: offset, reason: "nested deeper than \(MetadataValue.maxDepth)")
            }
            let at = offset
            let tag = try take(1).first!
            switch tag {
            case 0, 1, 2: return
            case 3, 5: _ = try take(8)
            case 4: _ = try take(try u32())
            case 6, 7:
                let n = try u32()
                guard n <= bytes.count - offset else { throw MetadataError(offset: at, reason: "count \(n) exceeds the bytes left") }
                for _ in 0..<n {
                    if tag == 7 { _ = try take(try u32()) }
                    try skipValue(depth: depth + 1)
                }
            default:
                throw MetadataError(offset: at, reason: "unknown tag \(tag)")
            }
        }

        mutating func value(depth: Int) throws(MetadataError) -> MetadataValue {
            guard depth <= MetadataValue.maxDepth else {
                throw MetadataError(offset: offset, reason: "nested deeper than \(MetadataValue.maxDepth)")
            }
            let at = offset
            let tag = try take(1).first!
            switch tag {
            case 0: return .null
            case 1: return .bool(false)
            case 2: return .bool(true)
            case 3:
                let x = Double(bitPattern: try u64())
                guard x.isFinite else { throw MetadataError(offset: at, reason: "a number is NaN or infinite") }
                return .number(x)
            case 4: return .string(try string())
            case 5: return .timestamp(microseconds: Int64(bitPattern: try u64()))
            case 6:
                let n = try u32()
                guard n <= bytes.count - offset else { throw MetadataError(offset: at, reason: "array count \(n) exceeds the bytes left") }
                var items = [MetadataValue]()
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(try value(depth: depth + 1)) }
                return .array(items)
            case 7:
                let n = try u32()
                guard n <= bytes.count - offset else { throw MetadataError(offset: at, reason: "object count \(n) exceeds the bytes left") }
                var fields = [String: MetadataValue](minimumCapacity: n)
                for _ in 0..<n {
                    let keyAt = offset
                    let key = try string()
                    guard fields.updateValue(try value(depth: depth + 1), forKey: key) == nil else {
                        throw MetadataError(offset: keyAt, reason: "duplicate key")
                    }
                }
                return .object(fields)
            default:
                throw MetadataError(offset: at, reason: "unknown tag \(tag)")
            }
        }
    }
}
