/// The bytes an ``HNSWIndex`` holds, by what they hold, so the floats can be
/// counted where they live and the walk's working set seen apart.
public struct HNSWMemory: Sendable, Equatable {
    /// Full-precision vectors (0 for a codes-only index).
    public var floats: Int
    /// Compact codes: the 4-bit codes the search walks on, or HNSW-SQ8's.
    public var codes: Int
    /// Neighbour lists, layer 0 and above.
    public var links: Int
    /// Labels, levels, states, list versions and the label map.
    public var other: Int

    public var total: Int { floats + codes + links + other }
}
