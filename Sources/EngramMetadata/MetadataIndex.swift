import EngramIndex

/// Per-field inverted index over record metadata, so a selective filter
/// touches only the records it names instead of scanning every record.
///
/// For each dotted field path it keeps, per distinct scalar value, the
/// labels holding that value (array elements are indexed one by one) as a
/// ``PostingList``, stored by density. ``evaluate(_:)`` turns a
/// ``MetadataFilter`` into a ``Bitset`` over labels, which becomes the
/// index's ``CandidateFilter``; `and`, `or` and `not` combine bitsets word
/// by word.
///
/// Invariant: for every label below `indexedBound`, `postings[field][value]`
/// contains `label` exactly when `metadata[label]` has `value` at `field`
/// (checked by the tests against ``MetadataFilter/matches(_:)``); no label
/// at or above it is in any posting list, and no posting list is empty.
///
/// Deferred postings: recovery keeps only the values
/// (``deferPostings()``), so that replaying a log or loading a snapshot
/// does not pay for hashing every field; ``indexPostings(atMost:)`` then
/// catches up a slice of labels at a time, in the background. Until it is
/// done, ``evaluate(_:)`` answers by testing every record's values: the same
/// answer, at the cost of a scan.
///
/// Complexity: equality and `in` cost the size of their postings; a range
/// visits the field's distinct values (fine for modest cardinality; a
/// sorted structure is the next step for high-cardinality numeric fields);
/// `and`, `or` and `not` cost the label bound / 64 per operand.
///
/// Concurrency: not synchronised; the owning collection serialises writers.
public struct MetadataIndex: Sendable {
    /// Indexed by label (labels are dense).
    private(set) var values: [MetadataValue?] = []
    private(set) var postings: [String: [MetadataValue: PostingList]] = [:]
    /// Labels with metadata.
    public private(set) var count = 0
    /// Bit `label` is set exactly when `values[label]` is not nil (what `not` complements against,
    /// word by word, instead of visiting every value).
    private var presentWords: [UInt64] = []
    /// Labels below this one are in `postings` (`Int.max`: every label).
    private var indexedBound = Int.max

    public init() {}

    /// Every label is in the posting lists (else filters scan the values).
    public var hasAllPostings: Bool { indexedBound >= values.count }

    /// Drops the posting lists and keeps only the values: later writes and
    /// removals update the values alone until ``indexPostings(atMost:)``
    /// catches up.
    public mutating func deferPostings() {
        postings = [:]
        indexedBound = 0
    }

    /// Adds the postings of the next `atMost` labels not yet indexed;
    /// returns whether every label is indexed now.
    @discardableResult
    public mutating func indexPostings(atMost limit: Int) -> Bool {
        guard !hasAllPostings else { return true }
        let end = Swift.min(values.count, indexedBound + Swift.max(1, limit))
        for i in indexedBound..<end {
            if let value = values[i] { addPostings(of: value, for: VectorID(i)) }
        }
        indexedBound = end == values.count ? Int.max : end
        return hasAllPostings
    }

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
        if i >> 6 >= presentWords.count { presentWords.append(contentsOf: repeatElement(0, count: (i >> 6) + 1 - presentWords.count)) }
        presentWords[i >> 6] |= 1 << UInt64(i & 63)
        guard i < indexedBound else { return }
        addPostings(of: value, for: label)
    }

    /// Puts `label` in the posting list of every (field, scalar) of `value`.
    private mutating func addPostings(of value: MetadataValue, for label: VectorID) {
        let bound = values.count
        Self.forEachScalar(value) { field, scalar in
            postings[field, default: [:]][scalar, default: PostingList()].insert(label, bound: bound)
        }
    }

    public mutating func remove(_ label: VectorID) {
        let i = Int(label)
        guard i < values.count, let old = values[i] else { return }
        values[i] = nil
        count -= 1
        presentWords[i >> 6] &= ~(1 << UInt64(i & 63))
        guard i < indexedBound else { return }
        Self.forEachScalar(old) { field, scalar in
            guard postings[field]?[scalar]?.remove(label) == true else { return }
            postings[field]![scalar] = nil
            if postings[field]!.isEmpty { postings[field] = nil }
        }
    }

    /// Calls `body` with every (dotted field, scalar value) pair of a metadata value.
    static func forEachScalar(_ value: MetadataValue, prefix: String = "", _ body: (String, MetadataValue) -> Void) {
        guard case .object(let fields) = value else { return }
        for (key, v) in fields {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch v {
            case .object: forEachScalar(v, prefix: path, body)
            case .array(let items): for item in items { body(path, item) }
            default: body(path, v)
            }
        }
    }

    /// The labels that satisfy `filter`, as a bitset over labels.
    public func evaluate(_ filter: MetadataFilter) -> Bitset {
        guard hasAllPostings else {
            var out = empty
            for (i, value) in values.enumerated() {
                if let value, filter.matches(value) { out.insert(VectorID(i)) }
            }
            return out
        }
        return bits(plan(filter))
    }

    /// The labels that satisfy `filter`, ascending: a selective filter's without a bitset over every label.
    public func labels(matching filter: MetadataFilter) -> [VectorID] {
        if hasAllPostings {
            let plan = plan(filter)
            if let cost = plan.enumerationCost(values.count), cost <= values.count / 32 {
                var out = [VectorID]()
                plan.forEachMatch(in: self) { out.append($0) }
                out.sort()
                var unique = [VectorID]()
                unique.reserveCapacity(out.count)
                for label in out where unique.last != label { unique.append(label) }
                return unique
            }
        }
        var out = [VectorID]()
        evaluate(filter).forEach { out.append($0) }
        return out
    }

    /// One past the highest label that ever held metadata.
    var labelBound: Int { values.count }

    /// The labels `plan` matches. A plan whose matches can be listed from at most label bound / 32
    /// postings is answered label by label (``FilterPlan``); otherwise operand by operand, word by word.
    private func bits(_ plan: FilterPlan) -> Bitset {
        if let cost = plan.enumerationCost(values.count), cost <= values.count / 32 {
            var out = empty
            plan.forEachMatch(in: self) { out.insert($0) }
            return out
        }
        switch plan {
        case .nothing: return empty
        case .everything: return allLabels
        case .lists(let lists): return union(lists)
        case .values(let filter): return leaf(filter)
        case .and(let parts):
            var result = parts.first.map(bits) ?? allLabels
            for part in parts.dropFirst() {
                if result.isEmpty { break }
                result.formIntersection(bits(part))
            }
            return result
        case .or(let parts):
            var result = empty
            for part in parts { result.formUnion(bits(part)) }
            return result
        case .not(let part):
            var result = allLabels
            result.subtract(bits(part))
            return result
        }
    }

    /// A range or `exists` from the postings.
    private func leaf(_ filter: MetadataFilter) -> Bitset {
        switch filter {
        case .range(let field, let lower, let lowerInclusive, let upper, let upperInclusive):
            return union((postings[field] ?? [:]).compactMap { value, list in
                MetadataFilter.inRange(value, lower: lower, lowerInclusive: lowerInclusive, upper: upper, upperInclusive: upperInclusive)
                    ? list : nil
            })
        case .exists(let field):
            // Nested objects are indexed under their leaf paths.
            return union(postings.flatMap { path, values in
                path == field || path.hasPrefix(field + ".") ? Array(values.values) : []
            })
        default:
            return bits(plan(filter))
        }
    }

    private var empty: Bitset { Bitset(capacity: Swift.max(values.count, 1)) }

    private func union(_ lists: [PostingList]) -> Bitset {
        var result = empty
        for list in lists { list.add(to: &result) }
        return result
    }

    /// Every label with metadata.
    private var allLabels: Bitset {
        var out = empty
        out.formUnion(words: presentWords)
        return out
    }
}
