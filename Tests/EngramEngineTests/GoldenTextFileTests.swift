import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `Fixtures/golden/store-v4/`: a data directory of snapshot version 4 with
/// a collection that has text fields (the create record's trailer 3): a
/// snapshot holding records' texts and the text index (`ENGRTEXT`), texts
/// replaced, removed and deleted before it, and log records of type 4 above
/// it that replay on open.
@Suite("Golden files: a store snapshot of version 4 with text fields")
struct StoreTextGoldenFileTests {
    static let d = 8
    static let settings = TextSettings(fields: ["title", "content"], k1: 1.3, b: 0.7)

    static func text(_ i: Int) -> [String: String] {
        switch i % 4 {
        case 0: return [:]
        case 1: return ["content": "upload \(i) failed with ENOSPC on libfoo-dev"]
        case 2: return ["title": "agent \(i)", "content": "retrying the connection; the planner's cache is full"]
        default: return ["title": "summary of task \(i)"]
        }
    }

    @Test("write the version 4 data directory when asked and missing", .enabled(if: GoldenFiles.writing))
    func write() throws {
        guard !GoldenFiles.exists("store-v4") else { return }
        let dir = GoldenFiles.path("store-v4")
        let store = try Store.open(directory: dir, options: GoldenFiles.storeWriterOptions)
        try store.createCollection(CollectionConfiguration(
            name: "g-text", dimension: Self.d, metric: .cosine, hnsw: HNSWConfiguration(m: 8, efConstruction: 64), text: Self.settings))
        try store.upsert("g-text", (0..<24).map { Record(id: "t\($0)", vector: GoldenFiles.vector($0 + 1, dimension: Self.d), text: Self.text($0)) })
        try store.waitUntilIndexed()
        try store.upsert("g-text", [Record(id: "t1", vector: GoldenFiles.vector(101, dimension: Self.d), text: ["title": "replaced before the snapshot"]),
                                    Record(id: "t2", vector: GoldenFiles.vector(102, dimension: Self.d))])
        try store.delete("g-text", ids: ["t5"])
        try store.snapshot()
        // Above the snapshot: replayed when the directory opens.
        try store.upsert("g-text", [Record(id: "t24", vector: GoldenFiles.vector(124, dimension: Self.d), text: ["content": "logged after the snapshot"]),
                                    Record(id: "t6", vector: GoldenFiles.vector(106, dimension: Self.d), text: ["content": "replaced after the snapshot"])])
        try store.delete("g-text", ids: ["t9"])
        unlink(dir + "/LOCK")
        _ = store  // not closed: the fixture keeps the log above the snapshot
    }

    static func expected() -> [String: [String: String]] {
        var records = [String: [String: String]]()
        for i in 0..<24 { records["t\(i)"] = text(i) }
        records["t1"] = ["title": "replaced before the snapshot"]
        records["t2"] = [:]
        records["t24"] = ["content": "logged after the snapshot"]
        records["t6"] = ["content": "replaced after the snapshot"]
        records["t5"] = nil
        records["t9"] = nil
        return records
    }

    @Test("the version 4 directory opens: every record's texts, the text index loaded and replayed on top")
    func read() throws {
        let dir = TemporaryDirectory("engram-golden-v4")
        defer { dir.remove() }
        #expect(GoldenFiles.copyDirectory("store-v4", to: dir.path))
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        #expect(try store.configuration("g-text").text == Self.settings)
        let expected = Self.expected()
        #expect(Set(try store.ids("g-text")) == Set(expected.keys))
        for (id, text) in expected { #expect(try store.get("g-text", id: id)?.text == text, "\(id)") }
        try TextFieldsTests.expectMatchesRebuilt(store, "g-text", queries: ["ENOSPC", "upload failed", "replaced snapshot", "agent", "libfoo-dev", "summary task"])
        func ids(_ q: String) throws -> Set<String> { Set(try store.search("g-text", HybridQuery(text: q, k: 100)).map(\.id)) }
        #expect(try ids("replaced") == ["t1", "t6"])
        #expect(try ids("logged") == ["t24"])
        #expect(try ids("upload 9").isDisjoint(with: ["t9", "t5"]))
    }
}
