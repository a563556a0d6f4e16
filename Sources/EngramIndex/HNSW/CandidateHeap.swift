/// A (distance, slot) pair in a graph search.
struct Candidate {
    var distance: Float
    var slot: UInt32
}

/// A binary max-heap of candidates by distance, on a growable unsafe buffer
/// (no ARC, no bounds checks in the search loop). A min-heap is the same
/// heap over negated distances.
///
/// Invariant: every parent's distance ≥ its children's; `count ≤ capacity`.
struct CandidateHeap {
    private(set) var storage: UnsafeMutablePointer<Candidate>
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = Swift.max(16, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    func deallocate() { storage.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// The largest distance. Only valid when not empty.
    var top: Candidate { storage[0] }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func push(_ distance: Float, _ slot: UInt32) {
        if count == capacity { grow() }
        var i = count
        count &+= 1
        while i > 0 {
            let parent = (i &- 1) >> 1
            guard storage[parent].distance < distance else { break }
            storage[i] = storage[parent]
            i = parent
        }
        storage[i] = Candidate(distance: distance, slot: slot)
    }

    @discardableResult @inline(__always)
    mutating func pop() -> Candidate {
        let top = storage[0]
        count &-= 1
        if count > 0 { siftDown(storage[count]) }
        return top
    }

    /// Replaces the largest with `(distance, slot)`: a push and then a pop
    /// in one pass, for a full heap kept at its size (only valid when not empty).
    @inline(__always)
    mutating func replaceTop(_ distance: Float, _ slot: UInt32) {
        siftDown(Candidate(distance: distance, slot: slot))
    }

    /// Puts `element` at the root's place and moves it down to where it belongs.
    @inline(__always)
    private mutating func siftDown(_ element: Candidate) {
        var i = 0
        while true {
            let left = 2 &* i &+ 1
            if left >= count { break }
            var child = left
            if left &+ 1 < count && storage[left &+ 1].distance > storage[left].distance { child = left &+ 1 }
            guard storage[child].distance > element.distance else { break }
            storage[i] = storage[child]
            i = child
        }
        storage[i] = element
    }

    @inline(never)
    private mutating func grow() {
        let bigger = UnsafeMutablePointer<Candidate>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity *= 2
    }
}
