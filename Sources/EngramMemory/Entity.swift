import EngramMetadata

/// Something an agent learns about (a person, a service, a file…), of a
/// tenant: its type, name, aliases, a summary with its embedding, and
/// attributes. Written through ``Memory/remember(_:entities:facts:at:)``,
/// which resolves it against the entities memory already holds.
public struct Entity: Sendable, Equatable {
    public var tenant: String
    public var id: String
    /// `person`, `service`, `file`, … (the caller's words); resolution stays within one type.
    public var type: String
    public var name: String
    public var aliases: [String]
    public var summary: String
    /// The embedding of the name and summary, brought by the caller.
    public var embedding: [Float]
    public var attributes: MetadataValue

    public init(tenant: String, id: String, type: String, name: String, aliases: [String] = [], summary: String = "",
                embedding: [Float], attributes: MetadataValue = .object([:])) {
        self.tenant = tenant
        self.id = id
        self.type = type
        self.name = name
        self.aliases = aliases
        self.summary = summary
        self.embedding = embedding
        self.attributes = attributes
    }

    func validate(dimension: Int) throws(MemoryError) {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(id, "an entity id")
        try Identifier.check(type, "entity '\(id)': its type")
        guard !name.isEmpty, name.utf8.count <= 1024 else { throw .invalid("entity '\(id)': a name must be 1 to 1024 bytes") }
        guard aliases.count <= 64, aliases.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 1024 }) else {
            throw .invalid("entity '\(id)': at most 64 aliases of 1 to 1024 bytes")
        }
        guard summary.utf8.count <= 1 << 20 else { throw .invalid("entity '\(id)': a summary is at most 1 MiB") }
        guard embedding.count == dimension else { throw .invalid("entity '\(id)': an embedding of \(embedding.count) dimensions; memory holds \(dimension)") }
        if let why = attributes.problem { throw .invalid("entity '\(id)': its attributes \(why)") }
    }

    /// The name and aliases as resolution compares them: case-folded, spaces collapsed.
    var names: [String] { ([name] + aliases).map(Entity.normalised) }

    static func normalised(_ name: String) -> String {
        name.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}
