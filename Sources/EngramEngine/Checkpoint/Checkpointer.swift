import EngramSync
import Dispatch
import EngramIndex
import Synchronization

/// Checkpoints a store in the background (``Store/startCheckpointing(to:schedule:)``):
/// every ``Schedule/intervalSeconds``, and sooner once the log has grown by
/// ``Schedule/logBytes``. A failed checkpoint (the database is down, the
/// transaction failed) loses nothing, since the log keeps every change; it
/// is retried with exponential backoff, from ``Schedule/initialBackoffSeconds``
/// up to ``Schedule/maxBackoffSeconds``, until the database is back and the
/// checkpoints converge.
///
/// Invariants: at most one checkpoint runs at a time (the store serialises
/// them too); after ``stop()`` returns, no checkpoint is running or will
/// start.
public final class Checkpointer: @unchecked Sendable {
    public struct Schedule: Sendable, Equatable {
        public var intervalSeconds: Double
        public var logBytes: Int
        public var initialBackoffSeconds: Double
        public var maxBackoffSeconds: Double
        /// Also store each collection's graph every this many checkpoints (0: never).
        public var graphEvery: Int

        public init(intervalSeconds: Double = 60, logBytes: Int = 256 << 20, initialBackoffSeconds: Double = 1,
                    maxBackoffSeconds: Double = 60, graphEvery: Int = 0) {
            self.intervalSeconds = intervalSeconds
            self.logBytes = logBytes
            self.initialBackoffSeconds = initialBackoffSeconds
            self.maxBackoffSeconds = maxBackoffSeconds
            self.graphEvery = graphEvery
        }
    }

    /// What the checkpointer has done so far.
    public struct Status: Sendable {
        public var committed = 0
        public var failures = 0
        /// Failures since the last success.
        public var consecutiveFailures = 0
        public var lastError: String?
        public var lastLSN: UInt64 = 0
    }

    private weak var store: Store?
    private let target: CheckpointTarget
    public let schedule: Schedule
    private let state = Locked<Status>(Status())
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    init(store: Store, target: CheckpointTarget, schedule: Schedule) {
        self.store = store
        self.target = target
        self.schedule = schedule
        DispatchQueue(label: "engram.checkpointer").async { [self] in run() }
    }

    public var status: Status { state.withLock { $0 } }

    /// Stops the loop, waiting for a running checkpoint to finish.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wake.signal()
        stopped.wait()
    }

    /// Asks for a checkpoint now (the loop's next pass).
    public func kick() { wake.signal() }

    private func run() {
        defer { stopped.signal() }
        var policy = CheckpointerPolicy(schedule: schedule, now: MonotonicClock.seconds(),
                                        logged: store?.loggedBytes.load(ordering: .relaxed) ?? 0)
        while !stopping.load(ordering: .acquiring) {
            // The store is held only during a pass, never while sleeping: a dropped store ends the loop.
            guard pass(&policy) else { return }
            _ = wake.wait(timeout: .now() + policy.pause(now: MonotonicClock.seconds()))
        }
    }

    /// Checkpoints if one is due; false once the store is gone or closed.
    private func pass(_ policy: inout CheckpointerPolicy) -> Bool {
        guard let store else { return false }
        let logged = store.loggedBytes.load(ordering: .relaxed)
        guard policy.isDue(now: MonotonicClock.seconds(), logged: logged) else { return true }
        let withGraphs = schedule.graphEvery > 0 && (state.withLock { $0.committed } + 1) % schedule.graphEvery == 0
        do throws(EngineError) {
            let report = try store.checkpoint(to: target, withGraphs: withGraphs)
            state.withLock {
                $0.committed += 1
                $0.consecutiveFailures = 0
                $0.lastError = nil
                $0.lastLSN = report.lsn
            }
            policy.succeeded(now: MonotonicClock.seconds(), logged: logged)
        } catch {
            if error.code == .closed { return false }
            state.withLock {
                $0.failures += 1
                $0.consecutiveFailures += 1
                $0.lastError = "\(error)"
            }
            policy.failed(now: MonotonicClock.seconds())
        }
        return true
    }
}

extension Store {
    /// Starts checkpointing this store to `target` in the background (see
    /// ``Checkpointer``); `Store.close()` stops it. One per store: starting
    /// another stops the previous one.
    @discardableResult
    public func startCheckpointing(to target: CheckpointTarget, schedule: Checkpointer.Schedule = .init()) throws(EngineError) -> Checkpointer {
        try checkWritable()
        let checkpointer = Checkpointer(store: self, target: target, schedule: schedule)
        let previous = background.withLock { slot -> Checkpointer? in
            defer { slot = checkpointer }
            return slot
        }
        previous?.stop()
        return checkpointer
    }

    /// Stops background checkpointing, if it runs.
    public func stopCheckpointing() {
        background.withLock { slot -> Checkpointer? in
            defer { slot = nil }
            return slot
        }?.stop()
    }
}
