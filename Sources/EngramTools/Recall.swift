import EngramDatasets
import EngramIndex

/// recall@k: the mean over queries of |found top-k ∩ true top-k| / k,
/// by id, as `shared/harness` computes it.
package enum Recall {
    /// - Parameters:
    ///   - found: per query, the ids returned, best first (only the first `k` count).
    ///   - groundTruth: per query, the true ids best first (at least `k` columns).
    package static func at(_ k: Int, found: [[VectorID]], groundTruth: Int32Matrix) -> Double {
        guard k > 0, !found.isEmpty else { return 0 }
        var hits = 0
        var expected = 0
        for (q, ids) in found.enumerated() {
            // -1 pads a ground-truth row with fewer than k entries (a filter
            // allowing fewer than k); only real entries count.
            let truth = Set(groundTruth.row(q).prefix(k).filter { $0 >= 0 })
            hits += Set(ids.prefix(k).map { Int32(bitPattern: $0) }).intersection(truth).count
            expected += truth.count
        }
        return expected == 0 ? 1 : Double(hits) / Double(expected)
    }
}
