import EngramMetadata

/// One search result. `distance` points one way for every metric: smaller
/// is closer (Docs/KERNELS.md).
public struct SearchHit: Sendable, Equatable {
    public var id: String
    public var distance: Float
    public var metadata: MetadataValue
}
