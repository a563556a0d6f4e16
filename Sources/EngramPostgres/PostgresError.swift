/// An error from PostgreSQL or from talking to it.
///
/// `kind` keeps the causes apart: the server could not be reached or the
/// connection broke (`.connection`), the server rejected a statement
/// (`.server`, with its SQLSTATE), or bytes did not decode as the expected
/// type (`.decoding`: a protocol or corruption problem, not a user error).
/// Messages carry the server's text but never parameter values.
public struct PostgresError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connection
        case server
        case decoding
    }

    public var kind: Kind
    /// The five-character SQLSTATE code for `.server` errors (e.g. `42P01`).
    public var sqlState: String?
    public var message: String

    public init(kind: Kind, sqlState: String? = nil, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        let text = message.hasSuffix("\n") ? String(message.dropLast()) : message
        if let sqlState { return "postgres \(kind.rawValue) error \(sqlState): \(text)" }
        return "postgres \(kind.rawValue) error: \(text)"
    }
}
