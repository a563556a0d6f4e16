import EngramChecksum
import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

/// The files of a store's data directory (Docs/ENGINE.md):
///
/// | path | what |
/// |---|---|
/// | `LOCK` | locked while a store has the directory open (``DirectoryLock``) |
/// | `wal/wal-<first LSN>.seg` | the write-ahead log's segments |
/// | `snapshot-<LSN>.engram` | local snapshots; only the newest is kept |
enum DataDirectory {
    /// The store's identity: 32 hex digits in the file `STORE`, made at
    /// random (and durably) the first time the directory is opened. A
    /// database that takes this store's checkpoints records it, and refuses
    /// another store's (Docs/POSTGRES.md).
    static func storeID(_ directory: String, creating: Bool = true) throws(EngineError) -> String {
        let path = directory + "/STORE"
        if let bytes = read(path) {
            let text = String(decoding: bytes.filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }, as: UTF8.self)
            guard text.count == 32, text.allSatisfy(\.isHexDigit) else { throw .corrupt("\(path) does not hold a store id") }
            return text
        }
        guard creating else { throw .invalidArgument("\(directory) is not an Engram data directory (no STORE file)") }
        var random = SystemRandomNumberGenerator()
        let id = (0..<4).map { _ in
            let word = String(random.next() as UInt32, radix: 16)
            return String(repeating: "0", count: 8 - word.count) + word
        }.joined()
        try writeStoreID(id, in: directory)
        return id
    }

    /// Records `id` as the directory's store id, durably.
    static func writeStoreID(_ id: String, in directory: String) throws(EngineError) {
        try writeDurably(Array((id + "\n").utf8), to: directory + "/STORE")
    }

    /// The `CHECKPOINT` file: the LSN of the last checkpoint the store
    /// committed to its database, written durably after each commit, so a
    /// crash before the next snapshot does not make the store forget it
    /// (Docs/FORMATS.md). 24 bytes, little-endian: magic `ENGRCKPT`, u32
    /// version 1, u64 LSN, u32 CRC-32C of the 20 bytes before it.
    static let checkpointFile = "CHECKPOINT"
    static let checkpointMagic: [UInt8] = Array("ENGRCKPT".utf8)

    static func writeCheckpointLSN(_ lsn: UInt64, in directory: String) throws(EngineError) {
        try writeDurably(encodeCheckpointLSN(lsn), to: "\(directory)/\(checkpointFile)")
    }

    /// The `CHECKPOINT` file's bytes for `lsn`.
    static func encodeCheckpointLSN(_ lsn: UInt64) -> [UInt8] {
        var out = checkpointMagic
        withUnsafeBytes(of: UInt32(1).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: lsn.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32C.checksum(out).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// The recorded checkpoint LSN: 0 if there is no file, `.corrupt` if it
    /// does not pass its checks.
    static func readCheckpointLSN(in directory: String) throws(EngineError) -> UInt64 {
        let path = "\(directory)/\(checkpointFile)"
        guard let bytes = read(path) else {
            if errno == ENOENT { return 0 }
            throw .io(path, "cannot read the checkpoint file", errno: errno)
        }
        return try decodeCheckpointLSN(bytes, path: path)
    }

    /// The LSN a `CHECKPOINT` file's bytes hold; `.corrupt` unless they pass every check.
    static func decodeCheckpointLSN(_ bytes: [UInt8], path: String) throws(EngineError) -> UInt64 {
        func field<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        guard bytes.count == 24, Array(bytes[0..<8]) == checkpointMagic, field(8, UInt32.self) == 1,
              CRC32C.checksum(Array(bytes[0..<20])) == field(20, UInt32.self)
        else { throw .corrupt("\(path) fails its checks (length, magic, version, checksum)") }
        let lsn = field(12, UInt64.self)
        guard lsn <= WriteAheadLog.maxLSN else { throw .corrupt("\(path) holds LSN \(lsn), beyond the largest LSN") }
        return lsn
    }

    /// Creates the directory and its missing parents.
    static func create(_ directory: String) throws(EngineError) {
        var path = ""
        for part in directory.split(separator: "/", omittingEmptySubsequences: false) {
            path += path.isEmpty && part.isEmpty ? "/" : (path.isEmpty || path == "/" ? "" : "/") + part
            guard !part.isEmpty else { continue }
            do { try WriteAheadLog.makeDirectory(path) } catch {
                throw .io(error)
            }
        }
    }

    /// The snapshots in `directory`, oldest first.
    static func snapshotFiles(_ directory: String) -> [(lsn: UInt64, path: String)] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found = [(lsn: UInt64, path: String)]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("snapshot-"), name.hasSuffix(".engram"), let lsn = UInt64(name.dropFirst(9).dropLast(7))
            else { continue }
            found.append((lsn, "\(directory)/\(name)"))
        }
        return found.sorted { $0.lsn < $1.lsn }
    }

    /// The whole file, or nil (errno set) if it cannot be read.
    static func read(_ path: String) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { return Array(out[0..<done]) }
            done += n
        }
        return out
    }

    /// Writes `bytes` to `path.tmp`, fsyncs, renames over `path`, fsyncs the directory.
    static func writeDurably(_ bytes: [UInt8], to path: String) throws(EngineError) {
        try publish(try writeTemporary(bytes, for: path), as: path)
    }

    /// Writes `bytes` to `<path>.tmp` and fsyncs it; returns that path
    /// (``publish(_:as:)`` then puts it in place).
    static func writeTemporary(_ bytes: [UInt8], for path: String) throws(EngineError) -> String {
        let temporary = path + ".tmp"
        func fail(_ what: String) -> EngineError {
            .io(temporary, what, errno: errno)
        }
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, WriteAheadLog.fileMode)
        guard fd >= 0 else { throw fail("cannot create") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = fail("write failed")
                close(fd)
                unlink(temporary)
                throw error
            }
            done += n
        }
        guard fsync(fd) == 0 else {
            let error = fail("fsync failed")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        return temporary
    }

    /// Renames a durably written temporary file to `path` and makes the
    /// rename durable: a crash leaves the old file or the new one.
    static func publish(_ temporary: String, as path: String) throws(EngineError) {
        guard rename(temporary, path) == 0 else {
            throw .io(path, "rename failed", errno: errno)
        }
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        do { try WriteAheadLog.syncDirectory(dir.isEmpty ? "." : dir) } catch {
            throw .io(error)
        }
    }

    /// Bytes held by the files at `paths`.
    static func size(of paths: [String]) -> Int {
        paths.reduce(0) { total, path in
            var st = stat()
            return total + (stat(path, &st) == 0 ? Int(st.st_size) : 0)
        }
    }
}
