import EngramChecksum
import EngramIndex
import EngramTestSupport
import Testing

@Suite("HNSW snapshots")
struct HNSWSnapshotTests {
    /// A small index with tombstones, several levels and a label map.
    func makeIndex(seed: UInt64) throws -> (HNSWIndex, [Float]) {
        var rng = SeededGenerator.forTest("hnsw.snapshot", defaultSeed: seed)
        let n = 600, d = 12
        let base = rng.clusteredVectors(count: n, dimension: d, clusters: 8)
        let index = try HNSWIndex(dimension: d, metric: .cosine, configuration: .init(m: 6, efConstruction: 40))
        try index.insert(contentsOf: base, labels: (0..<n).map { VectorID($0 * 2) })
        for label in stride(from: 0, to: 200, by: 6) { try index.delete(VectorID(label)) }
        return (index, rng.gaussianVectors(count: 20, dimension: d))
    }

    @Test("a snapshot loads back to an index that answers identically")
    func roundTrip() throws {
        let (index, queries) = try makeIndex(seed: 51)
        let bytes = index.snapshot()
        let loaded = try HNSWIndex.load(snapshot: bytes)
        #expect(loaded.count == index.count)
        #expect(loaded.tombstoneCount == index.tombstoneCount)
        try loaded.checkInvariants(reachability: false)
        for q in 0..<20 {
            let query = Array(queries[(q * 12)..<((q + 1) * 12)])
            #expect(try loaded.search(query, k: 10, efSearch: 50) == index.search(query, k: 10, efSearch: 50))
        }
        #expect(loaded.snapshot() == bytes)
        // The loaded index keeps working: inserts, deletes, compaction.
        try loaded.insert([Float](repeating: 1, count: 12), label: 99_999)
        try loaded.delete(2)
        loaded.compact()
        try loaded.checkInvariants()
    }

    @Test("an empty index round-trips")
    func empty() throws {
        let index = try HNSWIndex(dimension: 3, metric: .squaredL2)
        let loaded = try HNSWIndex.load(snapshot: index.snapshot())
        #expect(loaded.count == 0)
        #expect(try loaded.search([1, 2, 3], k: 3).isEmpty)
    }

    @Test("every truncation is a typed error")
    func truncations() throws {
        let (index, _) = try makeIndex(seed: 52)
        let bytes = index.snapshot()
        var rng = SeededGenerator.forTest("hnsw.snapshot.truncations", defaultSeed: 53)
        var cuts = Array(0..<200) + Array((bytes.count - 200)..<bytes.count)
        cuts += (0..<300).map { _ in Int.random(in: 0..<bytes.count, using: &rng) }
        for cut in cuts {
            #expect(throws: SnapshotError.self, "cut at \(cut)") { try HNSWIndex.load(snapshot: Array(bytes[0..<cut])) }
        }
        #expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: bytes + [0]) }
    }

    @Test("random bit flips are caught; a wrong version or magic says so")
    func corruption() throws {
        let (index, _) = try makeIndex(seed: 54)
        let bytes = index.snapshot()
        var rng = SeededGenerator.forTest("hnsw.snapshot.flips", defaultSeed: 55)
        for _ in 0..<300 {
            var bad = bytes
            let at = Int.random(in: 0..<bad.count, using: &rng)
            bad[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            #expect(throws: SnapshotError.self, "flip at \(at)") { try HNSWIndex.load(snapshot: bad) }
        }
        var version = bytes
        version[8] = 3
        let v = #expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: version) }
        #expect(v?.kind == .unsupportedVersion)
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        #expect((#expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: magic) })?.kind == .notASnapshot)
        var body = bytes
        body[100] ^= 0xFF
        #expect((#expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: body) })?.kind == .checksumMismatch)
    }

    @Test("checksummed but inconsistent contents are rejected, not trusted")
    func consistentChecksumBadContents() throws {
        let (index, _) = try makeIndex(seed: 56)
        var bytes = index.snapshot()
        func reseal(_ b: inout [UInt8]) {
            let crc = CRC32C.checksum(Array(b[0..<(b.count - 4)]))
            for i in 0..<4 { b[b.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        }
        // A slot count far beyond the bytes present.
        var huge = bytes
        huge[36] = 0xFF; huge[37] = 0xFF; huge[38] = 0xFF; huge[39] = 0x7F
        reseal(&huge)
        #expect((#expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: huge) })?.kind == .truncated)
        // A link pointing past the last slot (first layer-0 list's first link).
        let slots = 600, d = 12, m0 = 12
        let layer0 = 64 + slots * 4 + slots * 2 + (4 - (2 * slots) % 4) % 4 + slots * d * 4
        bytes[layer0 + 4] = 0xFF; bytes[layer0 + 5] = 0xFF; bytes[layer0 + 6] = 0; bytes[layer0 + 7] = 0
        bytes[layer0] = max(bytes[layer0], 1)
        reseal(&bytes)
        _ = m0
        #expect((#expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: bytes) })?.kind == .corrupt)
    }
}
