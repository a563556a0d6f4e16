/// What indexes a collection now (``Store/indexInfo(_:)``).
public struct CollectionIndexInfo: Sendable, Equatable {
    /// `hnsw` or `ivf`.
    public var kind: String
    /// IVF: whether the lists are trained (before, the vectors are searched exactly). Always true for HNSW.
    public var trained: Bool
    /// IVF, trained: the inverted lists.
    public var lists: Int?
    /// IVF, trained: the list imbalance now over the imbalance at training (`IVFIndex/drift`).
    public var drift: Double?
    /// IVF: retrainings after drift since the store opened.
    public var retrainings: Int
}
