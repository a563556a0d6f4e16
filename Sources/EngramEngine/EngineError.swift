import EngramIndex
import EngramWAL

/// Errors of the engine. Caller errors (`.invalidArgument`, the vector
/// problems of ``IndexError``, `.unknownCollection`, `.collectionExists`)
/// are kept apart from corruption (`.corrupt`), from the log's I/O
/// failures (`.log`) and from the checkpoint target's (`.checkpoint`). A failed call applies nothing.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case invalidArgument(String)
    case unknownCollection(String)
    /// A collection of that name exists with other parameters.
    case collectionExists(String)
    /// A vector or query the index rejects (dimension, NaN, zero under cosine…); `record` is its position in the call.
    case invalidVector(record: Int, IndexError)
    /// The log or a stored record does not decode.
    case corrupt(String)
    /// The write-ahead log failed (I/O, poisoned after a failed fsync, …).
    case log(WALError)
    /// The store was closed.
    case closed
    /// A checkpoint could not be stored (the target is unreachable or
    /// refused it); nothing is lost: the log keeps every change.
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidArgument(let text): return text
        case .unknownCollection(let name): return "unknown collection '\(name)'"
        case .collectionExists(let name): return "collection '\(name)' already exists with other parameters"
        case .invalidVector(let record, let error): return "record \(record): \(error)"
        case .corrupt(let text): return "corrupt data: \(text)"
        case .log(let error): return error.description
        case .closed: return "the store is closed"
        case .checkpoint(let text): return "checkpoint failed: \(text)"
        }
    }
}
