import EngramIndex

/// An HNSW graph as a collection's index.
extension HNSWIndex: CollectionIndex {
    func insert(preparedRows rows: UnsafeBufferPointer<Float>, labels: [VectorID], threads: Int) throws(IndexError) {
        try insert(preparedRows: rows, labels: labels, threads: threads, progress: nil)
    }

    func search(_ query: UnsafeBufferPointer<Float>, k: Int, searchEffort: Int?, filter: CandidateFilter?) throws(IndexError) -> [SearchResult] {
        try search(query, k: k, efSearch: searchEffort, filter: filter)
    }

    var info: CollectionIndexInfo {
        CollectionIndexInfo(kind: "hnsw", trained: true, lists: nil, drift: nil, retrainings: 0, walksOnCodes: isWalkingOnCodes, memory: memory)
    }

    /// Fewer than this many deleted nodes are never worth a compaction pass.
    static var minimumTombstonesToCompact: Int { 1024 }

    func compactIfNeeded(tombstoneFraction: Double) -> Int? {
        let tombstones = tombstoneCount
        guard tombstones >= Self.minimumTombstonesToCompact, Double(tombstones) > tombstoneFraction * Double(count) else { return nil }
        return compact().reclaimedSlots
    }

    func compactAll() -> Int { tombstoneCount > 0 ? compact().reclaimedSlots : 0 }

    /// A graph has no trained structure to drift from.
    func retrainIfDrifted(threads: Int) throws(IndexError) -> Bool { false }
}
