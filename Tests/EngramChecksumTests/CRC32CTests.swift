@testable import EngramChecksum
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    /// Bit-by-bit reference, the definition written plainly.
    private func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    @Test("known check values")
    func checkValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)  // RFC 3720 B.4
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    }

    @Test("matches the bit-by-bit definition at every length and split")
    func matchesReference() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(CRC32C.checksum(bytes) == reference(bytes), "length \(length)")
            for split in 0...length {
                var crc = CRC32C()
                crc.update(Array(bytes[..<split]))
                crc.update(Array(bytes[split...]))
                #expect(crc.value == reference(bytes))
            }
        }
    }

    @Test("the table path matches the definition too (builds with the crc32 instruction use it only here)")
    func tablePath() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D  // fixed seed: xorshift bytes
        for length in [0, 1, 7, 8, 9, 63, 6143, 6144, 6145, 20_000] {
            let bytes = (0..<length).map { _ -> UInt8 in
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                return UInt8(truncatingIfNeeded: state)
            }
            let table = bytes.withUnsafeBytes { CRC32C.tableChecksum($0) }
            #expect(table == reference(bytes), "length \(length)")
            #expect(table == CRC32C.checksum(bytes), "length \(length)")
        }
    }

    @Test("long inputs (the three-lane path) match the definition, whole and split")
    func longInputs() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // fixed seed: xorshift bytes
        func byte() -> UInt8 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        for length in [6143, 6144, 6145, 6151, 12_288 + 13, 20_000, 3 * 6144 + 7] {
            let bytes = (0..<length).map { _ in byte() }
            let expected = reference(bytes)
            #expect(CRC32C.checksum(bytes) == expected, "length \(length)")
            for split in [1, 7, 2048, 4095, length / 2, length - 6144] where split > 0 && split < length {
                var crc = CRC32C()
                crc.update(Array(bytes[..<split]))
                crc.update(Array(bytes[split...]))
                #expect(crc.value == expected, "length \(length) split at \(split)")
            }
        }
    }
}
