import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

/// `clusters` well-separated Gaussian blobs of `perCluster` points in `d`
/// dimensions; returns the points (row after row) and each point's blob.
private func blobs(_ rng: inout SeededGenerator, clusters: Int, perCluster: Int, d: Int, spread: Float = 0.05) -> ([Float], [Int]) {
    let centres = (0..<clusters).map { _ in (0..<d).map { _ in Float.random(in: -1...1, using: &rng) } }
    var points = [Float](), truth = [Int]()
    for i in 0..<(clusters * perCluster) {
        let c = i % clusters
        points += centres[c].map { $0 + spread * rng.gaussian() }
        truth.append(c)
    }
    return (points, truth)
}

/// Whether the clustering matches the blobs exactly: every blob in one cluster, every cluster one blob.
private func pure(_ assignment: [Int32], _ truth: [Int]) -> Bool {
    var blobOfCluster = [Int32: Int](), clusterOfBlob = [Int: Int32]()
    for (a, t) in zip(assignment, truth) {
        if let b = blobOfCluster[a], b != t { return false }
        if let c = clusterOfBlob[t], c != a { return false }
        blobOfCluster[a] = t
        clusterOfBlob[t] = a
    }
    return true
}

@Suite("k-means (the IVF coarse quantizer's training)")
struct KMeansTests {
    @Test("finds well-separated blobs exactly, for every metric and on 1 or 2 threads")
    func findsBlobs() throws {
        var rng = SeededGenerator.forTest("kmeans.blobs", defaultSeed: 401)
        let (points, truth) = blobs(&rng, clusters: 12, perCluster: 200, d: 24)
        for metric in Metric.allCases {
            var prepared = points
            if metric.normalizesVectors {
                prepared.withUnsafeMutableBufferPointer { p in for i in 0..<truth.count { _ = normalize(p.baseAddress! + i * 24, count: 24) } }
            }
            for threads in [1, 2] {
                let result = try prepared.withUnsafeBufferPointer { p in
                    try KMeans.train(p.baseAddress!, count: truth.count, dimension: 24, metric: metric,
                                     configuration: .init(clusters: 12, seed: 7, threads: threads))
                }
                let finite = result.centroids.allSatisfy { $0.isFinite }
                #expect(result.centroids.count == 12 * 24 && finite)
                let assignment = prepared.withUnsafeBufferPointer { p in
                    result.centroids.withUnsafeBufferPointer { c in
                        KMeans.assign(p.baseAddress!, count: truth.count, dimension: 24, metric: metric,
                                      centroids: c.baseAddress!, clusters: 12, threads: threads)
                    }
                }
                #expect(pure(assignment, truth), "\(metric), \(threads) thread(s), \(result.iterations) iterations")
                if metric.normalizesVectors {
                    for j in 0..<12 {
                        let norm = result.centroids[(j * 24)..<((j + 1) * 24)].reduce(0) { $0 + $1 * $1 }
                        #expect(abs(norm - 1) < 1e-4)
                    }
                }
            }
        }
    }

    @Test("a seed gives the same centroids every time, on any thread count; the sample is bounded")
    func reproducibleAndSampled() throws {
        var rng = SeededGenerator.forTest("kmeans.repro", defaultSeed: 409)
        let (points, truth) = blobs(&rng, clusters: 8, perCluster: 2_500, d: 16)
        func train(_ seed: UInt64, threads: Int) throws -> KMeans.Result {
            try points.withUnsafeBufferPointer { p in
                try KMeans.train(p.baseAddress!, count: truth.count, dimension: 16, metric: .squaredL2,
                                 configuration: .init(clusters: 8, maxPointsPerCentroid: 39, seed: seed, threads: threads))
            }
        }
        let a = try train(11, threads: 2), b = try train(11, threads: 2), one = try train(11, threads: 1)
        #expect(a.centroids == b.centroids && a.inertia == b.inertia)
        // Each point's assignment depends on that point alone, and sums follow point order: any thread count agrees.
        #expect(one.centroids == a.centroids && one.inertia == a.inertia)
        #expect(a.sampled == 8 * 39)
        // Trained on 312 of 20,000 points, it still separates every blob.
        let assignment = points.withUnsafeBufferPointer { p in
            a.centroids.withUnsafeBufferPointer { c in
                KMeans.assign(p.baseAddress!, count: truth.count, dimension: 16, metric: .squaredL2, centroids: c.baseAddress!, clusters: 8)
            }
        }
        #expect(pure(assignment, truth))
    }

    @Test("Hamerly's bounds skip points without changing the result (squared L2 and cosine)")
    func pruningKeepsTheResult() throws {
        var rng = SeededGenerator.forTest("kmeans.pruning", defaultSeed: 433)
        let n = 6_000, d = 20, k = 48
        // Overlapping blobs, so that points do change cluster over the iterations.
        var (points, _) = blobs(&rng, clusters: 30, perCluster: n / 30, d: d, spread: 0.4)
        for metric in [Metric.squaredL2, .cosine] {
            if metric.normalizesVectors {
                points.withUnsafeMutableBufferPointer { p in for i in 0..<n { _ = normalize(p.baseAddress! + i * d, count: d) } }
            }
            func train(pruning: Bool) throws -> KMeans.Result {
                try points.withUnsafeBufferPointer { p in
                    try KMeans.train(p.baseAddress!, count: n, dimension: d, metric: metric,
                                     configuration: .init(clusters: k, iterations: 25, seed: 5, threads: 2, pruning: pruning))
                }
            }
            let pruned = try train(pruning: true), full = try train(pruning: false)
            #expect(full.pointsScored == n * full.iterations)
            #expect(pruned.pointsScored < full.pointsScored / 2, "\(metric): \(pruned.pointsScored) of \(full.pointsScored) scored")
            // Float rounding may settle a near tie differently; the clustering must be the same otherwise.
            #expect(pruned.iterations == full.iterations, "\(metric)")
            #expect(abs(pruned.inertia - full.inertia) <= 1e-4 * abs(full.inertia), "\(metric): \(pruned.inertia) vs \(full.inertia)")
            let largestGap = zip(pruned.centroids, full.centroids).map { abs($0 - $1) }.max() ?? 0
            #expect(largestGap < 1e-3, "\(metric): centroids differ by up to \(largestGap)")
        }
    }

    @Test("clusters left empty are split off the largest; bad parameters are typed errors")
    func emptyClustersAndErrors() throws {
        // 3 distinct points, each many times, and 6 clusters: k-means++ can only seed 3 places.
        var points = [Float]()
        for i in 0..<300 { points += [[0, 0], [10, 0], [0, 10]][i % 3] }
        let result = try points.withUnsafeBufferPointer { p in
            try KMeans.train(p.baseAddress!, count: 300, dimension: 2, metric: .squaredL2, configuration: .init(clusters: 6, seed: 3))
        }
        #expect(result.emptyClustersSplit > 0)
        let finite = result.centroids.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(result.inertia / 300 < 1e-3)  // every point within a split step of a centroid
        let errors: [(KMeans.Configuration, IndexParameter)] = [
            (.init(clusters: 0), .clusters), (.init(clusters: 301), .clusters),
            (.init(clusters: 2, iterations: 0), .iterations), (.init(clusters: 2, maxPointsPerCentroid: 0), .pointsPerCentroid),
            (.init(clusters: 2, threads: 0), .threads),
        ]
        for (configuration, parameter) in errors {
            let error = #expect(throws: IndexError.self) {
                try points.withUnsafeBufferPointer { p in
                    try KMeans.train(p.baseAddress!, count: 300, dimension: 2, metric: .squaredL2, configuration: configuration)
                }
            }
            if case .invalidParameter(let got, _)? = error { #expect(got == parameter) } else { Issue.record("\(String(describing: error))") }
        }
    }
}
