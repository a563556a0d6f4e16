import EngramTestSupport
import Synchronization
import Testing
@testable import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

/// Counts calls and fails the chosen ones.
private final class Faults: Sendable {
    let writes = Atomic<Int>(0)
    let syncs = Atomic<Int>(0)
    let failWrite: Int?
    let writeErrno: Int32
    let failSync: Int?
    let shortWrites: Bool

    init(failWrite: Int? = nil, writeErrno: Int32 = ENOSPC, failSync: Int? = nil, shortWrites: Bool = false) {
        self.failWrite = failWrite
        self.writeErrno = writeErrno
        self.failSync = failSync
        self.shortWrites = shortWrites
    }

    var io: WALFileIO {
        WALFileIO(
            write: { fd, buffer, count in
                let n = self.writes.wrappingAdd(1, ordering: .relaxed).newValue
                if n == self.failWrite {
                    errno = self.writeErrno
                    return -1
                }
                // Short writes: at most 7 bytes per call; the log must loop.
                return Glibc.write(fd, buffer, self.shortWrites ? min(count, 7) : count)
            },
            fsync: { fd in
                let n = self.syncs.wrappingAdd(1, ordering: .relaxed).newValue
                if n == self.failSync {
                    errno = EIO
                    return -1
                }
                return Glibc.fsync(fd)
            })
    }
}

private func replayAll(_ dir: String) throws -> [WALRecord] {
    var records = [WALRecord]()
    _ = try WriteAheadLog.open(directory: dir) { records.append(WALRecord($0)) }
    return records
}

@Suite("Write-ahead log under injected faults")
struct WALFaultInjectionTests {
    @Test("short writes are completed, not torn")
    func shortWrites() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        let faults = Faults(shortWrites: true)
        let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(io: faults.io))
        for i in 0..<20 { try log.append(type: 1, payload: (0..<(i * 13)).map { UInt8(truncatingIfNeeded: $0 &* 31) }) }
        #expect(faults.writes.load(ordering: .relaxed) > 40)
        #expect(try replayAll(dir.path).count == 20)
    }

    @Test("fsync failing with EIO surfaces, poisons the log, and loses nothing acknowledged before it")
    func fsyncEIO() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        // Sync 1 is the new segment's header; record i's sync is number i + 1.
        let faults = Faults(failSync: 12)
        let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(io: faults.io))
        var acknowledged = 0
        do {
            for i in 0..<20 {
                try log.append(type: 1, payload: Array("record \(i)".utf8))
                acknowledged += 1
            }
            Issue.record("no error surfaced")
        } catch let error as WALError {
            #expect(error.kind == .io)
            #expect(error.errno == EIO)
        }
        #expect(acknowledged == 10)
        // Not trusted again until reopened.
        let again = #expect(throws: WALError.self) { try log.append(type: 1, payload: [1]) }
        #expect(again?.kind == .poisoned)
        #expect(throws: WALError.self) { try log.sync() }
        let records = try replayAll(dir.path)
        #expect(records.count >= acknowledged)
        #expect(records.prefix(acknowledged).map { String(decoding: $0.payload, as: UTF8.self) } == (0..<10).map { "record \($0)" })
    }

    @Test("a failed write of a new segment's header poisons the log: no record lands in a headerless file")
    func failedSegmentHeader() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        // Write 1 is the first segment's header; records are writes 2, 3, …; a 4096-byte segment takes
        // a few records of 1,000 bytes, so some write after the first few is the second segment's header.
        var rng = SeededGenerator.forTest("wal.segmentHeader", defaultSeed: 89)
        let record = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &rng) }  // incompressible
        let probe = TemporaryDirectory("engram-wal")
        defer { probe.remove() }
        let counting = Faults()
        do {
            let (log, _) = try WriteAheadLog.open(directory: probe.path, options: .init(segmentBytes: 4096, durability: .osBuffered, io: counting.io))
            for _ in 0..<4 { try log.append(type: 1, payload: record) }
            #expect(log.segmentPaths.count == 2)
        }
        let headerWrite = counting.writes.load(ordering: .relaxed)  // the last write was record 4, after the second header
        let faults = Faults(failWrite: headerWrite - 1)
        let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 4096, durability: .osBuffered, io: faults.io))
        var acknowledged = 0
        for _ in 0..<6 {
            do {
                try log.append(type: 1, payload: record)
                acknowledged += 1
            } catch let error as WALError {
                #expect(error.kind == .io || error.kind == .poisoned)
            }
        }
        #expect(acknowledged == 3)
        #expect((try? log.sync()) == nil)
        // Reopened: the three acknowledged records, and the log goes on after them.
        var lsns = [UInt64]()
        let (again, _) = try WriteAheadLog.open(directory: dir.path) { lsns.append($0.lsn) }
        #expect(lsns == [1, 2, 3])
        #expect(try again.append(type: 1, payload: [1]) == 4)
    }

    @Test("a full disk (ENOSPC) surfaces, takes back the partial record, and the log goes on")
    func diskFull() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        let faults = Faults(failWrite: 6)
        let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(durability: .osBuffered, io: faults.io))
        var acknowledged = [Int]()
        for i in 0..<10 {
            do {
                try log.append(type: 1, payload: Array("record \(i)".utf8))
                acknowledged.append(i)
            } catch let error as WALError {
                #expect(error.kind == .io)
                #expect(error.errno == ENOSPC)
            }
        }
        #expect(acknowledged.count == 9)
        try log.sync()
        let records = try replayAll(dir.path)
        #expect(records.map { String(decoding: $0.payload, as: UTF8.self) } == acknowledged.map { "record \($0)" })
        #expect(records.map(\.lsn) == (1...9).map { UInt64($0) })
    }
}
