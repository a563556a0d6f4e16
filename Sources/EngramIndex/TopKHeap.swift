import EngramKernels

/// A bounded max-heap that keeps the `k` best (smallest-distance) entries
/// seen so far.
///
/// Invariants:
/// - `0 ≤ count ≤ capacity`, and `capacity ≥ 1`.
/// - Heap order on `(distance, id)`: every parent is *worse* than or equal to
///   its children, so the root is the worst kept entry.
/// - No stored distance is NaN: a NaN distance is kept as `+∞` (worst), so a
///   comparison never breaks the heap order.
///
/// The order `(distance, id)` makes ties deterministic: of two equal
/// distances, the lower id is better and is the one kept.
///
/// - Complexity: `consider` is O(1) when the candidate is rejected (one or
///   two comparisons with the root) and O(log k) when it is kept.
package struct TopKHeap: ~Copyable {
    @usableFromInline let distances: UnsafeMutablePointer<Float>
    @usableFromInline let ids: UnsafeMutablePointer<VectorID>
    @usableFromInline let capacity: Int
    @usableFromInline var count: Int

    /// A heap that keeps at most `capacity` entries (`capacity ≥ 1`).
    @inlinable
    package init(capacity: Int) {
        let capacity = Swift.max(1, capacity)
        self.capacity = capacity
        self.count = 0
        distances = .allocate(capacity: capacity)
        ids = .allocate(capacity: capacity)
    }

    deinit {
        distances.deallocate()
        ids.deallocate()
    }

    /// How many entries the heap holds.
    @inlinable public var size: Int { count }

    /// Whether `capacity` entries are held, so new ones must beat the root.
    @inlinable public var isFull: Bool { count == capacity }

    /// The worst kept distance once full; `+∞` before. A candidate at
    /// `distance > worstDistance` can never be kept.
    @inlinable public var worstDistance: Float { count == capacity ? distances[0] : .infinity }

    @inlinable @inline(__always)
    static func worse(_ d1: Float, _ i1: VectorID, than d2: Float, _ i2: VectorID) -> Bool {
        d1 > d2 || (d1 == d2 && i1 > i2)
    }

    /// Offers a candidate; keeps it if the heap is not full or it beats the root.
    @inlinable @inline(__always)
    package mutating func consider(distance: Float, id: VectorID) {
        if count < capacity {
            push(distance.isNaN ? .infinity : distance, id)
        } else if distance < distances[0] || (distance == distances[0] && id < ids[0]) {
            replaceRoot(distance, id)
        }
    }

    @inlinable
    mutating func push(_ d: Float, _ id: VectorID) {
        var i = count
        count &+= 1
        while i > 0 {
            let parent = (i &- 1) >> 1
            guard Self.worse(d, id, than: distances[parent], ids[parent]) else { break }
            distances[i] = distances[parent]
            ids[i] = ids[parent]
            i = parent
        }
        distances[i] = d
        ids[i] = id
    }

    @inlinable
    mutating func replaceRoot(_ d: Float, _ id: VectorID) {
        var i = 0
        while true {
            let left = 2 &* i &+ 1
            if left >= count { break }
            var child = left
            let right = left &+ 1
            if right < count && Self.worse(distances[right], ids[right], than: distances[left], ids[left]) {
                child = right
            }
            guard Self.worse(distances[child], ids[child], than: d, id) else { break }
            distances[i] = distances[child]
            ids[i] = ids[child]
            i = child
        }
        distances[i] = d
        ids[i] = id
    }

    /// The kept entries, best first (ascending distance, then ascending id).
    package func sortedResults() -> [SearchResult] {
        var out = [SearchResult]()
        out.reserveCapacity(count)
        for i in 0..<count { out.append(SearchResult(id: ids[i], distance: distances[i])) }
        out.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id) }
        return out
    }
}
