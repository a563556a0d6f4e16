import EngramMetadata

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
