import EngramIndex

/// The labels holding one metadata value at one field, stored by density so
/// that neither a unique value (a timestamp, a row number) nor a value most
/// records share (a kind, an agent) costs much:
/// - `.one`: a single label, no allocation (the unique-value case);
/// - `.few`: up to ``fewLimit`` labels in an array, searched linearly;
/// - `.set`: a hash set, while a bitmap over every label would be larger;
/// - `.bits`: a bitmap over labels once at least 1 label in 32 holds the
///   value, so inserting and removing are one bit and filters OR whole words.
///
/// Invariants: `count` is the number of labels held, and a stored list is
/// never empty (the index drops a list that empties); a label is held at most once; `.bits` has no
/// bits set at or beyond the label bound it was last grown to.
struct PostingList: Sendable {
    enum Storage: Sendable {
        case one(VectorID)
        case few([VectorID])
        case set(Set<VectorID>)
        case bits([UInt64])
    }

    static let fewLimit = 8

    private(set) var storage: Storage = .few([])
    private(set) var count = 0

    /// An empty list, only ever stored with a label inserted at once.
    init() {}

    /// Adds `label` (not already held); `bound` is the collection's label
    /// bound, which decides when a bitmap is the smaller form.
    mutating func insert(_ label: VectorID, bound: Int) {
        count += 1
        if count == 1 {
            storage = .one(label)
            return
        }
        switch storage {
        case .one(let first):
            storage = .few([first, label])
        case .few(var labels):
            storage = .one(0)  // drop the second reference, so the append does not copy
            if labels.count < Self.fewLimit {
                labels.append(label)
                storage = .few(labels)
            } else {
                var set = Set(labels)
                set.insert(label)
                storage = .set(set)
            }
        case .set(var set):
            storage = .one(0)
            set.insert(label)
            if count * 32 >= bound {
                var words = [UInt64](repeating: 0, count: (bound + 63) / 64)
                for l in set { words[Int(l) >> 6] |= 1 << UInt64(l & 63) }
                storage = .bits(words)
            } else {
                storage = .set(set)
            }
        case .bits(var words):
            storage = .one(0)
            let w = Int(label) >> 6
            if w >= words.count { words.append(contentsOf: repeatElement(0, count: Swift.max(w + 1, words.count * 2) - words.count)) }
            words[w] |= 1 << UInt64(label & 63)
            storage = .bits(words)
        }
    }

    /// Removes `label` if held; returns whether the list is now empty.
    mutating func remove(_ label: VectorID) -> Bool {
        switch storage {
        case .one(let only):
            if only == label { count = 0 }
        case .few(var labels):
            guard let i = labels.firstIndex(of: label) else { return false }
            storage = .one(0)
            labels.remove(at: i)
            storage = labels.count == 1 ? .one(labels[0]) : .few(labels)
            count -= 1
        case .set(var set):
            storage = .one(0)
            if set.remove(label) != nil { count -= 1 }
            storage = .set(set)
        case .bits(var words):
            let w = Int(label) >> 6
            let bit: UInt64 = 1 << UInt64(label & 63)
            guard w < words.count, words[w] & bit != 0 else { return false }
            storage = .one(0)
            words[w] &= ~bit
            storage = .bits(words)
            count -= 1
        }
        return count == 0
    }

    /// Whether `label` is held.
    func contains(_ label: VectorID) -> Bool {
        switch storage {
        case .one(let only): return only == label
        case .few(let labels): return labels.contains(label)
        case .set(let set): return set.contains(label)
        case .bits(let words):
            let w = Int(label) >> 6
            return w < words.count && words[w] & (1 << UInt64(label & 63)) != 0
        }
    }

    /// Calls `body` with every label held, in no particular order.
    func forEach(_ body: (VectorID) -> Void) {
        switch storage {
        case .one(let label): body(label)
        case .few(let labels): for label in labels { body(label) }
        case .set(let set): for label in set { body(label) }
        case .bits(let words):
            for (w, word) in words.enumerated() {
                var rest = word
                while rest != 0 {
                    body(VectorID(truncatingIfNeeded: w << 6 | rest.trailingZeroBitCount))
                    rest &= rest &- 1
                }
            }
        }
    }

    /// Adds every label held to `result`.
    func add(to result: inout Bitset) {
        switch storage {
        case .one(let label): result.insert(label)
        case .few(let labels): for label in labels { result.insert(label) }
        case .set(let set): for label in set { result.insert(label) }
        case .bits(let words): result.formUnion(words: words)
        }
    }
}
