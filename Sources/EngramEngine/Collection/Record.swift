import EngramMetadata

/// A stored record: the caller's id, its vector, its metadata and, in a
/// collection with text fields (``CollectionConfiguration/text``), its
/// texts by field.
public struct Record: Sendable, Equatable {
    public var id: String
    public var vector: [Float]
    public var metadata: MetadataValue
    /// Text per declared field; a field left out has no text. Empty in a collection without text fields.
    public var text: [String: String]

    public init(id: String, vector: [Float], metadata: MetadataValue = .object([:]), text: [String: String] = [:]) {
        self.id = id
        self.vector = vector
        self.metadata = metadata
        self.text = text
    }

    /// The longest id accepted, in UTF-8 bytes.
    public static let maxIDBytes = 512
    /// The longest text accepted in one field, in UTF-8 bytes.
    public static let maxTextBytes = 1 << 20
}
