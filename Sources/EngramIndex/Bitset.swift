/// A fixed-size set of ids `0..<capacity`, one bit each.
///
/// Invariant: bits at positions `≥ capacity` in the last word are zero, so
/// ``count`` is the number of ids in the set.
public struct Bitset: Sendable, Hashable {
    @usableFromInline var words: [UInt64]
    /// Ids `0..<capacity` can be stored.
    public let capacity: Int

    /// An empty set able to hold ids `0..<capacity`.
    public init(capacity: Int) {
        self.capacity = Swift.max(0, capacity)
        words = [UInt64](repeating: 0, count: (self.capacity + 63) / 64)
    }

    /// A set holding `ids` (each must be `< capacity`; larger ones are ignored).
    public init<S: Sequence>(capacity: Int, ids: S) where S.Element == VectorID {
        self.init(capacity: capacity)
        for id in ids { insert(id) }
    }

    @inlinable
    public func contains(_ id: VectorID) -> Bool {
        let i = Int(id)
        guard i < capacity else { return false }
        return words[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    /// Adds `id`; ids `≥ capacity` are ignored.
    @inlinable
    public mutating func insert(_ id: VectorID) {
        let i = Int(id)
        guard i < capacity else { return }
        words[i >> 6] |= 1 << UInt64(i & 63)
    }

    @inlinable
    public mutating func remove(_ id: VectorID) {
        let i = Int(id)
        guard i < capacity else { return }
        words[i >> 6] &= ~(1 << UInt64(i & 63))
    }

    /// Adds every id of `other` (same capacity).
    public mutating func formUnion(_ other: Bitset) {
        formUnion(words: other.words)
    }

    /// Adds the ids whose bits are set in `words` (bit `i` of word `w` is id
    /// `64·w + i`); ids `≥ capacity` are ignored.
    public mutating func formUnion(words other: [UInt64]) {
        let n = Swift.min(words.count, other.count)
        for w in 0..<n { words[w] |= other[w] }
        clearTail()
    }

    /// Keeps only the ids also in `other` (same capacity).
    public mutating func formIntersection(_ other: Bitset) {
        for w in 0..<words.count { words[w] &= w < other.words.count ? other.words[w] : 0 }
    }

    /// Removes every id of `other` (same capacity).
    public mutating func subtract(_ other: Bitset) {
        for w in 0..<Swift.min(words.count, other.words.count) { words[w] &= ~other.words[w] }
    }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Restores the invariant: no bits at or beyond `capacity`.
    private mutating func clearTail() {
        let extra = words.count * 64 - capacity
        if extra > 0 { words[words.count - 1] &= ~UInt64(0) >> UInt64(extra) }
    }

    /// The number of ids in the set.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Calls `body` with every id in the set, in ascending order.
    @inlinable
    public func forEach(_ body: (VectorID) throws -> Void) rethrows {
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                let bit = bits.trailingZeroBitCount
                try body(VectorID(w << 6 | bit))
                bits &= bits &- 1
            }
        }
    }
}
