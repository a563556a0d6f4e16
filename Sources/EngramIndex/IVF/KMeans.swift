import Dispatch
import EngramKernels

/// k-means clustering of prepared vectors, the coarse quantizer's training
/// for IVF (issue 6).
///
/// - **Sample**: at most ``Configuration/maxPointsPerCentroid`` × k vectors,
///   drawn without replacement from the seed (FAISS trains on 39–256 points
///   per centroid; beyond that more points change little and cost linearly).
/// - **Seeding**: k-means++ on the sample — each next centroid drawn with
///   probability proportional to its squared distance from the nearest
///   centroid so far.
/// - **Lloyd iterations**: every sample vector assigned to its nearest
///   centroid with the metric's SIMD kernel (four centroids per call), on
///   ``Configuration/threads`` threads, each summing its own share in
///   `Double`; the shares are added in thread order, so a run is
///   reproducible for a given seed and thread count. Under cosine the
///   centroids are normalised after each update (spherical k-means). Stops
///   after ``Configuration/iterations`` or once no assignment changes.
/// - **Empty clusters**: a centroid that lost every point takes half of the
///   largest cluster: it and the largest centroid move apart by a small
///   relative step (as FAISS does), so the next assignment splits the points.
///
/// Invariant of a result: `centroids` holds `k × dimension` finite floats
/// (unit length under cosine), and every training cluster is non-empty
/// unless the sample holds fewer distinct vectors than k.
public enum KMeans {
    public struct Configuration: Sendable, Equatable {
        public var clusters: Int
        public var iterations: Int
        public var maxPointsPerCentroid: Int
        public var seed: UInt64
        public var threads: Int

        public init(clusters: Int, iterations: Int = 20, maxPointsPerCentroid: Int = 256, seed: UInt64 = 1234, threads: Int = 1) {
            self.clusters = clusters
            self.iterations = iterations
            self.maxPointsPerCentroid = maxPointsPerCentroid
            self.seed = seed
            self.threads = threads
        }
    }

    /// A trained model.
    public struct Result: Sendable {
        /// `clusters × dimension` floats, centroid after centroid.
        public var centroids: [Float]
        /// Sum of each sample vector's distance to its centroid (the metric's distance), after the last assignment.
        public var inertia: Double
        public var iterations: Int
        /// Sample vectors trained on.
        public var sampled: Int
        /// Empty clusters re-seeded from the largest one, over all iterations.
        public var emptyClustersSplit: Int
    }

    /// Trains `configuration.clusters` centroids on `count` prepared vectors
    /// of `dimension` floats at `vectors` (row after row).
    public static func train(
        _ vectors: UnsafePointer<Float>, count: Int, dimension d: Int, metric: Metric, configuration c: Configuration
    ) throws(IndexError) -> Result {
        guard (1...VectorStorage.maxDimension).contains(d) else { throw .invalidDimension(d) }
        guard c.clusters >= 1, c.clusters <= count else { throw .invalidParameter(.clusters, value: c.clusters) }
        guard (1...1000).contains(c.iterations) else { throw .invalidParameter(.iterations, value: c.iterations) }
        guard (1...100_000).contains(c.maxPointsPerCentroid) else { throw .invalidParameter(.pointsPerCentroid, value: c.maxPointsPerCentroid) }
        guard (1...256).contains(c.threads) else { throw .invalidParameter(.threads, value: c.threads) }
        let k = c.clusters
        var random = SplitMix64(seed: c.seed)

        // The sample, copied contiguous.
        let n = Swift.min(count, k * c.maxPointsPerCentroid)
        var picks = Array(0..<count)
        if n < count {
            for i in 0..<n { picks.swapAt(i, i + Int(random.next() % UInt64(count - i))) }
        }
        let sample = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        defer { sample.deallocate() }
        for i in 0..<n { (sample + i * d).update(from: vectors + picks[i] * d, count: d) }

        // k-means++ seeding (squared L2: for unit vectors it orders as cosine does).
        var centroids = [Float](repeating: 0, count: k * d)
        try centroids.withUnsafeMutableBufferPointer { (out) throws(IndexError) in
            let cs = out.baseAddress!
            var nearest = [Float](repeating: .infinity, count: n)
            var chosen = Int(random.next() % UInt64(n))
            for j in 0..<k {
                (cs + j * d).update(from: sample + chosen * d, count: d)
                var total = 0.0
                for i in 0..<n {
                    let dist = squaredEuclidean(sample + i * d, cs + j * d, count: d)
                    if dist < nearest[i] { nearest[i] = dist }
                    total += Double(nearest[i])
                }
                guard j + 1 < k else { break }
                if total <= 0 {  // every point sits on a centroid: any point will do
                    chosen = Int(random.next() % UInt64(n))
                    continue
                }
                var target = Double(random.next() >> 11) / Double(1 << 53) * total
                chosen = n - 1
                for i in 0..<n {
                    target -= Double(nearest[i])
                    if target < 0 { chosen = i; break }
                }
            }
        }

        var assignment = [Int32](repeating: -1, count: n)
        var inertia = 0.0, iterations = 0, splits = 0
        for _ in 0..<c.iterations {
            iterations += 1
            let step = lloydStep(sample, count: n, dimension: d, metric: metric, centroids: &centroids,
                                 assignment: &assignment, threads: c.threads)
            inertia = step.inertia
            splits += step.splits
            if step.changed == 0 && step.splits == 0 { break }
        }
        return Result(centroids: centroids, inertia: inertia, iterations: iterations, sampled: n, emptyClustersSplit: splits)
    }

    /// The nearest of `clusters` centroids to each of `count` vectors, by `metric`.
    public static func assign(
        _ vectors: UnsafePointer<Float>, count: Int, dimension d: Int, metric: Metric,
        centroids: UnsafePointer<Float>, clusters: Int, threads: Int = 1
    ) -> [Int32] {
        var out = [Int32](repeating: 0, count: count)
        guard count > 0 else { return out }
        out.withUnsafeMutableBufferPointer { result in
            let base = SendablePointer(result.baseAddress!)
            let input = SendablePointer(UnsafeMutablePointer(mutating: vectors)), centres = SendablePointer(UnsafeMutablePointer(mutating: centroids))
            let workers = Swift.max(1, Swift.min(threads, count / 256 + 1))
            let chunk = (count + workers - 1) / workers
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for i in (w * chunk)..<Swift.min(count, (w + 1) * chunk) {
                    base.pointer[i] = Int32(nearestCentroid(input.pointer + i * d, centres.pointer, clusters: clusters, dimension: d, metric: metric).index)
                }
            }
        }
        return out
    }

    /// One assignment and update. Returns the total distance, how many
    /// assignments changed and how many empty clusters were split.
    private static func lloydStep(
        _ sample: UnsafePointer<Float>, count n: Int, dimension d: Int, metric: Metric,
        centroids: inout [Float], assignment: inout [Int32], threads: Int
    ) -> (inertia: Double, changed: Int, splits: Int) {
        let k = centroids.count / d
        let workers = Swift.max(1, Swift.min(threads, n / 256 + 1))
        // Each worker fills its own share: sums (k × d doubles), sizes, distance total, changes.
        var shares = [Share](repeating: Share(), count: workers)
        centroids.withUnsafeBufferPointer { cs in
            assignment.withUnsafeMutableBufferPointer { assigned in
                shares.withUnsafeMutableBufferPointer { out in
                    let input = SendablePointer(UnsafeMutablePointer(mutating: sample)), centres = SendablePointer(UnsafeMutablePointer(mutating: cs.baseAddress!))
                    let labels = SendablePointer(assigned.baseAddress!), results = SendablePointer(out.baseAddress!)
                    let chunk = (n + workers - 1) / workers
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        var share = Share()
                        share.sums = [Double](repeating: 0, count: k * d)
                        share.sizes = [Int](repeating: 0, count: k)
                        for i in (w * chunk)..<Swift.min(n, (w + 1) * chunk) {
                            let row = input.pointer + i * d
                            let (j, dist) = nearestCentroid(row, centres.pointer, clusters: k, dimension: d, metric: metric)
                            if labels.pointer[i] != Int32(j) { share.changed += 1; labels.pointer[i] = Int32(j) }
                            share.distance += Double(dist)
                            share.sizes[j] += 1
                            share.sums.withUnsafeMutableBufferPointer { sums in
                                for t in 0..<d { sums[j * d + t] += Double(row[t]) }
                            }
                        }
                        (results.pointer + w).pointee = share
                    }
                }
            }
        }
        let sums = shares.map(\.sums), counts = shares.map(\.sizes)
        let inertias = shares.map(\.distance), changes = shares.map(\.changed)
        var total = [Double](repeating: 0, count: k * d)
        var sizes = [Int](repeating: 0, count: k)
        for w in 0..<workers {
            for t in 0..<(k * d) { total[t] += sums[w][t] }
            for j in 0..<k { sizes[j] += counts[w][j] }
        }
        var splits = 0
        for j in 0..<k where sizes[j] > 0 {
            for t in 0..<d { centroids[j * d + t] = Float(total[j * d + t] / Double(sizes[j])) }
        }
        // Empty clusters: take half of the largest, moving the two centroids apart.
        for j in 0..<k where sizes[j] == 0 {
            guard let largest = sizes.indices.max(by: { sizes[$0] < sizes[$1] }), sizes[largest] > 1 else { continue }
            let epsilon: Float = 1.0 / 1024
            for t in 0..<d {
                let v = centroids[largest * d + t]
                let step = (t % 2 == 0 ? epsilon : -epsilon) * (abs(v) > 0 ? abs(v) : 1)
                centroids[j * d + t] = v + step
                centroids[largest * d + t] = v - step
            }
            sizes[j] = sizes[largest] / 2
            sizes[largest] -= sizes[j]
            splits += 1
        }
        if metric.normalizesVectors {
            centroids.withUnsafeMutableBufferPointer { cs in
                for j in 0..<k { _ = normalize(cs.baseAddress! + j * d, count: d) }
            }
        }
        return (inertias.reduce(0, +), changes.reduce(0, +), splits)
    }

    /// The nearest centroid to `row` and its distance, four centroids per kernel call.
    @inline(__always)
    static func nearestCentroid(
        _ row: UnsafePointer<Float>, _ centroids: UnsafePointer<Float>, clusters k: Int, dimension d: Int, metric: Metric
    ) -> (index: Int, distance: Float) {
        switch metric {
        case .squaredL2: return nearest(SquaredL2Kernel.self, row, centroids, k, d)
        case .innerProduct: return nearest(InnerProductKernel.self, row, centroids, k, d)
        case .cosine: return nearest(CosineKernel.self, row, centroids, k, d)
        }
    }

    @inline(__always)
    private static func nearest<K: DistanceKernel>(
        _: K.Type, _ row: UnsafePointer<Float>, _ centroids: UnsafePointer<Float>, _ k: Int, _ d: Int
    ) -> (index: Int, distance: Float) {
        var best = 0, bestDistance = Float.infinity
        var j = 0
        while j + 4 <= k {
            let four = K.distances4(row, centroids + j * d, centroids + (j + 1) * d, centroids + (j + 2) * d, centroids + (j + 3) * d, count: d)
            for lane in 0..<4 where four[lane] < bestDistance {
                bestDistance = four[lane]
                best = j + lane
            }
            j += 4
        }
        while j < k {
            let dist = K.distance(row, centroids + j * d, count: d)
            if dist < bestDistance { bestDistance = dist; best = j }
            j += 1
        }
        return (best, bestDistance)
    }

    /// One worker's part of a Lloyd step.
    private struct Share {
        var sums: [Double] = []
        var sizes: [Int] = []
        var distance = 0.0
        var changed = 0
    }
}
