/// pgvector's `vector` type in its text and binary forms.
///
/// | form   | layout                                                            |
/// |--------|-------------------------------------------------------------------|
/// | text   | `[v1,v2,...]`, each a float4 in shortest round-trip decimal       |
/// | binary | `int16 dim`, `int16 unused (0)`, then `dim` × `float4`, all big-endian |
///
/// pgvector accepts at most 16,000 dimensions and no NaN or infinity.
package enum PgVectorCodec {
    package static let maxDimension = 16_000

    /// The text literal, e.g. `[1,0.5,-2]`.
    package static func text(_ vector: [Float]) -> String {
        "[" + vector.map { "\($0)" }.joined(separator: ",") + "]"
    }

    /// The binary (`vector_recv`) form.
    package static func binary(_ vector: [Float]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(4 + 4 * vector.count)
        let dim = UInt16(truncatingIfNeeded: vector.count)
        out += [UInt8(dim >> 8), UInt8(dim & 0xFF), 0, 0]
        for value in vector {
            let bits = value.bitPattern
            out += [UInt8(bits >> 24), UInt8((bits >> 16) & 0xFF), UInt8((bits >> 8) & 0xFF), UInt8(bits & 0xFF)]
        }
        return out
    }

    /// Decodes the text form.
    package static func decode(text: String) throws(PostgresError) -> [Float] {
        guard text.first == "[", text.last == "]" else {
            throw PostgresError(kind: .decoding, message: "a vector literal must be enclosed in [ ]")
        }
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var out = [Float]()
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = Float(part) else {
                throw PostgresError(kind: .decoding, message: "a vector literal holds a value that is not a number")
            }
            out.append(value)
        }
        return out
    }

    /// Decodes the binary form; rejects a length that disagrees with the header.
    package static func decode(binary bytes: [UInt8]) throws(PostgresError) -> [Float] {
        guard bytes.count >= 4 else {
            throw PostgresError(kind: .decoding, message: "a binary vector needs a 4-byte header, got \(bytes.count) bytes")
        }
        let dim = Int(UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
        guard bytes.count == 4 + 4 * dim else {
            throw PostgresError(kind: .decoding,
                                message: "a binary vector of \(dim) dimensions needs \(4 + 4 * dim) bytes, got \(bytes.count)")
        }
        return (0..<dim).map { i in
            let o = 4 + 4 * i
            let bits = UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
            return Float(bitPattern: bits)
        }
    }
}
