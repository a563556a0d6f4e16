/// Changes to several collections written as one: all or nothing, durable
/// together, under one LSN (``Store/write(_:)``, Docs/ENGINE.md, "Atomic
/// writes across collections").
///
/// ```swift
/// var batch = WriteBatch()
/// batch.upsert("experiences", [Record(id: "e1", vector: v, text: ["content": "..."])])
/// batch.upsert("entities", [Record(id: "alice", vector: w)])
/// batch.delete("facts", ids: ["f7"])
/// let result = try store.write(batch)
/// ```
///
/// Invariant (``Store/write(_:)`` refuses a batch that breaks it): a
/// record id appears at most once per collection across the batch's
/// changes, so the order of the changes never decides the outcome.
public struct WriteBatch: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        case upsert(collection: String, records: [Record])
        case delete(collection: String, ids: [String])

        public var collection: String {
            switch self {
            case .upsert(let name, _), .delete(let name, _): return name
            }
        }
    }

    public var changes: [Change]

    public init(_ changes: [Change] = []) { self.changes = changes }

    public mutating func upsert(_ collection: String, _ records: [Record]) {
        changes.append(.upsert(collection: collection, records: records))
    }

    public mutating func delete(_ collection: String, ids: [String]) {
        changes.append(.delete(collection: collection, ids: ids))
    }

    /// What a batch did once durable.
    public struct Result: Sendable, Equatable {
        /// Records written.
        public var upserted: Int
        /// Records deleted (ids that were not present are not counted).
        public var deleted: Int
        /// The LSN every change of the batch was written at (0: nothing to write).
        public var lsn: UInt64
    }
}
