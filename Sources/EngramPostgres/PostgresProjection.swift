import EngramEngine

/// A typed projection of some collections into tables of their own,
/// maintained by every checkpoint inside its transaction (so the projected
/// tables change exactly when the collections' tables do, and a constraint
/// they break fails the whole checkpoint). The memory layer's typed tables
/// are one (`EngramMemoryPostgres.MemoryTables`).
public protocol PostgresProjection: Sendable {
    /// Creates its tables if missing; called in every checkpoint's transaction before any collection is merged.
    func prepare(_ db: PostgresConnection) throws
    /// Projects one collection's changes, after its table was merged (same transaction). A projection
    /// ignores collections it does not project. With ``Checkpoint/Changes/liveIDs`` set, the collection's
    /// table was resynchronised and the projection must drop the rows it no longer holds.
    func apply(_ changes: Checkpoint.Changes, _ db: PostgresConnection) throws
}

/// A PostgreSQL array literal of text values (`{"a","b\\"c"}`), for a `$n::text[]` bind: every element
/// quoted, backslashes and quotes escaped (the values hold no U+0000: the engine refuses it).
public func postgresTextArray(_ values: [String]) -> String {
    var out = "{"
    for (i, value) in values.enumerated() {
        if i > 0 { out += "," }
        out += "\""
        for c in value.unicodeScalars {
            if c == "\"" || c == "\\" { out += "\\" }
            out.unicodeScalars.append(c)
        }
        out += "\""
    }
    return out + "}"
}
