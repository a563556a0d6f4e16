import EngramMetadata

/// An experience (an episodic memory) of an agent: what happened, when
/// (``occurredAt``, valid time) and when memory learned it (``recordedAt``,
/// record time), how much it matters, and until when it is kept.
public struct Experience: Sendable, Equatable {
    public var tenant: String
    public var id: String
    /// The agent that had it.
    public var agent: String
    /// Who else sees it: the agent only, or a group of the tenant's agents.
    public var visibility: Visibility
    /// The task it belongs to, if any.
    public var task: String?
    /// What it is: `observation`, `action`, `result`, `message`, `reflection`, or another word the caller uses.
    public var kind: String
    public var content: String
    /// The content's embedding (the memory's dimension), brought by the caller.
    public var embedding: [Float]
    /// 0…1.
    public var importance: Double
    /// When it happened (valid time).
    public var occurredAt: MemoryTime
    /// When memory recorded it (record time): set by memory at the write.
    public internal(set) var recordedAt: MemoryTime
    /// Hidden from recall from then on, and removed later (TTL); nil: kept.
    public var expiresAt: MemoryTime?
    public var metadata: MetadataValue

    public init(tenant: String, id: String, agent: String, visibility: Visibility = .agent, task: String? = nil, kind: String,
                content: String, embedding: [Float], importance: Double = 0.5, occurredAt: MemoryTime, expiresAt: MemoryTime? = nil,
                metadata: MetadataValue = .object([:])) {
        self.tenant = tenant
        self.id = id
        self.agent = agent
        self.visibility = visibility
        self.task = task
        self.kind = kind
        self.content = content
        self.embedding = embedding
        self.importance = importance
        self.occurredAt = occurredAt
        self.recordedAt = .zero
        self.expiresAt = expiresAt
        self.metadata = metadata
    }

    func validate(dimension: Int) throws(MemoryError) {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(id, "an experience id")
        try Identifier.check(agent, "experience '\(id)': its agent")
        if case .group(let group) = visibility { try Identifier.check(group, "experience '\(id)': its group") }
        if let task { try Identifier.check(task, "experience '\(id)': its task") }
        try Identifier.check(kind, "experience '\(id)': its kind")
        guard !content.isEmpty, content.utf8.count <= 1 << 20 else { throw .invalid("experience '\(id)': content must be 1 byte to 1 MiB") }
        guard embedding.count == dimension else {
            throw .invalid("experience '\(id)': an embedding of \(embedding.count) dimensions; memory holds \(dimension)")
        }
        guard importance.isFinite, (0...1).contains(importance) else { throw .invalid("experience '\(id)': importance \(importance) outside 0...1") }
        if let expiresAt, expiresAt <= occurredAt { throw .invalid("experience '\(id)': it expires before it occurred") }
        if let why = metadata.problem { throw .invalid("experience '\(id)': its metadata \(why)") }
    }
}
