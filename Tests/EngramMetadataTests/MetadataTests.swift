import Foundation
@testable import EngramMetadata
import EngramTestSupport
import Testing

/// A random metadata value of bounded depth.
private func randomValue(_ rng: inout SeededGenerator, depth: Int = 0) -> MetadataValue {
    switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &rng) {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &rng))
    case 2: return .number(Bool.random(using: &rng) ? Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) : Double.random(in: -1e6...1e6, using: &rng))
    case 3: return .string(String((0..<Int.random(in: 0...12, using: &rng)).map { _ in "aé\"\\\n\t😀z{}[],:".randomElement(using: &rng)! }))
    case 4: return .timestamp(microseconds: Int64.random(in: -1_000_000_000_000...4_000_000_000_000_000, using: &rng))
    case 5: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
    default:
        var fields = [String: MetadataValue]()
        for i in 0..<Int.random(in: 0...4, using: &rng) { fields["k\(i)\(Int.random(in: 0...9, using: &rng))"] = randomValue(&rng, depth: depth + 1) }
        return .object(fields)
    }
}

@Suite("Record metadata: values, binary codec, JSON")
struct MetadataTests {
    @Test("random values round-trip through the binary codec and through JSON")
    func roundTrips() throws {
        var rng = SeededGenerator.forTest("metadata.roundTrips", defaultSeed: 91)
        for _ in 0..<500 {
            let value = randomValue(&rng)
            #expect(value.isValid)
            #expect(try MetadataCodec.decode(MetadataCodec.encode(value)) == value)
            let text = MetadataJSON.format(value)
            #expect(try MetadataJSON.parse(text) == value, "\(text)")
        }
    }

    @Test("Encodable writes what MetadataJSON reads back: random values round-trip through JSONEncoder")
    func encodable() throws {
        var rng = SeededGenerator.forTest("metadata.encodable", defaultSeed: 31)
        let encoder = JSONEncoder()
        for _ in 0..<500 {
            let value = randomValue(&rng)
            let text = String(decoding: try encoder.encode(value), as: UTF8.self)
            #expect(try MetadataJSON.parse(text) == value, "\(text)")
        }
    }

    @Test("JSON reads what agents write, timestamps included")
    func json() throws {
        let v = try MetadataJSON.parse(#" { "agent": "planner", "step": 3, "score": -0.25e1, "tags": ["a", "b"], "done": false, "note": null, "at": {"$timestamp": 1764115200000000}, "s": "\u00e9\ud83d\ude00\n" } "#)
        #expect(v["agent"] == "planner")
        #expect(v["step"] == 3)
        #expect(v["score"] == .number(-2.5))
        #expect(v["tags"] == ["a", "b"])
        #expect(v["done"] == false)
        #expect(v["note"] == .null)
        #expect(v["at"] == .timestamp(microseconds: 1_764_115_200_000_000))
        #expect(v["s"] == .string("é😀\n"))
        #expect(MetadataJSON.format(["b": 1, "a": [true, nil, 1.5]]) == #"{"a":[true,null,1.5],"b":1}"#)
        #expect(MetadataJSON.format(.timestamp(microseconds: 5)) == #"{"$timestamp":5}"#)
    }

    @Test("malformed JSON is a typed error with the offset", arguments: [
        ("", 0), ("{", 1), ("[1,]", 3), ("{\"a\" 1}", 5), ("tru", 0), ("01", 0), ("1e999", 0), ("\"\\ud800\"", 7),
        ("\"a\u{01}\"", 3), ("{\"a\":1,\"a\":2}", 7), ("[1] x", 4), ("\"\\x\"", 3),
    ])
    func malformed(text: String, offset: Int) {
        let error = #expect(throws: MetadataError.self) { try MetadataJSON.parse(text) }
        #expect(error?.offset == offset, "\(text): \(String(describing: error))")
    }

    @Test("strings in bytes must be valid UTF-8; valid multi-byte text decodes verbatim")
    func utf8() throws {
        // Tag 4 (string), u32 length, then the bytes.
        func string(_ bytes: [UInt8]) -> [UInt8] { [4] + withUnsafeBytes(of: UInt32(bytes.count).littleEndian, Array.init) + bytes }
        for bad: [UInt8] in [[0xC3, 0x28], [0xE2, 0x82], [0xFF], [0xED, 0xA0, 0x80], [0x61, 0xF0, 0x9F, 0x98]] {
            #expect(throws: MetadataError.self, "\(bad)") { try MetadataCodec.decode(string(bad)) }
        }
        let text = "agent ü → 記憶 😀"
        #expect(try MetadataCodec.decode(string(Array(text.utf8))) == .string(text))
    }

    @Test("nesting beyond the limit is refused, in JSON and in bytes")
    func depth() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: MetadataError.self) { try MetadataJSON.parse(deep) }
        #expect(throws: MetadataError.self) { try MetadataCodec.decode([UInt8](repeating: 6, count: 1) + [1, 0, 0, 0] + [UInt8](repeating: 0, count: 0)) }
        var bytes = [UInt8]()
        for _ in 0..<70 { bytes += [6, 1, 0, 0, 0] }
        bytes.append(0)
        #expect(throws: MetadataError.self) { try MetadataCodec.decode(bytes) }
        #expect(!MetadataValue.number(.nan).isValid)
    }

    @Test("random mutations of encoded bytes never crash the decoder")
    func mutations() {
        var rng = SeededGenerator.forTest("metadata.mutations", defaultSeed: 92)
        for _ in 0..<2000 {
            var bytes = MetadataCodec.encode(randomValue(&rng))
            if bytes.isEmpty { continue }
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            if let value = try? MetadataCodec.decode(bytes) { #expect(value.isStructurallyValid) }  // the codec carries any text; writes refuse U+0000
        }
    }
}
