#if canImport(Glibc)
import Glibc
#endif

/// A bounded pool of connections shared by threads.
///
/// ``withConnection(_:)`` lends one connection to one caller at a time. A
/// connection is checked on checkout (libpq's status, and `SELECT 1` if it
/// sat idle longer than ``Options/idleCheckSeconds``); a broken one is
/// dropped and replaced. When the server cannot be reached, connecting is
/// retried with exponential backoff until ``Options/acquireTimeoutSeconds``
/// has passed, so a pool rides out a server restart. A connection whose
/// lending ends in a `.connection` error is not returned to the pool.
///
/// Invariants: `idle.count + lent ≤ maxConnections`; a connection is idle or
/// lent, never both.
public final class PostgresPool: @unchecked Sendable {
    public struct Options: Sendable {
        public var maxConnections: Int
        /// How long ``withConnection(_:)`` waits for a free connection or for the server.
        public var acquireTimeoutSeconds: Double
        /// An idle connection older than this is pinged before it is lent.
        public var idleCheckSeconds: Double
        /// The first pause between connection attempts; it doubles up to 2 s.
        public var initialBackoffSeconds: Double

        public init(maxConnections: Int = 4, acquireTimeoutSeconds: Double = 30, idleCheckSeconds: Double = 10,
                    initialBackoffSeconds: Double = 0.05) {
            self.maxConnections = maxConnections
            self.acquireTimeoutSeconds = acquireTimeoutSeconds
            self.idleCheckSeconds = idleCheckSeconds
            self.initialBackoffSeconds = initialBackoffSeconds
        }
    }

    public let configuration: PostgresConfiguration
    public let options: Options
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let returned = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var idle: [(connection: PostgresConnection, since: Double)] = []
    private var lent = 0

    public init(_ configuration: PostgresConfiguration = .fromEnvironment(), options: Options = Options()) throws(PostgresError) {
        guard options.maxConnections >= 1, options.acquireTimeoutSeconds >= 0 else {
            throw PostgresError(kind: .decoding, message: "a pool needs at least one connection and a non-negative timeout")
        }
        self.configuration = configuration
        self.options = options
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        returned.initialize(to: pthread_cond_t())
        pthread_cond_init(returned, nil)
    }

    deinit {
        pthread_cond_destroy(returned)
        pthread_mutex_destroy(mutex)
        returned.deallocate()
        mutex.deallocate()
    }

    /// Connections open now (idle or lent).
    public var openConnections: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return idle.count + lent
    }

    /// Lends a healthy connection to `body`.
    public func withConnection<R>(_ body: (PostgresConnection) throws -> R) throws -> R {
        let connection = try acquire()
        do {
            let result = try body(connection)
            release(connection, keep: connection.isHealthy)
            return result
        } catch let error as PostgresError {
            release(connection, keep: error.kind != .connection && connection.isHealthy)
            throw error
        } catch {
            release(connection, keep: connection.isHealthy)
            throw error
        }
    }

    private func acquire() throws(PostgresError) -> PostgresConnection {
        let deadline = Self.now() + options.acquireTimeoutSeconds
        var backoff = options.initialBackoffSeconds
        var lastError: PostgresError?
        while true {
            // A slot: an idle connection, or room for a new one.
            pthread_mutex_lock(mutex)
            while idle.isEmpty && lent >= options.maxConnections {
                guard Self.wait(returned, mutex, until: deadline) else {
                    pthread_mutex_unlock(mutex)
                    throw PostgresError(kind: .connection, message: "no connection free within \(options.acquireTimeoutSeconds) s (pool of \(options.maxConnections))")
                }
            }
            let candidate = idle.popLast()
            lent += 1
            pthread_mutex_unlock(mutex)

            if let (connection, since) = candidate {
                if connection.isHealthy && (Self.now() - since < options.idleCheckSeconds || ping(connection)) {
                    return connection
                }
                // Broken: drop it and connect afresh in its slot.
            }
            do {
                return try PostgresConnection(configuration)
            } catch {
                lastError = error
                pthread_mutex_lock(mutex)
                lent -= 1
                pthread_cond_signal(returned)
                pthread_mutex_unlock(mutex)
                guard Self.now() + backoff < deadline else {
                    throw PostgresError(kind: .connection, message: "cannot connect within \(options.acquireTimeoutSeconds) s: \(lastError!.message)")
                }
                usleep(UInt32(backoff * 1_000_000))
                backoff = Swift.min(backoff * 2, 2)
            }
        }
    }

    private func ping(_ connection: PostgresConnection) -> Bool {
        (try? connection.execute("SELECT 1")) != nil
    }

    private func release(_ connection: PostgresConnection, keep: Bool) {
        pthread_mutex_lock(mutex)
        lent -= 1
        if keep { idle.append((connection, Self.now())) }
        pthread_cond_signal(returned)
        pthread_mutex_unlock(mutex)
    }

    /// Monotonic seconds (for timeouts and timings).
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Waits on `cond` until signalled or `deadline` (monotonic seconds); false on timeout.
    private static func wait(_ cond: UnsafeMutablePointer<pthread_cond_t>, _ mutex: UnsafeMutablePointer<pthread_mutex_t>, until deadline: Double) -> Bool {
        let remaining = deadline - now()
        guard remaining > 0 else { return false }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let target = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 + remaining
        var abs = timespec(tv_sec: Int(target), tv_nsec: Int((target - Double(Int(target))) * 1e9))
        return pthread_cond_timedwait(cond, mutex, &abs) == 0 || now() < deadline
    }
}
