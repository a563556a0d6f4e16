import EngramMetadata

/// A task of a tenant: what it is, who it is assigned to, what it is part
/// of, where it stands (``TaskStatus``) and what came of it.
public struct AgentTask: Sendable, Equatable {
    public var tenant: String
    public var id: String
    public var title: String
    public var description: String
    /// The agent it is assigned to, if any (an agent of the same tenant).
    public var agent: String?
    /// The task it is part of, if any (a task of the same tenant).
    public var parent: String?
    public internal(set) var status: TaskStatus
    public var priority: Int
    public internal(set) var result: MetadataValue?
    public internal(set) var createdAt: MemoryTime
    public internal(set) var startedAt: MemoryTime?
    public internal(set) var finishedAt: MemoryTime?

    public init(tenant: String, id: String, title: String, description: String = "", agent: String? = nil, parent: String? = nil, priority: Int = 0) {
        self.tenant = tenant
        self.id = id
        self.title = title
        self.description = description
        self.agent = agent
        self.parent = parent
        self.priority = priority
        status = .pending
        createdAt = .zero
    }

    func validate() throws(MemoryError) {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(id, "a task id")
        guard !title.isEmpty, title.utf8.count <= 4096 else { throw .invalid("task '\(id)': a title must be 1 to 4096 bytes") }
        guard description.utf8.count <= 1 << 20 else { throw .invalid("task '\(id)': a description is at most 1 MiB") }
        if let agent { try Identifier.check(agent, "task '\(id)': its agent") }
        if let parent {
            try Identifier.check(parent, "task '\(id)': its parent")
            guard parent != id else { throw .invalid("task '\(id)' cannot be its own parent") }
        }
        guard (-1_000_000...1_000_000).contains(priority) else { throw .invalid("task '\(id)': priority \(priority) outside -1000000...1000000") }
        if let why = result?.problem { throw .invalid("task '\(id)': its result \(why)") }
    }
}
