import EngramMetadata

/// One typed object of a memory import file (`engram memory import`,
/// Docs/MEMORY.md, "Import format"): a JSON object whose `"type"` is
/// `agent`, `task`, `experience`, `entity` or `fact`.
public enum MemoryObject: Sendable, Equatable {
    case agent(Agent)
    /// A task, with the status (and result) to bring it to after creating it.
    case task(AgentTask, status: TaskStatus, result: MetadataValue?)
    case experience(Experience)
    case entity(Entity)
    /// A fact, and whether its predicate is declared single-valued first.
    case fact(Fact, singleValued: Bool)

    /// Reads one object; a field of the wrong kind, a missing one or a bad time is `invalidArgument`
    /// naming it.
    public static func parse(_ value: MetadataValue) throws(MemoryError) -> MemoryObject {
        guard case .object(let o) = value else { throw .invalid("not a JSON object") }
        func string(_ key: String) throws(MemoryError) -> String {
            guard case .string(let s)? = o[key] else { throw .invalid("needs a string \"\(key)\"") }
            return s
        }
        func optionalString(_ key: String) throws(MemoryError) -> String? {
            switch o[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw .invalid("\"\(key)\" must be a string")
            }
        }
        func number(_ key: String, default value: Double? = nil) throws(MemoryError) -> Double {
            switch o[key] {
            case .number(let x)?: return x
            case nil where value != nil: return value!
            default: throw .invalid("needs a number \"\(key)\"")
            }
        }
        func strings(_ key: String) throws(MemoryError) -> [String] {
            switch o[key] {
            case nil, .null?: return []
            case .array(let items)?:
                var out = [String]()
                for item in items {
                    guard case .string(let s) = item else { throw .invalid("\"\(key)\" must be an array of strings") }
                    out.append(s)
                }
                return out
            default: throw .invalid("\"\(key)\" must be an array of strings")
            }
        }
        func time(_ key: String) throws(MemoryError) -> MemoryTime {
            guard let t = try optionalTime(key) else { throw .invalid("needs an ISO 8601 time \"\(key)\"") }
            return t
        }
        func optionalTime(_ key: String) throws(MemoryError) -> MemoryTime? {
            guard let text = try optionalString(key) else { return nil }
            guard let t = ISO8601.parse(text) else { throw .invalid("\"\(key)\": '\(text)' is not an ISO 8601 time with a zone (2026-12-03T02:30:00Z)") }
            return t
        }
        func embedding(_ key: String = "embedding") throws(MemoryError) -> [Float] {
            guard case .array(let items)? = o[key] else { throw .invalid("needs an array of numbers \"\(key)\"") }
            var out = [Float]()
            out.reserveCapacity(items.count)
            for item in items {
                guard case .number(let x) = item, Float(x).isFinite else { throw .invalid("\"\(key)\" holds a value that is not a finite float32") }
                out.append(Float(x))
            }
            return out
        }
        func integer(_ key: String, default value: Int) throws(MemoryError) -> Int {
            guard let x = o[key] else { return value }
            guard case .number(let d) = x, let n = Int(exactly: d), abs(n) <= 1 << 53 else { throw .invalid("\"\(key)\" must be an integer") }
            return n
        }

        switch try string("type") {
        case "agent":
            return .agent(Agent(tenant: try string("tenant"), id: try string("id"), name: try string("name"), role: try optionalString("role") ?? "",
                                configuration: o["configuration"] ?? .object([:]), groups: try strings("groups")))
        case "task":
            let statusText = try optionalString("status") ?? "pending"
            guard let status = TaskStatus(rawValue: statusText) else {
                throw .invalid("\"status\": '\(statusText)' is not one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let task = AgentTask(tenant: try string("tenant"), id: try string("id"), title: try string("title"),
                                 description: try optionalString("description") ?? "", agent: try optionalString("agent"),
                                 parent: try optionalString("parent"), priority: try integer("priority", default: 0))
            return .task(task, status: status, result: o["result"])
        case "experience":
            let visibility: Visibility = try optionalString("group").map { .group($0) } ?? .agent
            return .experience(Experience(
                tenant: try string("tenant"), id: try string("id"), agent: try string("agent"), visibility: visibility, task: try optionalString("task"),
                kind: try string("kind"), content: try string("content"), embedding: try embedding(), importance: try number("importance", default: 0.5),
                occurredAt: try time("occurred_at"), expiresAt: try optionalTime("expires_at"), metadata: o["metadata"] ?? .object([:])))
        case "entity":
            return .entity(Entity(tenant: try string("tenant"), id: try string("id"), type: try string("entity_type"), name: try string("name"),
                                  aliases: try strings("aliases"), summary: try optionalString("summary") ?? "", embedding: try embedding(),
                                  attributes: o["attributes"] ?? .object([:])))
        case "fact":
            let object: Fact.Object
            if let entity = try optionalString("object_entity") {
                object = .entity(entity)
            } else if let value = o["object_value"] {
                object = .value(value)
            } else {
                throw .invalid("a fact needs \"object_entity\" or \"object_value\"")
            }
            var fact = Fact(tenant: try string("tenant"), id: try string("id"), subject: try string("subject"), predicate: try string("predicate"),
                            object: object, text: try string("text"), embedding: try embedding(), validFrom: try time("valid_from"),
                            validTo: try optionalTime("valid_to"), sources: try strings("sources"), confidence: try number("confidence", default: 1))
            fact.sources = try strings("sources")
            return .fact(fact, singleValued: o["single_valued"] == .bool(true))
        case let other:
            throw .invalid("\"type\": '\(other)' is not one of agent, task, experience, entity, fact")
        }
    }
}
