import EngramSync

#if canImport(Glibc)
import Glibc
#endif

/// A ``WriteAheadLog`` shared by concurrent writers, with group commit:
/// records that arrive while one `fsync` is in flight are written together
/// and made durable by the next single `fsync`.
///
/// Durability modes (what `append` guarantees when it returns):
/// - `.fsync`: the record is on stable storage. Concurrent callers share
///   fsyncs (a caller waits at most for the fsync in flight plus its own).
/// - `.groupCommit(maxDelayMicroseconds:)`: the same guarantee, but the
///   writer that leads a batch first waits up to the delay for more records,
///   trading that much latency for fewer fsyncs under light concurrency.
/// - `.osBuffered`: the record is in the OS page cache: it survives a crash
///   of this process, not of the machine, until ``sync()``.
///
/// Concurrency contract: `append` and `sync` may be called from any thread.
/// One caller at a time (the *leader*) writes the queued batch; the others
/// wait on a condition variable and return their own LSN or the batch's
/// error. Records keep the order in which callers were queued.
public final class GroupCommitLog: @unchecked Sendable {
    public enum Mode: Sendable, Equatable {
        case fsync
        case groupCommit(maxDelayMicroseconds: Int)
        case osBuffered
    }

    private struct Pending {
        var type: UInt8
        var payload: [UInt8]
        var ticket: Int
    }

    private let log: WriteAheadLog
    public let mode: Mode
    /// Guards the properties below; broadcast when a batch is done.
    private let done = ConditionLock()
    private var queue = [Pending]()
    private var results = [Int: Result<UInt64, WALError>]()
    private var nextTicket = 0
    private var leading = false
    /// Batches written and fsyncs issued, for tests and metrics.
    public private(set) var batches = 0
    public private(set) var syncs = 0

    /// Wraps `log`, which must have been opened with `.osBuffered` durability
    /// (this type decides when to fsync).
    public init(log: WriteAheadLog, mode: Mode) throws {
        guard log.options.durability == .osBuffered else {
            throw WALError(kind: .invalidArgument, reason: "open the WriteAheadLog with .osBuffered; GroupCommitLog issues the fsyncs")
        }
        if case .groupCommit(let delay) = mode, !(0...1_000_000).contains(delay) {
            throw WALError(kind: .invalidArgument, reason: "a group-commit delay must be 0 to 1000000 µs, got \(delay)")
        }
        self.log = log
        self.mode = mode
    }

    /// Appends one record; returns its LSN once the mode's guarantee holds.
    public func append(type: UInt8, payload: [UInt8]) throws(WALError) -> UInt64 {
        try done.withLock { () throws(WALError) -> UInt64 in
            let ticket = nextTicket
            nextTicket += 1
            queue.append(Pending(type: type, payload: payload, ticket: ticket))
            while true {
                if let result = results.removeValue(forKey: ticket) { return try result.get() }
                if !leading {
                    lead()
                    continue
                }
                done.wait()
            }
        }
    }

    /// Writes the queue as one batch (called with the lock held; releases
    /// it while doing I/O).
    private func lead() {
        leading = true
        if case .groupCommit(let delay) = mode, delay > 0 {
            done.unlocked { _ = usleep(useconds_t(delay)) }
        }
        let batch = queue
        queue.removeAll(keepingCapacity: true)
        let (outcomes, synced) = done.unlocked { write(batch) }
        for (ticket, outcome) in outcomes { results[ticket] = outcome }
        batches += 1
        syncs += synced
        leading = false
        done.broadcast()
    }

    /// Appends `batch` to the log and, unless `.osBuffered`, fsyncs it once;
    /// returns each caller's outcome and the number of fsyncs (0 or 1).
    private func write(_ batch: [Pending]) -> (outcomes: [Int: Result<UInt64, WALError>], syncs: Int) {

        var outcomes = [Int: Result<UInt64, WALError>]()
        var failure: WALError?
        var synced = 0
        for item in batch {
            if let failure {
                outcomes[item.ticket] = .failure(failure)
                continue
            }
            do {
                outcomes[item.ticket] = .success(try log.append(type: item.type, payload: item.payload))
            } catch {
                let failed = error as? WALError ?? WALError(kind: .io, reason: "\(error)")
                failure = failed
                outcomes[item.ticket] = .failure(failed)
            }
        }
        if mode != .osBuffered && outcomes.values.contains(where: { if case .success = $0 { return true } else { return false } }) {
            do {
                try log.sync()
                synced = 1
            } catch {
                // Nothing in the batch is durable: every caller sees the error.
                let e = error as? WALError ?? WALError(kind: .io, reason: "\(error)")
                for key in outcomes.keys { outcomes[key] = .failure(e) }
            }
        }
        return (outcomes, synced)
    }

    /// Makes every appended record durable (for `.osBuffered` callers).
    public func sync() throws(WALError) {
        try withExclusiveLog { log throws(WALError) in
            do { try log.sync() } catch { throw error as? WALError ?? WALError(kind: .io, reason: "\(error)") }
        }
    }

    /// Runs `body` with the log while no batch is being written (for
    /// truncation and for reading its state); appends wait meanwhile.
    public func withExclusiveLog<R, E: Error>(_ body: (WriteAheadLog) throws(E) -> R) throws(E) -> R {
        done.withLock {
            while leading { done.wait() }
            leading = true
        }
        defer {
            done.withLock {
                leading = false
                done.broadcast()
            }
        }
        return try body(log)
    }
}
