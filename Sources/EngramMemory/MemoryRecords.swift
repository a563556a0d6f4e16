import EngramEngine
import EngramMetadata

/// How memory objects are stored as engine records (Docs/MEMORY.md,
/// "Storage"): one collection per kind of object, the record id a
/// tenant-qualified key, the fields in metadata (what filters and the
/// typed tables read), the searchable words in text fields.
enum MemoryRecords {
    static let agents = "memory_agents"
    static let tasks = "memory_tasks"
    static let experiences = "memory_experiences"
    static let entities = "memory_entities"
    static let facts = "memory_facts"
    static let predicates = "memory_predicates"

    /// The record id of object `id` of `tenant`: the tenant's byte length, `:`, the tenant, `:`, the id.
    /// Injective (two different pairs never share a key), and never read back for scoping: a tenant is
    /// matched by its metadata field, exactly.
    static func key(_ tenant: String, _ id: String) -> String { "\(tenant.utf8.count):\(tenant):\(id)" }

    static func time(_ t: MemoryTime) -> MetadataValue { .timestamp(microseconds: t.microseconds) }

    static func time(_ value: MetadataValue?) -> MemoryTime? {
        guard case .timestamp(let us)? = value else { return nil }
        return MemoryTime(microseconds: us)
    }

    static func string(_ value: MetadataValue?) -> String? {
        guard case .string(let s)? = value else { return nil }
        return s
    }

    static func number(_ value: MetadataValue?) -> Double? {
        guard case .number(let x)? = value else { return nil }
        return x
    }

    // MARK: Agents

    static func record(_ agent: Agent) -> Record {
        Record(id: key(agent.tenant, agent.id), vector: [], metadata: .object([
            "tenant": .string(agent.tenant), "id": .string(agent.id), "name": .string(agent.name), "role": .string(agent.role),
            "configuration": agent.configuration, "groups": .array(agent.groups.map { .string($0) }),
            "created_at": time(agent.createdAt), "updated_at": time(agent.updatedAt),
        ]))
    }

    static func agent(_ record: Record) throws(MemoryError) -> Agent {
        let m = record.metadata
        guard let tenant = string(m["tenant"]), let id = string(m["id"]), let name = string(m["name"]),
              let created = time(m["created_at"]), let updated = time(m["updated_at"]),
              case .array(let groups)? = m["groups"] else { throw corrupt(record) }
        var agent = Agent(tenant: tenant, id: id, name: name, role: string(m["role"]) ?? "", configuration: m["configuration"] ?? .object([:]),
                          groups: groups.compactMap { string($0) })
        agent.createdAt = created
        agent.updatedAt = updated
        return agent
    }

    // MARK: Tasks

    static func record(_ task: AgentTask) -> Record {
        var fields: [String: MetadataValue] = [
            "tenant": .string(task.tenant), "id": .string(task.id), "title": .string(task.title), "status": .string(task.status.rawValue),
            "priority": .number(Double(task.priority)), "created_at": time(task.createdAt),
        ]
        if let agent = task.agent { fields["agent"] = .string(agent) }
        if let parent = task.parent { fields["parent"] = .string(parent) }
        if let result = task.result { fields["result"] = result }
        if let started = task.startedAt { fields["started_at"] = time(started) }
        if let finished = task.finishedAt { fields["finished_at"] = time(finished) }
        var text = ["title": task.title]
        if !task.description.isEmpty { text["description"] = task.description }
        return Record(id: key(task.tenant, task.id), vector: [], metadata: .object(fields), text: text)
    }

    static func task(_ record: Record) throws(MemoryError) -> AgentTask {
        let m = record.metadata
        guard let tenant = string(m["tenant"]), let id = string(m["id"]), let title = string(m["title"]),
              let status = string(m["status"]).flatMap(TaskStatus.init(rawValue:)), let priority = number(m["priority"]),
              let created = time(m["created_at"]) else { throw corrupt(record) }
        var task = AgentTask(tenant: tenant, id: id, title: title, description: record.text["description"] ?? "",
                             agent: string(m["agent"]), parent: string(m["parent"]), priority: Int(priority))
        task.status = status
        task.result = m["result"]
        task.createdAt = created
        task.startedAt = time(m["started_at"])
        task.finishedAt = time(m["finished_at"])
        return task
    }

    // MARK: Experiences

    static func record(_ e: Experience, contentHash: String) -> Record {
        var fields: [String: MetadataValue] = [
            "tenant": .string(e.tenant), "id": .string(e.id), "agent": .string(e.agent), "kind": .string(e.kind),
            "importance": .number(e.importance), "occurred_at": time(e.occurredAt), "recorded_at": time(e.recordedAt),
            "content_hash": .string(contentHash), "meta": e.metadata,
        ]
        if case .group(let group) = e.visibility { fields["group"] = .string(group) }
        if let task = e.task { fields["task"] = .string(task) }
        if let expires = e.expiresAt { fields["expires_at"] = time(expires) }
        return Record(id: key(e.tenant, e.id), vector: e.embedding, metadata: .object(fields), text: ["content": e.content])
    }

    static func experience(_ record: Record) throws(MemoryError) -> Experience {
        let m = record.metadata
        guard let tenant = string(m["tenant"]), let id = string(m["id"]), let agent = string(m["agent"]), let kind = string(m["kind"]),
              let importance = number(m["importance"]), let occurred = time(m["occurred_at"]), let recorded = time(m["recorded_at"]),
              let content = record.text["content"] else { throw corrupt(record) }
        var e = Experience(tenant: tenant, id: id, agent: agent, visibility: string(m["group"]).map { .group($0) } ?? .agent,
                           task: string(m["task"]), kind: kind, content: content, embedding: record.vector, importance: importance,
                           occurredAt: occurred, expiresAt: time(m["expires_at"]), metadata: m["meta"] ?? .object([:]))
        e.recordedAt = recorded
        return e
    }

    // MARK: Entities

    static func record(_ e: Entity) -> Record {
        Record(id: key(e.tenant, e.id), vector: e.embedding, metadata: .object([
            "tenant": .string(e.tenant), "id": .string(e.id), "type": .string(e.type), "name": .string(e.name),
            "aliases": .array(e.aliases.map { .string($0) }), "names": .array(e.names.map { .string($0) }), "attributes": e.attributes,
        ]), text: e.summary.isEmpty ? ["name": ([e.name] + e.aliases).joined(separator: "; ")]
                                    : ["name": ([e.name] + e.aliases).joined(separator: "; "), "summary": e.summary])
    }

    static func entity(_ record: Record) throws(MemoryError) -> Entity {
        let m = record.metadata
        guard let tenant = string(m["tenant"]), let id = string(m["id"]), let type = string(m["type"]), let name = string(m["name"]),
              case .array(let aliases)? = m["aliases"] else { throw corrupt(record) }
        return Entity(tenant: tenant, id: id, type: type, name: name, aliases: aliases.compactMap { string($0) },
                      summary: record.text["summary"] ?? "", embedding: record.vector, attributes: m["attributes"] ?? .object([:]))
    }

    // MARK: Facts

    /// The record id of one version of a fact: the fact's key, `@`, the version's record time in µs. A
    /// fact's versions share its id (in metadata); the current one is the version not invalidated.
    static func versionKey(_ f: Fact) -> String { key(f.tenant, f.id) + "@" + String(f.recordedAt.microseconds) }

    static func record(_ f: Fact) -> Record {
        var fields: [String: MetadataValue] = [
            "tenant": .string(f.tenant), "id": .string(f.id), "subject": .string(f.subject), "predicate": .string(f.predicate),
            "valid_from": time(f.validFrom), "recorded_at": time(f.recordedAt), "sources": .array(f.sources.map { .string($0) }),
            "confidence": .number(f.confidence),
        ]
        switch f.object {
        case .entity(let e): fields["object_entity"] = .string(e)
        case .value(let v): fields["object_value"] = v
        }
        if let validTo = f.validTo { fields["valid_to"] = time(validTo) }
        if let invalidated = f.invalidatedAt { fields["invalidated_at"] = time(invalidated) }
        return Record(id: versionKey(f), vector: f.embedding, metadata: .object(fields), text: ["text": f.text])
    }

    static func fact(_ record: Record) throws(MemoryError) -> Fact {
        let m = record.metadata
        guard let tenant = string(m["tenant"]), let id = string(m["id"]), let subject = string(m["subject"]),
              let predicate = string(m["predicate"]), let validFrom = time(m["valid_from"]), let recorded = time(m["recorded_at"]),
              let confidence = number(m["confidence"]), case .array(let sources)? = m["sources"], let text = record.text["text"] else {
            throw corrupt(record)
        }
        let object: Fact.Object
        if let e = string(m["object_entity"]) { object = .entity(e) } else if let v = m["object_value"] { object = .value(v) } else { throw corrupt(record) }
        var f = Fact(tenant: tenant, id: id, subject: subject, predicate: predicate, object: object, text: text, embedding: record.vector,
                     validFrom: validFrom, validTo: time(m["valid_to"]), sources: sources.compactMap { string($0) }, confidence: confidence)
        f.recordedAt = recorded
        f.invalidatedAt = time(m["invalidated_at"])
        return f
    }

    /// A 64-bit FNV-1a hash of the content, in hex: the key deduplication looks up (the contents
    /// themselves are then compared, so a collision never merges two memories).
    static func contentHash(_ content: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in content.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func corrupt(_ record: Record) -> MemoryError { corrupt(id: record.id) }

    static func corrupt(id: String) -> MemoryError {
        MemoryError(.engine, "memory record '\(id)' is missing fields memory writes: it was not written by this layer")
    }
}
