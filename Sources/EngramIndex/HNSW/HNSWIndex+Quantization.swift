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
    /// Whether the index still holds the float vectors (false: codes only).
    let keepsFloats: Bool
    var codes: UnsafeMutablePointer<UInt8>
    /// `‖x̂‖²` per slot under squared L2.
    var lengths: UnsafeMutablePointer<Float>?
    var capacity: Int
    /// Coordinates encoded, and those clamped; inserts encode concurrently.
    let encoded = Atomic<Int>(0)
    let clipped = Atomic<Int>(0)

    init(quantizer: ScalarQuantizer, capacity: Int, squaredL2: Bool, keepsFloats: Bool) {
        self.quantizer = quantizer
        self.keepsFloats = keepsFloats
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
    /// encode their vectors. Holds the exclusive lock while it runs.
    ///
    /// With `keepingFloats: false` the float vectors are freed: the index
    /// holds `d` bytes per vector instead of `4·d`. Every distance is then
    /// taken on the codes — searches on every layer (returning the codes'
    /// distances: no re-ranking), and inserts, repairs and compaction
    /// between decoded rows — and `vector`/`copyVectors` and snapshots give
    /// what the codes stand for. It cannot be undone; quantising a
    /// codes-only index again keeps its ranges. Quantising a float index
    /// again retrains the ranges.
    ///
    /// Throws ``IndexError/nothingToQuantize`` when the index holds no
    /// vector to train the ranges on.
    public func quantize(keepingFloats: Bool = true) throws(IndexError) {
        try lock.withWriteLock { () throws(IndexError) in
            if let existing = quantization, !existing.keepsFloats { return }
            let used = registry.withLock { $0.slotCount }
            let live = (0..<used).filter { state(UInt32($0)) == .live }
            guard !live.isEmpty else { throw .nothingToQuantize }
            var sample = [Float]()
            sample.reserveCapacity(live.count * dimension)
            for s in live { sample.append(contentsOf: UnsafeBufferPointer(start: row(UInt32(s)), count: dimension)) }
            let quantizer = sample.withUnsafeBufferPointer { ScalarQuantizer(training: $0.baseAddress!, count: live.count, dimension: dimension) }
            let codes = HNSWQuantization(quantizer: quantizer, capacity: capacity, squaredL2: metric == .squaredL2, keepsFloats: keepingFloats)
            for s in 0..<used { codes.encode(row(UInt32(s)), slot: s) }
            if !keepingFloats {
                vectors = try vectorMemory.resize(vectors, from: vectorBytes, to: 64, keeping: 0).bindMemory(to: Float.self, capacity: 16)
                vectorBytes = 64
            }
            quantization = codes
            traversal = nil
        }
    }

    /// The quantisation when the index holds codes only.
    var codesOnly: HNSWQuantization? {
        guard let q = quantization, !q.keepsFloats else { return nil }
        return q
    }

    /// Runs `body` with a scorer of `query` against the codes.
    func withCodeScorer<K: DistanceKernel, R>(
        _ kernel: K.Type, _ codes: HNSWQuantization, query: UnsafePointer<Float>, _ body: (CodeScorer<K>) -> R
    ) -> R {
        let weights = codes.quantizer.weights(for: query)
        let queryLength = K.usesLengths ? innerProduct(query, query, count: dimension) : 0
        return weights.weights.withUnsafeBufferPointer { w in
            body(CodeScorer<K>(codes: codes.codes, lengths: codes.lengths.map { UnsafePointer($0) }, dimension: dimension,
                               weights: w.baseAddress!, constant: weights.constant, scale: weights.scale, queryLength: queryLength))
        }
    }

    /// Reads slots' vectors as floats: the stored rows, or for a codes-only
    /// index their codes decoded into two buffers of its own (``first(_:)``
    /// and ``second(_:)`` each keep their last row until called again).
    /// ``release()`` frees the buffers.
    struct RowReader {
        let vectors: UnsafeMutablePointer<Float>
        let dimension: Int
        let codes: HNSWQuantization?
        let buffers: UnsafeMutablePointer<Float>?

        init(_ index: HNSWIndex) {
            vectors = index.vectors
            dimension = index.dimension
            codes = index.codesOnly
            buffers = codes == nil ? nil : .allocate(capacity: 2 * index.dimension)
        }

        @inline(__always)
        func first(_ slot: UInt32) -> UnsafePointer<Float> { read(slot, into: 0) }

        @inline(__always)
        func second(_ slot: UInt32) -> UnsafePointer<Float> { read(slot, into: 1) }

        @inline(__always)
        private func read(_ slot: UInt32, into buffer: Int) -> UnsafePointer<Float> {
            guard let codes, let buffers else { return UnsafePointer(vectors + Int(slot) &* dimension) }
            let out = buffers + buffer * dimension
            codes.quantizer.decode(codes.codes + Int(slot) * dimension, into: out)
            return UnsafePointer(out)
        }

        func release() { buffers?.deallocate() }
    }

    /// Whether the index holds codes only (``quantize(keepingFloats:)``).
    public var isCodesOnly: Bool { lock.withReadLock { codesOnly != nil } }

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
        withCodeScorer(K.self, codes, query: query) { scorer in
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

extension HNSWIndex {
    /// ``search(_:k:efSearch:filter:)`` for `max(k, rerank)` candidates, then
    /// the best `k` of them by their full-precision vectors, which the caller
    /// keeps (`fullPrecision` gives a label's prepared vector; a label it has
    /// none for keeps its distance). For a codes-only index, whose own
    /// distances are the codes'.
    public func searchReranked(
        _ query: [Float], k: Int, efSearch: Int? = nil, filter: CandidateFilter? = nil,
        rerank: Int, fullPrecision: (VectorID) -> UnsafePointer<Float>?
    ) throws(IndexError) -> [SearchResult] {
        try query.withUnsafeBufferPointer { (q) throws(IndexError) in
            try searchReranked(q, k: k, efSearch: efSearch, filter: filter, rerank: rerank, fullPrecision: fullPrecision)
        }
    }

    public func searchReranked(
        _ query: UnsafeBufferPointer<Float>, k: Int, efSearch: Int? = nil, filter: CandidateFilter? = nil,
        rerank: Int, fullPrecision: (VectorID) -> UnsafePointer<Float>?
    ) throws(IndexError) -> [SearchResult] {
        guard (0...SearchLimits.maxK).contains(rerank) else { throw .invalidParameter(.rerank, value: rerank) }
        let candidates = try search(query, k: Swift.max(k, rerank), efSearch: efSearch.map { Swift.max($0, rerank) }, filter: filter)
        let prepared = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
        defer { prepared.deallocate() }
        try format.prepare(query, into: prepared, row: 0)
        var heap = TopKHeap(capacity: k)
        for c in candidates {
            let distance: Float
            if let v = fullPrecision(c.id) {
                distance = kernels.distance(prepared, v, dimension)
            } else {
                distance = c.distance
            }
            heap.consider(distance: distance, id: c.id)
        }
        return heap.sortedResults()
    }
}
