/// An error from PostgreSQL or from talking to it.
///
/// `kind` keeps the causes apart:
/// - `.connection`: the server could not be reached or the connection broke;
/// - `.server`: the server rejected a statement (with its SQLSTATE);
/// - `.decoding`: bytes from the server did not decode as the expected type
///   (a protocol or corruption problem, never the caller's);
/// - `.invalidArgument`: the caller's value is out of range (checked here,
///   before anything is sent);
/// - `.conflict`: the database's contents disagree with the request
///   (another store's checkpoints, a concurrent checkpoint, a collection
///   registered with other parameters), found by a check on this side;
/// - `.aborted`: the caller's own code threw during a `COPY`, which was
///   aborted (nothing stored).
///
/// Messages carry the server's text but never parameter values.
public struct PostgresError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connection
        case server
        case decoding
        case invalidArgument
        case conflict
        case aborted
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
