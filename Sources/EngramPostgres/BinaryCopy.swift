/// PostgreSQL's binary `COPY` format, written and read in Swift.
///
/// | part | layout (big-endian) |
/// |---|---|
/// | header | `PGCOPY\n\377\r\n\0`, int32 flags 0, int32 extension length 0 |
/// | row | int16 field count, then per field int32 length (−1 = NULL) and the type's binary form |
/// | trailer | int16 −1 |
///
/// Binary forms used by Engram: `text` (UTF-8), `int8` (8 bytes),
/// `vector` (``PgVectorCodec/binary(_:)``: int16 dimension, int16 0,
/// float4s), `halfvec` (int16 dimension, int16 0, float2s), `jsonb` (byte 1, then the JSON text), `timestamptz`
/// (int64 microseconds since 2000-01-01 UTC).
package enum BinaryCopy {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    /// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
    package static let postgresEpochOffsetSeconds: Int64 = 946_684_800

    package static func int64(_ field: UnsafeRawBufferPointer) throws(PostgresError) -> Int64 {
        guard field.count == 8 else { throw PostgresError(kind: .decoding, message: "an int8 field of \(field.count) bytes") }
        return Int64(bigEndian: field.loadUnaligned(as: Int64.self))
    }

    package static func text(_ field: UnsafeRawBufferPointer) -> String {
        String(decoding: field, as: UTF8.self)
    }

    /// A `jsonb` field's JSON text.
    package static func jsonb(_ field: UnsafeRawBufferPointer) throws(PostgresError) -> String {
        guard field.count >= 1, field[0] == 1 else { throw PostgresError(kind: .decoding, message: "a jsonb field of unknown version") }
        return String(decoding: UnsafeRawBufferPointer(rebasing: field[1...]), as: UTF8.self)
    }

    /// A `halfvec` field's dimension; its values, widened, go to `into`.
    package static func halfvec(_ field: UnsafeRawBufferPointer, into: UnsafeMutablePointer<Float>, capacity: Int) throws(PostgresError) -> Int {
        try pgvector(field, type: "halfvec", bytesPerValue: 2, into: into, capacity: capacity) { field, offset in
            Float(Float16(bitPattern: UInt16(bigEndian: field.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
        }
    }

    /// A `vector` field's dimension; its floats go to `into` (at least that many).
    package static func vector(_ field: UnsafeRawBufferPointer, into: UnsafeMutablePointer<Float>, capacity: Int) throws(PostgresError) -> Int {
        try pgvector(field, type: "vector", bytesPerValue: 4, into: into, capacity: capacity) { field, offset in
            Float(bitPattern: UInt32(bigEndian: field.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
    }

    /// pgvector's layout (int16 dimension, int16 0, big-endian values read by `load`), checked.
    @inline(__always)
    private static func pgvector(
        _ field: UnsafeRawBufferPointer, type: String, bytesPerValue: Int, into: UnsafeMutablePointer<Float>, capacity: Int,
        _ load: (UnsafeRawBufferPointer, Int) -> Float
    ) throws(PostgresError) -> Int {
        guard field.count >= 4 else { throw PostgresError(kind: .decoding, message: "a \(type) field of \(field.count) bytes") }
        let dim = Int(UInt16(bigEndian: field.loadUnaligned(as: UInt16.self)))
        guard field.count == 4 + bytesPerValue * dim, dim <= capacity else {
            throw PostgresError(kind: .decoding, message: "a \(type) field of \(dim) dimensions in \(field.count) bytes (room for \(capacity))")
        }
        for i in 0..<dim { into[i] = load(field, 4 + bytesPerValue * i) }
        return dim
    }
}

/// Builds a binary `COPY ... FROM STDIN` stream row by row; ``take()``
/// drains what is built so far, so a large copy streams in chunks.
package struct BinaryCopyWriter {
    private var bytes: [UInt8] = []

    package init() {
        bytes = BinaryCopy.signature
        put32(0)
        put32(0)
    }

    /// The bytes built since the last take.
    package var pendingBytes: Int { bytes.count }

    package mutating func take() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    /// Starts a row of `fields` fields; then exactly that many field calls.
    package mutating func row(fields: Int) {
        bytes.append(UInt8(truncatingIfNeeded: fields >> 8))
        bytes.append(UInt8(truncatingIfNeeded: fields))
    }

    package mutating func null() { put32(UInt32(bitPattern: -1)) }

    package mutating func text(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            put32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    package mutating func int64(_ value: Int64) {
        put32(8)
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// A `jsonb` value from its JSON text.
    package mutating func jsonb(_ json: String) {
        var json = json
        json.withUTF8 { utf8 in
            put32(UInt32(utf8.count + 1))
            bytes.append(1)
            bytes.append(contentsOf: utf8)
        }
    }

    /// A `vector` value.
    package mutating func vector(_ values: UnsafeBufferPointer<Float>) {
        pgvector(values, bytesPerValue: 4) { out, offset, value in
            out.storeBytes(of: value.bitPattern.bigEndian, toByteOffset: offset, as: UInt32.self)
        }
    }

    /// A `halfvec` value: each float rounded to half precision.
    package mutating func halfvec(_ values: UnsafeBufferPointer<Float>) {
        pgvector(values, bytesPerValue: 2) { out, offset, value in
            out.storeBytes(of: Float16(value).bitPattern.bigEndian, toByteOffset: offset, as: UInt16.self)
        }
    }

    /// pgvector's layout: length, int16 dimension, int16 0, then each value
    /// stored big-endian by `store`, in place (a checkpoint writes millions).
    @inline(__always)
    private mutating func pgvector(
        _ values: UnsafeBufferPointer<Float>, bytesPerValue: Int, _ store: (UnsafeMutableRawPointer, Int, Float) -> Void
    ) {
        put32(UInt32(4 + bytesPerValue * values.count))
        bytes.append(UInt8(truncatingIfNeeded: values.count >> 8))
        bytes.append(UInt8(truncatingIfNeeded: values.count))
        bytes.append(0)
        bytes.append(0)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: bytesPerValue * values.count))
        bytes.withUnsafeMutableBytes { raw in
            let out = raw.baseAddress! + start
            for i in 0..<values.count { store(out, bytesPerValue &* i, values[i]) }
        }
    }

    /// Ends the stream (after the last row).
    package mutating func finish() {
        bytes.append(0xFF)
        bytes.append(0xFF)
    }

    private mutating func put32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
}

/// Parses a binary `COPY ... TO STDOUT` stream fed in arbitrary chunks
/// (``PostgresConnection/copyOut(_:_:)`` hands one message at a time).
///
/// Invariant: `pending` holds the bytes of at most one incomplete row (or
/// header) carried over from the previous chunk.
package struct BinaryCopyReader {
    private var pending: [UInt8] = []
    private var sawHeader = false
    /// Whether the trailer was read: the stream is complete.
    package private(set) var finished = false

    package init() {}

    /// Parses what `chunk` completes, calling `row` with each row's fields
    /// (nil = NULL), valid during the call.
    package mutating func feed(
        _ chunk: UnsafeRawBufferPointer, row: ([UnsafeRawBufferPointer?]) throws -> Void
    ) throws {
        pending.append(contentsOf: chunk)
        var consumed = 0
        var failure: Error?
        let done = finished
        let header = sawHeader
        var headerSeen = header, ended = done
        pending.withUnsafeBytes { b in
            do {
                var at = 0
                if !headerSeen {
                    guard b.count >= 19 else { return }
                    guard Array(b[0..<11]) == BinaryCopy.signature else {
                        throw PostgresError(kind: .decoding, message: "not a binary COPY stream")
                    }
                    let extensionLength = Int(UInt32(bigEndian: b.loadUnaligned(fromByteOffset: 15, as: UInt32.self)))
                    guard b.count >= 19 + extensionLength else { return }
                    at = 19 + extensionLength
                    headerSeen = true
                    consumed = at
                }
                var fields = [UnsafeRawBufferPointer?]()
                while !ended, b.count - at >= 2 {
                    let count = Int(Int16(bigEndian: b.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                    if count == -1 {
                        ended = true
                        consumed = at + 2
                        break
                    }
                    guard count >= 0 else { throw PostgresError(kind: .decoding, message: "a row of \(count) fields") }
                    var p = at + 2
                    fields.removeAll(keepingCapacity: true)
                    var complete = true
                    for _ in 0..<count {
                        guard b.count - p >= 4 else { complete = false; break }
                        let length = Int(Int32(bigEndian: b.loadUnaligned(fromByteOffset: p, as: Int32.self)))
                        p += 4
                        if length == -1 { fields.append(nil); continue }
                        guard length >= 0 else { throw PostgresError(kind: .decoding, message: "a field of length \(length)") }
                        guard b.count - p >= length else { complete = false; break }
                        fields.append(UnsafeRawBufferPointer(rebasing: b[p..<(p + length)]))
                        p += length
                    }
                    guard complete else { break }
                    try row(fields)
                    at = p
                    consumed = at
                }
            } catch {
                failure = error
            }
        }
        sawHeader = headerSeen
        finished = ended
        if let failure { throw failure }
        pending.removeFirst(consumed)
    }
}
