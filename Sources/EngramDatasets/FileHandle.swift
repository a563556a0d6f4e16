#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// A POSIX file descriptor with whole-buffer reads and writes; closed on deinit.
package final class PosixFile {
    let fd: Int32
    let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    package static func openForReading(_ path: String) throws(DatasetError) -> PosixFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError(path, "cannot open for reading") }
        return PosixFile(fd: fd, path: path)
    }

    package static func createForWriting(_ path: String) throws(DatasetError) -> PosixFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError(path, "cannot create") }
        return PosixFile(fd: fd, path: path)
    }

    static func ioError(_ path: String, _ what: String) -> DatasetError {
        let code = errno
        return DatasetError(kind: .io, path: path, reason: "\(what): \(String(cString: strerror(code)))", errno: code)
    }

    package func size() throws(DatasetError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.ioError(path, "cannot stat") }
        return Int(st.st_size)
    }

    /// Runs `body` on the whole file mapped read-only (private: the page cache's pages, no copy in
    /// anonymous memory), or read into a buffer where it cannot be mapped (an empty file).
    package func withContents<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let count = try size()
        if count > 0, let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), mapped != UnsafeMutableRawPointer(bitPattern: -1) {
            defer { munmap(mapped, count) }
            _ = madvise(mapped, count, MADV_SEQUENTIAL)
            return try body(UnsafeRawBufferPointer(start: mapped, count: count))
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        try read(into: buffer, count: count, at: 0)
        return try body(UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// Reads exactly `count` bytes at `offset`; a short file is reported as corrupt.
    package func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws(DatasetError) {
        var done = 0
        while done < count {
            let n = pread(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.ioError(path, "read failed")
            }
            if n == 0 {
                throw DatasetError(kind: .corrupt, path: path, offset: offset + done,
                                   reason: "file ends early: expected \(count - done) more bytes")
            }
            done += n
        }
    }

    package func write(_ buffer: UnsafeRawPointer, count: Int) throws(DatasetError) {
        var done = 0
        while done < count {
            let n = systemWrite(fd, buffer + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.ioError(path, "write failed")
            }
            done += n
        }
    }
}
