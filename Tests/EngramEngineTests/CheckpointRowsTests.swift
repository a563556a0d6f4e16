@testable import EngramEngine
import EngramSync
import EngramIndex
import EngramTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint's rows are read while the target streams them, not copied
/// while writers wait (``CheckpointRows``): writes that end the pinned
/// versions and reuse their labels meanwhile must not show through.
@Suite("Checkpoint rows: read during the commit, as of the capture")
struct CheckpointRowsTests {
    /// A target in memory that runs `between` in the middle of its commit,
    /// after reading the first half of each collection's rows.
    final class InterleavingTarget: CheckpointTarget, @unchecked Sendable {
        let between: () throws -> Void
        var rows: [String: [Float]] = [:]
        var deleted: Set<String> = []
        var lsn: UInt64 = 0
        var kept: [CheckpointRows] = []

        init(between: @escaping () throws -> Void) { self.between = between }

        func state() throws -> CheckpointTargetState { CheckpointTargetState(lsn: lsn, owner: nil) }

        func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult {
            for c in checkpoint.collections {
                let d = c.configuration.dimension, n = c.ids.count, half = n / 2
                var buffer = [Float](repeating: .nan, count: n * d)
                try buffer.withUnsafeMutableBufferPointer { b in
                    try c.vectors.read(0..<half, into: b.baseAddress!)
                    try between()
                    try c.vectors.read(half..<n, into: b.baseAddress! + half * d)
                }
                for (id, _) in c.deleted { rows[id] = nil; deleted.insert(id) }
                for (i, id) in c.ids.enumerated() { rows[id] = Array(buffer[(i * d)..<((i + 1) * d)]) }
                kept.append(c.vectors)
            }
            lsn = checkpoint.lsn
            return CheckpointCommitResult()
        }
    }

    @Test("deletes, updates and label reuse during the commit leave the captured rows as they were",
          arguments: ["hnsw", "ivf"])
    func rowsHoldWhileWritesGoOn(kind: String) throws {
        let dir = TemporaryDirectory("engram-checkpoint-rows")
        defer { dir.remove() }
        var options = StoreOptions(durability: .osBuffered)
        options.backgroundIndexing = false  // placement under the test's control
        let store = try Store.open(directory: dir.path, options: options)
        let d = 8
        let ivf = kind == "ivf" ? IVFSettings(nlist: 16, nprobe: 4, trainingSize: 1000) : nil
        try store.createCollection(CollectionConfiguration(name: "c", dimension: d, metric: .squaredL2, ivf: ivf))
        var rng = SeededGenerator.forTest("checkpoint.rows", defaultSeed: 601)
        func vector() -> [Float] { (0..<d).map { _ in rng.gaussian() } }
        var captured = [String: [Float]]()
        for start in stride(from: 0, to: 4000, by: 500) {
            let batch = (start..<(start + 500)).map { Record(id: "r\($0)", vector: vector()) }
            try store.upsert("c", batch)
            for r in batch { captured[r.id] = r.vector }
        }
        // About 2,500 records in the graph, the rest staged.
        while try store.unindexedCount("c") > 1500 { _ = try store.indexBlock(of: store.collection("c")) }
        #expect(try store.unindexedCount("c") > 0)

        // Rows are in label order, so records 2000 and up are in the second half.
        var after = captured
        let target = InterleavingTarget {
            let graphDeletes = (2000..<2200).map { "r\($0)" }, stagedDeletes = (3800..<3900).map { "r\($0)" }
            try store.delete("c", ids: graphDeletes + stagedDeletes)
            for id in graphDeletes + stagedDeletes { after[id] = nil }
            let updates = (Array(2200..<2400) + Array(3900..<4000)).map { Record(id: "r\($0)", vector: vector()) }
            let added = (0..<1000).map { Record(id: "n\($0)", vector: vector()) }  // into the labels just freed
            try store.upsert("c", updates)
            try store.upsert("c", added)
            for r in updates + added { after[r.id] = r.vector }
            while try store.indexBlock(of: store.collection("c")) != nil {}
        }
        let first = try store.checkpoint(to: target)
        #expect(first.upserts == 4000)
        #expect(target.rows.count == captured.count)
        let wrong = captured.filter { target.rows[$0.key] != $0.value }.map(\.key).sorted()
        #expect(wrong.isEmpty, "rows not as captured: \(wrong.prefix(10))")

        // The pin ended with the commit.
        var scratch = [Float](repeating: 0, count: d)
        #expect(throws: EngineError.self) {
            try scratch.withUnsafeMutableBufferPointer { try target.kept[0].read(0..<1, into: $0.baseAddress!) }
        }

        // The next checkpoint carries what the writes changed.
        let calm = InterleavingTarget {}
        calm.rows = target.rows
        calm.lsn = target.lsn
        let second = try store.checkpoint(to: calm)
        #expect(second.upserts == 1300 && second.deletes == 300)
        #expect(calm.rows.count == after.count)
        #expect(calm.rows.filter { after[$0.key] != $0.value }.isEmpty)
        try store.close()
    }

    @Test("a writer thread churning during checkpoints never shows another record's vector")
    func concurrentChurn() throws {
        let dir = TemporaryDirectory("engram-checkpoint-rows-churn")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        let d = 8, ids = 600
        try store.createCollection(CollectionConfiguration(name: "c", dimension: d, metric: .squaredL2))
        // Every version of every id, each vector distinct: a reused label showing through would name another's.
        let written = Locked<[String: [[Float]]]>([:])
        var seedRNG = SeededGenerator.forTest("checkpoint.rows.churn", defaultSeed: 607)
        let writerSeed = seedRNG.next()
        let stop = Atomic<Bool>(false)
        let target = InterleavingTarget { usleep(200_000) }  // the writer churns between the two halves
        let failures = Locked<[String]>([])
        runOnThreads(2) { t in
            if t == 1 {  // the checkpointer
                for round in 1...5 {
                    // Each checkpoint after more writes than the last.
                    while !stop.load(ordering: .acquiring) && written.withLock({ $0.values.reduce(0) { $0 + $1.count } }) < 400 * round { usleep(1000) }
                    do { _ = try store.checkpoint(to: target) } catch { failures.withLock { $0.append("\(error)") } }
                }
                stop.store(true, ordering: .releasing)
                return
            }
            var rng = SplitMix64(seed: writerSeed)
            while !stop.load(ordering: .acquiring) {
                var batch = [String: Record]()
                for _ in 0..<50 {
                    let id = "r\(rng.next() % UInt64(ids))"
                    batch[id] = Record(id: id, vector: (0..<d).map { _ in Float(Int64(rng.next() % 2001) - 1000) / 100 })
                }
                written.withLock { w in for r in batch.values { w[r.id, default: []].append(r.vector) } }
                do {
                    try store.upsert("c", Array(batch.values))
                    _ = try store.delete("c", ids: ["r\(rng.next() % UInt64(ids))"])
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let versions = written.withLock { $0 }
        let foreign = target.rows.filter { id, row in !(versions[id] ?? []).contains(row) }.map(\.key)
        #expect(foreign.isEmpty, "rows that were never a version of their id: \(foreign.prefix(5))")
        #expect(!target.rows.isEmpty)
        try store.close()
    }
}
