import EngramSync

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
    /// Guards `idle` and `lent`; signalled when a slot frees up.
    private let returned = ConditionLock()
    private var idle: [(connection: PostgresConnection, since: Double)] = []
    private var lent = 0

    public init(_ configuration: PostgresConfiguration = .fromEnvironment(), options: Options = Options()) throws(PostgresError) {
        guard options.maxConnections >= 1, options.acquireTimeoutSeconds >= 0 else {
            throw PostgresError(kind: .invalidArgument, message: "a pool needs at least one connection and a non-negative timeout")
        }
        self.configuration = configuration
        self.options = options
    }

    /// Connections open now (idle or lent).
    public var openConnections: Int {
        returned.withLock { idle.count + lent }
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
        while true {
            // A slot: an idle connection, or room for a new one.
            let candidate = try returned.withLock { () throws(PostgresError) -> (connection: PostgresConnection, since: Double)? in
                while idle.isEmpty && lent >= options.maxConnections {
                    guard returned.wait(until: deadline) else {
                        throw PostgresError(kind: .connection, message: "no connection free within \(options.acquireTimeoutSeconds) s (pool of \(options.maxConnections))")
                    }
                }
                lent += 1
                return idle.popLast()
            }

            if let (connection, since) = candidate {
                if connection.isHealthy && (Self.now() - since < options.idleCheckSeconds || ping(connection)) {
                    return connection
                }
                // Broken: drop it and connect afresh in its slot.
            }
            do {
                return try PostgresConnection(configuration)
            } catch {
                returned.withLock {
                    lent -= 1
                    returned.signal()
                }
                guard Self.now() + backoff < deadline else {
                    throw PostgresError(kind: .connection, message: "cannot connect within \(options.acquireTimeoutSeconds) s: \(error.message)")
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
        returned.withLock {
            lent -= 1
            if keep { idle.append((connection, Self.now())) }
            returned.signal()
        }
    }

    /// Monotonic seconds (for timeouts and timings).
    static func now() -> Double { MonotonicClock.seconds() }
}
