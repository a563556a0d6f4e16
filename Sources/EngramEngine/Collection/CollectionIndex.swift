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
    /// Inserts rows that passed the collection's ``VectorFormat`` on their
    /// way in (validated, normalised under cosine): no kind validates or
    /// prepares them again.
    func insert(preparedRows rows: UnsafeBufferPointer<Float>, labels: [VectorID], threads: Int) throws(IndexError)
    func delete(_ label: VectorID) throws(IndexError)
    func vector(_ label: VectorID) throws(IndexError) -> [Float]
    func copyVectors(_ labels: [VectorID], toRows rows: [Int], of destination: UnsafeMutablePointer<Float>) throws(IndexError)
    /// `searchEffort`: efSearch for HNSW, the lists probed (nprobe) for IVF; nil: the collection's default.
    func search(_ query: UnsafeBufferPointer<Float>, k: Int, searchEffort: Int?, filter: CandidateFilter?) throws(IndexError) -> [SearchResult]
    /// The index in its own snapshot format (Docs/FORMATS.md).
    func snapshot() -> [UInt8]

    // The maintenance's hooks: each kind says what upkeep it needs, so the
    // store never asks which kind it holds.

    /// What indexes the collection now (``Store/indexInfo(_:)``).
    var info: CollectionIndexInfo { get }
    /// Reclaims deleted entries once they are more than `tombstoneFraction`
    /// of the index (and worth a pass); the entries reclaimed, or nil when
    /// nothing was due. Called with the collection's indexing lock held.
    func compactIfNeeded(tombstoneFraction: Double) -> Int?
    /// Reclaims every deleted entry now, erasing its vector; returns how many.
    func compactAll() -> Int
    /// Retrains the index's structure once the data has drifted from it;
    /// whether it did. Searches and writes go on meanwhile.
    func retrainIfDrifted(threads: Int) throws(IndexError) -> Bool
}
