/// Per-search working memory, pooled so that a search allocates nothing:
/// the visited set, the two heaps, a neighbour buffer, the list a re-rank
/// scores and the prepared query.
///
/// The visited set is a generation counter per slot: a slot is visited in
/// this search when `tags[slot] == generation`. Starting a search bumps the
/// generation instead of clearing the array (cleared only on wrap-around,
/// once every 65,535 searches). Two bytes per slot, as hnswlib's: the
/// search reads the tags at random, so the smaller array stays in cache.
///
/// Used by one thread at a time (taken from and returned to the index's pool).
final class SearchScratch: @unchecked Sendable {
    private(set) var tags: UnsafeMutablePointer<UInt16>
    private(set) var tagCapacity: Int
    private(set) var generation: UInt16 = 0
    var candidates = CandidateHeap(capacity: 256)
    var results = CandidateHeap(capacity: 256)
    /// Neighbour ids read from one list, then the unvisited ones among them.
    let neighbours: UnsafeMutablePointer<UInt32>
    let fresh: UnsafeMutablePointer<UInt32>
    let query: UnsafeMutablePointer<Float>
    /// Room for the slots a re-rank scores (``slotList(count:)``).
    private var slotBuffer: UnsafeMutablePointer<UInt32>
    private var slotBufferCapacity = 256

    init(slots: Int, maxDegree: Int, dimension: Int) {
        tagCapacity = Swift.max(slots, 16)
        tags = .allocate(capacity: tagCapacity)
        tags.initialize(repeating: 0, count: tagCapacity)
        neighbours = .allocate(capacity: maxDegree + 4)
        fresh = .allocate(capacity: maxDegree + 4)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: dimension * 4, alignment: 64)
        query = raw.bindMemory(to: Float.self, capacity: dimension)
        slotBuffer = .allocate(capacity: slotBufferCapacity)
    }

    /// Room for `count` slots, valid until the next call (grown, never shrunk).
    func slotList(count: Int) -> UnsafeMutablePointer<UInt32> {
        if count > slotBufferCapacity {
            slotBuffer.deallocate()
            slotBufferCapacity = Swift.max(count, slotBufferCapacity * 2)
            slotBuffer = .allocate(capacity: slotBufferCapacity)
        }
        return slotBuffer
    }

    deinit {
        tags.deallocate()
        neighbours.deallocate()
        fresh.deallocate()
        slotBuffer.deallocate()
        query.deallocate()
        candidates.deallocate()
        results.deallocate()
    }

    /// Starts a new visit over `slots` slots.
    func beginVisit(slots: Int) {
        if slots > tagCapacity {
            tags.deallocate()
            tagCapacity = Swift.max(slots, tagCapacity * 2)
            tags = .allocate(capacity: tagCapacity)
            tags.initialize(repeating: 0, count: tagCapacity)
            generation = 0
        }
        if generation == UInt16.max {
            tags.update(repeating: 0, count: tagCapacity)
            generation = 0
        }
        generation &+= 1
        candidates.removeAll()
        results.removeAll()
    }
}
