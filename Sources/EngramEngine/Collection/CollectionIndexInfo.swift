import EngramIndex

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
    /// HNSW: whether searches walk the graph on 4-bit codes now (from 1,024 vectors on).
    public var walksOnCodes: Bool = false
    /// The bytes the index holds, by what they hold.
    public var memory = IndexMemory(floats: 0, codes: 0, links: 0, other: 0)
}
