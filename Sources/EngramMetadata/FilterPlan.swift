import EngramIndex

/// A filter compiled against a ``MetadataIndex``'s postings, so that a
/// selective filter is answered from its smallest posting lists instead of
/// with whole-width bitsets (Docs/ENGINE.md, "Filters").
///
/// Compiling looks every equality and `in` up once, and folds what the
/// postings already decide: a value no record holds matches nothing, a field
/// no record holds makes `exists` false and a range empty, and the folding
/// runs through `and`, `or` and `not` (so the memory layer's "not expired"
/// clause costs nothing while no record expires).
///
/// A plan whose matches can be listed from postings (an equality, an `in`,
/// an `or` of such, or an `and` with one such part) is *enumerable*:
/// ``MetadataIndex/evaluate(_:)`` then walks the labels of the `and`'s most
/// selective part, its *driver*, and keeps those the other parts admit, each
/// tested on one label (a posting membership, or the record's own value for
/// a range or `exists`). Cost: the driver's size times the tests, against
/// label bound / 64 words per operand for the bitset plan.
///
/// Invariant: ``admits(_:in:)`` and ``forEachMatch(in:_:)`` agree with the
/// bitset evaluation of the filter the plan was compiled from, for the index
/// state it was compiled against (checked by the tests on random filters).
indirect enum FilterPlan {
    /// No label.
    case nothing
    /// Every label with metadata.
    case everything
    /// The labels in any of these lists (an equality, or an `in`).
    case lists([PostingList])
    /// The labels whose own value the filter (a range, or `exists`) matches.
    case values(MetadataFilter)
    case and([FilterPlan])
    case or([FilterPlan])
    case not(FilterPlan)

    /// At least as many labels as the plan matches (exact for lists).
    func bound(_ labels: Int) -> Int {
        switch self {
        case .nothing: return 0
        case .everything, .values, .not: return labels
        case .lists(let lists): return Swift.min(labels, lists.reduce(0) { $0 + $1.count })
        case .and(let parts): return parts.map { $0.bound(labels) }.min() ?? labels
        case .or(let parts): return Swift.min(labels, parts.reduce(0) { $0 + $1.bound(labels) })
        }
    }

    /// How many labels listing the matches visits, or nil when they cannot be listed from postings.
    func enumerationCost(_ labels: Int) -> Int? {
        switch self {
        case .nothing: return 0
        case .lists(let lists): return lists.reduce(0) { $0 + $1.count }
        case .or(let parts):
            var total = 0
            for part in parts {
                guard let cost = part.enumerationCost(labels) else { return nil }
                total += cost
            }
            return total
        case .and(let parts): return parts.compactMap { $0.enumerationCost(labels) }.min()
        case .everything, .values, .not: return nil
        }
    }

    /// Calls `body` with every label the plan matches (some perhaps more than once, under an `or`);
    /// only for an enumerable plan (``enumerationCost(_:)`` not nil).
    func forEachMatch(in index: MetadataIndex, _ body: (VectorID) -> Void) {
        switch self {
        case .nothing, .everything, .values, .not: return
        case .lists(let lists):
            for list in lists { list.forEach(body) }
        case .or(let parts):
            for part in parts { part.forEachMatch(in: index, body) }
        case .and(let parts):
            var driver: (index: Int, cost: Int)?
            for (i, part) in parts.enumerated() {
                if let cost = part.enumerationCost(index.labelBound), cost < driver?.cost ?? Int.max { driver = (i, cost) }
            }
            guard let driver = driver?.index else { return }
            let rest = parts.indices.filter { $0 != driver }.map { parts[$0] }
            parts[driver].forEachMatch(in: index) { label in
                if rest.allSatisfy({ $0.admits(label, in: index) }) { body(label) }
            }
        }
    }

    /// Whether the plan matches `label`.
    func admits(_ label: VectorID, in index: MetadataIndex) -> Bool {
        switch self {
        case .nothing: return false
        case .everything: return index.metadata(of: label) != nil
        case .lists(let lists): return lists.contains { $0.contains(label) }
        case .values(let filter):
            guard let value = index.metadata(of: label) else { return false }
            if case .exists(let field) = filter { return Self.holdsScalar(at: field, in: value) }
            return filter.matches(value)
        case .and(let parts): return parts.allSatisfy { $0.admits(label, in: index) }
        case .or(let parts): return parts.contains { $0.admits(label, in: index) }
        case .not(let part): return index.metadata(of: label) != nil && !part.admits(label, in: index)
        }
    }

    /// Whether the index lists `value` under `field` or a path below it: `exists` as the postings define it
    /// (a scalar, a non-empty array, or an object holding one of these somewhere).
    static func holdsScalar(at field: String, in value: MetadataValue) -> Bool {
        var current = value
        for key in field.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = current[String(key)] else { return false }
            current = next
        }
        return indexes(current)
    }

    private static func indexes(_ value: MetadataValue) -> Bool {
        switch value {
        case .object(let fields): return fields.values.contains(where: indexes)
        case .array(let items): return !items.isEmpty
        default: return true
        }
    }
}

extension MetadataIndex {
    /// `filter` compiled against the current postings (every label indexed).
    func plan(_ filter: MetadataFilter) -> FilterPlan {
        switch filter {
        case .equals(let field, let value):
            return postings[field]?[value].map { .lists([$0]) } ?? .nothing
        case .isIn(let field, let options):
            let lists = options.compactMap { postings[field]?[$0] }
            return lists.isEmpty ? .nothing : .lists(lists)
        case .range(let field, _, _, _, _):
            return postings[field] == nil ? .nothing : .values(filter)
        case .exists(let field):
            let held = postings.keys.contains { $0 == field || $0.hasPrefix(field + ".") }
            return held ? .values(filter) : .nothing
        case .and(let parts):
            var kept = [FilterPlan]()
            for part in parts {
                switch plan(part) {
                case .nothing: return .nothing
                case .everything: continue
                case let p: kept.append(p)
                }
            }
            return kept.isEmpty ? .everything : kept.count == 1 ? kept[0] : .and(kept)
        case .or(let parts):
            var kept = [FilterPlan]()
            for part in parts {
                switch plan(part) {
                case .everything: return .everything
                case .nothing: continue
                case let p: kept.append(p)
                }
            }
            return kept.isEmpty ? .nothing : kept.count == 1 ? kept[0] : .or(kept)
        case .not(let part):
            switch plan(part) {
            case .nothing: return .everything
            case .everything: return .nothing
            case let p: return .not(p)
            }
        }
    }
}
