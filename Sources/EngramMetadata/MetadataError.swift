/// Why metadata bytes or text could not be read: always the input's fault
/// (malformed JSON from a caller, or corrupt stored bytes), with the byte offset.
public struct MetadataError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public var description: String { "metadata at byte \(offset): \(reason)" }
}
