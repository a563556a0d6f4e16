import EngramKernels
import Synchronization

/// Compact codes of every slot (``TraversalQuantizer``: 4 bits a coordinate,
/// or 7 for vectors of at most 128) that a search walks the graph on, beside
/// the float vectors it re-ranks with.
///
/// A search on the codes descends the upper layers and searches layer 0
/// reading `d/2` bytes per distance instead of `4·d` (a 384-d sentence
/// embedding: three cache lines instead of 24), and the distances come from
/// the integer kernels ``nibbleDotProduct4(_:_:_:_:_:blocks:)`` and
/// ``byteDotProduct4(_:_:_:_:_:blocks:)``. The `ef`
/// nodes it ends with are then re-ranked with the float vectors, so the
/// order it returns is exact among them; the codes only decide which nodes
/// the walk visits. Inserts walk on the codes too, but choose their
/// neighbours by the floats; repairs and compaction use the floats.
///
/// Invariants: `codes` holds a row of `quantizer.codeBytes` bytes for every
/// used slot, written before the slot is published; `lengths` holds `‖x̂‖²`
/// per slot under squared L2 (nil otherwise); rows start 64-byte aligned
/// when `codeBytes` is a multiple of 64.
final class HNSWTraversalCodes {
    let quantizer: TraversalQuantizer
    let rowBytes: Int
    var codes: UnsafeMutableRawPointer
    var lengths: UnsafeMutablePointer<Float>?
    /// 1 for a slot whose vector lies far outside the ranges (``TraversalQuantizer/Encoded/farOutside``):
    /// a search scores it with its floats.
    var farOutside: UnsafeMutablePointer<UInt8>
    var capacity: Int
    /// Live vectors when the ranges were trained (``HNSWIndex/trainTraversalCodes()`` retrains as the index grows).
    let trainedOn: Int
    /// Coordinates encoded, and those clamped into range; inserts encode concurrently.
    let encoded = Atomic<Int>(0)
    let clipped = Atomic<Int>(0)

    init(quantizer: TraversalQuantizer, capacity: Int, squaredL2: Bool, trainedOn: Int) {
        self.quantizer = quantizer
        self.trainedOn = trainedOn
        rowBytes = quantizer.codeBytes
        self.capacity = capacity
        codes = .allocate(byteCount: Swift.max(1, capacity * rowBytes), alignment: 64)
        lengths = squaredL2 ? .allocate(capacity: capacity) : nil
        farOutside = .allocate(capacity: Swift.max(1, capacity))
        farOutside.initialize(repeating: 0, count: Swift.max(1, capacity))
    }

    deinit {
        codes.deallocate()
        lengths?.deallocate()
        farOutside.deallocate()
    }

    /// Encodes `vector` as slot `slot`'s codes.
    func encode(_ vector: UnsafePointer<Float>, slot: Int) {
        var clippedHere = 0
        let result = quantizer.encode(vector, into: codes + slot * rowBytes, clipped: &clippedHere)
        lengths?[slot] = result.length
        farOutside[slot] = result.farOutside ? 1 : 0
        encoded.wrappingAdd(quantizer.dimension, ordering: .relaxed)
        if clippedHere > 0 { clipped.wrappingAdd(clippedHere, ordering: .relaxed) }
    }

    /// Zeroes slot `slot`'s codes (its vector left the index).
    func erase(slot: Int) {
        (codes + slot * rowBytes).initializeMemory(as: UInt8.self, repeating: 0, count: rowBytes)
        lengths?[slot] = 0
        farOutside[slot] = 0
    }

    /// Moves the codes to room for `newCapacity` slots, keeping the first `used`.
    func resize(to newCapacity: Int, keeping used: Int) {
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(1, newCapacity * rowBytes), alignment: 64)
        fresh.copyMemory(from: codes, byteCount: used * rowBytes)
        codes.deallocate()
        codes = fresh
        if let old = lengths {
            let freshLengths = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
            freshLengths.update(from: old, count: used)
            old.deallocate()
            lengths = freshLengths
        }
        let freshFlags = UnsafeMutablePointer<UInt8>.allocate(capacity: Swift.max(1, newCapacity))
        freshFlags.initialize(repeating: 0, count: Swift.max(1, newCapacity))
        freshFlags.update(from: farOutside, count: used)
        farOutside.deallocate()
        farOutside = freshFlags
        capacity = newCapacity
    }

    /// Bytes held.
    var bytes: Int { capacity * (rowBytes + 1 + (lengths == nil ? 0 : 4)) }
}

/// Distances to what a slot's codes stand for: the query's weights against
/// each code row with the integer kernel of the code width, turned into the metric's
/// distance (the same algebra as ``CodeScorer``). A slot whose vector lies
/// far outside the ranges is scored with its floats instead.
///
/// Invariant: `codes` holds `rowBytes` bytes per slot, `lengths` one `‖x̂‖²`
/// per slot under squared L2, `farOutside` one flag per slot, `weights`
/// `64·blocks` entries, `query` and each `floats` row `dimension` floats,
/// all alive while the scorer is used.
struct TraversalScorer<K: DistanceKernel>: SlotScorer {
    let floats: FloatScorer<K>
    let farOutside: UnsafePointer<UInt8>
    let codes: UnsafeRawPointer
    let lengths: UnsafePointer<Float>?
    let rowBytes: Int
    let blocks: Int
    /// 4-bit codes (else 7-bit): the same for every call, so the branch is predicted.
    let fourBit: Bool
    let weights: UnsafePointer<Int8>
    let constant: Float
    let scale: Float
    let queryLength: Float

    @inline(__always)
    func row(_ slot: UInt32) -> UnsafeRawPointer { codes + Int(slot) &* rowBytes }

    @inline(__always)
    func distance(_ slot: UInt32) -> Float {
        if farOutside[Int(slot)] != 0 { return floats.distance(slot) }
        let dot = fourBit ? nibbleDotProduct(row(slot), weights, blocks: blocks) : byteDotProduct(row(slot), weights, blocks: blocks)
        let product = constant + scale * Float(dot)
        return K.distance(product: product, queryLength: queryLength, rowLength: K.usesLengths ? lengths.unsafelyUnwrapped[Int(slot)] : 0)
    }

    @inline(__always)
    func distances4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> SIMD4<Float> {
        let dots = fourBit
            ? nibbleDotProduct4(row(a), row(b), row(c), row(d), weights, blocks: blocks)
            : byteDotProduct4(row(a), row(b), row(c), row(d), weights, blocks: blocks)
        let products = SIMD4(repeating: constant) + SIMD4(repeating: scale) * SIMD4<Float>(dots)
        var result: SIMD4<Float>
        if K.usesLengths {
            let l = lengths.unsafelyUnwrapped
            result = K.distances4(products: products, queryLength: queryLength, rowLengths: SIMD4(l[Int(a)], l[Int(b)], l[Int(c)], l[Int(d)]))
        } else {
            result = K.distances4(products: products, queryLength: queryLength, rowLengths: .zero)
        }
        if (farOutside[Int(a)] | farOutside[Int(b)] | farOutside[Int(c)] | farOutside[Int(d)]) != 0 {
            let slots = SIMD4(a, b, c, d)
            for j in 0..<4 where farOutside[Int(slots[j])] != 0 { result[j] = floats.distance(slots[j]) }
        }
        return result
    }

    @inline(__always)
    func prefetch(_ slot: UInt32) { prefetchLines(row(slot), bytes: rowBytes) }
}

extension HNSWIndex {
    /// Whether searches walk the graph on 4-bit codes now (``trainTraversalCodes()`` has run).
    public var isWalkingOnCodes: Bool { lock.withReadLock { traversal != nil } }

    /// Bits a coordinate of the codes searches walk on: 4, or 7 for vectors of at most 128 coordinates (0 before they are trained).
    public var traversalCodeBits: Int { lock.withReadLock { traversal?.quantizer.bits ?? 0 } }

    /// Bytes of the codes searches walk on (0 before they are trained).
    public var traversalCodeBytes: Int { lock.withReadLock { traversal?.bytes ?? 0 } }

    /// The fraction of coordinates encoded into the 4-bit codes since they
    /// were trained that fell outside the ranges (clamped): data that moved.
    public var traversalClippedFraction: Double {
        lock.withReadLock {
            guard let t = traversal else { return 0 }
            let encoded = t.encoded.load(ordering: .relaxed)
            return encoded > 0 ? Double(t.clipped.load(ordering: .relaxed)) / Double(encoded) : 0
        }
    }

    /// Live vectors below which an index walks on its floats: they are few
    /// enough to sit in cache, and too few to train ranges on.
    public static let traversalTrainingMinimum = 1024
    /// Trains the codes when ``walksOnCodes`` and the index has reached
    /// ``traversalTrainingMinimum`` live vectors, and trains them again each
    /// time the live count has doubled since, however large it grows: each
    /// training encodes every slot (O(n·d), amortised over the inserts to
    /// O(d) each) and holds the exclusive lock while it does. The ranges
    /// must follow data that arrives in an order (glove's words come by
    /// frequency): ranges fixed after the first 65,536 vectors, as an
    /// earlier rule had them, cost glove 0.008 of recall at efSearch 80. A
    /// codes-only index has no floats to re-rank with and is left alone.
    /// Runs after each insert batch and snapshot load.
    public func trainTraversalCodesIfDue() {
        let due = lock.withReadLock { () -> Bool in
            guard let point = nextTrainingPoint() else { return false }
            return registry.withLock { $0.liveCount } >= point
        }
        // Nothing to train on, or a codes-only index: both excluded above, so no error is lost.
        if due { try? trainTraversalCodes() }
    }

    /// The live count at which the codes are due to be trained (again), or
    /// nil if they never will be: the one statement of the rule above
    /// (shared or exclusive lock held).
    func nextTrainingPoint() -> Int? {
        guard walksOnCodes, quantization == nil else { return nil }  // HNSW-SQ8 chosen explicitly
        guard let trained = traversal?.trainedOn else { return Self.traversalTrainingMinimum }
        return trained > Int.max / 2 ? nil : 2 * trained
    }

    /// Trains 4-bit ranges on the live vectors and encodes every slot; from
    /// then on searches walk the graph on the codes and re-rank with the
    /// floats, and inserts encode their vectors. Training again (the data
    /// has grown or moved) replaces the ranges; HNSW-SQ8's codes, if any,
    /// are dropped (``quantize(keepingFloats:)`` drops these in turn). Holds the exclusive lock
    /// while it runs. Throws ``IndexError/nothingToQuantize`` when the index
    /// holds no live vector, and ``IndexError/invalidParameter(_:value:)``
    /// for a codes-only index (it has no floats to re-rank with).
    public func trainTraversalCodes() throws(IndexError) {
        try lock.withWriteLock { () throws(IndexError) in
            guard codesOnly == nil else { throw .invalidParameter(.rerank, value: 0) }
            let used = registry.withLock { $0.slotCount }
            let live = (0..<used).filter { state(UInt32($0)) == .live }
            guard !live.isEmpty else { throw .nothingToQuantize }
            // Evenly spaced live vectors, as many as the quantiles are taken over.
            let stride = Swift.max(1, live.count / TraversalQuantizer.sampleRows)
            var sample = [Float]()
            sample.reserveCapacity((live.count / stride + 1) * dimension)
            var i = 0
            while i < live.count {
                sample.append(contentsOf: UnsafeBufferPointer(start: row(UInt32(live[i])), count: dimension))
                i += stride
            }
            let quantizer = sample.withUnsafeBufferPointer {
                TraversalQuantizer(training: $0.baseAddress.unsafelyUnwrapped, count: $0.count / dimension, dimension: dimension,
                                   bits: TraversalQuantizer.bits(forDimension: dimension))
            }
            quantization = nil
            traversal = encodeTraversalCodes(quantizer, trainedOn: live.count)
        }
    }

    /// Codes of every used slot with `quantizer`'s ranges (exclusive lock held).
    func encodeTraversalCodes(_ quantizer: TraversalQuantizer, trainedOn: Int) -> HNSWTraversalCodes {
        let used = registry.withLock { $0.slotCount }
        let codes = HNSWTraversalCodes(quantizer: quantizer, capacity: capacity, squaredL2: metric == .squaredL2, trainedOn: trainedOn)
        for s in 0..<used {
            if state(UInt32(s)) == .free { codes.erase(slot: s) } else { codes.encode(row(UInt32(s)), slot: s) }
        }
        return codes
    }

    /// Runs `body` with a scorer of the prepared `query` against the 4-bit codes.
    func withTraversalScorer<K: DistanceKernel, R>(
        _ kernel: K.Type, _ codes: HNSWTraversalCodes, query: UnsafePointer<Float>, _ body: (TraversalScorer<K>) -> R
    ) -> R {
        let weights = codes.quantizer.weights(for: query)
        let queryLength = K.usesLengths ? innerProduct(query, query, count: dimension) : 0
        return weights.weights.withUnsafeBufferPointer { w in
            body(TraversalScorer<K>(
                floats: FloatScorer<K>(query: query, view: view), farOutside: UnsafePointer(codes.farOutside),
                codes: UnsafeRawPointer(codes.codes), lengths: codes.lengths.map { UnsafePointer($0) }, rowBytes: codes.rowBytes,
                blocks: codes.quantizer.blocks, fourBit: codes.quantizer.bits == 4, weights: w.baseAddress.unsafelyUnwrapped, constant: weights.constant,
                scale: weights.scale, queryLength: queryLength))
        }
    }

    /// Every layer on the 4-bit codes, then the `ef` found re-ranked with
    /// the floats into the best `k` (shared lock held).
    func searchOnCodes<K: DistanceKernel>(
        _ kernel: K.Type, _ codes: HNSWTraversalCodes, _ scratch: SearchScratch, entry: UInt32, top: Int, ef: Int, k: Int,
        filter: CandidateFilter?, restricted: Bool, slots: Int
    ) -> [SearchResult] {
        let query = UnsafePointer(scratch.query)
        withTraversalScorer(K.self, codes, query: query) { scorer in
            descendThenSearch(scoring: scorer, entry: entry, top: top, ef: ef, filter: filter, restricted: restricted,
                              slots: slots, scratch: scratch)
        }
        return rerank(FloatScorer<K>(query: query, view: view), scratch, k: k)
    }

    /// The best `k` of the nodes in `scratch.results` by `scorer`'s
    /// distances, four at a time (their rows are scattered), each group of
    /// eight prefetched while the one before it is scored.
    func rerank<S: SlotScorer>(_ scorer: S, _ scratch: SearchScratch, k: Int) -> [SearchResult] {
        var heap = TopKHeap(capacity: k)
        let labels = view.labels
        let slots = scratch.slotList(count: scratch.results.count)
        var n = 0
        while !scratch.results.isEmpty {
            slots[n] = scratch.results.pop().slot
            n &+= 1
        }
        let group = 8
        for i in 0..<Swift.min(group, n) { scorer.prefetch(slots[i]) }
        var start = 0
        while start < n {
            let end = Swift.min(start &+ group, n)
            for i in end..<Swift.min(end &+ group, n) { scorer.prefetch(slots[i]) }
            scorer.score(slots + start, count: end &- start, labels: labels, into: &heap)
            start = end
        }
        return heap.sortedResults()
    }
}
