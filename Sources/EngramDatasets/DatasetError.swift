/// Errors reading or writing dataset files.
///
/// Kept apart by kind: ``Kind/io`` is the operating system refusing an
/// operation; ``Kind/corrupt`` is a file whose bytes do not match its format
/// (truncated, inconsistent); ``Kind/invalidArgument`` is a caller error.
/// Every error names the file and, for corrupt files, the byte offset where
/// the problem starts.
public struct DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case io
        case corrupt
        case invalidArgument = "invalid argument"
    }

    public var kind: Kind
    /// The file's path.
    public var path: String
    /// Byte offset in the file where the problem was found (corrupt files).
    public var offset: Int?
    /// What went wrong, in words.
    public var reason: String
    /// The `errno` value, for I/O errors.
    public var errno: Int32?

    public init(kind: Kind, path: String, offset: Int? = nil, reason: String, errno: Int32? = nil) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.reason = reason
        self.errno = errno
    }

    public var description: String {
        var text = "\(path)"
        if let offset { text += " at byte \(offset)" }
        text += ": \(reason)"
        if let errno { text += " (errno \(errno))" }
        return text
    }
}
