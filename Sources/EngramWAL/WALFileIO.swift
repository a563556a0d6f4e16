#if canImport(Glibc)
import Glibc
#endif

/// The write-side system calls of the log, as a seam (in the style of
/// swift-system's mocking hooks) so tests can inject a short write, `EIO`
/// from `fsync` or `ENOSPC` from `write` without a special file system.
/// Each function follows its C counterpart: it returns −1 and sets `errno`
/// on failure.
public struct WALFileIO: Sendable {
    public var write: @Sendable (Int32, UnsafeRawPointer, Int) -> Int
    public var fsync: @Sendable (Int32) -> Int32

    public init(
        write: @escaping @Sendable (Int32, UnsafeRawPointer, Int) -> Int,
        fsync: @escaping @Sendable (Int32) -> Int32
    ) {
        self.write = write
        self.fsync = fsync
    }

    /// The real `write(2)` and `fsync(2)`.
    public static let posix = WALFileIO(
        write: { fd, buffer, count in Glibc.write(fd, buffer, count) },
        fsync: { fd in Glibc.fsync(fd) })
}
