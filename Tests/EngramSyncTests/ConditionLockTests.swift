import EngramSync
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The condition wrapper: waiters wake on broadcast with the lock held, a
/// timed wait gives up at its deadline, and `unlocked` lets others in.
@Suite("ConditionLock")
struct ConditionLockTests {
    /// A bounded queue of 4 between 3 producers and 3 consumers, 3,000 items:
    /// every item arrives exactly once and the bound is never exceeded.
    @Test func boundedQueueHandsOverEveryItem() {
        final class Queue: @unchecked Sendable {
            let lock = ConditionLock()
            var items: [Int] = []
            var taken: [Int] = []
            var highWater = 0
        }
        let queue = Queue()
        let perProducer = 1_000
        runOnThreads(6) { thread in
            if thread < 3 {
                for i in 0..<perProducer {
                    queue.lock.withLock {
                        while queue.items.count >= 4 { queue.lock.wait() }
                        queue.items.append(thread * perProducer + i)
                        queue.highWater = max(queue.highWater, queue.items.count)
                        queue.lock.broadcast()
                    }
                }
            } else {
                for _ in 0..<perProducer {
                    queue.lock.withLock {
                        while queue.items.isEmpty { queue.lock.wait() }
                        queue.taken.append(queue.items.removeFirst())
                        queue.lock.broadcast()
                    }
                }
            }
        }
        #expect(queue.taken.sorted() == Array(0..<(3 * perProducer)))
        #expect(queue.highWater <= 4)
    }

    /// Nobody signals: the wait returns false once its 50 ms deadline has passed, not before.
    @Test func timedWaitGivesUpAtTheDeadline() {
        let lock = ConditionLock()
        let start = MonotonicClock.seconds()
        let deadline = start + 0.05
        let woken = lock.withLock { () -> Bool in
            var woken = true
            while woken { woken = lock.wait(until: deadline) }  // spurious wake-ups retry
            return woken
        }
        #expect(!woken)
        #expect(MonotonicClock.seconds() >= deadline)
        #expect(lock.withLock { lock.wait(until: start) } == false)
    }

    /// While one thread works inside `unlocked`, another takes the lock and changes the state.
    @Test func unlockedLetsOthersIn() {
        final class Shared: @unchecked Sendable {
            let lock = ConditionLock()
            var stage = 0
        }
        let shared = Shared()
        runOnThreads(2) { thread in
            if thread == 0 {
                shared.lock.withLock {
                    shared.stage = 1
                    shared.lock.broadcast()
                    shared.lock.unlocked {
                        // Wait (without the lock) for the other thread to move the stage on.
                        while shared.lock.withLock({ shared.stage }) != 2 { sched_yield() }
                    }
                    shared.stage = 3
                }
            } else {
                shared.lock.withLock {
                    while shared.stage != 1 { shared.lock.wait() }
                    shared.stage = 2
                }
            }
        }
        #expect(shared.stage == 3)
    }
}
