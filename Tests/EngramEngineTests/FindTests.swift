import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import Testing

/// `Store.find` and `Store.findMetadata`: exact lookups by metadata, the
/// memory layer's relations. Checked against the filter's definition over a
/// model of the live records, while records are staged, indexed, updated
/// and deleted, and after a reopen.
@Suite("Store: finding records by metadata")
struct FindTests {
    @Test("find and findMetadata return exactly the live records the filter matches, in label order, up to the limit")
    func findAgreesWithDefinition() throws {
        var rng = SeededGenerator.forTest("engine.find", defaultSeed: 2_027)
        let dir = TemporaryDirectory("engram-find")
        defer { dir.remove() }
        var options = StoreOptions(durability: .osBuffered)
        options.backgroundIndexing = false
        var store = try Store.open(directory: dir.path, options: options)
        try store.createCollection(CollectionConfiguration(name: "facts", dimension: 4, metric: .squaredL2))  // vectors stored as written
        var model = [String: Record]()
        func record(_ i: Int) -> Record {
            // 4,000 records of 300 subjects: a subject's postings are selective, a tenant's are not.
            Record(id: "f\(i)", vector: (0..<4).map { _ in Float.random(in: -1...1, using: &rng) },
                   metadata: ["tenant": Bool.random(using: &rng) ? "t1" : "t2", "subject": .string("s\(Int.random(in: 0..<300, using: &rng))"),
                              "at": .number(Double(Int.random(in: 0..<1_000, using: &rng)))])
        }
        func write(_ records: [Record]) throws {
            try store.upsert("facts", records)
            for r in records { model[r.id] = r }
        }
        func check(_ stage: String) throws {
            for _ in 0..<40 {
                let subject = MetadataValue.string("s\(Int.random(in: 0..<310, using: &rng))")
                let filters: [MetadataFilter] = [
                    .and([.equals("tenant", "t1"), .or([.equals("subject", subject), .equals("subject", "s7")])]),
                    .and([.equals("subject", subject), .range("at", lower: 500, lowerInclusive: true, upper: nil, upperInclusive: false)]),
                    .equals("tenant", "t2"),
                ]
                for filter in filters {
                    let expected = Set(model.values.filter { filter.matches($0.metadata) }.map(\.id))
                    let found = try store.find("facts", filter: filter, limit: 1_000_000)
                    #expect(Set(found.map(\.id)) == expected && found.count == expected.count, "\(stage): \(filter)")
                    #expect(found.allSatisfy { model[$0.id] == $0 }, "\(stage): the records as written")
                    let metadata = try store.findMetadata("facts", filter: filter, limit: 1_000_000)
                    #expect(metadata == found.map { RecordMetadata(id: $0.id, metadata: $0.metadata) }, "\(stage): findMetadata agrees")
                    let limited = try store.find("facts", filter: filter, limit: 3)
                    #expect(limited.map(\.id) == Array(found.prefix(3)).map(\.id), "\(stage): the limit keeps the first in label order")
                }
            }
        }
        try write((0..<4_000).map(record))
        try check("staged")
        try store.waitUntilIndexed()
        try check("indexed")
        try write((0..<4_000).shuffled(using: &rng).prefix(1_500).map(record))  // updates, staged again
        let gone = (0..<800).map { _ in "f\(Int.random(in: 0..<4_000, using: &rng))" }
        try store.delete("facts", ids: gone)
        for id in gone { model[id] = nil }
        try check("updated and deleted")
        try store.close(writingSnapshot: false)
        store = try Store.open(directory: dir.path, options: options)
        defer { try? store.close() }
        try check("replayed")
        #expect(throws: EngineError.self) { try store.findMetadata("facts", filter: .equals("tenant", "t1"), limit: 0) }
        #expect(throws: EngineError.self) { try store.findMetadata("nothing", filter: .equals("tenant", "t1")) }
    }
}
