import EngramMetadata

/// An agent of a tenant: its name, role, configuration and the groups whose
/// shared memories it sees.
public struct Agent: Sendable, Equatable {
    public var tenant: String
    public var id: String
    public var name: String
    public var role: String
    /// Free-form configuration (model, tools, limits…), stored as given.
    public var configuration: MetadataValue
    /// The groups whose memories (``Visibility/group(_:)``) this agent sees.
    public var groups: [String]
    /// Set by memory when the agent is first written, and when it is updated.
    public internal(set) var createdAt: MemoryTime
    public internal(set) var updatedAt: MemoryTime

    public init(tenant: String, id: String, name: String, role: String = "", configuration: MetadataValue = .object([:]), groups: [String] = []) {
        self.tenant = tenant
        self.id = id
        self.name = name
        self.role = role
        self.configuration = configuration
        self.groups = groups
        createdAt = .zero
        updatedAt = .zero
    }

    func validate() throws(MemoryError) {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(id, "an agent id")
        guard !name.isEmpty, name.utf8.count <= 1024 else { throw .invalid("agent '\(id)': a name must be 1 to 1024 bytes") }
        guard role.utf8.count <= 1024 else { throw .invalid("agent '\(id)': a role is at most 1024 bytes") }
        guard Set(groups).count == groups.count, groups.count <= 64 else { throw .invalid("agent '\(id)': at most 64 distinct groups") }
        for group in groups { try Identifier.check(group, "agent '\(id)': a group") }
        if let why = configuration.problem { throw .invalid("agent '\(id)': its configuration \(why)") }
    }
}
