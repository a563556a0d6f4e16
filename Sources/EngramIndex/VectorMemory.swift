/// Where an index keeps its full-precision vectors: on the heap
/// (``HeapVectorMemory``, the default), or wherever a caller's provider puts
/// them. The engine's provider maps an unlinked file, so that an HNSW index
/// that walks on compact codes (and reads its floats only to re-rank) keeps
/// them out of its anonymous memory: they live in the page cache, which the
/// kernel may evict and read back.
///
/// The index itself does no I/O: it asks its provider for a region and hands
/// the old one back. Both calls come under the index's exclusive lock (or
/// before the index is shared), one region at a time: a provider serves one
/// index and holds at most one live region.
///
/// Invariants a provider keeps:
/// - A region is 64-byte aligned, readable and writable over its whole
///   length, and touching any byte of it never faults (a file-backed provider
///   allocates the file's blocks before it maps them: no `SIGBUS` when the
///   disk fills).
/// - ``resize(_:from:to:keeping:)`` keeps the first `keeping` bytes.
public protocol VectorMemory: AnyObject, Sendable {
    /// A region of `newBytes` bytes whose first `keeping` bytes are those of
    /// `old` (`nil` with `oldBytes` 0 at first); `old` is no longer valid
    /// afterwards. On failure `old` is untouched and still valid.
    /// - Throws: ``IndexError/vectorMemoryUnavailable(bytes:errno:)``.
    func resize(
        _ old: UnsafeMutableRawPointer?, from oldBytes: Int, to newBytes: Int, keeping: Int
    ) throws(IndexError) -> UnsafeMutableRawPointer

    /// Gives back the live region (the index is going away).
    func release(_ region: UnsafeMutableRawPointer, bytes: Int)

    /// Whether the regions live in a file mapping (the page cache, evictable)
    /// rather than in the process's anonymous memory.
    var isFileBacked: Bool { get }
}

/// Vectors on the heap: a resize allocates, copies and frees.
public final class HeapVectorMemory: VectorMemory {
    public init() {}

    public func resize(
        _ old: UnsafeMutableRawPointer?, from oldBytes: Int, to newBytes: Int, keeping: Int
    ) throws(IndexError) -> UnsafeMutableRawPointer {
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(newBytes, 64), alignment: 64)
        if let old {
            fresh.copyMemory(from: old, byteCount: Swift.min(keeping, oldBytes, newBytes))
            old.deallocate()
        }
        return fresh
    }

    public func release(_ region: UnsafeMutableRawPointer, bytes: Int) { region.deallocate() }

    public var isFileBacked: Bool { false }
}
