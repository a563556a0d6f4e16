import EngramEngine
import EngramMetadata

/// A fact between two entities as a graph walk needs it: its id, its ends
/// and its two time intervals, read from the fact's metadata alone, so that
/// walking a neighbourhood copies no embedding and no text
/// (``Memory/neighbours(tenant:entity:depth:predicates:asOf:knownAt:now:)``,
/// ``Memory/path(tenant:from:to:maxDepth:asOf:knownAt:now:)``).
///
/// Invariant: ``holds(validAt:knownAt:)`` is ``Fact/isValid(at:)`` and
/// ``Fact/isKnown(at:)`` of the same stored version (one rule,
/// `Fact.within`).
struct FactEdge {
    /// The stored version's record id (a fact's versions are records of their own).
    let recordID: String
    let id: String
    let subject: String
    let object: String
    let validFrom: MemoryTime
    let validTo: MemoryTime?
    let recordedAt: MemoryTime
    let invalidatedAt: MemoryTime?

    /// The edge of a stored fact version; nil when its object is a literal value (no edge).
    init?(_ stored: RecordMetadata) throws(MemoryError) {
        let m = stored.metadata
        guard let id = MemoryRecords.string(m["id"]), let subject = MemoryRecords.string(m["subject"]),
              let validFrom = MemoryRecords.time(m["valid_from"]), let recordedAt = MemoryRecords.time(m["recorded_at"]) else {
            throw MemoryRecords.corrupt(id: stored.id)
        }
        guard let object = MemoryRecords.string(m["object_entity"]) else {
            if m["object_value"] == nil { throw MemoryRecords.corrupt(id: stored.id) }
            return nil
        }
        self.recordID = stored.id
        self.id = id
        self.subject = subject
        self.object = object
        self.validFrom = validFrom
        self.validTo = MemoryRecords.time(m["valid_to"])
        self.recordedAt = recordedAt
        self.invalidatedAt = MemoryRecords.time(m["invalidated_at"])
    }

    /// True in the world at `valid` and known to memory at `known`.
    func holds(validAt valid: MemoryTime, knownAt known: MemoryTime) -> Bool {
        Fact.within(valid, from: validFrom, to: validTo) && Fact.within(known, from: recordedAt, to: invalidatedAt)
    }

    /// The end that is not `node`.
    func other(than node: String) -> String { subject == node ? object : subject }
}
