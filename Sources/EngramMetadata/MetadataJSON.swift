/// ``MetadataValue`` as JSON text (RFC 8259), for `engram import` and
/// `--filter` input and for output.
///
/// A timestamp is written `{"$timestamp": <microseconds since the epoch>}`
/// and that exact one-key object is read back as a timestamp. Numbers are
/// `Double`: integers print without a fraction when exact. Parsing rejects
/// trailing text, nesting deeper than ``MetadataValue/maxDepth``, lone
/// surrogates and numbers that overflow to infinity, with the byte offset.
public enum MetadataJSON {
    public static let timestampKey = "$timestamp"

    public static func parse(_ text: String) throws(MetadataError) -> MetadataValue {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipSpace()
        let value = try parser.value(depth: 1)
        parser.skipSpace()
        guard parser.offset == parser.bytes.count else { throw parser.error("text after the value") }
        return value
    }

    public static func format(_ value: MetadataValue) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    static func write(_ value: MetadataValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x):
            if x == x.rounded(), abs(x) < 9.007_199_254_740_992e15 { out += String(Int64(x)) } else { out += "\(x)" }
        case .string(let s): writeString(s, to: &out)
        case .timestamp(let us): out += "{\"\(timestampKey)\":\(us)}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                writeString(key, to: &out)
                out += ":"
                write(fields[key]!, to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    struct Parser {
        let bytes: [UInt8]
        var offset = 0

        func error(_ reason: String) -> MetadataError { MetadataError(offset: offset, reason: reason) }

        mutating func skipSpace() {
            while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
        }

        mutating func expect(_ literal: String, _ value: MetadataValue) throws(MetadataError) -> MetadataValue {
            let lit = Array(literal.utf8)
            guard bytes.count - offset >= lit.count, Array(bytes[offset..<(offset + lit.count)]) == lit else {
                throw error("expected \(literal)")
            }
            offset += lit.count
            return value
        }

        mutating func value(depth: Int) throws(MetadataError) -> MetadataValue {
            guard depth <= MetadataValue.maxDepth else { throw error("nested deeper than \(MetadataValue.maxDepth)") }
            guard offset < bytes.count else { throw error("unexpected end of input") }
            switch bytes[offset] {
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                offset += 1
                var items = [MetadataValue]()
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard offset < bytes.count else { throw error("unterminated array") }
                    if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                    if bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
                    throw error("expected , or ] in an array")
                }
            case UInt8(ascii: "{"):
                offset += 1
                var fields = [String: MetadataValue]()
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(fields) }
                while true {
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let keyAt = offset
                    let key = try string()
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected :") }
                    offset += 1
                    skipSpace()
                    guard fields.updateValue(try value(depth: depth + 1), forKey: key) == nil else {
                        throw MetadataError(offset: keyAt, reason: "duplicate key")
                    }
                    skipSpace()
                    guard offset < bytes.count else { throw error("unterminated object") }
                    if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                    if bytes[offset] == UInt8(ascii: "}") {
                        offset += 1
                        if fields.count == 1, case .number(let us)? = fields[MetadataJSON.timestampKey],
                           us == us.rounded(), abs(us) < 9.2e18 {
                            return .timestamp(microseconds: Int64(us))
                        }
                        return .object(fields)
                    }
                    throw error("expected , or } in an object")
                }
            default:
                return .number(try number())
            }
        }

        mutating func number() throws(MetadataError) -> Double {
            let start = offset
            func digits() -> Int {
                let s = offset
                while offset < bytes.count, bytes[offset] >= 0x30, bytes[offset] <= 0x39 { offset += 1 }
                return offset - s
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            let intStart = offset
            guard digits() > 0 else { offset = start; throw error("expected a value") }
            if bytes[intStart] == 0x30 && offset - intStart > 1 { offset = start; throw error("leading zero in a number") }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
                offset += 1
                guard digits() > 0 else { throw error("expected digits after .") }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
                offset += 1
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
                guard digits() > 0 else { throw error("expected exponent digits") }
            }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            guard let x = Double(text), x.isFinite else {
                offset = start
                throw error("number out of range")
            }
            return x
        }

        mutating func hex4() throws(MetadataError) -> UInt32 {
            guard bytes.count - offset >= 4 else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[offset]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("bad hex digit in \\u escape")
                }
                v = v << 4 | d
                offset += 1
            }
            return v
        }

        mutating func string() throws(MetadataError) -> String {
            offset += 1  // opening quote
            var out = [UInt8]()
            while true {
                guard offset < bytes.count else { throw error("unterminated string") }
                let c = bytes[offset]
                offset += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard offset < bytes.count else { throw error("unterminated escape") }
                    let e = bytes[offset]
                    offset += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800...0xDBFF).contains(code) {
                            guard bytes.count - offset >= 6, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                                throw error("lone high surrogate")
                            }
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("bad low surrogate") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(code) {
                            throw error("lone low surrogate")
                        }
                        out += Array(String(Character(Unicode.Scalar(code)!)).utf8)
                    default: throw error("unknown escape")
                    }
                default:
                    guard c >= 0x20 else { throw error("control character in a string") }
                    out.append(c)
                }
            }
        }
    }
}
