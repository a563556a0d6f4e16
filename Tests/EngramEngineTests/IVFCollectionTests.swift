@testable import EngramEngine
import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Collections indexed by IVF: exact until trained, then lists; durable
/// through snapshots and replay; retrained by the store's maintenance once
/// the data drifts.
@Suite("Collections on IVF")
struct IVFCollectionTests {
    /// `n` vectors around `clusters` centres shifted by `shift`.
    static func vectors(_ name: String, seed: UInt64, n: Int, d: Int, shift: Float = 0) -> [[Float]] {
        var rng = SeededGenerator.forTest(name, defaultSeed: seed)
        let centres = (0..<20).map { _ in (0..<d).map { _ in rng.gaussian() * 2 } }
        return (0..<n).map { _ in centres[Int.random(in: 0..<20, using: &rng)].map { $0 + 0.5 * rng.gaussian() + shift } }
    }

    /// The exact answer over what the store should hold (squared L2).
    static func exact(_ live: [String: [Float]], _ q: [Float], k: Int) -> [String] { WritePathTests.exact(live, q, k: k) }

    @Test("exact before training, lists after; gets, deletes, replay and a full probe agree with exact search")
    func lifecycle() throws {
        let dir = TemporaryDirectory("engram-ivf-collection")
        defer { dir.remove() }
        let d = 16
        let configuration = CollectionConfiguration(
            name: "memories", dimension: d, metric: .squaredL2, ivf: IVFSettings(nlist: 16, nprobe: 4, trainingSize: 1000))
        let vs = Self.vectors("ivf.collection", seed: 521, n: 3000, d: d)
        var live = [String: [Float]]()
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(configuration)
            #expect(throws: EngineError.self) {  // the same name with other parameters
                try store.createCollection(CollectionConfiguration(name: "memories", dimension: d, metric: .squaredL2))
            }
            try store.upsert("memories", (0..<600).map { Record(id: "m\($0)", vector: vs[$0]) })
            for i in 0..<600 { live["m\(i)"] = vs[i] }
            try store.waitUntilIndexed()
            let untrained = try store.indexInfo("memories")
            #expect(untrained.kind == "ivf" && !untrained.trained && untrained.lists == nil && untrained.drift == nil)
            // Untrained: every search is exact.
            for q in stride(from: 0, to: 600, by: 37) {
                #expect(try store.search("memories", vector: vs[q], k: 5).map(\.id) == Self.exact(live, vs[q], k: 5))
            }
            try store.upsert("memories", (600..<3000).map { Record(id: "m\($0)", vector: vs[$0], metadata: .object(["n": .number(Double($0))])) })
            for i in 600..<3000 { live["m\(i)"] = vs[i] }
            _ = try store.delete("memories", ids: (0..<100).map { "m\($0 * 3)" })
            for i in 0..<100 { live["m\(i * 3)"] = nil }
            try store.waitUntilIndexed()
            let info = try store.indexInfo("memories")
            #expect(info.kind == "ivf" && info.trained && info.lists == 16)
            #expect(try store.count("memories") == live.count)
            #expect(try store.get("memories", id: "m1500")?.vector == vs[1500])
            #expect(try store.get("memories", id: "m3") == nil)
            try store.close(writingSnapshot: false)
        }
        // Reopened from the log alone (the create record carries the IVF settings; the lists are trained again
        // on replay): a full probe (efSearch = nlist) is exact, a default one keeps recall.
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.waitUntilIndexed()
        #expect(try store.configuration("memories") == configuration)
        #expect(try store.indexInfo("memories").trained)
        var hits = 0, total = 0
        for q in stride(from: 1, to: 3000, by: 29) {
            let truth = Self.exact(live, vs[q], k: 10)
            #expect(try store.search("memories", vector: vs[q], k: 10, efSearch: 16).map(\.id) == truth, "query \(q)")
            hits += Set(try store.search("memories", vector: vs[q], k: 10).map(\.id)).intersection(truth).count
            total += 10
        }
        print("IVF collection recall@10 at nprobe 4 of 16: \(Double(hits) / Double(total)) (seed 521; budget 0.8)")
        #expect(Double(hits) / Double(total) >= 0.8)
        // And from a snapshot.
        try store.close()
        let again = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? again.close() }
        #expect(try again.indexInfo("memories").trained && again.count("memories") == live.count)
        for q in stride(from: 5, to: 3000, by: 97) {
            #expect(try again.search("memories", vector: vs[q], k: 10, efSearch: 16).map(\.id) == Self.exact(live, vs[q], k: 10))
        }
    }

    @Test("the store's maintenance retrains the lists once the data drifts")
    func retrainsAfterDrift() throws {
        let dir = TemporaryDirectory("engram-ivf-drift")
        defer { dir.remove() }
        let d = 16
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(CollectionConfiguration(
            name: "c", dimension: d, metric: .squaredL2, ivf: IVFSettings(nlist: 24, trainingSize: 2000)))
        let before = Self.vectors("ivf.drift.store", seed: 523, n: 2000, d: d)
        try store.upsert("c", before.enumerated().map { Record(id: "a\($0.offset)", vector: $0.element) })
        try store.waitUntilIndexed()
        let settled = try #require(try store.indexInfo("c").drift)
        // The same mixture, moved far away: it piles into the lists at the edge, until maintenance retrains.
        let after = Self.vectors("ivf.drift.store.after", seed: 523, n: 6000, d: d, shift: 8)
        try store.upsert("c", after.enumerated().map { Record(id: "b\($0.offset)", vector: $0.element) })
        try store.waitUntilIndexed()
        // Maintenance runs in the background: give it time.
        _ = try eventually(pollMilliseconds: 50) { try store.indexInfo("c").retrainings > 0 }
        let info = try store.indexInfo("c")
        let drift = try #require(info.drift)
        print("IVF collection drift: \(settled) after training, \(drift) after the moved data and maintenance (seed 523)")
        #expect(settled < 1.5)
        #expect(drift <= 2, "maintenance did not retrain: drift \(drift)")
        #expect(info.retrainings >= 1)
        #expect(try store.count("c") == 8000)
    }

    @Test("the IVF collection index round-trips through its snapshot, pending or trained; damaged bytes are a typed error")
    func indexSnapshot() throws {
        let d = 8
        let vs = Self.vectors("ivf.collection.snapshot", seed: 547, n: 600, d: d)
        let settings = IVFSettings(nlist: 8, nprobe: 8, trainingSize: 400)
        let index = try IVFCollectionIndex(dimension: d, metric: .squaredL2, settings: settings)
        // L2 vectors are prepared as they are (finite, no normalisation).
        try vs[0..<300].flatMap { $0 }.withUnsafeBufferPointer { try index.insert(preparedRows: $0, labels: (0..<300).map { VectorID($0) }, threads: 1) }
        var rng = SeededGenerator.forTest("ivf.collection.snapshot.damage", defaultSeed: 557)
        for stage in ["pending", "trained"] {
            if stage == "trained" {
                try vs[300..<600].flatMap { $0 }.withUnsafeBufferPointer {
                    try index.insert(preparedRows: $0, labels: (300..<600).map { VectorID($0) }, threads: 1)
                }
                #expect(index.isTrained)
            }
            let bytes = index.snapshot()
            let loaded = try bytes.withUnsafeBytes { try IVFCollectionIndex.load($0, dimension: d, metric: .squaredL2, settings: settings) }
            #expect(loaded.count == index.count && loaded.isTrained == index.isTrained, "\(stage)")
            #expect(loaded.snapshot() == bytes, "\(stage)")
            for q in stride(from: 0, to: index.count, by: 41) {
                let query = vs[q]
                let a = try query.withUnsafeBufferPointer { try index.search($0, k: 5, searchEffort: 8, filter: nil) }
                let b = try query.withUnsafeBufferPointer { try loaded.search($0, k: 5, searchEffort: 8, filter: nil) }
                #expect(a == b, "\(stage) query \(q)")
            }
            // Every cut of the first 100 bytes and of the last 100, and 200 flipped bits.
            for cut in Array(0..<100) + Array((bytes.count - 100)..<bytes.count) {
                #expect(throws: EngineError.self) {
                    try Array(bytes[0..<cut]).withUnsafeBytes { try IVFCollectionIndex.load($0, dimension: d, metric: .squaredL2, settings: settings) }
                }
            }
            for _ in 0..<200 {
                var damaged = bytes
                let bit = Int.random(in: 0..<(bytes.count * 8), using: &rng)
                damaged[bit / 8] ^= UInt8(1 << (bit % 8))
                #expect(throws: EngineError.self) {
                    try damaged.withUnsafeBytes { try IVFCollectionIndex.load($0, dimension: d, metric: .squaredL2, settings: settings) }
                }
            }
            // Another dimension is refused.
            #expect(throws: EngineError.self) {
                try bytes.withUnsafeBytes { try IVFCollectionIndex.load($0, dimension: d + 1, metric: .squaredL2, settings: settings) }
            }
        }
    }

    @Test("the create record carries the IVF settings; an unknown index kind or a cut trailer is corruption")
    func createRecord() throws {
        let configurations = [
            CollectionConfiguration(name: "h", dimension: 3),
            CollectionConfiguration(name: "i", dimension: 3, metric: .innerProduct, ivf: IVFSettings()),
            CollectionConfiguration(name: "j", dimension: 9, metric: .squaredL2, ivf: IVFSettings(nlist: 40, nprobe: 3, trainingSize: 5000)),
        ]
        for configuration in configurations {
            let bytes = LogPayload.create(configuration).encode()
            let decoded = try bytes.withUnsafeBytes { try LogPayload.decode(type: 1, $0) }
            guard case .create(let back) = decoded else { Issue.record("not a create record"); continue }
            #expect(back == configuration)
        }
        let ivf = LogPayload.create(configurations[2]).encode()
        var unknownKind = ivf
        unknownKind[ivf.count - 13] = 2  // the kind byte, before three u32 fields
        for bad in [unknownKind, Array(ivf.dropLast(2)), ivf + [0]] {
            #expect(throws: EngineError.self) { try bad.withUnsafeBytes { try LogPayload.decode(type: 1, $0) } }
        }
    }
}
