import Foundation
@testable import EngramEngine
import EngramIndex
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Float vectors in memory-mapped files (StoreOptions.mappedFloatsDirectory)")
struct MappedFloatsTests {
    /// The names in `path`.
    private func entries(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    @Test("a mapped region keeps its bytes as it grows and shrinks, and leaves no file behind")
    func regionKeepsBytes() throws {
        let dir = TemporaryDirectory("engram-mapped")
        defer { dir.remove() }
        var memory: MappedVectorMemory? = try MappedVectorMemory(directory: dir.path)
        #expect(try entries(dir.path).isEmpty)
        var region = try memory!.resize(nil, from: 0, to: 100, keeping: 0)
        var bytes = 100
        var written = 0
        for size in [5_000, 70_000, 1_000_000, 3_000, 250_000] {
            let kept = Swift.min(written, size)
            // Every byte kept holds its value: byte i is i mod 251.
            for i in 0..<kept { #expect(region.load(fromByteOffset: i, as: UInt8.self) == UInt8(i % 251)) }
            region = try memory!.resize(region, from: bytes, to: size, keeping: kept)
            bytes = size
            for i in 0..<kept where region.load(fromByteOffset: i, as: UInt8.self) != UInt8(i % 251) {
                Issue.record("byte \(i) changed in the resize to \(size)")
                break
            }
            for i in kept..<size { region.storeBytes(of: UInt8(i % 251), toByteOffset: i, as: UInt8.self) }
            written = size
        }
        memory!.release(region, bytes: bytes)
        memory = nil
        #expect(try entries(dir.path).isEmpty)

        let missing = dir.path + "/no-such-directory"
        let error = #expect(throws: EngineError.self) { try MappedVectorMemory(directory: missing) }
        #expect(error?.code == .io)
    }

    @Test("a store with mapped floats answers as the heap store does, through deletes, a snapshot and a reopen either way")
    func storeAnswersAsHeap() throws {
        let heapDir = TemporaryDirectory("engram-heap"), mappedDir = TemporaryDirectory("engram-mapped")
        let floatsDir = TemporaryDirectory("engram-floats")
        defer { heapDir.remove(); mappedDir.remove(); floatsDir.remove() }
        var rng = SeededGenerator.forTest("store.mapped-floats", defaultSeed: 1_201)
        let d = 32, n = 3_000
        let vectors = (0..<n).map { _ in (0..<d).map { _ in rng.gaussian() } }
        let queries = (0..<25).map { _ in (0..<d).map { _ in rng.gaussian() } }
        let records = vectors.enumerated().map { i, v in Record(id: "r\(i)", vector: v, metadata: ["even": .bool(i % 2 == 0)]) }
        var mapped = StoreOptions(durability: .osBuffered)
        mapped.mappedFloatsDirectory = floatsDir.path
        mapped.indexThreads = 1
        var heap = StoreOptions(durability: .osBuffered)
        heap.indexThreads = 1
        let configuration = CollectionConfiguration(name: "c", dimension: d, metric: .cosine)

        func answers(_ store: Store) throws -> [[String]] {
            try queries.map { q in try store.search("c", vector: q, k: 10, efSearch: 24).map(\.id) }
                + queries.map { q in try store.search("c", vector: q, k: 10, efSearch: 24, filter: .equals("even", .bool(true))).map(\.id) }
        }
        func exact() -> [[String]] {
            func cosine(_ a: [Float], _ b: [Float]) -> Float {
                var ab: Float = 0, aa: Float = 0, bb: Float = 0
                for i in 0..<d { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i] }
                return 1 - ab / (aa.squareRoot() * bb.squareRoot())
            }
            let all = queries.map { q in (0..<n).sorted { cosine(q, vectors[$0]) < cosine(q, vectors[$1]) }.prefix(10).map { "r\($0)" } }
            let even = queries.map { q in (0..<n).filter { $0 % 2 == 0 }.sorted { cosine(q, vectors[$0]) < cosine(q, vectors[$1]) }.prefix(10).map { "r\($0)" } }
            return all + even
        }
        let truth = exact()
        func recall(_ found: [[String]]) -> Double {
            Double(zip(found, truth).map { Set($0).intersection($1).count }.reduce(0, +)) / Double(truth.count * 10)
        }

        let heapAnswers: [[String]]
        do {
            let store = try Store.open(directory: heapDir.path, options: heap)
            try store.createCollection(configuration)
            for start in stride(from: 0, to: n, by: 500) { try store.upsert("c", Array(records[start..<(start + 500)])) }
            try store.waitUntilIndexed()
            heapAnswers = try answers(store)
            try store.close()
        }
        do {
            let store = try Store.open(directory: mappedDir.path, options: mapped)
            try store.createCollection(configuration)
            for start in stride(from: 0, to: n, by: 500) { try store.upsert("c", Array(records[start..<(start + 500)])) }
            try store.delete("c", ids: ["r1", "r2"])
            try store.upsert("c", [records[1], records[2]])
            try store.waitUntilIndexed()
            let info = try store.indexInfo("c")
            #expect(info.memory.floatsFileBacked && info.walksOnCodes)
            #expect(info.memory.floats >= n * d * 4)
            let found = try answers(store)
            print("mapped floats: recall@10 \(recall(found)), heap \(recall(heapAnswers)) (seed 1201; budget: within 0.02 of the heap store, both ≥ 0.9)")
            #expect(recall(found) >= recall(heapAnswers) - 0.02 && recall(heapAnswers) >= 0.9)
            try store.close()  // writes a snapshot
        }
        #expect(try entries(floatsDir.path).isEmpty)
        // The snapshot loads into mapped floats, and into the heap.
        for options in [mapped, heap] {
            let store = try Store.open(directory: mappedDir.path, options: options)
            #expect(try store.indexInfo("c").memory.floatsFileBacked == (options.mappedFloatsDirectory != nil))
            #expect(try store.count("c") == n)
            #expect(recall(try answers(store)) >= recall(heapAnswers) - 0.02)
            try store.close(writingSnapshot: false)
        }
        #expect(try entries(floatsDir.path).isEmpty)
    }

    @Test("a mapped-floats directory that does not exist fails the collection's creation as an I/O error; the store carries on")
    func missingDirectory() throws {
        let dir = TemporaryDirectory("engram-mapped")
        defer { dir.remove() }
        var options = StoreOptions(durability: .osBuffered)
        options.mappedFloatsDirectory = dir.path + "/absent"
        let store = try Store.open(directory: dir.path, options: options)
        let error = #expect(throws: EngineError.self) { try store.createCollection(CollectionConfiguration(name: "c", dimension: 8)) }
        #expect(error?.code == .io)
        #expect(store.collectionNames.isEmpty)
        try store.createCollection(CollectionConfiguration(name: "ivf", dimension: 8, ivf: IVFSettings()))
        try store.upsert("ivf", [Record(id: "a", vector: [1, 0, 0, 0, 0, 0, 0, 0])])
        #expect(try store.search("ivf", vector: [1, 0, 0, 0, 0, 0, 0, 0], k: 1).first?.id == "a")
        try store.close()
    }

    /// How many of every 41st record `r<i>` (`(n + 40) / 41` of them) are the top hit of a search for their own vector.
    private func foundByOwnVector(_ store: Store, _ collection: String, count n: Int, vector: (Int) -> [Float]) throws -> Int {
        var hits = 0
        for i in stride(from: 0, to: n, by: 41) where try store.search(collection, vector: vector(i), k: 1, efSearch: 200).first?.id == "r\(i)" {
            hits += 1
        }
        return hits
    }

    /// Runs `body` with a data directory and a 512 KiB tmpfs mounted for the floats; unmounts and removes both after.
    private func onSmallDisk(_ body: (TemporaryDirectory, TemporaryDirectory, SmallFilesystem) throws -> Void) throws {
        let dataDir = TemporaryDirectory("engram-full"), floatsDir = TemporaryDirectory("engram-full-floats")
        defer { dataDir.remove(); floatsDir.remove() }
        let disk = try #require(SmallFilesystem(mountingAt: floatsDir.path, bytes: 512 << 10), "mount -t tmpfs failed")
        defer { disk.unmount() }
        try body(dataDir, floatsDir, disk)
    }

    @Test(
        "a real full disk under the mapped floats: indexing stops with an io error, acknowledged writes stay searchable, a writer needing room gets io and nothing half-written; with room, all is indexed and survives a reopen",
        .enabled(if: SmallFilesystem.runs, "mounts a tmpfs: root only (always under CI)"))
    func realFullDisk() throws {
        // 512 KiB holds 2,048 rows of 64 floats: the graph's float file fills while 4,096 are staged.
        try onSmallDisk { dataDir, floatsDir, disk in
            var rng = SeededGenerator.forTest("store.full-disk", defaultSeed: 1_301)
            let d = 64, n = 4 * 1_024
            let records = (0..<n).map { i in Record(id: "r\(i)", vector: (0..<d).map { _ in rng.gaussian() }) }
            var options = StoreOptions(durability: .osBuffered)
            options.mappedFloatsDirectory = floatsDir.path
            options.backgroundIndexing = false  // indexing runs when this test asks for it
            options.maxUnindexed = n
            options.indexThreads = 1
            func found(_ store: Store) throws -> Int { try foundByOwnVector(store, "c", count: n) { records[$0].vector } }
            let sampled = (n + 40) / 41

            let store = try Store.open(directory: dataDir.path, options: options)
            try store.createCollection(CollectionConfiguration(name: "c", dimension: d, metric: .squaredL2))
            for start in stride(from: 0, to: n, by: 1_024) { try store.upsert("c", Array(records[start..<(start + 1_024)])) }
            let full = #expect(throws: EngineError.self) { try store.waitUntilIndexed() }
            print("full disk: \(full.map { "\($0)" } ?? "no error"); unindexed \(try store.unindexedCount("c")) of \(n)")
            #expect(full?.code == .io)
            #expect(full?.message.contains(floatsDir.path) == true)
            let waiting = try store.unindexedCount("c")
            #expect(waiting > 0 && waiting < n, "some blocks indexed before the disk filled, the rest staged")
            #expect(try store.count("c") == n)
            #expect(try found(store) == sampled)
            // A writer that must index to make room (its batch would pass maxUnindexed) gets the io error too,
            // and nothing of its batch is written.
            let extra = (0..<3_000).map { i in Record(id: "x\(i)", vector: (0..<d).map { _ in rng.gaussian() }) }
            let refused = #expect(throws: EngineError.self) { try store.upsert("c", extra) }
            #expect(refused?.code == .io)
            #expect(try store.get("c", id: "x0") == nil && store.count("c") == n)

            // Room again: everything staged goes into the graph.
            #expect(disk.resize(bytes: 16 << 20), "mount -o remount,size= failed")
            try store.waitUntilIndexed()
            #expect(try store.unindexedCount("c") == 0)
            #expect(try found(store) == sampled)
            try store.upsert("c", extra)
            #expect(try store.count("c") == n + extra.count)
            try store.close()

            let reopened = try Store.open(directory: dataDir.path, options: options)
            #expect(try reopened.count("c") == n + extra.count)
            #expect(try reopened.indexInfo("c").memory.floatsFileBacked)
            #expect(try found(reopened) == sampled)
            try reopened.close(writingSnapshot: false)
        }
    }

    @Test(
        "a restore into mapped floats on a real full disk is an io error and leaves no collection; with room it restores",
        .enabled(if: SmallFilesystem.runs, "mounts a tmpfs: root only (always under CI)"))
    func restoreOntoFullDisk() throws {
        try onSmallDisk { dataDir, floatsDir, disk in
            var rng = SeededGenerator.forTest("store.restore-full-disk", defaultSeed: 1_307)
            let d = 64, n = 4_096  // 1 MiB of floats: twice the disk
            let rows = (0..<(n * d)).map { _ in rng.gaussian() }
            var options = StoreOptions(durability: .osBuffered)
            options.mappedFloatsDirectory = floatsDir.path
            options.indexThreads = 1
            let store = try Store.open(directory: dataDir.path, options: options)
            let configuration = CollectionConfiguration(name: "r", dimension: d, metric: .squaredL2)
            // The stream a restore reads (from PostgreSQL in `engram restore`), here from memory.
            func restore() throws -> Int {
                try rows.withUnsafeBufferPointer { all in
                    try store.restoreCollection(configuration, checkpointLSN: 7, threads: 1) { emit in
                        for i in 0..<n {
                            try emit(Store.RestoredRecord(
                                id: "r\(i)", vector: UnsafeBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)]), metadata: .object([:]), lsn: 7))
                        }
                    }
                }
            }
            let full = #expect(throws: EngineError.self) { try restore() }
            print("restore onto a full disk: \(full.map { "\($0)" } ?? "no error")")
            #expect(full?.code == .io)
            #expect(full?.message.contains(floatsDir.path) == true)
            #expect(store.collectionNames.isEmpty)

            #expect(disk.resize(bytes: 16 << 20), "mount -o remount,size= failed")
            #expect(try restore() == n)
            #expect(try store.indexInfo("r").memory.floatsFileBacked)
            #expect(try foundByOwnVector(store, "r", count: n) { Array(rows[($0 * d)..<(($0 + 1) * d)]) } == (n + 40) / 41)
            try store.close()
        }
    }

}

/// A tmpfs of a given size mounted over a directory, for a test of a real
/// full disk: root only, so the test runs where the tests run as root and
/// always under CI (where a failed mount fails the test).
struct SmallFilesystem {
    let path: String

    static var runs: Bool { geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil }

    init?(mountingAt path: String, bytes: Int) {
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path]) else { return nil }
        self.path = path
    }

    func resize(bytes: Int) -> Bool { Self.run("/bin/mount", ["-o", "remount,size=\(bytes)", path]) }

    func unmount() { _ = Self.run("/bin/umount", [path]) }

    private static func run(_ tool: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
