/// An error of the write-ahead log. Causes are kept apart: the caller's
/// mistake (`.invalidArgument`), bytes that break the format (`.corrupt`,
/// naming the segment and offset), the operating system refusing (`.io`,
/// with `errno`), and a log that may have lost data after a failed `fsync`
/// and must be reopened before it is trusted again (`.poisoned`).
public struct WALError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case invalidArgument = "invalid argument"
        case corrupt
        case io
        case poisoned
    }

    public var kind: Kind
    /// The segment file involved, if any.
    public var segment: String?
    /// Byte offset in the segment.
    public var offset: Int?
    public var reason: String
    public var errno: Int32?

    public init(kind: Kind, segment: String? = nil, offset: Int? = nil, reason: String, errno: Int32? = nil) {
        self.kind = kind
        self.segment = segment
        self.offset = offset
        self.reason = reason
        self.errno = errno
    }

    public var description: String {
        var text = "write-ahead log \(kind.rawValue)"
        if let segment { text += " in \(segment)" }
        if let offset { text += " at byte \(offset)" }
        text += ": \(reason)"
        if let errno { text += " (errno \(errno))" }
        return text
    }
}
