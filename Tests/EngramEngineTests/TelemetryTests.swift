import EngramSync
import EngramIndex
import EngramEngine
import EngramTestSupport
import Logging
import MetricsTestKit
import Testing

/// Collects log messages (a test LogHandler).
private final class CapturedLogs: @unchecked Sendable {
    let lines = Locked<[String]>([])
}

private struct CapturingHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        sink.lines.withLock { $0.append("\(event.level) \(event.message) \(event.metadata ?? [:])") }
    }
}

@Suite("Store telemetry: swift-metrics and swift-log")
struct TelemetryTests {
    @Test("writes, deletes, searches and recovery are counted and timed; recovery actions are logged")
    func metricsAndLogs() throws {
        let dir = TemporaryDirectory("engram-telemetry")
        defer { dir.remove() }
        let metrics = TestMetrics()
        let logs = CapturedLogs()
        let logger = Logger(label: "test") { _ in CapturingHandler(sink: logs) }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered), logger: logger, metricsFactory: metrics)
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 2))
            try store.upsert("c", [Record(id: "a", vector: [1, 0]), Record(id: "b", vector: [0, 1])])
            try store.upsert("c", [Record(id: "c", vector: [1, 1])])
            try store.delete("c", ids: ["a"])
            _ = try store.search("c", vector: [1, 0], k: 1)
            try store.snapshot()
            try store.close()
        }
        #expect(try metrics.expectCounter("engram_upserts_total").totalValue == 3)
        #expect(try metrics.expectCounter("engram_deletes_total").totalValue == 1)
        #expect(try metrics.expectCounter("engram_searches_total").totalValue == 1)
        #expect(try metrics.expectCounter("engram_wal_bytes_total").totalValue > 0)
        #expect(try metrics.expectTimer("engram_upsert_duration").values.count == 2)
        #expect(try metrics.expectTimer("engram_recovery_duration").values.count == 1)
        // A torn tail, then a reopen: the cut is logged.
        let segment = TemporaryDirectoryList.files(dir.path + "/wal").last!
        var bytes = TemporaryDirectory.readFile(segment)
        bytes += [1, 2, 3, 4, 5]
        TemporaryDirectory.writeFile(segment, bytes)
        try Store.open(directory: dir.path, logger: logger, metricsFactory: metrics).close()
        let lines = logs.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("wrote snapshot") })
        #expect(lines.contains { $0.contains("loaded snapshot") })
        #expect(lines.contains { $0.contains("torn tail") })
        #expect(try metrics.expectTimer("engram_recovery_duration").values.count == 2)
    }
}
