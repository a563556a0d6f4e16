import EngramEngine

/// The memory layer's errors: what the caller got wrong, what conflicts
/// with what memory holds, and the engine's own (I/O, corruption) kept
/// apart.
public struct MemoryError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A value the caller passed breaks a rule (an empty id, importance outside 0…1, …).
        case invalidArgument
        /// The call names an object memory does not hold (in the caller's tenant).
        case notFound
        /// The call conflicts with what memory holds (a task transition the graph does not allow, …).
        case conflict
        /// The engine failed underneath (`underlying` is the `EngineError`).
        case engine
    }

    public let kind: Kind
    public let message: String
    public let underlying: EngineError?

    public init(_ kind: Kind, _ message: String, underlying: EngineError? = nil) {
        self.kind = kind
        self.message = message
        self.underlying = underlying
    }

    static func invalid(_ message: String) -> MemoryError { MemoryError(.invalidArgument, message) }

    /// An engine error as the memory layer reports it: the caller's mistakes stay the caller's.
    static func engine(_ error: EngineError) -> MemoryError {
        switch error.code {
        case .invalidArgument, .invalidVector: return MemoryError(.invalidArgument, error.message, underlying: error)
        default: return MemoryError(.engine, error.message, underlying: error)
        }
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
