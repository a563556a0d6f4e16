import EngramIndex
import EngramTestSupport
import EngramText
import Testing

@Suite("TextIndex snapshots")
struct TextIndexSnapshotTests {
    @Test("a snapshot round-trips: same documents, same answers, same bytes again; deletes and updates are kept")
    func roundTrip() throws {
        var rng = SeededGenerator.forTest("text.snapshot", defaultSeed: 611)
        let index = TextIndex(parameters: .init(k1: 1.5, b: 0.6))
        let docs = TextIndexTests.corpus(&rng, documents: 800, vocabulary: 500)
        for (i, words) in docs.enumerated() { index.set(words, for: VectorID(i)) }
        for i in stride(from: 0, to: 800, by: 9) { index.remove(VectorID(i)) }
        index.set(["w1", "w2", "updated"], for: 10)
        let bytes = index.snapshot()
        let loaded = try TextIndex.load(snapshot: bytes)
        #expect(loaded.count == index.count && loaded.parameters == index.parameters)
        #expect(loaded.snapshot() == bytes)
        for q in 0..<40 {
            let query = (0..<3).map { _ in "w\(Int.random(in: 0..<60, using: &rng))" } + (q % 5 == 0 ? ["updated"] : [])
            #expect(try loaded.search(query, k: 10) == index.search(query, k: 10), "query \(q)")
        }
        #expect(try loaded.search(["updated"], k: 3).map(\.label) == [10])
    }

    @Test("damage is a typed error: every cut, flipped bytes, another magic or version")
    func damage() throws {
        let index = TextIndex()
        for label in 0..<50 { index.set(["alpha", "beta\(label % 7)", "gamma"], for: VectorID(label)) }
        let bytes = index.snapshot()
        for cut in 0..<bytes.count {
            #expect(throws: SnapshotError.self, "cut at \(cut)") { try TextIndex.load(snapshot: Array(bytes[0..<cut])) }
        }
        var rng = SeededGenerator.forTest("text.snapshot.flip", defaultSeed: 613)
        for _ in 0..<300 {
            var damaged = bytes
            let at = Int.random(in: 0..<damaged.count, using: &rng)
            damaged[at] ^= UInt8.random(in: 1...255, using: &rng)
            #expect(throws: SnapshotError.self, "flip at \(at)") { try TextIndex.load(snapshot: damaged) }
        }
        var other = bytes
        other[0] = UInt8(ascii: "X")
        #expect((#expect(throws: SnapshotError.self) { try TextIndex.load(snapshot: other) })?.kind == .notASnapshot)
        var newer = bytes
        newer[8] = 2
        #expect((#expect(throws: SnapshotError.self) { try TextIndex.load(snapshot: newer) })?.kind == .unsupportedVersion)
    }
}
