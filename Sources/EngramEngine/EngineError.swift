import EngramIndex
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

/// An error of the engine: a ``Code`` that says what kind of failure it is,
/// a message for people, and the error underneath when there is one (the
/// `IndexError` of a refused vector, the `WALError` of a failed log, the
/// checkpoint target's own error, such as a `PostgresError` with its
/// SQLSTATE). A failed call applies nothing.
///
/// The codes keep the causes apart: the caller's mistakes
/// (``Code/invalidArgument``, ``Code/invalidVector``,
/// ``Code/unknownCollection``, ``Code/collectionExists``), damaged data
/// (``Code/corrupt``), the log's failures (``Code/log``), the other files
/// of the data directory (``Code/io``: snapshots, the CHECKPOINT file, the
/// lock file), the checkpoint target (``Code/checkpoint``) and a closed
/// store (``Code/closed``). Codes are static members of a struct, not enum
/// cases, so a new one does not break a caller's `switch`; compare with
/// `error.code == .corrupt`.
///
/// Messages may name ids, collections, files and LSNs; they never carry
/// vectors or metadata values.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure an ``EngineError`` is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, as printed.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// A caller's value is out of range or malformed (an id, a name, a parameter, metadata).
        public static let invalidArgument = Code("invalidArgument")
        /// A vector or query the index refuses (dimension, NaN, zero under cosine…); see ``EngineError/record``.
        public static let invalidVector = Code("invalidVector")
        /// No collection of that name.
        public static let unknownCollection = Code("unknownCollection")
        /// A collection of that name exists with other parameters.
        public static let collectionExists = Code("collectionExists")
        /// Stored bytes (the log, a snapshot, a checkpoint's rows) do not decode or do not agree.
        public static let corrupt = Code("corrupt")
        /// The write-ahead log failed (I/O, or poisoned after a failed fsync); the underlying `WALError` says how.
        public static let log = Code("log")
        /// A file of the data directory other than the log (a snapshot, the CHECKPOINT file, the lock file) could not be read or written.
        public static let io = Code("io")
        /// A checkpoint could not be stored or read (the target is unreachable or refused it); nothing is lost: the log keeps every change.
        public static let checkpoint = Code("checkpoint")
        /// The store was closed.
        public static let closed = Code("closed")

        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// The error this one reports, when it comes from below (`IndexError`, `WALError`, a checkpoint target's error).
    public var underlying: (any Error)?
    /// ``Code/invalidVector``: the position of the refused vector in the call.
    public var record: Int?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil, record: Int? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.record = record
    }

    public var description: String {
        switch code {
        case .corrupt: return "corrupt data: \(message)"
        case .checkpoint: return "checkpoint failed: \(message)"
        case .io: return "I/O error: \(message)"
        default: return message
        }
    }

    /// The `WALError` underneath a ``Code/log`` error.
    public var walError: WALError? { underlying as? WALError }
    /// The `IndexError` underneath a ``Code/invalidVector`` error.
    public var indexError: IndexError? { underlying as? IndexError }
}

extension EngineError {
    public static func invalidArgument(_ message: String) -> EngineError { EngineError(.invalidArgument, message) }

    public static func unknownCollection(_ name: String) -> EngineError {
        EngineError(.unknownCollection, "unknown collection '\(name)'")
    }

    public static func collectionExists(_ name: String) -> EngineError {
        EngineError(.collectionExists, "collection '\(name)' already exists with other parameters")
    }

    public static func invalidVector(record: Int, _ error: IndexError) -> EngineError {
        EngineError(.invalidVector, "record \(record): \(error)", underlying: error, record: record)
    }

    public static func corrupt(_ message: String) -> EngineError { EngineError(.corrupt, message) }

    public static func log(_ error: WALError) -> EngineError { EngineError(.log, error.description, underlying: error) }

    /// Data-directory I/O on `path` (not the log's), with `errno` when a system call failed.
    public static func io(_ path: String, _ reason: String, errno code: Int32? = nil) -> EngineError {
        let cause = code.map { ": " + String(cString: strerror($0)) } ?? ""
        return EngineError(.io, "\(path): \(reason)\(cause)")
    }

    /// A log-module helper (a directory fsync, a file write) failed on a data-directory file.
    static func io(_ error: any Error) -> EngineError {
        EngineError(.io, "\(error)", underlying: error)
    }

    public static func checkpoint(_ message: String, underlying: (any Error)? = nil) -> EngineError {
        EngineError(.checkpoint, message, underlying: underlying)
    }

    public static var closed: EngineError { EngineError(.closed, "the store is closed") }
}
