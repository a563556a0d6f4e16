import EngramMetadata

/// A record's id and metadata, without its vector or texts: what
/// ``Store/findMetadata(_:filter:limit:)`` returns for lookups that only
/// need key fields (the memory layer's graph walks), so that they copy no
/// embedding.
public struct RecordMetadata: Sendable, Equatable {
    public var id: String
    public var metadata: MetadataValue

    public init(id: String, metadata: MetadataValue) {
        self.id = id
        self.metadata = metadata
    }
}
