import Foundation
@testable import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import EngramText
import Testing

/// Text fields in the engine: validated, logged with their record, replayed,
/// snapshotted, and always searchable exactly as an index built from
/// scratch over the live records would answer.
@Suite("Store: text fields and hybrid search")
struct TextFieldsTests {
    static let vocabulary = [
        "upload", "failed", "disk", "full", "ENOSPC", "retry", "agent", "planner", "memory", "timeout", "network",
        "libfoo-dev", "os.path.join", "connection", "refused", "cache", "token", "budget", "summary", "error",
    ]

    static func sentence(_ rng: inout SeededGenerator) -> String {
        (0..<Int.random(in: 2...9, using: &rng)).map { _ in vocabulary[Int.random(in: 0..<vocabulary.count, using: &rng)] }
            .joined(separator: " ")
    }

    static func configuration(_ name: String = "notes", dimension: Int = 8) -> CollectionConfiguration {
        CollectionConfiguration(name: name, dimension: dimension, text: TextSettings(fields: ["title", "content"]))
    }

    /// Checks that every text query answers as a text index built from
    /// scratch over `store`'s live records does: the same ids with the same
    /// BM25 scores, bit for bit.
    static func expectMatchesRebuilt(_ store: Store, _ collection: String, queries: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let settings = try #require(try store.configuration(collection).text)
        let fields = settings.fields
        let ids = try store.ids(collection).sorted()
        let reference = TextIndex(parameters: TextIndex.Parameters(k1: settings.k1, b: settings.b))
        let tokenizer = Tokenizer()
        var idOfLabel = [String]()
        for id in ids {
            let record = try #require(try store.get(collection, id: id))
            guard !record.text.isEmpty else { continue }
            reference.set(fields.flatMap { record.text[$0].map(tokenizer.terms) ?? [] }, for: VectorID(idOfLabel.count))
            idOfLabel.append(id)
        }
        for query in queries {
            let expected = reference.searchExhaustive(tokenizer.terms(query), k: SearchLimits.maxK)
            let got = try store.search(collection, HybridQuery(text: query, k: 1000, candidates: 1000))
            #expect(got.count == expected.count, "\(query)", sourceLocation: sourceLocation)
            let expectedScores = Dictionary(uniqueKeysWithValues: expected.map { (idOfLabel[Int($0.label)], $0.score) })
            for hit in got {
                #expect(hit.explanation.textScore == expectedScores[hit.id], "\(query): \(hit.id)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("texts survive updates, deletes, replay and snapshots; text search equals an index rebuilt from the live records")
    func textHistory() throws {
        let dir = TemporaryDirectory("engram-text")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("text.history", defaultSeed: 1601)
        let queries = ["upload failed", "ENOSPC disk", "libfoo-dev", "libfoo", "os.path.join", "retry the connection", "summary budget token"]
        var live = [String: [String: String]]()
        func randomText() -> [String: String] {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return [:]
            case 1: return ["content": Self.sentence(&rng)]
            default: return ["title": Self.sentence(&rng), "content": Self.sentence(&rng)]
            }
        }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(Self.configuration())
            for round in 0..<6 {
                var batch = [Record]()
                for _ in 0..<40 {
                    let id = "n\(Int.random(in: 0..<120, using: &rng))"
                    guard !batch.contains(where: { $0.id == id }) else { continue }
                    let text = randomText()
                    batch.append(Record(id: id, vector: (0..<8).map { _ in rng.gaussian() }, metadata: ["round": .number(Double(round))], text: text))
                    live[id] = text
                }
                try store.upsert("notes", batch)
                let doomed = (0..<8).map { _ in "n\(Int.random(in: 0..<120, using: &rng))" }
                try store.delete("notes", ids: doomed)
                for id in doomed { live[id] = nil }
                if round == 2 { try store.snapshot() }
                if round == 4 { try store.waitUntilIndexed() }
            }
            for (id, text) in live { #expect(try store.get("notes", id: id)?.text == text, "\(id)") }
            try Self.expectMatchesRebuilt(store, "notes", queries: queries)
            try store.close(writingSnapshot: false)  // the next open replays the log above round 2's snapshot
        }
        do {
            let store = try Store.open(directory: dir.path)
            #expect(try store.count("notes") == live.count)
            for (id, text) in live { #expect(try store.get("notes", id: id)?.text == text, "\(id)") }
            try Self.expectMatchesRebuilt(store, "notes", queries: queries)
            try store.close()  // a snapshot with the text index
        }
        let store = try Store.open(directory: dir.path)
        defer { try? store.close() }
        #expect(try store.lastLSN == store.snapshotLSN)
        for (id, text) in live { #expect(try store.get("notes", id: id)?.text == text, "\(id)") }
        try Self.expectMatchesRebuilt(store, "notes", queries: queries)
    }

    @Test("an updated record is found by its new words only; a deleted one not at all")
    func updateAndDelete() throws {
        let dir = TemporaryDirectory("engram-text")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(Self.configuration())
        let v = [Float](repeating: 1, count: 8)
        try store.upsert("notes", [
            Record(id: "a", vector: v, text: ["content": "the upload failed with ENOSPC"]),
            Record(id: "b", vector: v, text: ["title": "network timeout", "content": "connection refused by the cache"]),
            Record(id: "c", vector: v),
        ])
        func ids(_ text: String) throws -> [String] { try store.search("notes", HybridQuery(text: text, k: 10)).map(\.id) }
        #expect(try ids("enospc") == ["a"])
        #expect(try ids("timeout") == ["b"])
        #expect(try ids("refused connections") == ["b"])  // stemmed
        try store.upsert("notes", [Record(id: "a", vector: v, text: ["title": "disk quota"])])
        #expect(try ids("enospc").isEmpty)
        #expect(try ids("quota") == ["a"])
        try store.upsert("notes", [Record(id: "a", vector: v)])  // no text any more
        #expect(try ids("quota").isEmpty)
        #expect(try store.get("notes", id: "a")?.text == [:])
        try store.delete("notes", ids: ["b"])
        #expect(try ids("timeout").isEmpty)
        #expect(try ids("the of and").isEmpty)  // stop words only
    }

    @Test("a filtered text search returns min(k, allowed matching) hits, all allowed")
    func filteredTextSearch() throws {
        let dir = TemporaryDirectory("engram-text")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("text.filter", defaultSeed: 1603)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(Self.configuration())
        let records = (0..<400).map { i in
            Record(id: "r\(i)", vector: (0..<8).map { _ in rng.gaussian() }, metadata: ["shard": .number(Double(i % 7))],
                   text: ["content": "upload " + Self.sentence(&rng)])
        }
        try store.upsert("notes", records)
        for shard in 0..<7 {
            let allowed = records.filter { $0.metadata["shard"] == .number(Double(shard)) }.count
            for k in [1, 10, 100] {
                let hits = try store.search("notes", HybridQuery(text: "upload", k: k, filter: .equals("shard", .number(Double(shard))), candidates: 100))
                #expect(hits.count == min(k, allowed), "shard \(shard), k \(k)")
                #expect(hits.allSatisfy { $0.metadata["shard"] == .number(Double(shard)) })
            }
        }
    }

    @Test("hybrid search fuses the vector and the text search as HybridFusion does, and explains every hit")
    func hybridFusion() throws {
        let dir = TemporaryDirectory("engram-text")
        defer { dir.remove() }
        var rng = SeededGenerator.forTest("text.hybrid", defaultSeed: 1605)
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        try store.createCollection(Self.configuration())
        let records = (0..<300).map { i in
            Record(id: "r\(i)", vector: (0..<8).map { _ in rng.gaussian() }, text: ["content": Self.sentence(&rng)])
        }
        try store.upsert("notes", records)
        let q = records[17].vector
        let vectorOnly = try store.search("notes", vector: q, k: 20, efSearch: 500)
        let textOnly = try store.search("notes", HybridQuery(text: "disk full ENOSPC", k: 20, candidates: 20))
        for method in [HybridFusion.Method.reciprocalRank(), .reciprocalRank(constant: 10), .weighted(alpha: 0.3)] {
            let hits = try store.search("notes", HybridQuery(vector: q, text: "disk full ENOSPC", k: 10, fusion: method, candidates: 20, efSearch: 500))
            #expect(hits.count == 10)
            // Recompute the fusion by hand from the two single searches.
            var expected = [String: Double]()
            let vectorScores = Dictionary(uniqueKeysWithValues: vectorOnly.enumerated().map { ($1.id, (rank: $0 + 1, score: -Double($1.distance))) })
            let textScores = Dictionary(uniqueKeysWithValues: textOnly.enumerated().map { ($1.id, (rank: $0 + 1, score: $1.explanation.textScore ?? 0)) })
            for id in Set(vectorScores.keys).union(textScores.keys) {
                switch method {
                case .reciprocalRank(let c):
                    expected[id] = (vectorScores[id].map { 1 / (c + Double($0.rank)) } ?? 0) + (textScores[id].map { 1 / (c + Double($0.rank)) } ?? 0)
                case .weighted(let alpha):
                    func norm(_ all: [(rank: Int, score: Double)], _ x: Double?) -> Double {
                        guard let x, let lo = all.map(\.score).min(), let hi = all.map(\.score).max() else { return 0 }
                        return hi > lo ? (x - lo) / (hi - lo) : 1
                    }
                    expected[id] = alpha * norm(Array(vectorScores.values), vectorScores[id]?.score)
                        + (1 - alpha) * norm(Array(textScores.values), textScores[id]?.score)
                }
            }
            let best = expected.sorted { $0.value > $1.value }.prefix(10)
            #expect(Set(hits.map(\.id)) == Set(best.map(\.key)) || best.count > 10)
            for hit in hits {
                #expect(abs(hit.score - (expected[hit.id] ?? -1)) < 1e-12, "\(method) \(hit.id)")
                #expect(hit.explanation.vectorRank == vectorScores[hit.id]?.rank)
                #expect(hit.explanation.textRank == textScores[hit.id]?.rank)
            }
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        // MMR: λ = 1 is the fused order; smaller λ explains each pick's similarity.
        let plain = try store.search("notes", HybridQuery(vector: q, text: "disk", k: 10, efSearch: 500))
        let same = try store.search("notes", HybridQuery(vector: q, text: "disk", k: 10, mmr: 1, efSearch: 500))
        #expect(plain.map(\.id) == same.map(\.id))
        let diverse = try store.search("notes", HybridQuery(vector: q, text: "disk", k: 10, mmr: 0.3, efSearch: 500))
        #expect(diverse.count == 10 && diverse.allSatisfy { $0.explanation.mmr != nil })
        #expect(diverse.first?.explanation.mmr?.maxSimilarity == 0)
        // A threshold drops what scores below it.
        let cut = try #require(plain.dropFirst(3).first?.score)
        #expect(try store.search("notes", HybridQuery(vector: q, text: "disk", k: 10, threshold: cut, efSearch: 500)).allSatisfy { $0.score >= cut })
    }

    @Test("bad text fields, texts and hybrid queries are typed errors, and nothing is logged")
    func validation() throws {
        let dir = TemporaryDirectory("engram-text")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        defer { try? store.close() }
        for fields in [[], ["Content"], ["1abc"], ["a b"], ["id"], ["tsv"], ["x", "x"], (0..<17).map { "f\($0)" }, [String(repeating: "a", count: 64)]] {
            #expect(throws: EngineError.self, "\(fields)") {
                try store.createCollection(CollectionConfiguration(name: "bad", dimension: 4, text: TextSettings(fields: fields)))
            }
        }
        #expect(throws: EngineError.self) {
            try store.createCollection(CollectionConfiguration(name: "bad", dimension: 4, text: TextSettings(fields: ["content"], k1: -1)))
        }
        #expect(throws: EngineError.self) {
            try store.createCollection(CollectionConfiguration(name: "bad", dimension: 4, text: TextSettings(fields: ["content"], b: .nan)))
        }
        #expect(store.collectionNames.isEmpty)
        try store.createCollection(Self.configuration(dimension: 4))
        try store.createCollection(CollectionConfiguration(name: "plain", dimension: 4))
        let lsn = store.lastLSN
        let v: [Float] = [1, 0, 0, 0]
        for record in [
            Record(id: "x", vector: v, text: ["body": "undeclared field"]),
            Record(id: "x", vector: v, text: ["content": "nul \u{0} inside"]),
            Record(id: "x", vector: v, text: ["content": String(repeating: "a", count: Record.maxTextBytes + 1)]),
        ] {
            #expect(throws: EngineError.self) { try store.upsert("notes", [Record(id: "ok", vector: v, text: ["content": "fine"]), record]) }
        }
        #expect(throws: EngineError.self) { try store.upsert("plain", [Record(id: "x", vector: v, text: ["content": "no text fields"])]) }
        #expect(store.lastLSN == lsn)
        #expect(try store.count("notes") == 0)
        for query in [
            HybridQuery(k: 10),
            HybridQuery(text: "x", k: 0),
            HybridQuery(text: "x", k: 10, candidates: 5),
            HybridQuery(text: "x", k: 10, fusion: .weighted(alpha: 1.5)),
            HybridQuery(text: "x", k: 10, fusion: .reciprocalRank(constant: -1)),
            HybridQuery(text: "x", k: 10, mmr: 2),
            HybridQuery(text: "x", k: 10, threshold: .infinity),
            HybridQuery(vector: [1, 2], k: 10),
        ] {
            #expect(throws: EngineError.self) { try store.search("notes", query) }
        }
        #expect(throws: EngineError.self) { try store.search("plain", HybridQuery(text: "words", k: 10)) }
    }
}
