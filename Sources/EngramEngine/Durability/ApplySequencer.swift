import EngramSync

/// Applies durable log records to memory in LSN order, whichever thread
/// made them durable, so that concurrent writers share the log's fsyncs
/// (group commit) and memory still changes in exactly the log's order.
///
/// A writer submits its record's apply step once the log says the record
/// is durable. Whoever finds the next LSN ready takes the *applier* role,
/// applies every consecutive ready record, and wakes the others; each
/// writer returns once its own record is applied.
///
/// Invariants:
/// - `appliedLSN` only grows, one by one: every record at or below it is
///   applied, none above it is.
/// - At most one thread is the applier (`applying`); ``paused(_:)`` holds
///   that role, so memory is still while it runs.
/// - After an apply step fails, the sequencer is `failed` and refuses every
///   later record: memory no longer matches the log, so the store must be
///   reopened (recovery replays the log).
///
/// LSNs must be submitted without gaps: the log assigns them contiguously,
/// and a record that was logged but whose caller saw an error (a failed
/// fsync) leaves the log poisoned, so no later record is ever submitted.
final class ApplySequencer: @unchecked Sendable {
    typealias Step = () throws(EngineError) -> Int

    /// Guards every property below; broadcast when a record is applied or the applier role is released.
    private let changed = ConditionLock()
    private var ready: [UInt64: Step] = [:]
    private var outcomes: [UInt64: Result<Int, EngineError>] = [:]
    private var applying = false
    private var failure: EngineError?
    private var applied: UInt64

    init(appliedLSN: UInt64) {
        applied = appliedLSN
    }

    /// Every record at or below it is applied.
    var appliedLSN: UInt64 {
        changed.withLock { applied }
    }

    /// Applies the durable record `lsn` with `step` once every record before
    /// it is applied; returns `step`'s result.
    func submit(lsn: UInt64, _ step: @escaping Step) throws(EngineError) -> Int {
        try changed.withLock { () throws(EngineError) -> Int in
            if let failure { throw failure }
            ready[lsn] = step
            while true {
                if let outcome = outcomes.removeValue(forKey: lsn) { return try outcome.get() }
                if let failure { throw failure }
                if !applying, ready[applied + 1] != nil {
                    drain()
                    continue
                }
                changed.wait()
            }
        }
    }

    /// Applies consecutive ready records (lock held; released while applying).
    private func drain() {
        applying = true
        while let step = ready.removeValue(forKey: applied + 1), failure == nil {
            let lsn = applied + 1
            let outcome = changed.unlocked { () -> Result<Int, EngineError> in
                do throws(EngineError) { return .success(try step()) } catch { return .failure(error) }
            }
            outcomes[lsn] = outcome
            if case .failure(let error) = outcome {
                let failed = EngineError.corrupt("applying log record \(lsn) failed, so memory no longer matches the log; reopen the store: \(error)")
                failure = failed
                for pending in ready.keys { outcomes[pending] = .failure(failed) }
                ready.removeAll()
            } else {
                applied = lsn
            }
        }
        applying = false
        changed.broadcast()
    }

    /// Moves the applied LSN to `lsn` when the log restarts there (nothing
    /// may be pending: the store is fresh).
    func restart(appliedLSN lsn: UInt64) {
        changed.withLock { applied = lsn }
    }

    /// Runs `body` with the applied LSN while no record is applied, so that
    /// it sees memory exactly as of that LSN (writers keep logging; their
    /// records are applied after).
    func paused<R, E: Error>(_ body: (UInt64) throws(E) -> R) throws(E) -> R {
        let lsn = changed.withLock {
            while applying { changed.wait() }
            applying = true
            return applied
        }
        defer {
            changed.withLock {
                applying = false
                changed.broadcast()
            }
        }
        return try body(lsn)
    }
}
