import EngramIndex

/// What a collection's indexed records live in: an HNSW graph, or an IVF
/// index (``IVFCollectionIndex``). The collection calls it once per
/// operation (not per distance), so an existential costs nothing that
/// matters here.
///
/// Contract (both kinds): labels are the collection's; an insert of a
/// label already present replaces its vector; `vector`/`copyVectors` return
/// the prepared vector as stored; a search returns `min(k, allowed live)`
/// results, best first, with the metric's distance.
protocol CollectionIndex: AnyObject, Sendable {
    var count: Int { get }
    func contains(_ label: VectorID) -> Bool
    func insert(contentsOf floats: [Float], labels: [VectorID], threads: Int) throws(IndexError)
    func delete(_ label: VectorID) throws(IndexError)
    func vector(_ label: VectorID) throws(IndexError) -> [Float]
    func copyVectors(_ labels: [VectorID], toRows rows: [Int], of destination: UnsafeMutablePointer<Float>) throws(IndexError)
    /// `searchEffort`: efSearch for HNSW, the lists probed (nprobe) for IVF; nil: the collection's default.
    func search(_ query: UnsafeBufferPointer<Float>, k: Int, searchEffort: Int?, filter: CandidateFilter?) throws(IndexError) -> [SearchResult]
    /// The index in its own snapshot format (Docs/FORMATS.md).
    func snapshot() -> [UInt8]
}

extension HNSWIndex: CollectionIndex {
    func insert(contentsOf floats: [Float], labels: [VectorID], threads: Int) throws(IndexError) {
        try insert(contentsOf: floats, labels: labels, threads: threads, progress: nil)
    }

    func search(_ query: UnsafeBufferPointer<Float>, k: Int, searchEffort: Int?, filter: CandidateFilter?) throws(IndexError) -> [SearchResult] {
        try search(query, k: k, efSearch: searchEffort, filter: filter)
    }
}
