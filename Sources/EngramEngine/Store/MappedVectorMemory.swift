import EngramIndex

#if canImport(Glibc)
import Glibc
#endif

/// An HNSW index's float vectors in a memory-mapped file
/// (``StoreOptions/mappedFloatsDirectory``): out of the process's anonymous
/// memory, in the page cache, which the kernel may evict under pressure and
/// read back a page at a time. An index that walks on its compact codes
/// reads the floats only to build and to re-rank, so they need not stay hot.
///
/// The file is scratch, not a durable copy (the log and the checkpoint
/// target are): it is created in the directory and unlinked at once, so it
/// has no name, disappears with its descriptor, and a crash leaves nothing
/// behind (bar the microseconds between the two calls).
///
/// Invariants:
/// - At most one live mapping, of the file's first `mapped.bytes` bytes.
/// - Every mapped byte has disk blocks (`posix_fallocate` before `mmap`):
///   touching the mapping never raises `SIGBUS` on a full disk; the full
///   disk is a typed error when the file grows instead.
/// - Calls come one at a time (`VectorMemory`'s contract: under the
///   index's exclusive lock), so the state needs no lock of its own.
public final class MappedVectorMemory: VectorMemory, @unchecked Sendable {
    /// The directory the file was made in.
    public let directory: String
    private let descriptor: Int32
    /// The file's length: blocks allocated up to here.
    private var fileBytes = 0
    private var mapped: (base: UnsafeMutableRawPointer, bytes: Int)?
    private static let pageBytes = Swift.max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

    /// A fresh, nameless file in `directory` (which must exist and be writable).
    public init(directory: String) throws(EngineError) {
        self.directory = directory
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast())
        template.append(contentsOf: Array(".engram-floats-XXXXXX".utf8CString))
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .io(directory, "cannot create a file for mapped vectors", errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // not inherited by a child the process starts
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard unlink(path) == 0 else {
            let code = errno
            close(fd)
            throw .io(path, "cannot unlink the file for mapped vectors", errno: code)
        }
        descriptor = fd
    }

    deinit {
        if let mapped { munmap(mapped.base, mapped.bytes) }
        close(descriptor)
    }

    public var isFileBacked: Bool { true }

    /// Grows the file first (blocks allocated), maps its first `newBytes`
    /// (rounded up to a page) afresh, then drops the old mapping: the file's
    /// bytes are the rows, so they need no copy. Shrinking truncates the file
    /// after the old mapping is gone.
    public func resize(
        _ old: UnsafeMutableRawPointer?, from oldBytes: Int, to newBytes: Int, keeping: Int
    ) throws(IndexError) -> UnsafeMutableRawPointer {
        let bytes = Swift.max(Self.pageBytes, (newBytes + Self.pageBytes - 1) / Self.pageBytes * Self.pageBytes)
        if bytes > fileBytes {
            let code = posix_fallocate(descriptor, 0, off_t(bytes))
            guard code == 0 else { throw .vectorMemoryUnavailable(bytes: newBytes, errno: code) }
            fileBytes = bytes
        }
        let region = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
        guard let region, region != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw .vectorMemoryUnavailable(bytes: newBytes, errno: errno)
        }
        // Re-ranking reads scattered rows: read back only the page asked for.
        _ = madvise(region, bytes, MADV_RANDOM)
        if let mapped { munmap(mapped.base, mapped.bytes) }
        mapped = (region, bytes)
        if bytes < fileBytes, ftruncate(descriptor, off_t(bytes)) == 0 { fileBytes = bytes }
        return region
    }

    public func release(_ region: UnsafeMutableRawPointer, bytes: Int) {
        guard let mapped, mapped.base == region else { return }
        munmap(mapped.base, mapped.bytes)
        self.mapped = nil
    }
}

/// Where a store's HNSW collections keep their float vectors: the heap, or
/// mapped files in a directory (``StoreOptions/mappedFloatsDirectory``).
struct VectorPlacement: Sendable {
    /// Nil: the heap.
    var mappedDirectory: String?

    static let heap = VectorPlacement(mappedDirectory: nil)

    /// A fresh provider for one HNSW index (nil: the heap).
    func memory() throws(EngineError) -> (any VectorMemory)? {
        guard let mappedDirectory else { return nil }
        return try MappedVectorMemory(directory: mappedDirectory)
    }

    /// The `io` error of collection `name`'s floats that found no room.
    func unavailable(_ name: String, _ reason: String, errno code: Int32? = nil) -> EngineError {
        .io(mappedDirectory ?? "the heap", "collection '\(name)': \(reason)", errno: code)
    }

    /// The engine's error for `error` from collection `name`'s index: no
    /// room for its floats (a full disk under mapped floats) is `io` whatever
    /// the engine was doing, never the data's fault nor the caller's; any
    /// other case is what `otherwise` makes of it. Every path that grows an
    /// HNSW index maps its errors here.
    func engineError(_ error: IndexError, collection name: String, otherwise: (IndexError) -> EngineError) -> EngineError {
        guard case .vectorMemoryUnavailable(let bytes, let code) = error else { return otherwise(error) }
        return unavailable(name, "cannot hold \(bytes) bytes of vectors", errno: code)
    }
}
