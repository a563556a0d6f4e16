import EngramIndex

/// Per-field inverted index over record metadata, so a selective filter
/// touches only the records it names instead of scanning every record.
///
/// For each dotted field path it keeps, per distinct scalar value, the set
/// of labels holding that value (array elements are indexed one by one).
/// ``evaluate(_:)`` turns a ``MetadataFilter`` into a ``Bitset`` over labels,
/// which becomes the index's ``CandidateFilter``.
///
/// Invariant: `postings[field][value]` contains `label` exactly when
/// `metadata[label]` has `value` at `field` (checked by the tests against
/// ``MetadataFilter/matches(_:)``).
///
/// Complexity: equality and `in` cost the size of their postings; a range
/// visits the field's distinct values (fine for modest cardinality; a
/// sorted structure is the next step for high-cardinality numeric fields);
/// `not` costs the number of live labels.
///
/// Concurrency: not synchronised; the owning collection serialises writers.
public struct MetadataIndex: Sendable {
    /// Indexed by label (labels are dense).
    private var values: [MetadataValue?] = []
    private var postings: [String: [MetadataValue: Set<VectorID>]] = [:]
    /// Labels with metadata.
    public private(set) var count = 0

    public init() {}

    public func metadata(of label: VectorID) -> MetadataValue? {
        Int(label) < values.count ? values[Int(label)] : nil
    }

    /// Sets (or replaces) the metadata of `label`.
    public mutating func set(_ value: MetadataValue, for label: VectorID) {
        remove(label)
        let i = Int(label)
        if i >= values.count { values.append(contentsOf: repeatElement(nil, count: i + 1 - values.count)) }
        values[i] = value
        count += 1
        for (field, scalar) in Self.scalars(value) { postings[field, default: [:]][scalar, default: []].insert(label) }
    }

    public mutating func remove(_ label: VectorID) {
        let i = Int(label)
        guard i < values.count, let old = values[i] else { return }
        values[i] = nil
        count -= 1
        for (field, scalar) in Self.scalars(old) {
            postings[field]?[scalar]?.remove(label)
            if postings[field]?[scalar]?.isEmpty == true { postings[field]?[scalar] = nil }
            if postings[field]?.isEmpty == true { postings[field] = nil }
        }
    }

    /// Every (dotted field, scalar value) pair of a metadata value.
    static func scalars(_ value: MetadataValue, prefix: String = "") -> [(String, MetadataValue)] {
        guard case .object(let fields) = value else { return [] }
        var out = [(String, MetadataValue)]()
        for (key, v) in fields {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch v {
            case .object: out += scalars(v, prefix: path)
            case .array(let items): for item in items { out.append((path, item)) }
            default: out.append((path, v))
            }
        }
        return out
    }

    /// The labels that satisfy `filter`, as a bitset over labels.
    public func evaluate(_ filter: MetadataFilter) -> Bitset {
        Bitset(capacity: Swift.max(values.count, 1), ids: labels(filter))
    }

    func labels(_ filter: MetadataFilter) -> Set<VectorID> {
        switch filter {
        case .equals(let field, let value):
            return postings[field]?[value] ?? []
        case .isIn(let field, let options):
            return options.reduce(into: Set<VectorID>()) { $0.formUnion(postings[field]?[$1] ?? []) }
        case .range(let field, let lower, let lowerInclusive, let upper, let upperInclusive):
            var out = Set<VectorID>()
            for (value, set) in postings[field] ?? [:]
            where MetadataFilter.inRange(value, lower: lower, lowerInclusive: lowerInclusive, upper: upper, upperInclusive: upperInclusive) {
                out.formUnion(set)
            }
            return out
        case .exists(let field):
            // Nested objects are indexed under their leaf paths.
            var out = Set<VectorID>()
            for (path, values) in postings where path == field || path.hasPrefix(field + ".") {
                for set in values.values { out.formUnion(set) }
            }
            return out
        case .and(let parts):
            guard var result = parts.first.map(labels) else { return allLabels }
            for part in parts.dropFirst() {
                if result.isEmpty { break }
                result.formIntersection(labels(part))
            }
            return result
        case .or(let parts):
            return parts.reduce(into: Set<VectorID>()) { $0.formUnion(labels($1)) }
        case .not(let part):
            return allLabels.subtracting(labels(part))
        }
    }

    /// Every label with metadata.
    private var allLabels: Set<VectorID> {
        var out = Set<VectorID>(minimumCapacity: count)
        for (i, value) in values.enumerated() where value != nil { out.insert(VectorID(i)) }
        return out
    }
}
