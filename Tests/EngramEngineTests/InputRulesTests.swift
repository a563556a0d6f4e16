@testable import EngramEngine
import EngramChecksum
import EngramIndex
import EngramTestSupport
import Testing

/// What the engine accepts is what PostgreSQL can hold: nothing accepted may
/// fail its checkpoint, and an id means the same record in both.
@Suite("Store: the input rules that keep every acknowledged write checkpointable")
struct InputRulesTests {
    private func isInvalidArgument(_ error: EngineError?) -> Bool {
        error?.code == .invalidArgument
    }

    @Test("U+0000 in an id, a metadata string or key, or a collection name is refused with a typed error; nothing is logged")
    func nulRefused() throws {
        let dir = TemporaryDirectory("engram-rules")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        try store.createCollection(CollectionConfiguration(name: "c", dimension: 2, metric: .squaredL2))
        let before = store.lastLSN
        let bad: [Record] = [
            Record(id: "a\u{0}b", vector: [1, 2]),
            Record(id: "ok", vector: [1, 2], metadata: ["note": "x\u{0}y"]),
            Record(id: "ok", vector: [1, 2], metadata: ["k\u{0}": 1]),
            Record(id: "ok", vector: [1, 2], metadata: ["list": ["fine", ["deep": "\u{0}"]]]),
        ]
        for record in bad {
            let error = #expect(throws: EngineError.self) { try store.upsert("c", [Record(id: "first", vector: [0, 1]), record]) }
            #expect(isInvalidArgument(error), "\(record)")
            #expect(error.map { "\($0)".contains("U+0000") } == true)
        }
        let error = #expect(throws: EngineError.self) { try store.createCollection(CollectionConfiguration(name: "x\u{0}y", dimension: 2)) }
        #expect(isInvalidArgument(error))
        #expect(store.lastLSN == before)
        #expect(try store.count("c") == 0)
        try store.close()
    }

    @Test("ids are compared by their bytes: canonically equivalent spellings are two records, as they are two rows")
    func idsAreBytes() throws {
        let dir = TemporaryDirectory("engram-rules")
        defer { dir.remove() }
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(composed == decomposed)  // what Swift's String says
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 2, metric: .squaredL2))
            try store.upsert("c", [Record(id: composed, vector: [1, 0]), Record(id: decomposed, vector: [0, 1])])
            #expect(try store.count("c") == 2)
            #expect(try store.get("c", id: composed)?.vector == [1, 0])
            #expect(try store.get("c", id: decomposed)?.vector == [0, 1])
            #expect(try store.delete("c", ids: [decomposed]) == 1)
            #expect(try store.get("c", id: composed)?.vector == [1, 0])
            try store.upsert("c", [Record(id: decomposed, vector: [0, 2])])
            try store.close()
        }
        for writingSnapshot in [false, true] {
            let store = try Store.open(directory: dir.path)
            #expect(try store.count("c") == 2)
            #expect(try store.get("c", id: composed)?.vector == [1, 0])
            #expect(try store.get("c", id: decomposed)?.vector == [0, 2])
            try store.close(writingSnapshot: writingSnapshot)
        }
    }

    @Test("every collection parameter is range-checked before it is logged, IVF or HNSW (no trap in the log's u32 fields)")
    func parametersChecked() throws {
        let dir = TemporaryDirectory("engram-rules")
        defer { dir.remove() }
        let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
        let bad = [
            CollectionConfiguration(name: "a", dimension: 4, ivf: IVFSettings(nlist: 4, nprobe: 5_000_000_000)),
            CollectionConfiguration(name: "b", dimension: 4, ivf: IVFSettings(nlist: 4_294_967_297)),
            CollectionConfiguration(name: "c", dimension: 4, ivf: IVFSettings(nlist: 4, trainingSize: 1 << 40)),
            CollectionConfiguration(name: "d", dimension: 4, hnsw: HNSWConfiguration(m: 1 << 40), ivf: IVFSettings(nlist: 4)),
            CollectionConfiguration(name: "e", dimension: 4, hnsw: HNSWConfiguration(efSearch: 0), ivf: IVFSettings()),
            CollectionConfiguration(name: "f", dimension: 1 << 33),
            CollectionConfiguration(name: "g", dimension: -1),  // (0 is a collection of records without vectors)
            CollectionConfiguration(name: "", dimension: 4),
            CollectionConfiguration(name: String(repeating: "n", count: 129), dimension: 4),
        ]
        for configuration in bad {
            let error = #expect(throws: EngineError.self) { try store.createCollection(configuration) }
            #expect(isInvalidArgument(error), "\(configuration)")
        }
        #expect(store.lastLSN == 0 && store.collectionNames.isEmpty)
        try store.close()
    }

    @Test("a collection stored at half precision refuses values beyond ±65,504 (after preparation), and keeps that through replay and snapshot")
    func halfPrecision() throws {
        let dir = TemporaryDirectory("engram-rules")
        defer { dir.remove() }
        let configuration = CollectionConfiguration(name: "h", dimension: 2, metric: .innerProduct, storedPrecision: .float16)
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(configuration)
            try store.upsert("h", [Record(id: "ok", vector: [65_504, -65_504])])
            for bad: [Float] in [[65_520, 0], [0, -1e9]] {
                let error = #expect(throws: EngineError.self) { try store.upsert("h", [Record(id: "bad", vector: bad)]) }
                #expect(isInvalidArgument(error))
            }
            try store.close(writingSnapshot: false)
        }
        for writingSnapshot in [true, false] {  // replayed from the log, then loaded from the snapshot
            let store = try Store.open(directory: dir.path)
            #expect(try store.configuration("h") == configuration)
            #expect(throws: EngineError.self) { try store.upsert("h", [Record(id: "bad", vector: [1e6, 0])]) }
            #expect(try store.count("h") == 1)
            try store.close(writingSnapshot: writingSnapshot)
        }
    }

    @Test("a snapshot declaring a huge label bound loads with a table sized by its records, and the store goes on (fuzz finding: 26 s and gigabytes before)")
    func hugeLabelBound() throws {
        let dir = TemporaryDirectory("engram-rules")
        defer { dir.remove() }
        do {
            let store = try Store.open(directory: dir.path, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 2, metric: .squaredL2))
            try store.upsert("c", (0..<5).map { Record(id: "r\($0)", vector: [Float($0), 1]) })
            try store.close()
        }
        let file = try #require(DataDirectory.snapshotFiles(dir.path).last).path
        var bytes = TemporaryDirectory.readFile(file)
        // The header is 36 bytes; then the collection's create payload (u32 length + bytes), then its u32 label bound.
        let payload = Int(bytes[36]) | Int(bytes[37]) << 8 | Int(bytes[38]) << 16 | Int(bytes[39]) << 24
        let at = 40 + payload
        withUnsafeBytes(of: UInt32((1 << 28) - 1).littleEndian) { for (i, b) in $0.enumerated() { bytes[at + i] = b } }
        let crc = CRC32C.checksum(Array(bytes[..<(bytes.count - 4)]))
        withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { bytes[bytes.count - 4 + i] = b } }
        TemporaryDirectory.writeFile(file, bytes)
        let store = try Store.open(directory: dir.path)
        #expect(try store.collection("c").labels.bound == 5)
        try store.upsert("c", [Record(id: "r9", vector: [9, 1])])
        #expect(try store.delete("c", ids: ["r0"]) == 1)
        #expect(try store.search("c", vector: [9, 1], k: 1).first?.id == "r9")
        #expect(try store.count("c") == 5)
        try store.close()
    }

    @Test("a group-commit delay outside 0…1,000,000 µs is refused at open, not trapped on")
    func groupCommitDelay() throws {
        let dir = TemporaryDirectory("engram-rules")
        defer { dir.remove() }
        for delay in [-1, 5_000_000_000, Int.max] {
            let error = #expect(throws: EngineError.self) { try Store.open(directory: dir.path, options: StoreOptions(durability: .groupCommit(maxDelayMicroseconds: delay))) }
            #expect(isInvalidArgument(error), "\(delay)")
        }
        try Store.open(directory: dir.path, options: StoreOptions(durability: .groupCommit(maxDelayMicroseconds: 1_000_000))).close()
    }
}
