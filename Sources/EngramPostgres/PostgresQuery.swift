/// A SQL statement and its bind parameters, built so that no value is ever
/// spliced into SQL text.
///
/// Written as a string literal: interpolated values become bind parameters
/// (`$1`, `$2`, … in the order they appear), identifiers
/// (``PostgresIdentifier``) are quoted, and text that must enter the SQL as
/// is (a keyword chosen from a closed set, a number the code computed) goes
/// in only through the explicitly unsafe `\(unsafeRaw:)`:
///
/// ```swift
/// try db.execute("SELECT id FROM \(table) WHERE lsn > \(since) AND id = \(id)")
/// // SQL: SELECT id FROM "engram_c_memories" WHERE lsn > $1 AND id = $2, binds: ["42", "m1"]
/// ```
///
/// A `String` variable does not convert to a query; ``init(unsafeSQL:binds:)``
/// is the one way to run text built elsewhere (the migrations' fixed DDL).
public struct PostgresQuery: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The statement, with `$n` placeholders.
    public private(set) var sql: String
    /// The values of the placeholders, `$1` first.
    public private(set) var binds: [PostgresValue]

    /// A statement from text the caller vouches for: nothing in `sql` may
    /// come from outside the program.
    public init(unsafeSQL sql: String, binds: [PostgresValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        sql = value
        binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        binds = stringInterpolation.binds
    }

    /// The SQL only: bind values are never printed (they may be a user's data).
    public var description: String { binds.isEmpty ? sql : "\(sql) (\(binds.count) bind parameters)" }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [PostgresValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + 4 * interpolationCount)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) { sql += literal }

        /// A bind parameter.
        public mutating func appendInterpolation(_ value: PostgresValue) {
            binds.append(value)
            sql += "$\(binds.count)"
        }

        /// A text bind parameter.
        public mutating func appendInterpolation(_ value: String) { appendInterpolation(.text(value)) }

        /// A text bind parameter, or NULL.
        public mutating func appendInterpolation(_ value: String?) { appendInterpolation(value.map { .text($0) } ?? .null) }

        /// An integer as a text bind parameter.
        public mutating func appendInterpolation<I: BinaryInteger>(_ value: I) { appendInterpolation(.text(String(value))) }

        /// A quoted identifier (a table, a schema, an index, a constraint).
        public mutating func appendInterpolation(_ identifier: PostgresIdentifier) { sql += identifier.quoted }

        /// Identifiers, each quoted, separated by commas (a column list).
        public mutating func appendInterpolation(_ identifiers: [PostgresIdentifier]) {
            sql += identifiers.map(\.quoted).joined(separator: ", ")
        }

        /// Text spliced into the SQL as is. Only for text the program itself
        /// chose from a closed set (a type name, an operator class) or computed
        /// (a dimension): never for a value that came from outside.
        public mutating func appendInterpolation(unsafeRaw text: String) { sql += text }
    }
}

/// A SQL identifier (a table, schema, index or constraint name), quoted
/// for SQL text: wrapped in double quotes, with any double quote inside
/// doubled. Checked once, when made: non-empty, no NUL, at most 63 bytes
/// (PostgreSQL would silently truncate a longer one).
public struct PostgresIdentifier: Sendable, Hashable, CustomStringConvertible {
    /// The name as PostgreSQL stores it.
    public let name: String
    /// The name quoted for SQL text.
    public let quoted: String

    /// PostgreSQL's NAMEDATALEN - 1.
    public static let maxBytes = 63

    public init(_ name: String) throws(PostgresError) {
        guard !name.isEmpty, !name.utf8.contains(0), name.utf8.count <= Self.maxBytes else {
            throw PostgresError(kind: .invalidArgument, message: "an identifier must be 1 to \(Self.maxBytes) bytes with no NUL")
        }
        self.name = name
        var quoted = "\""
        for ch in name { if ch == "\"" { quoted += "\"\"" } else { quoted.append(ch) } }
        self.quoted = quoted + "\""
    }

    public var description: String { quoted }
}
