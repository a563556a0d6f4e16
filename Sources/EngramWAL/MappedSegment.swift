#if canImport(Glibc)
import Glibc
#endif

/// A segment file mapped read-only for recovery: replay reads the page
/// cache's own pages instead of copying every byte of the log into a
/// buffer first (the copy and the buffer's page faults cost as much as the
/// checksums).
///
/// Invariants: `bytes` covers the whole file as it was when mapped (empty
/// for an empty file) and stays valid until the mapping is released (deinit).
/// Only the opening thread, which holds the data directory's lock, maps a
/// segment, so no other writer can shorten the file under the mapping.
final class MappedSegment {
    let bytes: UnsafeRawBufferPointer

    init(_ path: String) throws(WALError) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteAheadLog.ioError(path, "cannot open for reading") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw WriteAheadLog.ioError(path, "cannot stat") }
        let size = Int(st.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        // MAP_POPULATE: the pages are mapped (read ahead if they are not cached) in one call.
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), base != MAP_FAILED else {
            throw WriteAheadLog.ioError(path, "cannot map for reading")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
