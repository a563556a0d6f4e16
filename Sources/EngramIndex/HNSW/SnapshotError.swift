/// Why an index snapshot could not be loaded. Every kind but one is a
/// property of the bytes (the index does no I/O; reading the file is the
/// caller's), so they are corruption-class errors, kept apart from
/// ``IndexError``. The exception, ``Kind/vectorMemoryUnavailable``, is a
/// resource failure of the caller's ``VectorMemory``.
public struct SnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Shorter than its header says.
        case truncated
        /// Not a snapshot of this kind (bad magic) or a byte order it cannot read.
        case notASnapshot = "not a snapshot"
        /// A format version this build does not read.
        case unsupportedVersion = "unsupported version"
        /// The CRC-32C does not match the bytes.
        case checksumMismatch = "checksum mismatch"
        /// Checksummed, but the contents break the format's rules.
        case corrupt
        /// The caller's ``VectorMemory`` could not hold the vectors (a full
        /// disk under a mapped file): nothing is wrong with the bytes.
        case vectorMemoryUnavailable = "vector memory unavailable"
    }

    public var kind: Kind
    /// Byte offset where the problem was found.
    public var offset: Int
    public var reason: String

    public var description: String { "index snapshot \(kind.rawValue) at byte \(offset): \(reason)" }

    /// For every module's snapshot readers (the indexes here, the text index).
    package init(kind: Kind, offset: Int, reason: String) {
        self.kind = kind
        self.offset = offset
        self.reason = reason
    }
}
