@testable import EngramEngine
import EngramMetadata
import EngramTestSupport
import Testing

/// The checkpointer without a server: its policy as transcripts of a pure
/// state machine (no clock, no thread), then the real loop against an
/// in-memory target that fails its first commits.
@Suite("Checkpointer: retry, backoff and schedule")
struct CheckpointerTests {
    let schedule = Checkpointer.Schedule(intervalSeconds: 60, logBytes: 1000, initialBackoffSeconds: 1, maxBackoffSeconds: 8)

    @Test("failures back off 1, 2, 4, 8, 8 s; nothing is attempted before the retry time; a success resets the backoff")
    func backoffTranscript() {
        var policy = CheckpointerPolicy(schedule: schedule, now: 0, logged: 0)
        var transcript = [String]()
        var now = 0.0
        // Not due until the interval has passed.
        #expect(!policy.isDue(now: 59.9, logged: 999))
        now = 60
        for _ in 0..<5 {
            #expect(policy.isDue(now: now, logged: 0))
            policy.failed(now: now)
            let retry = policy.retryAt ?? -1
            #expect(!policy.isDue(now: retry - 0.001, logged: 1_000_000), "a retry waits its time, whatever the log did")
            transcript.append("fail@\(now) retry@\(retry)")
            now = retry
        }
        #expect(transcript == ["fail@60.0 retry@61.0", "fail@61.0 retry@63.0", "fail@63.0 retry@67.0", "fail@67.0 retry@75.0", "fail@75.0 retry@83.0"])
        policy.succeeded(now: now, logged: 5000)
        #expect(policy.retryAt == nil && policy.backoff == 1)
        #expect(!policy.isDue(now: now + 1, logged: 5000))
        policy.failed(now: now + 60)
        #expect(policy.retryAt == now + 61, "the backoff starts over after a success")
    }

    @Test("the log's growth makes a checkpoint due before the interval")
    func logGrowth() {
        var policy = CheckpointerPolicy(schedule: schedule, now: 0, logged: 100)
        #expect(!policy.isDue(now: 1, logged: 1099))
        #expect(policy.isDue(now: 1, logged: 1100))
        policy.succeeded(now: 1, logged: 1100)
        #expect(!policy.isDue(now: 2, logged: 2099) && policy.isDue(now: 2, logged: 2100))
    }

    @Test("the loop sleeps until the next due time, between 10 ms and 1 s")
    func pauses() {
        var policy = CheckpointerPolicy(schedule: schedule, now: 0, logged: 0)
        #expect(policy.pause(now: 0) == 1)
        #expect(abs(policy.pause(now: 59.5) - 0.5) < 1e-9)
        #expect(policy.pause(now: 70) == 0.01)
        policy.failed(now: 70)
        #expect(abs(policy.pause(now: 70.25) - 0.75) < 1e-9)
    }

    @Test("the real loop against a target that fails its first 3 commits: it retries until they converge, the table equals the engine")
    func retriesUntilConverged() throws {
        let dir = TemporaryDirectory("engram-checkpointer")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 4, metric: .squaredL2))
        try store.upsert("c", (0..<50).map { Record(id: "r\($0)", vector: GoldenFiles.vector($0, dimension: 4), metadata: ["n": .number(Double($0))]) })
        try store.delete("c", ids: ["r7"])
        let target = InMemoryCheckpointTarget()
        target.failNextCommits(3)
        let checkpointer = try store.startCheckpointing(to: target, schedule: .init(
            intervalSeconds: 0.001, logBytes: 1 << 30, initialBackoffSeconds: 0.001, maxBackoffSeconds: 0.004))
        #expect(eventually { checkpointer.status.committed >= 1 }, "\(checkpointer.status)")
        store.stopCheckpointing()
        let status = checkpointer.status
        #expect(status.failures == 3 && status.consecutiveFailures == 0 && status.lastError == nil, "\(status)")
        // Three failed attempts, each from 0, then the success: nothing half-applied.
        #expect(Array(target.transcript.filter { $0.hasPrefix("commit") }.prefix(4)) == [
            "commit 0→\(store.lastLSN) failed", "commit 0→\(store.lastLSN) failed", "commit 0→\(store.lastLSN) failed", "commit 0→\(store.lastLSN) ok",
        ])
        let rows = target.rows("c")
        #expect(Set(rows.keys) == Set(try store.ids("c")) && rows.count == 49)
        for (id, row) in rows {
            let record = try #require(try store.get("c", id: id))
            #expect(row.vector == record.vector && row.metadata == record.metadata, "\(id)")
        }
    }
}
