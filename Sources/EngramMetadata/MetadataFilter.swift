/// A condition on record metadata, evaluated into the index's candidate
/// filter by ``MetadataIndex`` (and, for reference, directly by ``matches(_:)``).
///
/// A field is a dotted path into nested objects (`"task.status"`). When the
/// field holds an array, a condition holds if it holds for any element.
/// Ranges compare numbers with numbers and timestamps with timestamps; other
/// values never fall in a range.
public indirect enum MetadataFilter: Sendable, Hashable {
    case equals(String, MetadataValue)
    case isIn(String, [MetadataValue])
    case range(String, lower: MetadataValue?, lowerInclusive: Bool, upper: MetadataValue?, upperInclusive: Bool)
    case exists(String)
    case and([MetadataFilter])
    case or([MetadataFilter])
    case not(MetadataFilter)

    /// Whether `metadata` satisfies the filter (the definition the index must agree with).
    public func matches(_ metadata: MetadataValue) -> Bool {
        switch self {
        case .equals(let field, let value):
            return Self.values(at: field, in: metadata).contains(value)
        case .isIn(let field, let options):
            return Self.values(at: field, in: metadata).contains { options.contains($0) }
        case .range(let field, let lower, let lowerInclusive, let upper, let upperInclusive):
            return Self.values(at: field, in: metadata).contains {
                Self.inRange($0, lower: lower, lowerInclusive: lowerInclusive, upper: upper, upperInclusive: upperInclusive)
            }
        case .exists(let field):
            return !Self.values(at: field, in: metadata).isEmpty
        case .and(let parts): return parts.allSatisfy { $0.matches(metadata) }
        case .or(let parts): return parts.contains { $0.matches(metadata) }
        case .not(let part): return !part.matches(metadata)
        }
    }

    /// The scalar values at a dotted path (array elements flattened one level).
    static func values(at field: String, in metadata: MetadataValue) -> [MetadataValue] {
        var current = metadata
        for key in field.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = current[String(key)] else { return [] }
            current = next
        }
        if case .array(let items) = current { return items }
        return [current]
    }

    /// A sortable key for ranges: numbers and timestamps, each in their own kind.
    static func rangeKey(_ v: MetadataValue) -> (kind: Int, value: Double)? {
        switch v {
        case .number(let x): return (0, x)
        case .timestamp(let us): return (1, Double(us))
        default: return nil
        }
    }

    static func inRange(
        _ v: MetadataValue, lower: MetadataValue?, lowerInclusive: Bool, upper: MetadataValue?, upperInclusive: Bool
    ) -> Bool {
        guard let key = rangeKey(v) else { return false }
        if let lower {
            guard let l = rangeKey(lower), l.kind == key.kind else { return false }
            if lowerInclusive ? key.value < l.value : key.value <= l.value { return false }
        }
        if let upper {
            guard let u = rangeKey(upper), u.kind == key.kind else { return false }
            if upperInclusive ? key.value > u.value : key.value >= u.value { return false }
        }
        return lower != nil || upper != nil
    }
}
