#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, for tests that run under the thread
/// sanitizer (Swift's `Synchronization.Mutex` waits on raw futexes on Linux,
/// which the sanitizer cannot see, so it reports false races through it).
public final class TestLock<State>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var state: State

    public init(_ state: State) {
        self.state = state
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
