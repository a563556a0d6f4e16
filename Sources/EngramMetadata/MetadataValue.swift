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

    /// Whether the value may be stored: every number finite, no string or
    /// key holding U+0000 (PostgreSQL's `jsonb` cannot hold it), nesting
    /// within ``maxDepth``.
    public var isValid: Bool { problem == nil }

    /// Why the value may not be stored, or nil.
    public var problem: String? { problem(depth: 1, text: true) }

    /// Numbers finite and nesting within bounds, text not looked at: what a
    /// logged value must be to replay (a log written before U+0000 was
    /// refused still opens).
    package var isStructurallyValid: Bool { problem(depth: 1, text: false) == nil }

    private func problem(depth: Int, text checkText: Bool) -> String? {
        guard depth <= Self.maxDepth else { return "nests deeper than \(Self.maxDepth)" }
        switch self {
        case .number(let x): return x.isFinite ? nil : "holds a NaN or infinite number"
        case .string(let text): return checkText ? TextRules.problem(text, "a string") : nil
        case .array(let items):
            for item in items { if let why = item.problem(depth: depth + 1, text: checkText) { return why } }
            return nil
        case .object(let fields):
            for (key, value) in fields {
                if let why = (checkText ? TextRules.problem(key, "a key") : nil) ?? value.problem(depth: depth + 1, text: checkText) { return why }
            }
            return nil
        default: return nil
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
