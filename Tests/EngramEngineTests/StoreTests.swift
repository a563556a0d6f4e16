import Foundation
@testable import EngramEngine
import EngramIndex
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Store: collections, validation, durability")
struct StoreTests {
    @Test("writes, searches with filters, deletes, and everything survives a reopen")
    func basicAndReopen() throws {
        let dir = TemporaryDirectory("engram-store")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("store.basic", defaultSeed: 101)
        let vectors = (0..<300).map { _ in (0..<16).map { _ in rng.gaussian() } }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "memories", dimension: 16))
            try store.createCollection(CollectionConfiguration(name: "memories", dimension: 16))  // same: no-op
            #expect(throws: EngineError.self) { try store.createCollection(CollectionConfiguration(name: "memories", dimension: 8)) }
            let records = vectors.enumerated().map { i, v in
                Record(id: "m\(i)", vector: v, metadata: ["agent": i % 2 == 0 ? "planner" : "critic", "step": .number(Double(i))])
            }
            try store.upsert("memories", records)
            #expect(try store.count("memories") == 300)
            let hits = try store.search("memories", vector: vectors[7], k: 5)
            #expect(hits.first?.id == "m7")
            let critic = try store.search("memories", vector: vectors[8], k: 10, filter: .equals("agent", "critic"))
            #expect(critic.count == 10 && critic.allSatisfy { $0.metadata["agent"] == "critic" })
            #expect(try store.delete("memories", ids: ["m7", "nope"]) == 1)
            #expect(try store.search("memories", vector: vectors[7], k: 1).first?.id != "m7")
            try store.upsert("memories", [Record(id: "m8", vector: vectors[100], metadata: ["agent": "updated"])])
            try store.close()
            #expect(throws: EngineError.self) { try store.count("memories") }
        }
        let store = try Store.open(directory: dir.path)
        #expect(try store.count("memories") == 299)
        #expect(try store.get("memories", id: "m7") == nil)
        let m8 = try #require(try store.get("memories", id: "m8"))
        #expect(m8.metadata == ["agent": "updated"])
        #expect(try store.search("memories", vector: vectors[100], k: 2).map(\.id).sorted() == ["m100", "m8"])
        // Replay deferred the metadata posting lists: filters scan until the maintenance has built them,
        // with the same answers.
        let critic = try store.search("memories", vector: vectors[8], k: 10, efSearch: 1000, filter: .equals("agent", "critic"))
        #expect(critic.count == 10 && critic.allSatisfy { $0.metadata["agent"] == "critic" })
        let c = try store.collection("memories")
        #expect(eventually { c.lock.withReadLock { c.metadata.hasAllPostings } })
        #expect(try store.search("memories", vector: vectors[8], k: 10, efSearch: 1000, filter: .equals("agent", "critic")).map(\.id) == critic.map(\.id))
    }

    @Test("a snapshot bounds replay: later writes replay on top, old log segments go, damage is a typed error")
    func snapshots() throws {
        let dir = TemporaryDirectory("engram-store")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("store.snapshots", defaultSeed: 103)
        let vectors = (0..<200).map { _ in (0..<8).map { _ in rng.gaussian() } }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 8, metric: .squaredL2))
            for i in 0..<150 { try store.upsert("c", [Record(id: "r\(i)", vector: vectors[i], metadata: ["i": .number(Double(i))])]) }
            try store.delete("c", ids: ["r3"])
            let lsn = try store.snapshot()
            #expect(lsn == store.lastLSN)
            for i in 150..<200 { try store.upsert("c", [Record(id: "r\(i)", vector: vectors[i])]) }
            try store.delete("c", ids: ["r160"])
            try store.close(writingSnapshot: false)  // the later writes replay from the log
        }
        do {
        let store = try Store.open(directory: dir.path)
        #expect(store.snapshotLSN > 0)
        #expect(try store.count("c") == 198)
        #expect(try store.get("c", id: "r3") == nil)
        #expect(try store.get("c", id: "r160") == nil)
        #expect(try store.get("c", id: "r10")?.metadata == ["i": 10])
        #expect(try store.search("c", vector: vectors[199], k: 1, efSearch: 1000).first?.id == "r199")
        #expect(try store.search("c", vector: vectors[42], k: 1, efSearch: 1000, filter: .range("i", lower: 40, lowerInclusive: true, upper: 45, upperInclusive: true)).first?.id == "r42")
        try store.close()
        }
        // Flip a byte in the snapshot: opening says so, naming the file.
        let file = try #require(TemporaryDirectoryList.files(dir.path).first { $0.hasSuffix(".engram") })
        var bytes = TemporaryDirectory.readFile(file)
        bytes[bytes.count / 2] ^= 1
        TemporaryDirectory.writeFile(file, bytes)
        do {
            _ = try Store.open(directory: dir.path)
            Issue.record("opened a store with a damaged snapshot")
        } catch {
            #expect("\(error)".contains("snapshot"))
        }
    }

    @Test("a snapshot file that cannot be read is an .io error naming it, not a log error")
    func unreadableSnapshot() throws {
        let dir = TemporaryDirectory("engram-snapshot-io")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path)
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 2, metric: .squaredL2))
        try store.upsert("c", [Record(id: "a", vector: [1, 2])])
        let lsn = try store.snapshot()
        try store.close()
        // A directory where the newest snapshot file should be: open(2) works, read(2) fails (EISDIR).
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("snapshot-") }.sorted()
        let newest = try #require(files.last)
        #expect(newest.contains(String(lsn)))
        try FileManager.default.removeItem(atPath: dir.path + "/" + newest)
        try FileManager.default.createDirectory(atPath: dir.path + "/" + newest, withIntermediateDirectories: false)
        let error = #expect(throws: EngineError.self) { try Store.open(directory: dir.path) }
        #expect(error?.code == .io, "\(String(describing: error))")
        #expect(error?.message.contains(newest) == true)
    }

    @Test("bad input is a typed error and applies nothing")
    func validation() throws {
        let dir = TemporaryDirectory("engram-store")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 3))
        let lsn = store.lastLSN
        let bad: [[Record]] = [
            [Record(id: "a", vector: [1, 2])],
            [Record(id: "a", vector: [1, .nan, 2])],
            [Record(id: "a", vector: [0, 0, 0])],
            [Record(id: "", vector: [1, 2, 3])],
            [Record(id: String(repeating: "x", count: 513), vector: [1, 2, 3])],
            [Record(id: "a", vector: [1, 2, 3]), Record(id: "a", vector: [1, 2, 3])],
            [Record(id: "a", vector: [1, 2, 3]), Record(id: "b", vector: [1, 2])],
            [Record(id: "a", vector: [1, 2, 3], metadata: ["x": .number(.infinity)])],
        ]
        for batch in bad { #expect(throws: EngineError.self) { try store.upsert("c", batch) } }
        #expect(store.lastLSN == lsn)
        #expect(try store.count("c") == 0)
        #expect(throws: EngineError.self) { try store.upsert("missing", [Record(id: "a", vector: [1, 2, 3])]) }
        #expect(throws: EngineError.self) { try store.search("c", vector: [1, 2, 3], k: 0) }
        #expect(throws: EngineError.self) { try store.search("c", vector: [1, 2], k: 1) }
        #expect(throws: EngineError.self) { try store.createCollection(CollectionConfiguration(name: "", dimension: 3)) }
    }

    @Test("a data directory has one open store at a time: in this process, in another, and not in a forked child")
    func directoryLock() throws {
        let dir = TemporaryDirectory("engram-lock")
        defer { dir.remove() }
        func expectInUse(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let error = #expect(throws: EngineError.self, sourceLocation: sourceLocation) { try Store.open(directory: path) }
            // Any other shape of error is a failure, not a reason to stop checking.
            #expect(error?.code == .invalidArgument, "\(String(describing: error))", sourceLocation: sourceLocation)
            #expect(error?.message.contains("in use by another open store") == true, sourceLocation: sourceLocation)
        }
        // In this process, under two spellings of the path.
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        expectInUse(dir.path)
        expectInUse(dir.path + "/./")

        // A child that fork copied the descriptors to and that has not exec'd yet (what posix_spawn's child
        // is, briefly, while another thread closes and reopens a store) must not keep the directory held.
        let child = fork()
        if child == 0 {
            usleep(3_000_000)
            _exit(0)
        }
        #expect(child > 0)
        defer {
            if child > 0 {
                _ = kill(child, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(child, &status, 0)
            }
        }
        try store.close()
        try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered)).close()

        // Another process: held while it runs, free once it is killed.
        let writerPath = ChildProcess.sibling("EngramCrashWriter")
        let writer = try #require(ChildProcess(writerPath, ["--data-dir", dir.path, "--start", "0", "--index", "hnsw"]))
        var acknowledged = false
        for _ in 0..<100 where !acknowledged {
            acknowledged = writer.readLines(for: 100).contains { $0.hasPrefix("ack ") }
        }
        #expect(acknowledged, "the writer acknowledged nothing")
        expectInUse(dir.path)
        writer.kill()
        let afterKill = try Store.open(directory: dir.path)
        #expect(try afterKill.count("crash") > 0)
        try afterKill.close(writingSnapshot: false)
    }

    @Test("SIGKILL at random moments loses no acknowledged write and half-applies nothing")
    func killedWriter() throws {
        try killTrials(index: "hnsw", defaultTrials: 50, seed: 102)
    }

    @Test("the same for a collection on IVF, killed before, during and after its training")
    func killedIVFWriter() throws {
        try killTrials(index: "ivf", defaultTrials: 20, seed: 103)
    }

    /// Kills `EngramCrashWriter --index <index>` at random moments, reopens, and counts lost and half-applied writes.
    private func killTrials(index: String, defaultTrials: Int, seed: UInt64) throws {
        let dir = TemporaryDirectory("engram-kill")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("store.kill.\(index)", defaultSeed: seed)
        let trials = Int(String(cString: getenv("ENGRAM_KILL_TRIALS") ?? strdup("\(defaultTrials)"))) ?? defaultTrials
        let writerPath = ChildProcess.sibling("EngramCrashWriter")
        var acknowledged = Set<String>()
        var next = 0
        var lost = 0, phantoms = 0
        for trial in 0..<trials {
            guard let child = ChildProcess(writerPath, ["--data-dir", dir.path, "--start", "\(next)", "--index", index]) else {
                Issue.record("cannot start \(writerPath)")
                return
            }
            let lines = child.readLines(for: Int.random(in: 30...250, using: &rng))
            child.kill()
            for line in lines where line.hasPrefix("ack ") { acknowledged.insert(String(line.dropFirst(4))) }
            // Reopen: replay, check every record.
            let store = try Store.open(directory: dir.path)
            guard (try? store.count("crash")) != nil else {
                #expect(acknowledged.isEmpty, "trial \(trial): collection missing after acknowledged writes")
                continue
            }
            for id in acknowledged where (try store.get("crash", id: id)) == nil { lost += 1 }
            var maxPresent = next - 1
            for i in next..<(next + 5000) {
                guard let r = try store.get("crash", id: "r\(i)") else { break }
                maxPresent = i
                // Present but unacknowledged is allowed (written, killed before the ack); half-applied is not.
                let expected = (0..<8).map { Float((i * 31 + $0 * 7) % 97) / 97 + 0.01 }
                if r.vector != expected || r.metadata != ["i": .number(Double(i))] { phantoms += 1 }
            }
            next = maxPresent + 1
            if let any = acknowledged.first, let r = try store.get("crash", id: any) {
                // The background indexer is moving the replayed rows into the graph meanwhile, and a graph
                // search is approximate while nodes are being linked: ask with a wide efSearch and k = 5, and
                // require the exact match among the results (what "searches work" means here).
                let hits = try store.search("crash", vector: r.vector, k: 5, efSearch: 400)
                #expect(hits.contains { $0.distance == 0 }, "trial \(trial): \(hits.map { ($0.id, $0.distance) })")
            }
            try store.close(writingSnapshot: false)
        }
        print("[kill] \(index): \(trials) trials, \(acknowledged.count) acknowledged writes, \(lost) lost, \(phantoms) half-applied")
        #expect(acknowledged.count > 0)
        #expect(lost == 0)
        #expect(phantoms == 0)
    }
}
