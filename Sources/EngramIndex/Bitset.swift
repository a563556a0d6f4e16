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
