import Dispatch
import EngramKernels

/// k-means clustering of prepared vectors, the coarse quantizer's training
/// for IVF (issue 6).
///
/// - **Sample**: at most ``Configuration/maxPointsPerCentroid`` × k vectors,
///   drawn without replacement from the seed (FAISS trains on 39–256 points
///   per centroid; beyond that more points change little and cost linearly).
/// - **Seeding** (``Seeding``): k-means++ on a random part of the sample
///   (``Configuration/seedPointsPerCentroid`` × k points, at least
///   ``minimumSeedPoints``: seeding costs k passes over them, one centroid
///   at a time, so they must stay cache-sized), each next
///   centroid drawn with probability proportional to its squared distance
///   from the nearest centroid so far, the distances updated on every
///   thread; or k distinct sample points drawn at random, as FAISS does.
/// - **Lloyd iterations**: the assignment is a blocked matrix product on
///   ``Configuration/threads`` threads (``CentroidAssigner``). Under squared
///   L2 and cosine, Hamerly's bounds skip the points that cannot have
///   changed cluster: each point keeps an upper bound on the distance to its
///   centroid and a lower bound on the distance to any other; after an
///   update they move by how far the centroids moved, and only points whose
///   bounds cross are scored again. Cluster sums (in `Double`) follow the
///   points that move. Under cosine the centroids are normalised after each
///   update (spherical k-means). Stops after ``Configuration/iterations`` or
///   once no assignment changes.
/// - **Empty clusters**: a centroid that lost every point takes half of the
///   largest cluster: it and the largest centroid move apart by a small
///   relative step (as FAISS does), so the next assignment splits the points.
///
/// A run is reproducible for a given seed, whatever the thread count: each
/// point's assignment depends on that point alone, and sums are updated in
/// point order.
///
/// Invariant of a result: `centroids` holds `k × dimension` finite floats
/// (unit length under cosine), and every training cluster is non-empty
/// unless the sample holds fewer distinct vectors than k.
public enum KMeans {
    /// How the first centroids are chosen.
    public enum Seeding: String, Sendable, Equatable, CaseIterable {
        /// k-means++ on a random part of the sample (the default).
        case kMeansPlusPlus = "kmeans++"
        /// k distinct sample points at random.
        case random
    }

    public struct Configuration: Sendable, Equatable {
        public var clusters: Int
        public var iterations: Int
        public var maxPointsPerCentroid: Int
        public var seeding: Seeding
        /// k-means++ seeds from at most this many points per centroid.
        public var seedPointsPerCentroid: Int
        public var seed: UInt64
        public var threads: Int
        /// Hamerly's bounds (squared L2 and cosine). Off, every point is scored in every iteration: the same result up to float rounding at near ties, slower.
        public var pruning: Bool

        public init(
            clusters: Int, iterations: Int = 20, maxPointsPerCentroid: Int = 256, seeding: Seeding = .kMeansPlusPlus,
            seedPointsPerCentroid: Int = 8, seed: UInt64 = 1234, threads: Int = 1, pruning: Bool = true
        ) {
            self.pruning = pruning
            self.clusters = clusters
            self.iterations = iterations
            self.maxPointsPerCentroid = maxPointsPerCentroid
            self.seeding = seeding
            self.seedPointsPerCentroid = seedPointsPerCentroid
            self.seed = seed
            self.threads = threads
        }
    }

    /// k-means++ seeds from at least this many sample points (all of them when the sample is smaller).
    public static let minimumSeedPoints = 8192

    /// A trained model.
    public struct Result: Sendable {
        /// `clusters × dimension` floats, centroid after centroid.
        public var centroids: [Float]
        /// Sum of each sample vector's distance (the metric's) to the final centroid of its cluster.
        public var inertia: Double
        public var iterations: Int
        /// Sample vectors trained on.
        public var sampled: Int
        /// Empty clusters re-seeded from the largest one, over all iterations.
        public var emptyClustersSplit: Int
        /// Points scored against every centroid, over all iterations (Hamerly's bounds skip the rest).
        public var pointsScored: Int
        /// Sample points in each cluster after the last assignment.
        public var clusterSizes: [Int]
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
        guard (1...100_000).contains(c.seedPointsPerCentroid) else { throw .invalidParameter(.pointsPerCentroid, value: c.seedPointsPerCentroid) }
        guard (1...256).contains(c.threads) else { throw .invalidParameter(.threads, value: c.threads) }
        let k = c.clusters
        var random = SplitMix64(seed: c.seed)

        // The sample, in random order, copied contiguous.
        let n = Swift.min(count, k * c.maxPointsPerCentroid)
        var picks = Array(0..<count)
        for i in 0..<n { picks.swapAt(i, i + Int(random.next() % UInt64(count - i))) }
        let sample = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        defer { sample.deallocate() }
        for i in 0..<n { (sample + i * d).update(from: vectors + picks[i] * d, count: d) }
        picks = []

        var centroids = [Float](repeating: 0, count: k * d)
        centroids.withUnsafeMutableBufferPointer { out in
            switch c.seeding {
            case .random:
                for j in 0..<k { (out.baseAddress! + j * d).update(from: sample + j * d, count: d) }
            case .kMeansPlusPlus:
                seedPlusPlus(sample, count: Swift.min(n, Swift.max(k * c.seedPointsPerCentroid, Self.minimumSeedPoints)), dimension: d, into: out.baseAddress!,
                             clusters: k, random: &random, threads: c.threads)
            }
        }
        var lloyd = Lloyd(sample: sample, count: n, dimension: d, clusters: k, metric: metric, threads: c.threads, pruning: c.pruning)
        defer { lloyd.release() }
        var iterations = 0, splits = 0
        for _ in 0..<c.iterations {
            iterations += 1
            let changed = centroids.withUnsafeBufferPointer { lloyd.assign(centroids: $0.baseAddress!) }
            let split = centroids.withUnsafeMutableBufferPointer { lloyd.update(centroids: $0.baseAddress!) }
            splits += split
            if changed == 0 && split == 0 { break }
        }
        let inertia = centroids.withUnsafeBufferPointer { lloyd.inertia(centroids: $0.baseAddress!) }
        return Result(centroids: centroids, inertia: inertia, iterations: iterations, sampled: n,
                      emptyClustersSplit: splits, pointsScored: lloyd.pointsScored, clusterSizes: lloyd.clusterSizes)
    }

    /// The nearest of `clusters` centroids to each of `count` vectors, by `metric`.
    public static func assign(
        _ vectors: UnsafePointer<Float>, count: Int, dimension d: Int, metric: Metric,
        centroids: UnsafePointer<Float>, clusters: Int, threads: Int = 1
    ) -> [Int32] {
        guard count > 0 else { return [] }
        var labels = [Int32](repeating: 0, count: count)
        var scores = [Float](repeating: 0, count: count)
        let assigner = CentroidAssigner(centroids: centroids, clusters: clusters, dimension: d, metric: metric)
        labels.withUnsafeMutableBufferPointer { l in
            scores.withUnsafeMutableBufferPointer { s in
                assigner.assign(vectors, count: count, labels: l.baseAddress!, scores: s.baseAddress!, runnerUp: nil, threads: threads)
            }
        }
        return labels
    }

    /// k-means++ on the first `n` sample points (already in random order):
    /// squared L2, which for unit vectors orders as cosine does.
    private static func seedPlusPlus(
        _ sample: UnsafePointer<Float>, count n: Int, dimension d: Int, into centroids: UnsafeMutablePointer<Float>,
        clusters k: Int, random: inout SplitMix64, threads: Int
    ) {
        let nearest = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { nearest.deallocate() }
        nearest.initialize(repeating: .infinity, count: n)
        let points = SendablePointer(UnsafeMutablePointer(mutating: sample)), distances = SendablePointer(nearest)
        // Each centroid's distance pass is split across threads in chunks of at least 2,048 points.
        let workers = Swift.max(1, Swift.min(threads, n / 2048))
        let chunk = (n + workers - 1) / workers
        var chosen = Int(random.next() % UInt64(n))
        for j in 0..<k {
            (centroids + j * d).update(from: sample + chosen * d, count: d)
            guard j + 1 < k else { break }
            let centre = SendablePointer(centroids + j * d)
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var i = w * chunk
                let end = Swift.min(n, i + chunk)
                while i + 4 <= end {
                    let p = points.pointer + i * d
                    let four = squaredEuclidean4(centre.pointer, p, p + d, p + 2 * d, p + 3 * d, count: d)
                    for lane in 0..<4 where four[lane] < distances.pointer[i + lane] { distances.pointer[i + lane] = four[lane] }
                    i += 4
                }
                while i < end {
                    let dist = squaredEuclidean(centre.pointer, points.pointer + i * d, count: d)
                    if dist < distances.pointer[i] { distances.pointer[i] = dist }
                    i += 1
                }
            }
            var total = 0.0
            for i in 0..<n { total += Double(nearest[i]) }
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
}

