import EngramKernels

extension KMeans {
    /// The state of Lloyd's iterations over one training sample: each
    /// point's cluster and, under squared L2 and cosine, Hamerly's bounds;
    /// the clusters' sums and sizes.
    ///
    /// Invariants between calls:
    /// - after the first ``assign(centroids:)``, `sums[j]` is the `Double`
    ///   sum and `sizes[j]` the count of the points labelled `j`;
    /// - when bounded, `upper[i]` ≥ the Euclidean distance from point `i` to
    ///   its centroid, and `lower[i]` ≤ its distance to every other centroid
    ///   (up to float rounding, which can only keep a near tie's label).
    ///
    /// Owns its buffers: ``release()`` frees them.
    struct Lloyd {
        let sample: UnsafePointer<Float>
        let n: Int, d: Int, k: Int
        let metric: Metric
        let threads: Int
        /// Hamerly's bounds hold for metrics that are a Euclidean distance in disguise.
        let bounded: Bool
        private let labels: UnsafeMutablePointer<Int32>
        private let upper: UnsafeMutablePointer<Float>
        private let lower: UnsafeMutablePointer<Float>
        private let squaredNorms: UnsafeMutablePointer<Float>
        private let sums: UnsafeMutablePointer<Double>
        private let previous: UnsafeMutablePointer<Float>
        private var sizes: [Int]
        /// Points labelled with each cluster.
        var clusterSizes: [Int] { sizes }
        /// How far each centroid moved in the last update.
        private var moves: [Float]
        private var assigned = false
        private(set) var pointsScored = 0

        /// Rows scored per batch when only some points need it (gathered contiguous).
        private static let batch = 4096

        init(sample: UnsafePointer<Float>, count n: Int, dimension d: Int, clusters k: Int, metric: Metric, threads: Int, pruning: Bool) {
            self.sample = sample
            self.n = n; self.d = d; self.k = k
            self.metric = metric
            self.threads = threads
            bounded = pruning && metric != .innerProduct
            labels = .allocate(capacity: n); labels.initialize(repeating: -1, count: n)
            upper = .allocate(capacity: n); upper.initialize(repeating: .infinity, count: n)
            lower = .allocate(capacity: n); lower.initialize(repeating: 0, count: n)
            squaredNorms = .allocate(capacity: n)
            for i in 0..<n { squaredNorms[i] = innerProduct(sample + i * d, sample + i * d, count: d) }
            sums = .allocate(capacity: k * d); sums.initialize(repeating: 0, count: k * d)
            previous = .allocate(capacity: k * d)
            sizes = [Int](repeating: 0, count: k)
            moves = [Float](repeating: 0, count: k)
        }

        func release() {
            labels.deallocate(); upper.deallocate(); lower.deallocate(); squaredNorms.deallocate()
            sums.deallocate(); previous.deallocate()
        }

        /// Assigns every point that may have changed cluster to its nearest
        /// centroid and moves the sums with it. Returns how many labels changed.
        mutating func assign(centroids: UnsafePointer<Float>) -> Int {
            let assigner = CentroidAssigner(centroids: centroids, clusters: k, dimension: d, metric: metric)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(n, Self.batch))
            let runnerUp = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(n, Self.batch))
            let best = UnsafeMutablePointer<Int32>.allocate(capacity: Swift.min(n, Self.batch))
            defer { scores.deallocate(); runnerUp.deallocate(); best.deallocate() }
            var changed = 0
            if !assigned || !bounded {
                // Every point, straight from the sample, a batch at a time.
                var start = 0
                while start < n {
                    let m = Swift.min(Self.batch, n - start)
                    assigner.assign(sample + start * d, count: m, labels: best, scores: scores,
                                    runnerUp: bounded ? runnerUp : nil, threads: threads)
                    for r in 0..<m {
                        changed += record(point: start + r, label: best[r], score: scores[r], runnerUp: runnerUp[r])
                    }
                    start += m
                }
                pointsScored += n
                assigned = true
                return changed
            }
            // The centroids that moved most are tested one by one; the rest by the largest move among them.
            let order = (0..<k).sorted { moves[$0] > moves[$1] || (moves[$0] == moves[$1] && $0 < $1) }
            let movers = Swift.min(k, Swift.max(8, k / 16))
            let largestMove = moves[order[0]], secondMove = k > 1 ? moves[order[1]] : 0
            let restMove = movers < k ? moves[order[movers]] : 0
            let moverIDs = Array(order[0..<movers])
            let moverRows = UnsafeMutablePointer<Float>.allocate(capacity: movers * d)
            defer { moverRows.deallocate() }
            for (m, j) in moverIDs.enumerated() { (moverRows + m * d).update(from: centroids + j * d, count: d) }
            let moverAssigner = CentroidAssigner(centroids: moverRows, clusters: movers, dimension: d, metric: metric)

            let rows = UnsafeMutablePointer<Float>.allocate(capacity: Swift.min(n, Self.batch) * d)
            defer { rows.deallocate() }
            var full = [Int](), tested = [Int]()
            full.reserveCapacity(Self.batch); tested.reserveCapacity(Self.batch)
            func gather(_ points: [Int]) {
                for (r, i) in points.enumerated() { (rows + r * d).update(from: sample + i * d, count: d) }
            }
            func scoreFully() {
                guard !full.isEmpty else { return }
                gather(full)
                assigner.assign(rows, count: full.count, labels: best, scores: scores, runnerUp: runnerUp, threads: threads)
                for (r, i) in full.enumerated() {
                    changed += record(point: i, label: best[r], score: scores[r], runnerUp: runnerUp[r])
                }
                pointsScored += full.count
                full.removeAll(keepingCapacity: true)
            }
            func testMovers() {
                guard !tested.isEmpty else { return }
                gather(tested)
                moverAssigner.assign(rows, count: tested.count, labels: best, scores: scores, runnerUp: runnerUp, threads: threads)
                for (r, i) in tested.enumerated() {
                    // The nearest mover other than the point's own centroid.
                    let own = moverIDs[Int(best[r])] == Int(labels[i])
                    let score = own ? runnerUp[r] : scores[r]
                    let nearestMover = score == -.infinity ? Float.infinity : euclidean(score: score, point: i)
                    if upper[i] <= nearestMover {
                        lower[i] = Swift.min(lower[i] - restMove, nearestMover)
                    } else {
                        full.append(i)
                        if full.count == Self.batch { scoreFully() }
                    }
                }
                tested.removeAll(keepingCapacity: true)
            }
            for i in 0..<n {
                let a = Int(labels[i])
                let otherMove = a == order[0] ? secondMove : largestMove
                if upper[i] <= lower[i] - otherMove { lower[i] -= otherMove; continue }
                upper[i] = squaredEuclidean(sample + i * d, centroids + a * d, count: d).squareRoot()
                if upper[i] <= lower[i] - otherMove { lower[i] -= otherMove; continue }
                if upper[i] <= lower[i] - restMove {
                    tested.append(i)
                    if tested.count == Self.batch { testMovers() }
                } else {
                    full.append(i)
                    if full.count == Self.batch { scoreFully() }
                }
            }
            testMovers()
            scoreFully()
            return changed
        }

        /// Takes point `i`'s new nearest centroid: bounds from the scores,
        /// sums moved when the label changes. Returns 1 for a change.
        private mutating func record(point i: Int, label: Int32, score: Float, runnerUp second: Float) -> Int {
            if bounded {
                upper[i] = euclidean(score: score, point: i)
                lower[i] = second == -.infinity ? .infinity : euclidean(score: second, point: i)
            }
            let old = labels[i]
            guard label != old else { return 0 }
            let row = sample + i * d
            if old >= 0 {
                let from = sums + Int(old) * d
                for t in 0..<d { from[t] -= Double(row[t]) }
                sizes[Int(old)] -= 1
            }
            let to = sums + Int(label) * d
            for t in 0..<d { to[t] += Double(row[t]) }
            sizes[Int(label)] += 1
            labels[i] = label
            return 1
        }

        /// The Euclidean distance behind a score: squared L2 directly, cosine as `‖x − c‖² = 2 − 2·x·c` on unit vectors.
        @inline(__always)
        private func euclidean(score: Float, point i: Int) -> Float {
            // Squared L2 scores x·c − ‖c‖²/2, so ‖x − c‖² = ‖x‖² − 2·score; unit vectors score x·c.
            let squared = metric == .cosine ? 2 - 2 * score : squaredNorms[i] - 2 * score
            return Swift.max(0, squared).squareRoot()
        }

        /// Moves every centroid to the mean of its points (splitting empty
        /// clusters off the largest), then loosens the bounds by how far the
        /// centroids moved. Returns how many empty clusters were split.
        mutating func update(centroids: UnsafeMutablePointer<Float>) -> Int {
            if bounded { previous.update(from: centroids, count: k * d) }
            for j in 0..<k where sizes[j] > 0 {
                let scale = 1 / Double(sizes[j])
                for t in 0..<d { centroids[j * d + t] = Float(sums[j * d + t] * scale) }
            }
            // Empty clusters: take half of the largest, moving the two centroids apart.
            var splits = 0
            var shares = sizes
            for j in 0..<k where shares[j] == 0 {
                guard let largest = shares.indices.max(by: { shares[$0] < shares[$1] }), shares[largest] > 1 else { continue }
                let epsilon: Float = 1.0 / 1024
                for t in 0..<d {
                    let v = centroids[largest * d + t]
                    let step = (t % 2 == 0 ? epsilon : -epsilon) * (abs(v) > 0 ? abs(v) : 1)
                    centroids[j * d + t] = v + step
                    centroids[largest * d + t] = v - step
                }
                shares[j] = shares[largest] / 2
                shares[largest] -= shares[j]
                splits += 1
            }
            if metric.normalizesVectors {
                for j in 0..<k { _ = normalize(centroids + j * d, count: d) }
            }
            guard bounded else { return splits }
            // Hamerly: a point's centroid moved by moves[a]; the next assignment loosens the lower bounds.
            for j in 0..<k {
                moves[j] = squaredEuclidean(previous + j * d, centroids + j * d, count: d).squareRoot()
            }
            for i in 0..<n { upper[i] += moves[Int(labels[i])] }
            return splits
        }

        /// Sum of each point's distance (the metric's) to its centroid.
        func inertia(centroids: UnsafePointer<Float>) -> Double {
            var total = 0.0
            for i in 0..<n where labels[i] >= 0 {
                let row = sample + i * d, centre = centroids + Int(labels[i]) * d
                switch metric {
                case .squaredL2: total += Double(squaredEuclidean(row, centre, count: d))
                case .innerProduct: total += Double(-innerProduct(row, centre, count: d))
                case .cosine: total += Double(1 - innerProduct(row, centre, count: d))
                }
            }
            return total
        }
    }
}
