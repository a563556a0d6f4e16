import EngramMetadata

/// An edge of the knowledge graph: `subject —predicate→ object`, with when
/// it was true in the world (``validFrom`` ..< ``validTo``, valid time) and
/// when memory knew it (``recordedAt`` ..< ``invalidatedAt``, record time).
///
/// Facts are never deleted or edited in place: asserting a new value of a
/// single-valued predicate (``Memory/declareSingleValued(tenant:predicate:)``)
/// closes the current fact's validity at the new one's `validFrom` by
/// recording a new version of it (valid to that time, recorded now) and
/// invalidating the old version now; retracting a fact invalidates its
/// current version. So a query as of any valid time and as known at any
/// record time sees what memory knew then (Docs/MEMORY.md, "Time").
public struct Fact: Sendable, Equatable {
    /// What a fact points at: another entity, or a literal value.
    public enum Object: Sendable, Equatable {
        case entity(String)
        case value(MetadataValue)
    }

    public var tenant: String
    public var id: String
    public var subject: String
    public var predicate: String
    public var object: Object
    /// The fact in words (searched by text), and its embedding (searched by meaning).
    public var text: String
    public var embedding: [Float]
    public var validFrom: MemoryTime
    /// Nil: still true.
    public var validTo: MemoryTime?
    public internal(set) var recordedAt: MemoryTime
    public internal(set) var invalidatedAt: MemoryTime?
    /// The experiences it was learned from.
    public var sources: [String]
    /// 0…1.
    public var confidence: Double

    public init(tenant: String, id: String, subject: String, predicate: String, object: Object, text: String, embedding: [Float],
                validFrom: MemoryTime, validTo: MemoryTime? = nil, sources: [String] = [], confidence: Double = 1) {
        self.tenant = tenant
        self.id = id
        self.subject = subject
        self.predicate = predicate
        self.object = object
        self.text = text
        self.embedding = embedding
        self.validFrom = validFrom
        self.validTo = validTo
        self.recordedAt = .zero
        self.invalidatedAt = nil
        self.sources = sources
        self.confidence = confidence
    }

    func validate(dimension: Int) throws(MemoryError) {
        try Identifier.check(tenant, "a tenant")
        try Identifier.check(id, "a fact id")
        try Identifier.check(subject, "fact '\(id)': its subject")
        try Identifier.check(predicate, "fact '\(id)': its predicate")
        switch object {
        case .entity(let e): try Identifier.check(e, "fact '\(id)': its object entity")
        case .value(let v): if let why = v.problem { throw .invalid("fact '\(id)': its value \(why)") }
        }
        guard !text.isEmpty, text.utf8.count <= 1 << 20 else { throw .invalid("fact '\(id)': text must be 1 byte to 1 MiB") }
        guard embedding.count == dimension else { throw .invalid("fact '\(id)': an embedding of \(embedding.count) dimensions; memory holds \(dimension)") }
        if let validTo, validTo <= validFrom { throw .invalid("fact '\(id)': valid to is not after valid from") }
        guard sources.count <= 256 else { throw .invalid("fact '\(id)': at most 256 sources") }
        for source in sources { try Identifier.check(source, "fact '\(id)': a source") }
        guard confidence.isFinite, (0...1).contains(confidence) else { throw .invalid("fact '\(id)': confidence \(confidence) outside 0...1") }
    }

    /// True in the world at `t` (valid from ≤ t < valid to).
    public func isValid(at t: MemoryTime) -> Bool { Self.within(t, from: validFrom, to: validTo) }

    /// Known to memory at `t` (recorded at ≤ t < invalidated at).
    public func isKnown(at t: MemoryTime) -> Bool { Self.within(t, from: recordedAt, to: invalidatedAt) }

    /// from ≤ t < to, where no `to` is open-ended: the one rule of both time axes.
    static func within(_ t: MemoryTime, from: MemoryTime, to: MemoryTime?) -> Bool { from <= t && (to.map { t < $0 } ?? true) }
}
