import EngramTestSupport
import EngramWAL
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead log's golden segment (`Fixtures/golden/wal-v1/`): 40
/// records of format version 1, some LZ4-compressed, read by today's code.
@Suite("Golden files: WAL version 1")
struct WALGoldenFileTests {
    /// Record `i`'s payload: incompressible bytes for even records, repetitive text (LZ4) for odd ones.
    static func payload(_ i: Int) -> [UInt8] {
        if i % 2 == 0 { return (0..<(20 + i)).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ (i &* 29) ^ ($0 >> 2)) } }
        return Array(String(repeating: "{\"record\":\(i),\"kind\":\"golden\"}", count: 8).utf8)
    }

    static let count = 40

    @Test("write the golden segment when asked and missing", .enabled(if: GoldenFiles.writing))
    func write() throws {
        guard !GoldenFiles.exists("wal-v1") else { return }
        let (log, _) = try WriteAheadLog.open(directory: GoldenFiles.path("wal-v1"), options: .init(durability: .osBuffered))
        for i in 0..<Self.count { _ = try log.append(type: UInt8(i % 4), payload: Self.payload(i)) }
        try log.sync()
    }

    @Test("today's reader replays every record of the version 1 segment, payload for payload")
    func read() throws {
        let dir = TemporaryDirectory("engram-golden-wal")
        defer { dir.remove() }
        #expect(GoldenFiles.copyDirectory("wal-v1", to: dir.path))
        var replayed = [WALRecord]()
        let (log, report) = try WriteAheadLog.open(directory: dir.path, options: .init(readOnly: true)) { replayed.append(WALRecord($0)) }
        #expect(report.records == Self.count && report.truncatedTail == nil)
        #expect(replayed.map(\.lsn) == (1...Self.count).map { UInt64($0) })
        #expect(replayed.map(\.type) == (0..<Self.count).map { UInt8($0 % 4) })
        #expect(replayed.map(\.payload) == (0..<Self.count).map(Self.payload))
        #expect(log.segmentPaths.count == 1)
        // The odd records were stored compressed: the segment is smaller than the payloads it holds.
        let size = GoldenFiles.read("wal-v1/" + (log.segmentPaths.first?.split(separator: "/").last.map(String.init) ?? ""))?.count ?? 0
        #expect(size > 0 && size < (0..<Self.count).map { Self.payload($0).count }.reduce(0, +))
    }
}
