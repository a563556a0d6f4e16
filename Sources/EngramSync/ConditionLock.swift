#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable (`pthread_mutex_t` + `pthread_cond_t`),
/// for a type whose threads wait for each other's changes: a leader and its
/// followers, a producer and its consumer, a pool and its borrowers.
///
/// The guarded state is the owner's own stored properties; the rule is that
/// they are read and written only inside ``withLock(_:)``. Inside it,
/// ``wait()`` releases the mutex until another thread calls ``broadcast()``
/// or ``signal()`` (re-check the condition in a loop: wake-ups may be
/// spurious), and ``unlocked(_:)`` releases it around slow work (I/O, an
/// apply step) that must not hold other threads off.
///
/// Timed waits measure against `CLOCK_MONOTONIC`, so a wall-clock jump
/// neither cuts a wait short nor stretches it. Like ``Locked``, this uses
/// pthreads rather than `Synchronization.Mutex` so that the thread sanitizer
/// sees every synchronisation.
package final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` holding the mutex.
    package func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Inside ``withLock(_:)``: releases the mutex until woken, then takes it again.
    package func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Inside ``withLock(_:)``: as ``wait()``, but gives up at `deadline`
    /// (``MonotonicClock/seconds()``); false once the deadline has passed.
    package func wait(until deadline: Double) -> Bool {
        let remaining = deadline - MonotonicClock.seconds()
        guard remaining > 0 else { return false }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nanoseconds = Int(now.tv_nsec) + Int((remaining - remaining.rounded(.down)) * 1e9)
        var target = timespec(tv_sec: now.tv_sec + Int(remaining.rounded(.down)) + nanoseconds / 1_000_000_000,
                              tv_nsec: nanoseconds % 1_000_000_000)
        _ = pthread_cond_timedwait(condition, mutex, &target)
        return MonotonicClock.seconds() < deadline
    }

    /// Inside ``withLock(_:)``: runs `body` with the mutex released, then takes it again.
    package func unlocked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_unlock(mutex)
        defer { pthread_mutex_lock(mutex) }
        return try body()
    }

    /// Wakes every waiter.
    package func broadcast() { pthread_cond_broadcast(condition) }

    /// Wakes one waiter.
    package func signal() { pthread_cond_signal(condition) }
}
