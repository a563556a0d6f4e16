import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `Store.write(_:)`: changes to several collections as one log record,
/// all or nothing, before and after a crash.
@Suite("Store: atomic writes across collections")
struct WriteBatchTests {
    static func vector(_ i: Int) -> [Float] { (0..<4).map { Float((i * 7 + $0 * 3) % 11) + 1 } }

    @Test("a batch applies every change under one LSN; a bad part refuses the whole batch and logs nothing")
    func allOrNothing() throws {
        let dir = TemporaryDirectory("engram-batch")
        defer { dir.remove() }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "a", dimension: 4, metric: .squaredL2))
            try store.createCollection(CollectionConfiguration(name: "b", dimension: 4, metric: .squaredL2, text: TextSettings(fields: ["content"])))
            try store.upsert("a", [Record(id: "old", vector: Self.vector(0))])
            var batch = WriteBatch()
            batch.upsert("a", [Record(id: "x", vector: Self.vector(1))])
            batch.upsert("b", [Record(id: "x", vector: Self.vector(2), text: ["content": "both sides"])])
            batch.delete("a", ids: ["old", "absent"])
            let result = try store.write(batch)
            #expect(result.upserted == 2 && result.deleted == 1 && result.lsn == store.lastLSN)
            #expect(try store.versions("a").live.map(\.lsn) == [result.lsn])
            #expect(try store.versions("b").live.map(\.lsn) == [result.lsn])
            #expect(try store.get("a", id: "old") == nil)

            let before = store.lastLSN
            let refused: [WriteBatch] = [
                WriteBatch([.upsert(collection: "a", records: [Record(id: "y", vector: Self.vector(3))]),
                            .upsert(collection: "b", records: [Record(id: "y", vector: [1, 2])])]),  // wrong dimension
                WriteBatch([.upsert(collection: "a", records: [Record(id: "y", vector: Self.vector(3))]),
                            .upsert(collection: "nope", records: [Record(id: "y", vector: Self.vector(3))])]),
                WriteBatch([.upsert(collection: "a", records: [Record(id: "y", vector: Self.vector(3))]),
                            .delete(collection: "a", ids: ["y"])]),  // the same id twice in one collection
                WriteBatch([.upsert(collection: "a", records: [Record(id: "y", vector: Self.vector(3))]),
                            .upsert(collection: "a", records: [Record(id: "y", vector: Self.vector(4))])]),
                WriteBatch([.upsert(collection: "a", records: [Record(id: "y", vector: Self.vector(3), text: ["content": "a has no text"])])]),
            ]
            for bad in refused {
                #expect(throws: EngineError.self) { try store.write(bad) }
            }
            #expect(store.lastLSN == before)
            #expect(try store.get("a", id: "y") == nil && store.get("b", id: "y") == nil)
            #expect(try store.write(WriteBatch([.delete(collection: "a", ids: ["absent"])])).lsn == 0)  // nothing to log
            try store.close(writingSnapshot: false)
        }
        // Replayed from the log: the same state.
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        #expect(try store.ids("a") == ["x"])
        #expect(try store.get("b", id: "x")?.text == ["content": "both sides"])
        #expect(try store.search("b", HybridQuery(text: "sides", k: 5)).map(\.id) == ["x"])
        #expect(try Set(store.versions("a").deleted.map(\.id)) == ["old"])
    }

    @Test("SIGKILL during atomic two-collection calls: nothing acknowledged lost, no call half applied")
    func killedAtomicWriter() throws {
        let dir = TemporaryDirectory("engram-batch-kill")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("batch.kill", defaultSeed: 171)
        let trials = getenv("ENGRAM_KILL_TRIALS").flatMap { Int(String(cString: $0)) } ?? 30
        let writerPath = ChildProcess.sibling("EngramCrashWriter")
        var acknowledged = Set<Int>(), deleted = Set<Int>()
        var next = 0
        var lost = 0, undone = 0, halfApplied = 0
        for trial in 0..<trials {
            guard let child = ChildProcess(writerPath, ["--atomic", "--data-dir", dir.path, "--start", "\(next)",
                                                        "--snapshot-every", "\(Int.random(in: 5...60, using: &rng))"]) else {
                Issue.record("cannot start \(writerPath)")
                return
            }
            let lines = child.readLines(for: Int.random(in: 30...250, using: &rng))
            child.kill()
            for line in lines {
                if line.hasPrefix("ack r"), let i = Int(line.dropFirst(5)) { acknowledged.insert(i) }
                if line.hasPrefix("del r"), let i = Int(line.dropFirst(5)) { deleted.insert(i) }
            }
            let store = try Store.open(directory: dir.path)
            guard store.collectionNames.contains("crash-mirror") else {
                #expect(acknowledged.isEmpty, "trial \(trial): collections missing after acknowledged writes")
                try store.close(writingSnapshot: false)
                continue
            }
            let main = Set(try store.ids("crash")), mirror = Set(try store.ids("crash-mirror"))
            // One call wrote both collections: they hold the same ids, each with the same version's LSN.
            if main != mirror { halfApplied += main.symmetricDifference(mirror).count }
            let lsns = Dictionary(uniqueKeysWithValues: try store.versions("crash").live.map { ($0.id, $0.lsn) })
            for (id, lsn) in try store.versions("crash-mirror").live where lsns[id] != lsn { halfApplied += 1 }
            for i in acknowledged where !main.contains("r\(i)") {
                // Absent is allowed only where its delete was written (acknowledged, or in a call cut short by the kill).
                if !(deleted.contains(i) || (i + 2) % 5 == 4) { lost += 1 }
            }
            for i in deleted where main.contains("r\(i)") { undone += 1 }
            next = (main.compactMap { Int($0.dropFirst()) }.max() ?? next - 1) + 3
            next = max(next, (acknowledged.max() ?? -1) + 3)
            try store.close(writingSnapshot: Bool.random(using: &rng))
        }
        print("[kill] atomic batches: \(trials) trials, \(acknowledged.count) acknowledged calls, \(deleted.count) acknowledged deletes; lost \(lost), undone \(undone), half-applied \(halfApplied)")
        #expect(acknowledged.count > 0 && deleted.count > 0)
        #expect(lost == 0)
        #expect(undone == 0)
        #expect(halfApplied == 0)
    }
}
