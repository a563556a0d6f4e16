import EngramTestSupport
import Testing
@testable import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

private func payload(_ i: Int, _ rng: inout SeededGenerator) -> [UInt8] {
    // Half compressible metadata-like text, half random bytes.
    i % 2 == 0
        ? Array("{\"id\":\"record-\(i)\",\"agent\":\"planner\",\"tags\":[\"alpha\",\"beta\",\"alpha\"]}".utf8)
        : (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

private func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : -1
}

@Suite("Write-ahead log: records, segments, recovery")
struct WriteAheadLogTests {
    @Test("records round-trip across reopen and segment rotation, LZ4 where it pays")
    func roundTrip() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.roundTrip", defaultSeed: 81)
        var written = [[UInt8]]()
        do {
            let (log, report) = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 4096, durability: .osBuffered))
            #expect(report.records == 0)
            for i in 0..<300 {
                let p = payload(i, &rng)
                written.append(p)
                #expect(try log.append(type: UInt8(i % 3), payload: p) == UInt64(i + 1))
            }
            try log.sync()
            #expect(log.segmentPaths.count > 3)
        }
        var replayed = [WALRecord]()
        let (log, report) = try WriteAheadLog.open(directory: dir.path) { replayed.append(WALRecord($0)) }
        #expect(report.records == 300 && report.truncatedTail == nil)
        #expect(replayed.map(\.payload) == written)
        #expect(replayed.map(\.lsn) == (1...300).map { UInt64($0) })
        #expect(replayed.map(\.type) == (0..<300).map { UInt8($0 % 3) })
        #expect(try log.append(type: 9, payload: [1, 2, 3]) == 301)
        // Metadata-like payloads compress.
        let text = Array(String(repeating: "{\"agent\":\"planner\",\"kind\":\"experience\"}", count: 20).utf8)
        #expect(WALFormat.encode(WALRecord(lsn: 1, type: 0, payload: text)).count < text.count / 2)
    }

    @Test("a torn tail at every cut of the last record is cut off; everything before it survives")
    func tornTail() throws {
        var rng = SeededGenerator.forTest("wal.tornTail", defaultSeed: 82)
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        let path: String
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path)
            for i in 0..<20 { try log.append(type: 1, payload: payload(i, &rng)) }
            path = log.segmentPaths.last!
        }
        let full = fileSize(path)
        let original = TemporaryDirectory.readFile(path)
        for cut in stride(from: full - 1, to: full - 60, by: -1) {
            TemporaryDirectory.writeFile(path, Array(original[0..<cut]))
            var count = 0
            let (log, report) = try WriteAheadLog.open(directory: dir.path) { _ in count += 1 }
            #expect(count == 19, "cut at \(cut)")
            #expect(report.truncatedTail?.offset != nil)
            #expect(log.nextLSN == 20)
        }
    }

    @Test("damage before the tail is a corrupt error naming segment and offset")
    func corruptionBeforeTail() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.corrupt", defaultSeed: 83)
        let path: String
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path)
            for i in 0..<10 { try log.append(type: 1, payload: payload(i, &rng)) }
            path = log.segmentPaths.last!
        }
        var bytes = TemporaryDirectory.readFile(path)
        bytes[WALFormat.segmentHeaderSize + 30] ^= 0x40  // inside the first record
        TemporaryDirectory.writeFile(path, bytes)
        do {
            _ = try WriteAheadLog.open(directory: dir.path)
            Issue.record("opened a log with a damaged first record")
        } catch let error as WALError {
            #expect(error.kind == .corrupt)
            #expect(error.segment == path)
            #expect(error.offset == WALFormat.segmentHeaderSize)
        }
    }

    @Test("random mutations of a segment never crash the reader")
    func randomMutations() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.mutations", defaultSeed: 84)
        let path: String
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(durability: .osBuffered))
            for i in 0..<40 { try log.append(type: 2, payload: payload(i, &rng)) }
            try log.sync()
            path = log.segmentPaths.last!
        }
        let original = TemporaryDirectory.readFile(path)
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<200, using: &rng)) }
            TemporaryDirectory.writeFile(path, bytes)
            do {
                var lsns = [UInt64]()
                _ = try WriteAheadLog.open(directory: dir.path) { lsns.append($0.lsn) }
                #expect(lsns == (0..<lsns.count).map { UInt64($0 + 1) })
            } catch let error as WALError {
                #expect(error.kind == .corrupt)
            }
        }
        // Header-field mutations (stored length, raw length, LSN) of any record but the last: the
        // log either refuses to open (corrupt) or replays every record; it never opens short.
        let offsets = recordOffsets(original)
        #expect(offsets.count == 40)
        for trial in 0..<300 {
            var bytes = original
            let victim = Int.random(in: 0..<(offsets.count - 1), using: &rng)
            let field = [0, 4, 8][trial % 3]
            let value = trial % 2 == 0 ? UInt64.random(in: 0...UInt64(UInt32.max), using: &rng) : UInt64.random(in: 0...(1 << 24), using: &rng)
            withUnsafeBytes(of: value.littleEndian) { for (j, b) in $0.prefix(field == 8 ? 8 : 4).enumerated() { bytes[offsets[victim] + field + j] = b } }
            TemporaryDirectory.writeFile(path, bytes)
            do {
                var lsns = [UInt64]()
                _ = try WriteAheadLog.open(directory: dir.path) { lsns.append($0.lsn) }
                #expect(bytes == original || lsns.count == 40, "trial \(trial): record \(victim) field \(field) = \(value) replayed \(lsns.count) of 40")
            } catch let error as WALError {
                #expect(error.kind == .corrupt)
            }
        }
    }

    /// Offsets of the records of a segment's bytes, in order.
    private func recordOffsets(_ bytes: [UInt8]) -> [Int] {
        var offsets = [Int]()
        var at = WALFormat.segmentHeaderSize
        while at + WALFormat.recordHeaderSize <= bytes.count {
            offsets.append(at)
            let stored = bytes[at..<(at + 4)].withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
            at += WALFormat.recordHeaderSize + stored
        }
        return offsets
    }

    @Test("a damaged length or LSN field before the last record is corruption, never a torn tail to cut",
          arguments: [(0, 0x00F0_0000 as UInt64), (0, 0xFFFF_FFFF), (0, 1_000_000), (4, 0x00F0_0000), (8, 7), (8, 0), (8, 1 << 40)])
    func damagedHeaderField(field: Int, value: UInt64) throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.headerField", defaultSeed: 87)
        let path: String
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(durability: .osBuffered))
            for i in 0..<100 { try log.append(type: 1, payload: payload(i, &rng)) }
            try log.sync()
            path = log.segmentPaths.last!
        }
        let original = TemporaryDirectory.readFile(path)
        let offsets = recordOffsets(original)
        #expect(offsets.count == 100)
        for victim in [0, 49, 98] {
            var bytes = original
            let at = offsets[victim] + field
            if field == 8 {
                withUnsafeBytes(of: value.littleEndian) { for (j, b) in $0.enumerated() { bytes[at + j] = b } }
            } else {
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { for (j, b) in $0.enumerated() { bytes[at + j] = b } }
            }
            TemporaryDirectory.writeFile(path, bytes)
            do {
                var count = 0
                _ = try WriteAheadLog.open(directory: dir.path) { _ in count += 1 }
                Issue.record("record \(victim) with field \(field) = \(value): opened with \(count) of 100 records and no error")
            } catch let error as WALError {
                #expect(error.kind == .corrupt)
                #expect(error.offset == offsets[victim], "record \(victim)")
            }
            // Nothing was cut: the file is as damaged as it was.
            #expect(TemporaryDirectory.readFile(path).count == original.count)
        }
        TemporaryDirectory.writeFile(path, original)
    }

    @Test("the same damage to the last record is a torn tail: cut, everything before it kept")
    func damagedLastHeader() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.lastHeader", defaultSeed: 88)
        let path: String
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path)
            for i in 0..<30 { try log.append(type: 1, payload: payload(i, &rng)) }
            path = log.segmentPaths.last!
        }
        var bytes = TemporaryDirectory.readFile(path)
        let last = recordOffsets(bytes).last!
        withUnsafeBytes(of: UInt32(0x00F0_0000).littleEndian) { for (j, b) in $0.enumerated() { bytes[last + j] = b } }
        TemporaryDirectory.writeFile(path, bytes)
        var count = 0
        let (log, report) = try WriteAheadLog.open(directory: dir.path) { _ in count += 1 }
        #expect(count == 29)
        #expect(report.truncatedTail?.offset == last)
        #expect(log.nextLSN == 30)
    }

    @Test("a valid record carrying the wrong LSN at the end is corruption, not a tail")
    func misplacedLastRecord() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        let path: String
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path)
            for i in 0..<5 { try log.append(type: 1, payload: Array("record \(i)".utf8)) }
            path = log.segmentPaths.last!
        }
        // Record 7, well formed, where record 6 belongs.
        TemporaryDirectory.writeFile(path, TemporaryDirectory.readFile(path) + WALFormat.encode(WALRecord(lsn: 7, type: 1, payload: [1, 2, 3])))
        let error = #expect(throws: WALError.self) { _ = try WriteAheadLog.open(directory: dir.path) }
        #expect(error?.kind == .corrupt)
    }

    @Test("a segment named near UInt64.max is corruption, and restart refuses LSNs beyond bigint: no overflow trap")
    func lsnBounds() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        for lsn in [UInt64.max, UInt64(Int64.max) + 1] {
            let path = "\(dir.path)/\(WriteAheadLog.segmentName(lsn))"
            TemporaryDirectory.writeFile(path, WALFormat.segmentHeader(firstLSN: lsn) + WALFormat.encode(WALRecord(lsn: lsn, type: 1, payload: [1])))
            let error = #expect(throws: WALError.self) { _ = try WriteAheadLog.open(directory: dir.path) }
            #expect(error?.kind == .corrupt)
            unlink(path)
        }
        // The largest LSN itself is a valid segment; the log then refuses to go past it.
        let last = WriteAheadLog.maxLSN
        TemporaryDirectory.writeFile("\(dir.path)/\(WriteAheadLog.segmentName(last))",
                                     WALFormat.segmentHeader(firstLSN: last) + WALFormat.encode(WALRecord(lsn: last, type: 1, payload: [1])))
        var seen = [UInt64]()
        let (log, _) = try WriteAheadLog.open(directory: dir.path) { seen.append($0.lsn) }
        #expect(seen == [last])
        #expect(throws: WALError.self) { try log.append(type: 1, payload: [2]) }
        let empty = TemporaryDirectory("engram-wal")
        defer { empty.remove() }
        let (fresh, _) = try WriteAheadLog.open(directory: empty.path)
        #expect(throws: WALError.self) { try fresh.restart(at: UInt64.max) }
    }

    @Test("truncation below an LSN removes whole old segments only")
    func truncateBelow() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.truncate", defaultSeed: 85)
        let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 4096, durability: .osBuffered))
        for _ in 0..<200 { try log.append(type: 0, payload: (0..<100).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        let before = log.segmentPaths.count
        #expect(before > 3)
        let removed = try log.truncate(below: 120)
        #expect(removed > 0 && removed < before)
        var first: UInt64?
        let (_, report) = try WriteAheadLog.open(directory: dir.path) { if first == nil { first = $0.lsn } }
        #expect(first! <= 120)
        #expect(report.records == 200 - Int(first!) + 1)
        #expect(throws: WALError.self) { _ = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 10)) }
    }

    @Test("explicit repair cuts a damaged log at the damage, keeps the damaged files aside, and appends on")
    func repair() throws {
        let dir = TemporaryDirectory("engram-wal")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("wal.repair", defaultSeed: 86)
        let paths: [String]
        do {
            let (log, _) = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 4096, durability: .osBuffered))
            for i in 0..<120 { try log.append(type: 2, payload: payload(i, &rng)) }
            try log.sync()
            paths = log.segmentPaths
        }
        #expect(paths.count >= 4)
        // Damage one byte in the middle of the second segment.
        var bytes = TemporaryDirectory.readFile(paths[1])
        bytes[bytes.count / 2] ^= 0x40
        TemporaryDirectory.writeFile(paths[1], bytes)
        #expect(throws: WALError.self) { _ = try WriteAheadLog.open(directory: dir.path) }
        var lsns = [UInt64]()
        let (log, report) = try WriteAheadLog.open(directory: dir.path, options: .init(segmentBytes: 4096, repair: true)) {
            lsns.append($0.lsn)
        }
        let repaired = try #require(report.repaired)
        #expect(repaired.segment == paths[1])
        #expect(repaired.keptAside.count == paths.count - 1)  // the cut segment's copy and every later segment
        #expect(repaired.keptAside.allSatisfy { access($0, F_OK) == 0 })
        #expect(lsns == (1...UInt64(lsns.count)).map { $0 })
        #expect(lsns.count > 0 && lsns.count < 120)
        // The log goes on from the last good record, and reopens cleanly.
        #expect(try log.append(type: 2, payload: [1, 2, 3]) == UInt64(lsns.count + 1))
        try log.sync()
        let (_, again) = try WriteAheadLog.open(directory: dir.path)
        #expect(again.records == lsns.count + 1 && again.repaired == nil)
    }
}
