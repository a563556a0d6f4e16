/// When the ``Checkpointer`` checkpoints: a pure state machine over the
/// clock and the log's growth, so its retry and backoff are tested as
/// transcripts (`CheckpointerPolicyTests`) with no thread, clock or server.
///
/// A checkpoint is due once ``Checkpointer/Schedule/intervalSeconds`` have
/// passed since the last success, or the log has grown by
/// ``Checkpointer/Schedule/logBytes`` since then. After a failure the next
/// attempt waits the backoff, which starts at
/// ``Checkpointer/Schedule/initialBackoffSeconds`` and doubles after each
/// failure up to ``Checkpointer/Schedule/maxBackoffSeconds``; while a retry
/// is pending, only the retry time counts. A success resets both.
///
/// Invariants: `backoff` is within [initial, max]; `retryAt` is set exactly
/// while the last attempt failed.
struct CheckpointerPolicy: Equatable {
    let schedule: Checkpointer.Schedule
    private(set) var lastCheckpoint: Double
    private(set) var loggedAtLast: Int
    private(set) var backoff: Double
    private(set) var retryAt: Double?

    init(schedule: Checkpointer.Schedule, now: Double, logged: Int) {
        self.schedule = schedule
        lastCheckpoint = now
        loggedAtLast = logged
        backoff = schedule.initialBackoffSeconds
    }

    /// Whether to checkpoint now, with `logged` bytes logged so far.
    func isDue(now: Double, logged: Int) -> Bool {
        if let retryAt { return now >= retryAt }
        return now - lastCheckpoint >= schedule.intervalSeconds || logged - loggedAtLast >= schedule.logBytes
    }

    mutating func succeeded(now: Double, logged: Int) {
        lastCheckpoint = now
        loggedAtLast = logged
        backoff = schedule.initialBackoffSeconds
        retryAt = nil
    }

    mutating func failed(now: Double) {
        retryAt = now + backoff
        backoff = Swift.min(backoff * 2, schedule.maxBackoffSeconds)
    }

    /// How long to sleep before looking again: until the next due time, at
    /// most 1 s (the log may grow meanwhile) and at least 10 ms.
    func pause(now: Double) -> Double {
        let next = retryAt ?? (lastCheckpoint + schedule.intervalSeconds)
        return Swift.max(0.01, Swift.min(1, next - now))
    }
}

