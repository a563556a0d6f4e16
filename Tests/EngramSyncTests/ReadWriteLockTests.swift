import EngramSync
import EngramTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether a new reader gets in while a writer waits: with readers
/// preferred it does (so back-to-back readers can hold a writer off for
/// good); with writers preferred it waits its turn.
@Suite("ReadWriteLock: readers and a waiting writer")
struct ReadWriteLockTests {
    /// One thread holds the read lock, another waits to write, a third
    /// tries to read every 10 ms, up to 2 s; then the reader lets go.
    /// Returns whether the third was ever turned away, and whether the
    /// writer got its turn in the end.
    static func probe(_ lock: ReadWriteLock) -> (turnedAway: Bool, wrote: Bool) {
        let holding = Atomic<Bool>(false), release = Atomic<Bool>(false)
        let turnedAway = Atomic<Bool>(false), wrote = Atomic<Bool>(false)
        runOnThreads(3) { role in
            switch role {
            case 0:  // the reader holding on
                lock.withReadLock {
                    holding.store(true, ordering: .releasing)
                    while !release.load(ordering: .acquiring) { usleep(1000) }
                }
            case 1:  // the writer
                while !holding.load(ordering: .acquiring) { usleep(1000) }
                lock.withWriteLock { wrote.store(true, ordering: .releasing) }
            default:  // the new reader
                while !holding.load(ordering: .acquiring) { usleep(1000) }
                for _ in 0..<200 {
                    if lock.withReadLockIfFree({ true }) == nil {
                        turnedAway.store(true, ordering: .releasing)
                        break
                    }
                    usleep(10_000)
                }
                release.store(true, ordering: .releasing)
            }
        }
        return (turnedAway.load(ordering: .acquiring), wrote.load(ordering: .acquiring))
    }

    @Test("preferring writers, a new reader waits behind a waiting writer")
    func writersPreferred() {
        let seen = Self.probe(ReadWriteLock(preferringWriters: true))
        #expect(seen.turnedAway)
        #expect(seen.wrote)
    }

    @Test("by default a new reader gets in while a writer waits")
    func readersPreferred() {
        let seen = Self.probe(ReadWriteLock())
        #expect(!seen.turnedAway)
        #expect(seen.wrote)
    }
}
