import EngramSync
import EngramIndex
import EngramTestSupport
import Synchronization
import Testing
@testable import EngramWAL

@Suite("Group commit")
struct GroupCommitLogTests {
    @Test("concurrent writers: every acknowledged record is in the log once, in LSN order; fsyncs are shared",
          arguments: [GroupCommitLog.Mode.fsync, .groupCommit(maxDelayMicroseconds: 200), .osBuffered])
    func concurrentWriters(mode: GroupCommitLog.Mode) throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 64 << 10, durability: .osBuffered))
        let shared = try GroupCommitLog(log: log, mode: mode)
        let threads = 4, perThread = 150
        let acknowledged = Locked<[UInt64: String]>([:])
        runOnThreads(threads) { t in
            for i in 0..<perThread {
                let text = "thread \(t) record \(i)"
                if let lsn = try? shared.append(type: UInt8(t), payload: Array(text.utf8)) {
                    acknowledged.withLock { $0[lsn] = text }
                }
            }
        }
        if mode == .osBuffered { try shared.sync() }
        let acked = acknowledged.withLock { $0 }
        #expect(acked.count == threads * perThread)
        #expect(Set(acked.keys) == Set((1...UInt64(threads * perThread)).map { $0 }))
        print("[wal] \(mode): \(shared.batches) batches, \(shared.syncs) fsyncs for \(acked.count) records")
        if mode == .osBuffered {
            #expect(shared.syncs == 0)
        } else {
            #expect(shared.syncs == shared.batches)
            #expect(shared.syncs < acked.count)
        }
        var replayed = [UInt64: String]()
        var lastPerThread = [UInt8: Int]()
        _ = try WriteAheadLog.open(directory: dir.path) { record in
            let text = String(decoding: record.payload, as: UTF8.self)
            replayed[record.lsn] = text
            // Each thread's records keep their order.
            let seq = Int(text.split(separator: " ").last!)!
            #expect(seq > lastPerThread[record.type, default: -1])
            lastPerThread[record.type] = seq
        }
        #expect(replayed == acked)
    }

    @Test("the wrapped log must leave fsyncs to the group committer")
    func requiresBufferedLog() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        let (log, _) = try WriteAheadLog.open(directory: dir.path)
        #expect(throws: WALError.self) { try GroupCommitLog(log: log, mode: .fsync) }
    }
}
