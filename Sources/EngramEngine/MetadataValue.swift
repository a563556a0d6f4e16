/// The metadata of a record: a small typed JSON-like value.
///
/// Strings, numbers (`Double`; integers are exact up to 2⁵³), booleans,
/// null, timestamps (microseconds since the Unix epoch, UTC), arrays and
/// nested objects. Objects keep their keys sorted, so equal values encode
/// to equal bytes.
///
/// Invariants: no number is NaN or infinite (JSON has neither; the
/// initialisers that take input reject them); nesting is at most
/// ``maxDepth`` deep.
public enum MetadataValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case timestamp(microseconds: Int64)
    case array([MetadataValue])
    case object([String: MetadataValue])

    /// The deepest nesting accepted from input.
    public static let maxDepth = 64

    /// The value at `key` of an object (`nil` otherwise or if absent).
    public subscript(key: String) -> MetadataValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    /// Whether every number is finite and nesting stays within ``maxDepth``.
    public var isValid: Bool { check(depth: 1) }

    private func check(depth: Int) -> Bool {
        guard depth <= Self.maxDepth else { return false }
        switch self {
        case .number(let x): return x.isFinite
        case .array(let items): return items.allSatisfy { $0.check(depth: depth + 1) }
        case .object(let fields): return fields.values.allSatisfy { $0.check(depth: depth + 1) }
        default: return true
        }
    }
}

extension MetadataValue: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: MetadataValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, MetadataValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}
