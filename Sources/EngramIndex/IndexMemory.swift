/// The bytes an index holds, by what they hold, so the floats can be
/// counted where they live and a search's working set seen apart.
public struct IndexMemory: Sendable, Equatable {
    /// Full-precision vectors (0 for a codes-only index).
    public var floats: Int
    /// Compact codes: the 4-bit codes an HNSW search walks on, or SQ8 codes
    /// (with their per-vector lengths).
    public var codes: Int
    /// HNSW: neighbour lists, layer 0 and above. IVF: the lists' labels.
    public var links: Int
    /// Everything else: labels, levels, states and the label map (HNSW);
    /// centroids and ranges (IVF).
    public var other: Int
    /// Whether the floats live in a file mapping (``VectorMemory/isFileBacked``):
    /// in the page cache, which the kernel may evict, not in anonymous memory.
    public var floatsFileBacked: Bool

    public init(floats: Int, codes: Int, links: Int, other: Int, floatsFileBacked: Bool = false) {
        self.floats = floats
        self.codes = codes
        self.links = links
        self.other = other
        self.floatsFileBacked = floatsFileBacked
    }

    public var total: Int { floats + codes + links + other }

    /// The bytes held in anonymous memory: all of them, less the floats when
    /// they live in a file mapping.
    public var anonymous: Int { floatsFileBacked ? total - floats : total }
}
