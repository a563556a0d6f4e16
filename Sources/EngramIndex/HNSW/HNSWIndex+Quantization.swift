import EngramKernels
import Synchronization

/// HNSW-SQ8: 8-bit codes of every slot (``ScalarQuantizer``) beside the
/// float vectors. Once ``HNSWIndex/quantize(threads:)`` has run, a search
/// walks layer 0 on the codes — a quarter of the bytes per distance, scored
/// with the integer kernel — and re-ranks the `ef` nodes it found with the
/// float vectors, so the order it returns is exact among them. Building,
/// the upper layers, deletes and compaction keep using the floats, so the
/// graph is the float graph; the codes add `dimension` bytes per slot (and
/// 4 under squared L2). Inserts after quantising encode their vector with
/// the trained ranges (values outside are clamped, counted by
/// ``HNSWIndex/clippedFraction``).
///
/// Invariant: when `quantization` is set, its `codes` hold a row for
/// every used slot, written before the slot is published.
final class HNSWQuantization {
    let quantizer: ScalarQuantizer
    var codes: UnsafeMutablePointer<UInt8>
    /// `‖x̂‖²` per slot under squared L2.
    var lengths: UnsafeMutablePointer<Float>?
    var capacity: Int
    /// Coordinates encoded, and those clamped; inserts encode concurrently.
    let encoded = Atomic<Int>(0)
    let clipped = Atomic<Int>(0)

    init(quantizer: ScalarQuantizer, capacity: Int, squaredL2: Bool) {
        self.quantizer = quantizer
        self.capacity = capacity
        codes = .allocate(capacity: capacity * quantizer.dimension)
        lengths = squaredL2 ? .allocate(capacity: capacity) : nil
    }

    deinit {
        codes.deallocate()
        lengths?.deallocate()
    }

    /// Encodes `vector` as slot `slot`'s codes.
    func encode(_ vector: UnsafePointer<Float>, slot: Int) {
        let d = quantizer.dimension
        var clippedHere = 0
        let length = quantizer.encode(vector, into: codes + slot * d, clipped: &clippedHere)
        lengths?[slot] = length
        encoded.wrappingAdd(d, ordering: .relaxed)
        if clippedHere > 0 { clipped.wrappingAdd(clippedHere, ordering: .relaxed) }
    }

    /// Moves the codes to room for `newCapacity` slots, keeping the first `used`.
    func resize(to newCapacity: Int, keeping used: Int) {
        let d = quantizer.dimension
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity * d)
        fresh.update(from: codes, count: used * d)
        codes.deallocate()
        codes = fresh
        if let old = lengths {
            let freshLengths = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
            freshLengths.update(from: old, count: used)
            old.deallocate()
            lengths = freshLengths
        }
        capacity = newCapacity
    }
}

extension HNSWIndex {
    /// Whether searches run layer 0 on SQ8 codes.
    public var isQuantized: Bool { lock.withReadLock { quantization != nil } }

    /// Trains SQ8 ranges on the vectors the index holds and encodes every
    /// slot; from then on searches walk layer 0 on the codes and inserts
    /// encode their vectors. Quantising again retrains the ranges. Holds the
    /// exclusive lock while it runs.
    public func quantize() {
        lock.withWriteLock {
            let used = registry.withLock { $0.slotCount }
            let live = (0..<used).filter { state(UInt32($0)) == .live }
            var sample = [Float]()
            sample.reserveCapacity(live.count * dimension)
            for s in live { sample.append(contentsOf: UnsafeBufferPointer(start: row(UInt32(s)), count: dimension)) }
            let quantizer = sample.withUnsafeBufferPointer { ScalarQuantizer(training: $0.baseAddress!, count: live.count, dimension: dimension) }
            let codes = HNSWQuantization(quantizer: quantizer, capacity: capacity, squaredL2: metric == .squaredL2)
            for s in 0..<used { codes.encode(row(UInt32(s)), slot: s) }
            quantization = codes
        }
    }

    /// Bytes of the codes (0 when not quantised).
    public var quantizedBytes: Int {
        lock.withReadLock { quantization.map { $0.capacity * (dimension + ($0.lengths == nil ? 0 : 4)) } ?? 0 }
    }

    /// The fraction of coordinates encoded since quantising that fell
    /// outside the trained ranges (data that moved: quantise again).
    public var clippedFraction: Double {
        lock.withReadLock {
            guard let q = quantization else { return 0 }
            let encoded = q.encoded.load(ordering: .relaxed)
            return encoded > 0 ? Double(q.clipped.load(ordering: .relaxed)) / Double(encoded) : 0
        }
    }

    /// Layer 0 on the codes, then the `ef` found re-ranked with the floats
    /// into the best `k` (shared lock held).
    func quantizedLayer0<K: DistanceKernel>(
        _ kernel: K.Type, _ codes: HNSWQuantization, _ scratch: SearchScratch, entry: UInt32, ef: Int, k: Int,
        filter: CandidateFilter?, restricted: Bool, slots: Int
    ) -> [SearchResult] {
        let query = UnsafePointer(scratch.query)
        let weights = codes.quantizer.weights(for: query)
        let queryLength = metric == .squaredL2 ? innerProduct(query, query, count: dimension) : 0
        weights.weights.withUnsafeBufferPointer { w in
            let scorer = CodeScorer(codes: codes.codes, lengths: codes.lengths.map { UnsafePointer($0) }, dimension: dimension,
                                    weights: w.baseAddress!, constant: weights.constant, scale: weights.scale,
                                    queryLength: queryLength, metric: metric)
            searchLayer(scoring: scorer, entry: entry, entryDistance: scorer.distance(entry), ef: ef, level: 0,
                        scratch: scratch, filter: filter, restricted: restricted, slots: slots)
        }
        var heap = TopKHeap(capacity: k)
        let g = view
        while !scratch.results.isEmpty {
            let c = scratch.results.pop()
            heap.consider(distance: K.distance(query, g.row(c.slot), count: dimension), id: labels[Int(c.slot)])
        }
        return heap.sortedResults()
    }
}
