/// A metadata value through `Encodable`, as ``MetadataJSON`` writes it: a
/// timestamp is `{"$timestamp": microseconds}`, everything else its JSON
/// counterpart (so `JSONEncoder` output reads back with
/// ``MetadataJSON/parse(_:)`` to an equal value).
extension MetadataValue: Encodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let b):
            var container = encoder.singleValueContainer()
            try container.encode(b)
        case .number(let x):
            var container = encoder.singleValueContainer()
            try container.encode(x)
        case .string(let s):
            var container = encoder.singleValueContainer()
            try container.encode(s)
        case .timestamp(let microseconds):
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(microseconds, forKey: Key(stringValue: "$timestamp"))
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .object(let fields):
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in fields { try container.encode(value, forKey: Key(stringValue: key)) }
        }
    }
}
