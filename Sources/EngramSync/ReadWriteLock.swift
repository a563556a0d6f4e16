#if canImport(Glibc)
import Glibc
#endif

/// A `pthread_rwlock_t`: many readers or one writer.
///
/// ``HNSWIndex`` holds it shared for searches, inserts and deletes (which
/// synchronise among themselves per node) and exclusive for whatever moves
/// or rewrites storage wholesale: growth, compaction, snapshots.
///
/// By default readers are preferred: a reader gets in while a writer waits,
/// so a thread may take the read lock again while holding it, but readers
/// that keep overlapping can hold a writer off indefinitely. Preferring
/// writers (`preferringWriters: true`), a waiting writer holds off new
/// readers; a thread must then never take the read lock it already holds
/// (it would wait behind the writer, which waits for it).
package final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    package init(preferringWriters: Bool = false) {
        lock.initialize(to: pthread_rwlock_t())
        guard preferringWriters else {
            pthread_rwlock_init(lock, nil)
            return
        }
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    package func withReadLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Runs `body` under the read lock if it can be had at once (no writer
    /// holds it, nor, when writers are preferred, waits for it); else nil.
    package func withReadLockIfFree<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R? {
        guard pthread_rwlock_tryrdlock(lock) == 0 else { return nil }
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    package func withWriteLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
