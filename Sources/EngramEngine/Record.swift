import EngramIndex
import EngramKernels

/// A stored record: the caller's id, its vector and its metadata.
public struct Record: Sendable, Equatable {
    public var id: String
    public var vector: [Float]
    public var metadata: MetadataValue

    public init(id: String, vector: [Float], metadata: MetadataValue = .object([:])) {
        self.id = id
        self.vector = vector
        self.metadata = metadata
    }

    /// The longest id accepted, in UTF-8 bytes.
    public static let maxIDBytes = 512
}

/// One search result. `distance` points one way for every metric: smaller
/// is closer (Docs/KERNELS.md).
public struct SearchHit: Sendable, Equatable {
    public var id: String
    public var distance: Float
    public var metadata: MetadataValue
}

/// A collection's fixed parameters.
public struct CollectionConfiguration: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var metric: Metric
    public var hnsw: HNSWConfiguration

    public init(name: String, dimension: Int, metric: Metric = .cosine, hnsw: HNSWConfiguration = HNSWConfiguration()) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.hnsw = hnsw
    }
}
