import EngramSync
import EngramKernels

extension IVFIndex {
    /// How unevenly the vectors are spread over the lists: FAISS's imbalance
    /// factor `nlist · Σ|Lᵢ|² / (Σ|Lᵢ|)²` — 1 when every list holds as many,
    /// `nlist` when one list holds everything. A search costs about
    /// `imbalance × n × nprobe / nlist` distances, so this is the measure of
    /// how much a skewed index slows searches down. 0 when empty.
    public var imbalance: Double { lock.withReadLock { imbalanceLocked() } }

    func imbalanceLocked() -> Double {
        var total = 0.0, squares = 0.0
        for list in lists {
            let c = Double(list.labels.count)
            total += c
            squares += c * c
        }
        return total > 0 ? Double(nlist) * squares / (total * total) : 0
    }

    /// Labels written while the last retraining ran, brought up to date at its swap.
    public var labelsCaughtUpByLastRetraining: Int { lock.withReadLock { lastRetrainCaughtUp } }

    /// The imbalance of the training sample's clusters when the centroids
    /// were trained: what the data looked like then (0 before training).
    public var trainedImbalance: Double { lock.withReadLock { trainingImbalance } }

    /// Drift: the imbalance now over the imbalance at training. Data that
    /// keeps the trained distribution stays near 1; data that moved piles
    /// into the lists at the edge of the old clusters and drives it up.
    /// ``needsRetraining(threshold:)`` compares it with a threshold.
    public var drift: Double {
        lock.withReadLock { trainingImbalance > 0 ? imbalanceLocked() / trainingImbalance : 0 }
    }

    /// SQ8: the fraction of coordinates encoded since training (or loading)
    /// that fell outside the quantiser's trained ranges and were clamped —
    /// data the codes can no longer tell apart. 0 under flat.
    public var clippedFraction: Double {
        lock.withReadLock { encodedCoordinates > 0 ? Double(clippedCoordinates) / Double(encodedCoordinates) : 0 }
    }

    /// Whether ``drift`` exceeds `threshold` (2 by default: searches cost
    /// about twice what they did at training for the same nprobe), or, under
    /// sq8, more than `clippedThreshold` of the coordinates were clamped
    /// (1% by default).
    public func needsRetraining(threshold: Double = 2, clippedThreshold: Double = 0.01) -> Bool {
        drift > threshold || clippedFraction > clippedThreshold
    }

    /// Trains new centroids on the vectors the index holds now and moves
    /// every vector to its new nearest list, then swaps the new lists in —
    /// while searches and writes go on.
    ///
    /// Protocol: (1) under the exclusive lock, start a journal of the
    /// labels written from now on; (2) under the shared lock, copy every
    /// vector (sq8: decode the codes; the codes themselves do not depend on
    /// the centroids and move unchanged); (3) with no lock held, run k-means
    /// and assign the copy to the new centroids on `threads` threads; (4)
    /// under the exclusive lock, bring every journaled label up to date from
    /// the live lists (moved, added or removed) and swap. Searches wait only
    /// for steps 1 and 4, which touch the journaled labels alone.
    ///
    /// Under sq8, `fullPrecision` (the prepared full-precision vector of a
    /// label, as for re-ranking) lets it retrain the quantiser's ranges too
    /// and encode every vector again; a label it has no vector for is
    /// re-encoded from its old codes. Without it the codes are kept and
    /// only the centroids change (the ranges cannot be widened from codes
    /// that were clamped).
    ///
    /// Throws ``IndexError/notTrained`` before training, `invalidParameter`
    /// (`nlist`) when fewer vectors than lists are held, and
    /// ``IndexError/retrainingInProgress`` when another retraining runs.
    @discardableResult
    public func retrain(
        iterations: Int = 10, maxPointsPerCentroid: Int = 256, seed: UInt64 = 1234, threads: Int = 1,
        fullPrecision: ((VectorID) -> UnsafePointer<Float>?)? = nil
    ) throws(IndexError) -> KMeans.Result {
        try lock.withWriteLock { () throws(IndexError) in
            guard !centroids.isEmpty else { throw .notTrained }
            guard journal == nil else { throw .retrainingInProgress }
            journal = []
        }
        var succeeded = false
        defer { if !succeeded { lock.withWriteLock { journal = nil } } }

        // (2) The copy: labels, the floats to train on, and each row's stored form.
        let d = dimension
        var (labels, floats, codes) = lock.withReadLock { () -> ([VectorID], [Float], [UInt8]) in
            var labels = [VectorID](), floats = [Float](), codes = [UInt8]()
            labels.reserveCapacity(location.count)
            floats.reserveCapacity(location.count * d)
            for list in lists {
                labels += list.labels
                switch encoding {
                case .flat: floats += list.vectors
                case .sq8: codes += list.codes
                }
            }
            if encoding == .sq8, let quantizer {
                floats = [Float](repeating: 0, count: labels.count * d)
                floats.withUnsafeMutableBufferPointer { out in
                    codes.withUnsafeBufferPointer { c in
                        for i in 0..<labels.count { quantizer.decode(c.baseAddress! + i * d, into: out.baseAddress! + i * d) }
                    }
                }
                if metric.normalizesVectors {
                    floats.withUnsafeMutableBufferPointer { f in for i in 0..<labels.count { _ = normalize(f.baseAddress! + i * d, count: d) } }
                }
            }
            return (labels, floats, codes)
        }
        let requantize = encoding == .sq8 && fullPrecision != nil
        if requantize, let fullPrecision {
            floats.withUnsafeMutableBufferPointer { f in
                for (i, label) in labels.enumerated() {
                    if let vector = fullPrecision(label) { (f.baseAddress! + i * d).update(from: vector, count: d) }
                }
            }
        }
        guard labels.count >= nlist else { throw .invalidParameter(.nlist, value: nlist) }

        // (3) New centroids and the new lists, with no lock held.
        let trained = try floats.withUnsafeBufferPointer { (p) throws(IndexError) in
            try KMeans.train(p.baseAddress!, count: labels.count, dimension: d, metric: metric, configuration: .init(
                clusters: nlist, iterations: iterations, maxPointsPerCentroid: maxPointsPerCentroid, seed: seed, threads: threads))
        }
        let assigned = floats.withUnsafeBufferPointer { p in
            trained.centroids.withUnsafeBufferPointer { c in
                KMeans.assign(p.baseAddress!, count: labels.count, dimension: d, metric: metric, centroids: c.baseAddress!, clusters: nlist, threads: threads)
            }
        }
        let newQuantizer = requantize ? floats.withUnsafeBufferPointer { ScalarQuantizer(training: $0.baseAddress!, count: labels.count, dimension: d) } : quantizer
        var clipped = 0
        if requantize, let newQuantizer {
            codes.withUnsafeMutableBufferPointer { c in
                floats.withUnsafeBufferPointer { f in
                    for i in 0..<labels.count { newQuantizer.encode(f.baseAddress! + i * d, into: c.baseAddress! + i * d, clipped: &clipped) }
                }
            }
        }
        let fresh = (0..<nlist).map { _ in InvertedList() }
        var sizes = [Int](repeating: 0, count: nlist)
        for l in assigned { sizes[Int(l)] += 1 }
        for (l, size) in sizes.enumerated() { reserve(fresh[l], rows: size) }
        var freshLocation = [VectorID: (list: Int32, row: Int32)](minimumCapacity: labels.count)
        for (i, label) in labels.enumerated() {
            let list = fresh[Int(assigned[i])]
            freshLocation[label] = (assigned[i], Int32(list.labels.count))
            list.labels.append(label)
            switch encoding {
            case .flat: floats.withUnsafeBufferPointer { list.vectors.append(contentsOf: $0[(i * d)..<((i + 1) * d)]) }
            case .sq8:
                list.codes.append(contentsOf: codes[(i * d)..<((i + 1) * d)])
                if metric == .squaredL2, let newQuantizer {
                    list.squaredLengths.append(list.codes.withUnsafeBufferPointer { newQuantizer.squaredLength(of: $0.baseAddress! + list.codes.count - d) })
                }
            }
        }
        let trainedSizes = sizes

        // (4) Catch up with the writes made meanwhile, and swap.
        lock.withWriteLock {
            let written = journal ?? []
            lastRetrainCaughtUp = written.count
            let newCentroids = trained.centroids
            // Each written label's current row (the live lists are up to date), then one assignment for them all.
            var caughtUp = [VectorID](), rows = [Float](), storedRows = [UInt8]()
            var row = [Float](repeating: 0, count: d)
            for label in written {
                removeLabel(label, lists: fresh, location: &freshLocation)
                guard let (l, r) = location[label] else { continue }  // deleted meanwhile
                let old = lists[Int(l)]
                switch encoding {
                case .flat: row = Array(old.vectors[(Int(r) * d)..<((Int(r) + 1) * d)])
                case .sq8:
                    var stored = Array(old.codes[(Int(r) * d)..<((Int(r) + 1) * d)])
                    if let vector = requantize ? fullPrecision?(label) : nil {
                        row = Array(UnsafeBufferPointer(start: vector, count: d))
                    } else {
                        if let quantizer { stored.withUnsafeBufferPointer { c in row.withUnsafeMutableBufferPointer { quantizer.decode(c.baseAddress!, into: $0.baseAddress!) } } }
                        if metric.normalizesVectors { row.withUnsafeMutableBufferPointer { _ = normalize($0.baseAddress!, count: d) } }
                    }
                    if requantize, let newQuantizer {
                        stored.withUnsafeMutableBufferPointer { c in _ = newQuantizer.encode(row, into: c.baseAddress!, clipped: &clipped) }
                    }
                    storedRows += stored
                }
                caughtUp.append(label)
                rows += row
            }
            let targets: [Int32] = caughtUp.isEmpty ? [] : rows.withUnsafeBufferPointer { p in
                newCentroids.withUnsafeBufferPointer { c in
                    KMeans.assign(p.baseAddress!, count: caughtUp.count, dimension: d, metric: metric,
                                  centroids: c.baseAddress!, clusters: nlist, threads: threads)
                }
            }
            for (i, label) in caughtUp.enumerated() {
                let list = fresh[Int(targets[i])]
                freshLocation[label] = (targets[i], Int32(list.labels.count))
                list.labels.append(label)
                switch encoding {
                case .flat: list.vectors += rows[(i * d)..<((i + 1) * d)]
                case .sq8:
                    list.codes += storedRows[(i * d)..<((i + 1) * d)]
                    if metric == .squaredL2, let newQuantizer {
                        list.squaredLengths.append(storedRows.withUnsafeBufferPointer { newQuantizer.squaredLength(of: $0.baseAddress! + i * d) })
                    }
                }
            }
            centroids = newCentroids
            if requantize {
                quantizer = newQuantizer
                encodedCoordinates = freshLocation.count * d
                clippedCoordinates = clipped
            }
            lists = fresh
            location = freshLocation
            trainingImbalance = Self.imbalance(of: trainedSizes, nlist: nlist)
            journal = nil
        }
        succeeded = true
        return trained
    }

    /// FAISS's imbalance factor of list sizes.
    static func imbalance(of sizes: [Int], nlist: Int) -> Double {
        let total = Double(sizes.reduce(0, +)), squares = sizes.reduce(0.0) { $0 + Double($1) * Double($1) }
        return total > 0 ? Double(nlist) * squares / (total * total) : 0
    }
}
