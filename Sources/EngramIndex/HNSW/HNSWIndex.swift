import EngramSync
import EngramKernels
import Synchronization

/// An in-memory HNSW graph index: approximate nearest neighbours in
/// logarithmic-ish time (Malkov & Yashunin, "Efficient and robust
/// approximate nearest neighbor search using Hierarchical Navigable Small
/// World graphs", IEEE TPAMI 2018).
///
/// ```swift
/// let index = try HNSWIndex(dimension: 50, metric: .cosine, configuration: .init(m: 16, efConstruction: 200))
/// try index.insert(contentsOf: vectors, labels: Array(0..<UInt32(n)), threads: 2)
/// let hits = try index.search(query, k: 10, efSearch: 80)
/// ```
///
/// **Layout.** Each node lives in a *slot*. Vectors are rows of one aligned
/// buffer; layer-0 links are one flat array of fixed stride `2 + 2M` (the
/// node's sequence-lock word, a count, then up to `2M` slot numbers: a
/// search reads the lock word and the list from the same cache line); a
/// node above layer 0 has one block of `level × (1 + M)` links. Callers name vectors by *label*
/// (``VectorID``); the index maps labels to slots.
///
/// **Invariants** (checked by ``checkInvariants()``):
/// - Every link points to a slot in use (live, or a tombstone awaiting
///   ``compact()``), never to itself or to a free slot; no list repeats a slot.
/// - A list at layer `l` holds at most `M` links (`2M` on layer 0), and only
///   nodes whose level is ≥ `l`.
/// - The entry point is a node on the top level, `maxLevel`.
/// - Every label maps to exactly one live slot and back.
/// - After ``compact()``: no tombstones, and every live node is reachable from
///   the entry point on layer 0.
///
/// **Concurrency contract.** Any number of threads may search, insert and
/// delete at once.
/// - Searches never block each other and never wait for an insert: they
///   read neighbour lists through a per-node sequence lock (retrying if a
///   writer changed the list meanwhile), so they never see a torn list.
/// - Inserts lock one node at a time while rewriting its list. A new node's
///   vector, label and own links are written before any other list links to
///   it, and those links are stored with release ordering and read with
///   acquire ordering, so a search that reaches a node sees all of it.
/// - Updates never overwrite a vector in place: the old slot becomes a
///   tombstone and the new vector takes another slot.
/// - Growth, ``compact()`` and snapshots take an exclusive lock and wait for
///   running operations; they are the only operations that block searches.
///
/// - Complexity: search O(efSearch · M · log n) distances on typical data;
///   insert O(efConstruction · M · log n).
public final class HNSWIndex: @unchecked Sendable {
    public let configuration: HNSWConfiguration
    public let format: VectorFormat
    /// Whether the index trains 4-bit codes to walk on once it holds enough
    /// vectors (``trainTraversalCodesIfDue()``); false: it walks on the floats.
    public let walksOnCodes: Bool
    public var dimension: Int { format.dimension }
    public var metric: Metric { format.metric }

    let maxM: Int
    let maxM0: Int
    let levelMultiplier: Double

    // Slot storage. Written per slot by its inserter (before the slot is
    // published) or under the exclusive lock; moved only under the exclusive lock.
    var capacity: Int
    /// Where the float rows live (``VectorMemory``): the heap, or a caller's mapped file.
    let vectorMemory: any VectorMemory
    /// The bytes of the region `vectors` points into.
    var vectorBytes = 0
    var vectors: UnsafeMutablePointer<Float>
    /// Per slot ``layer0Stride`` words: the sequence lock (odd while a writer
    /// rewrites the node's lists, any layer), then the layer-0 list.
    var layer0: UnsafeMutablePointer<Atomic<UInt32>>
    var upper: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt32>>?>
    var levels: UnsafeMutablePointer<UInt8>
    var labels: UnsafeMutablePointer<VectorID>
    /// ``SlotState`` raw values.
    var states: UnsafeMutablePointer<Atomic<UInt8>>
    /// HNSW-SQ8's codes, once ``quantize()`` has run (set and resized under the exclusive lock).
    var quantization: HNSWQuantization?
    /// The 4-bit codes searches walk on, once ``trainTraversalCodes()`` has run (set and resized under the exclusive lock).
    var traversal: HNSWTraversalCodes?

    /// The metric's kernel, bound once (``HNSWKernelCalls``).
    let kernels: HNSWKernelCalls
    let lock = ReadWriteLock()
    let registry: Locked<Registry>
    /// Held for the whole insert of a node that raises the top level.
    let levelUp = Locked<Void>(())
    let scratchPool = Locked<[SearchScratch]>([])

    static let noSlot = UInt32.max
    static let maxLevelCap = 31

    enum SlotState: UInt8 {
        case live = 0
        case deleted = 1
        case free = 2
    }

    /// Bookkeeping shared by all writers, under ``registry``.
    struct Registry {
        var slotOfLabel: [VectorID: UInt32] = [:]
        var freeSlots: [UInt32] = []
        /// Slots `0..<slotCount` have been used; the rest never were.
        var slotCount = 0
        var entryPoint = HNSWIndex.noSlot
        var maxLevel = -1
        var liveCount = 0
        var tombstoneCount = 0
        var insertions: UInt64 = 0
        /// Vectors inserted since the last look for stranded nodes (``HNSWIndex/relinkStranded()``).
        var insertedSinceReachabilityCheck = 0
    }

    /// - Parameter vectorMemory: where the float rows live (default: the heap).
    ///   A file-backed one keeps them out of anonymous memory; the index reads
    ///   them to build its graph and, walking on codes, only to re-rank.
    public init(
        dimension: Int, metric: Metric, configuration: HNSWConfiguration = HNSWConfiguration(), capacity: Int = 1024,
        walksOnCodes: Bool = true, vectorMemory: (any VectorMemory)? = nil
    ) throws(IndexError) {
        try configuration.validate()
        self.walksOnCodes = walksOnCodes
        self.vectorMemory = vectorMemory ?? HeapVectorMemory()
        self.format = try VectorFormat(dimension: dimension, metric: metric)
        kernels = HNSWKernelCalls(metric)
        self.configuration = configuration
        maxM = configuration.m
        maxM0 = 2 * configuration.m
        levelMultiplier = 1 / log(Double(configuration.m))
        self.capacity = 0
        let initial = Swift.max(16, capacity)
        guard initial <= Int(UInt32.max - 1) else { throw .capacityExceeded(limit: Int(UInt32.max - 1)) }
        vectorBytes = initial * format.dimension * 4
        vectors = try self.vectorMemory.resize(nil, from: 0, to: vectorBytes, keeping: 0)
            .bindMemory(to: Float.self, capacity: initial * format.dimension)
        layer0 = .allocate(capacity: 1)
        upper = .allocate(capacity: 1)
        levels = .allocate(capacity: 1)
        labels = .allocate(capacity: 1)
        states = .allocate(capacity: 1)
        registry = Locked(Registry())
        try resizeStorage(to: initial, keeping: 0)
    }

    deinit {
        let used = registry.withLock { $0.slotCount }
        for s in 0..<used { upper[s]?.deallocate() }
        vectorMemory.release(vectors, bytes: vectorBytes)
        layer0.deallocate()
        upper.deallocate()
        levels.deallocate()
        labels.deallocate()
        states.deallocate()
    }

    // MARK: - Counts

    /// Live (searchable) vectors.
    public var count: Int { registry.withLock { $0.liveCount } }

    /// Deleted vectors whose slots ``compact()`` has not reclaimed yet.
    public var tombstoneCount: Int { registry.withLock { $0.tombstoneCount } }

    /// Whether `label` is in the index (live).
    public func contains(_ label: VectorID) -> Bool { registry.withLock { $0.slotOfLabel[label] != nil } }

    /// Copies the stored vector of each `labels[i]` to row `rows[i]` of
    /// `destination` (rows of `dimension` floats), under one lock acquisition.
    /// A codes-only index gives what the codes stand for.
    public func copyVectors(_ labels: [VectorID], toRows rows: [Int], of destination: UnsafeMutablePointer<Float>) throws(IndexError) {
        try lock.withReadLock { () throws(IndexError) in
            let slots = registry.withLock { registry in labels.map { registry.slotOfLabel[$0] } }
            let reader = RowReader(self)
            defer { reader.release() }
            for (i, slot) in slots.enumerated() {
                guard let slot else { throw .unknownID(labels[i]) }
                (destination + rows[i] * dimension).update(from: reader.first(slot), count: dimension)
            }
        }
    }

    /// The stored vector of `label` (normalised under cosine; what its codes stand for in a codes-only index).
    public func vector(_ label: VectorID) throws(IndexError) -> [Float] {
        try lock.withReadLock { () throws(IndexError) -> [Float] in
            guard let slot = registry.withLock({ $0.slotOfLabel[label] }) else { throw .unknownID(label) }
            let reader = RowReader(self)
            defer { reader.release() }
            return Array(UnsafeBufferPointer(start: reader.first(slot), count: dimension))
        }
    }

    /// Bytes held: ``memory``'s total.
    public var memoryBytes: Int { memory.total }

    /// Bytes held, by what they hold: slot arrays at capacity, upper-layer
    /// link blocks, and an estimate of the label map (9 bytes per bucket).
    public var memory: IndexMemory {
        lock.withReadLock {
            let (used, buckets) = registry.withLock { ($0.slotCount, $0.slotOfLabel.capacity) }
            var upperBytes = 0
            for s in 0..<used where upper[s] != nil { upperBytes += Int(levels[s]) * (1 + maxM) * 4 }
            return IndexMemory(
                floats: codesOnly == nil ? vectorBytes : 0,
                codes: (traversal?.bytes ?? 0) + (quantization.map { $0.capacity * (dimension + ($0.lengths == nil ? 0 : 4)) } ?? 0),
                links: capacity * layer0Stride * 4 + upperBytes,
                other: capacity * (8 + 1 + 4 + 1) + buckets * 9,
                floatsFileBacked: vectorMemory.isFileBacked)
        }
    }

    // MARK: - Slot access

    @inline(__always)
    func row(_ slot: UInt32) -> UnsafeMutablePointer<Float> { vectors + Int(slot) &* dimension }

    @inline(__always)
    func maxDegree(_ level: Int) -> Int { level == 0 ? maxM0 : maxM }

    /// The list of `slot` at `level`: a count, then links.
    @inline(__always)
    func links(_ slot: UInt32, _ level: Int) -> UnsafeMutablePointer<Atomic<UInt32>> { view.links(slot, level) }

    @inline(__always)
    func state(_ slot: UInt32) -> SlotState {
        SlotState(rawValue: states[Int(slot)].load(ordering: .acquiring)) ?? .free
    }

    @inline(__always)
    func readLinks(_ slot: UInt32, _ level: Int, into buffer: UnsafeMutablePointer<UInt32>) -> Int {
        view.readLinks(slot, level, into: buffer)
    }

    /// Locks `slot`'s lists for writing (spins; writers hold it briefly).
    func lockNode(_ slot: UInt32) {
        var spins = 0
        while true {
            let v = version(slot).pointee.load(ordering: .relaxed)
            if v & 1 == 0 {
                let (done, _) = version(slot).pointee.compareExchange(
                    expected: v, desired: v &+ 1, ordering: .acquiringAndReleasing)
                if done { return }
            }
            spins &+= 1
            // The holder may have been preempted (more threads than cores): let it run.
            if spins & 63 == 0 { sched_yield() }
        }
    }

    func unlockNode(_ slot: UInt32) {
        version(slot).pointee.wrappingAdd(1, ordering: .releasing)
    }

    /// Words per slot in ``layer0``: the lock word, the count, `2M` links.
    var layer0Stride: Int { 2 + maxM0 }

    /// `slot`'s sequence-lock word (the first of its ``layer0`` block).
    @inline(__always)
    func version(_ slot: UInt32) -> UnsafeMutablePointer<Atomic<UInt32>> { layer0 + Int(slot) &* layer0Stride }

    /// Replaces the list of `slot` at `level` (caller holds the node lock).
    func writeLinks(_ slot: UInt32, _ level: Int, _ ids: UnsafeBufferPointer<UInt32>) {
        let list = links(slot, level)
        for (i, id) in ids.enumerated() { list[1 + i].store(id, ordering: .releasing) }
        list[0].store(UInt32(ids.count), ordering: .releasing)
    }

    // MARK: - Storage growth

    /// Ensures room for `slots` slots without growing during inserts.
    public func reserve(_ slots: Int) throws(IndexError) {
        guard slots <= Int(UInt32.max - 1) else { throw .capacityExceeded(limit: Int(UInt32.max - 1)) }
        guard lock.withReadLock({ slots > capacity }) else { return }
        try lock.withWriteLock { () throws(IndexError) in
            if slots > capacity { try resizeStorage(to: slots, keeping: registry.withLock { $0.slotCount }) }
        }
    }

    /// Moves every slot array to `newCapacity` slots (exclusive lock held, or
    /// during init). The float rows first: if their memory cannot grow,
    /// nothing has changed.
    func resizeStorage(to newCapacity: Int, keeping used: Int) throws(IndexError) {
        func move<T>(_ old: UnsafeMutablePointer<T>, _ fresh: UnsafeMutablePointer<T>, _ n: Int) {
            fresh.moveInitialize(from: old, count: n)
            old.deallocate()
        }
        let newVectorBytes = newCapacity * dimension * 4
        if codesOnly == nil, newVectorBytes != vectorBytes {  // a codes-only index holds no float rows
            vectors = try vectorMemory.resize(vectors, from: vectorBytes, to: newVectorBytes, keeping: used * dimension * 4)
                .bindMemory(to: Float.self, capacity: newCapacity * dimension)
            vectorBytes = newVectorBytes
        }

        let stride0 = layer0Stride
        let newLayer0 = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: newCapacity * stride0)
        for i in 0..<(used * stride0) { (newLayer0 + i).initialize(to: Atomic(layer0[i].load(ordering: .relaxed))) }
        for i in (used * stride0)..<(newCapacity * stride0) { (newLayer0 + i).initialize(to: Atomic(0)) }
        layer0.deallocate()
        layer0 = newLayer0

        let newUpper = UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt32>>?>.allocate(capacity: newCapacity)
        move(upper, newUpper, used)
        (newUpper + used).initialize(repeating: nil, count: newCapacity - used)
        upper = newUpper

        let newLevels = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        move(levels, newLevels, used)
        (newLevels + used).initialize(repeating: 0, count: newCapacity - used)
        levels = newLevels

        let newLabels = UnsafeMutablePointer<VectorID>.allocate(capacity: newCapacity)
        move(labels, newLabels, used)
        (newLabels + used).initialize(repeating: 0, count: newCapacity - used)
        labels = newLabels


        let newStates = UnsafeMutablePointer<Atomic<UInt8>>.allocate(capacity: newCapacity)
        for i in 0..<newCapacity {
            (newStates + i).initialize(to: Atomic(i < used ? states[i].load(ordering: .relaxed) : SlotState.free.rawValue))
        }
        states.deallocate()
        states = newStates
        quantization?.resize(to: newCapacity, keeping: used)
        traversal?.resize(to: newCapacity, keeping: used)
        capacity = newCapacity
    }

    // MARK: - Scratch

    func withScratch<R, E: Error>(_ body: (SearchScratch) throws(E) -> R) throws(E) -> R {
        let scratch = scratchPool.withLock { $0.popLast() }
            ?? SearchScratch(slots: capacity, maxDegree: maxM0, dimension: dimension)
        defer { scratchPool.withLock { $0.append(scratch) } }
        return try body(scratch)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
