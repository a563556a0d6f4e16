/// A statement parameter. Values always travel as bind parameters, never
/// spliced into SQL text.
public enum PostgresValue: Sendable, Equatable {
    case null
    /// The type's text input form (e.g. `42`, `[1,2,3]` for a vector).
    case text(String)
    /// The type's binary (`recv`) form, e.g. ``PgVectorCodec/binary(_:)``.
    case binary([UInt8])
}

/// How result columns come back: text or each type's binary form.
public enum PostgresFormat: Int32, Sendable {
    case text = 0
    case binary = 1
}
