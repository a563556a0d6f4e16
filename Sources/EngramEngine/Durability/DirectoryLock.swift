import EngramSync
import EngramIndex
import EngramWAL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A store's exclusive hold on its data directory, from `Store.open` to
/// `close()`: two stores writing one log would interleave it.
///
/// Two locks, because no single one covers both cases:
/// - **Across processes**, a POSIX record lock (`fcntl(F_SETLK)`) on the
///   whole of `LOCK`. It belongs to the process, so a child that a
///   `fork`/`posix_spawn` is starting does not inherit it. (An `flock` would
///   be shared with that child until its `exec` closed the descriptor, and
///   a store reopened in that window found its own directory "in use".)
///   The kernel drops it when the process dies, `SIGKILL` included.
/// - **Within the process**, where record locks never conflict, a registry
///   of the held directories by device and inode (so two spellings of one
///   path are one directory).
///
/// Invariants: a directory is in the registry from before `LOCK` is opened
/// until after it is closed, so this process never has two descriptors on
/// one `LOCK` (closing any descriptor on a file drops the process's record
/// locks on it). `release()` runs once; later calls do nothing.
final class DirectoryLock: Sendable {
    private struct Key: Hashable { let device: UInt64, inode: UInt64 }

    /// The directories this process holds.
    private static let held = Locked<Set<Key>>([])

    private let key: Key
    private let fd: Atomic<Int32>

    private init(key: Key, fd: Int32) {
        self.key = key
        self.fd = Atomic(fd)
    }

    deinit { release() }

    /// Creates `directory` (and missing parents) if needed and takes it.
    /// Throws `.invalidArgument` if a store, in this process or another,
    /// has it open. `shared` (a read-only store): the directory must exist
    /// and nothing is created; other read-only processes may hold it too,
    /// a writer may not.
    static func acquire(_ directory: String, shared: Bool = false) throws(EngineError) -> DirectoryLock {
        if !shared { try DataDirectory.create(directory) }
        var st = stat()
        guard stat(directory, &st) == 0 else {
            if shared && errno == ENOENT { throw .invalidArgument("no data directory at \(directory)") }
            throw .io(directory, "cannot stat the data directory", errno: errno)
        }
        let key = Key(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        let inUse = EngineError.invalidArgument("the data directory \(directory) is in use by another open store")
        guard held.withLock({ $0.insert(key).inserted }) else { throw inUse }
        let path = directory + "/LOCK"
        let fd = shared ? Glibc.open(path, O_RDONLY | O_CLOEXEC) : Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, WriteAheadLog.fileMode)
        guard fd >= 0 else {
            let error = errno
            _ = held.withLock { $0.remove(key) }
            if shared && error == ENOENT { throw .invalidArgument("\(directory) is not an Engram data directory (no LOCK file)") }
            throw .io(path, "cannot open the lock file", errno: error)
        }
        var whole = flock()
        whole.l_type = Int16(shared ? F_RDLCK : F_WRLCK)
        whole.l_whence = Int16(SEEK_SET)
        whole.l_start = 0
        whole.l_len = 0  // to the end of the file, however long
        guard fcntl(fd, F_SETLK, &whole) == 0 else {
            let error = errno
            Glibc.close(fd)
            _ = held.withLock { $0.remove(key) }
            if error == EACCES || error == EAGAIN { throw inUse }
            throw .io(path, "cannot lock the lock file", errno: error)
        }
        return DirectoryLock(key: key, fd: fd)
    }

    /// Gives the directory up: closes `LOCK` (dropping the record lock),
    /// then leaves the registry.
    func release() {
        let fd = fd.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        Glibc.close(fd)
        _ = Self.held.withLock { $0.remove(key) }
    }
}
