import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The store's golden files (`Fixtures/golden/`, `GoldenFiles`):
///
/// - `store-v3/`: a data directory written by the code of its time (up to
///   commit e18220b, the last before version 4): a snapshot of
///   version 3 (checkpoint LSN, tombstones), an HNSW collection with indexed,
///   staged, replaced and deleted records, a trained IVF collection (its
///   IVF collection index inside the snapshot), a cosine collection stored at
///   half precision (the create record's trailer), a checkpoint at LSN 2 (to
///   an in-memory target) with deletes after it, and log records above the
///   snapshot that replay on open.
/// - `store-v2/`: a data directory whose snapshot is of version 2, written
///   by the code of commit b8b2117 (the last before version 3) with
///   `engram import` of `store-v2-import-1.jsonl`, then `store-v2-import-2.jsonl`
///   (`v2Records()`): its snapshot is version 2 and its log still holds the
///   segment from LSN 1.
@Suite("Golden files: store snapshots of versions 2 and 3")
struct StoreGoldenFileTests {
    static let d = 8

    static func metadata(_ i: Int) -> MetadataValue {
        ["i": .number(Double(i)), "tag": .string("t\(i % 3)"), "at": .timestamp(microseconds: Int64(i) * 1_000_000)]
    }

    // (Run today, this writes a version 4 snapshot: the committed directory is the version 3 one.)
    @Test("write the version 3 data directory when asked and missing", .enabled(if: GoldenFiles.writing))
    func write() throws {
        guard !GoldenFiles.exists("store-v3") else { return }
        let dir = GoldenFiles.path("store-v3")
        let store = try Store.open(directory: dir, options: GoldenFiles.storeWriterOptions)
        try store.createCollection(CollectionConfiguration(
            name: "g-hnsw", dimension: Self.d, metric: .squaredL2, hnsw: HNSWConfiguration(m: 8, efConstruction: 64)))
        try store.upsert("g-hnsw", (0..<20).map { Record(id: "g\($0)", vector: GoldenFiles.vector($0, dimension: Self.d), metadata: Self.metadata($0)) })
        try store.waitUntilIndexed()
        // A checkpoint (LSN 2), so the deletes after it are kept as tombstones in the snapshot.
        #expect(try store.checkpoint(to: InMemoryCheckpointTarget()).lsn == 2)
        try store.upsert("g-hnsw", (20..<30).map { Record(id: "g\($0)", vector: GoldenFiles.vector($0, dimension: Self.d), metadata: Self.metadata($0)) })
        try store.upsert("g-hnsw", [Record(id: "g5", vector: GoldenFiles.vector(105, dimension: Self.d), metadata: Self.metadata(105))])
        try store.delete("g-hnsw", ids: ["g3", "g25"])

        try store.createCollection(CollectionConfiguration(
            name: "g-ivf", dimension: Self.d, metric: .squaredL2, ivf: IVFSettings(nlist: 4, nprobe: 4, trainingSize: 40)))
        try store.upsert("g-ivf", (0..<60).map { Record(id: "v\($0)", vector: GoldenFiles.vector($0, dimension: Self.d), metadata: ["i": .number(Double($0))]) })
        try store.waitUntilIndexed()

        try store.createCollection(CollectionConfiguration(name: "g-half", dimension: Self.d, metric: .cosine, storedPrecision: .float16))
        try store.upsert("g-half", (0..<5).map { Record(id: "h\($0)", vector: GoldenFiles.vector($0 + 1, dimension: Self.d)) })
        try store.snapshot()
        // Above the snapshot: replayed when the directory opens.
        try store.upsert("g-hnsw", [Record(id: "g30", vector: GoldenFiles.vector(30, dimension: Self.d), metadata: Self.metadata(30))])
        try store.delete("g-hnsw", ids: ["g1"])
        // The directory as a crash would leave it (no closing snapshot): the lock file is not part of it.
        unlink(dir + "/LOCK")
        _ = store  // not closed: the fixture keeps the log above the snapshot
    }

    /// What `store-v3` holds once its log is replayed.
    static func expectedV3() -> [String: (vector: [Float], metadata: MetadataValue)] {
        var records = [String: (vector: [Float], metadata: MetadataValue)]()
        for i in 0..<31 { records["g\(i)"] = (GoldenFiles.vector(i, dimension: d), metadata(i)) }
        records["g5"] = (GoldenFiles.vector(105, dimension: d), metadata(105))
        for gone in ["g1", "g3", "g25"] { records[gone] = nil }
        return records
    }

    @Test("the version 3 directory opens (snapshot + log above it): every record, vector and metadata; IVF trained; half precision kept")
    func readV3() throws {
        let dir = TemporaryDirectory("engram-golden-v3")
        defer { dir.remove() }
        #expect(GoldenFiles.copyDirectory("store-v3", to: dir.path))
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        #expect(store.collectionNames == ["g-half", "g-hnsw", "g-ivf"])
        let expected = Self.expectedV3()
        #expect(Set(try store.ids("g-hnsw")) == Set(expected.keys))
        for (id, record) in expected {
            let got = try #require(try store.get("g-hnsw", id: id), "\(id)")
            #expect(got.vector == record.vector && got.metadata == record.metadata, "\(id)")
        }
        // The snapshot kept the last checkpoint's LSN and the deletes the database has not been sent (version 3).
        #expect(store.checkpointLSN == 2)
        let versions = try store.versions("g-hnsw")
        #expect(Set(versions.deleted.map(\.id)).isSuperset(of: ["g1", "g3", "g25"]))
        #expect(try store.indexInfo("g-ivf").kind == "ivf" && store.indexInfo("g-ivf").trained)
        #expect(try store.indexInfo("g-ivf").lists == 4)
        for i in 0..<60 {
            #expect(try store.get("g-ivf", id: "v\(i)")?.vector == GoldenFiles.vector(i, dimension: Self.d), "v\(i)")
        }
        #expect(try store.configuration("g-half").storedPrecision == .float16)
        #expect(try store.count("g-half") == 5)
        // Search answers are exact on these small collections.
        let hit = try store.search("g-hnsw", vector: GoldenFiles.vector(105, dimension: Self.d), k: 1, efSearch: 100)
        #expect(hit.first?.id == "g5" && hit.first?.distance == 0)
    }

    /// The records `store-v2.jsonl` holds (imported by the old code in two runs: 0..<25, then 25..<40 and g7 again).
    static func v2Records() -> [String: [Float]] {
        var records = [String: [Float]]()
        for i in 0..<40 { records["g\(i)"] = GoldenFiles.vector(i, dimension: d) }
        records["g7"] = GoldenFiles.vector(107, dimension: d)
        return records
    }

    @Test("the version 2 snapshot written by the code of its time opens: every record, vector and metadata")
    func readV2() throws {
        let dir = TemporaryDirectory("engram-golden-v2")
        defer { dir.remove() }
        #expect(GoldenFiles.copyDirectory("store-v2", to: dir.path))
        let bytes = try #require(GoldenFiles.read("store-v2/snapshot-00000000000000000003.engram"))
        #expect(bytes[8..<12] == [2, 0, 0, 0], "the fixture must hold a version 2 snapshot")
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        #expect(store.collectionNames == ["g"])
        let expected = Self.v2Records()
        #expect(Set(try store.ids("g")) == Set(expected.keys))
        for (id, vector) in expected {
            let got = try #require(try store.get("g", id: id), "\(id)")
            #expect(got.vector == vector, "\(id)")
            #expect(got.metadata == ["n": .number(Double(id.dropFirst()) ?? -1)], "\(id)")
        }
    }
}
