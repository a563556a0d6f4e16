import EngramEngine
import EngramIndex
import EngramMetadata
import EngramTestSupport
import Foundation
import Testing

/// `Store.purgeDeleted`: forgetting that reaches the disk. Deleted records'
/// texts and vectors are searched for, byte for byte, in every file of the
/// data directory: present before the purge (so the search can find them),
/// absent after it, while the live records survive a reopen intact.
@Suite("Store: purging deleted records from the files")
struct PurgeTests {
    /// Every file under `directory`, read whole.
    static func files(_ directory: String) throws -> [(String, Data)] {
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: directory) else { return [] }
        var out = [(String, Data)]()
        for case let name as String in walker {
            var isDirectory: ObjCBool = false
            let path = "\(directory)/\(name)"
            if manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                out.append((name, try Data(contentsOf: URL(fileURLWithPath: path))))
            }
        }
        return out
    }

    /// The files holding `needle`.
    static func holders(_ needle: [UInt8], in files: [(String, Data)]) -> [String] {
        files.filter { $0.1.range(of: Data(needle)) != nil }.map(\.0)
    }

    @Test("after a purge no file holds a deleted record's text or vector, and the live records reopen intact")
    func purgeErasesDeletedRecords() throws {
        var rng = SeededGenerator.forTest("engine.purge", defaultSeed: 4_404)
        let dir = TemporaryDirectory("engram-purge")
        defer { dir.remove() }
        var options = StoreOptions(durability: .osBuffered)
        options.snapshotEveryLogBytes = 0
        var store = try Store.open(directory: dir.path, options: options)
        try store.createCollection(CollectionConfiguration(name: "notes", dimension: 8, metric: .squaredL2, text: TextSettings(fields: ["content"])))
        func vector() -> [Float] { (0..<8).map { _ in Float.random(in: -1...1, using: &rng) } }
        func token() -> String { String((0..<24).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement(using: &rng)! }) }
        var live = [String: Record]()
        for i in 0..<300 {
            let r = Record(id: "n\(i)", vector: vector(), metadata: ["i": .number(Double(i))], text: ["content": "an ordinary note \(i)"])
            live[r.id] = r
        }
        let secrets = (0..<20).map { i in Record(id: "s\(i)", vector: vector(), text: ["content": "the secret \(token())"]) }
        try store.upsert("notes", Array(live.values) + secrets)
        try store.waitUntilIndexed()
        try store.snapshot()  // the secrets are in the log, the graph and a snapshot
        let texts = secrets.map { Array(String(($0.text["content"] ?? "").split(separator: " ").last ?? "").utf8) }
        #expect(texts.allSatisfy { $0.count == 24 })
        let vectors = secrets.map { s in s.vector.withUnsafeBytes { Array($0) } }
        var before = try Self.files(dir.path)
        #expect(texts.contains { !Self.holders($0, in: before).isEmpty }, "the search finds a secret's text before the purge")
        #expect(vectors.contains { !Self.holders($0, in: before).isEmpty }, "the search finds a secret's vector before the purge")
        try store.delete("notes", ids: secrets.map(\.id))
        for i in 300..<320 {  // history goes on after the delete
            let r = Record(id: "n\(i)", vector: vector(), metadata: ["i": .number(Double(i))], text: ["content": "a later note \(i)"])
            try store.upsert("notes", [r])
            live[r.id] = r
        }
        before = try Self.files(dir.path)
        #expect(texts.contains { !Self.holders($0, in: before).isEmpty }, "a delete alone leaves the secrets on disk")

        let report = try store.purgeDeleted()
        #expect(report.erasedVectors == secrets.count)
        #expect(report.removedSegments >= 1)
        let after = try Self.files(dir.path)
        for (i, text) in texts.enumerated() { #expect(Self.holders(text, in: after).isEmpty, "secret \(i)'s text after the purge") }
        for (i, v) in vectors.enumerated() { #expect(Self.holders(v, in: after).isEmpty, "secret \(i)'s vector after the purge") }
        try store.close(writingSnapshot: false)

        store = try Store.open(directory: dir.path, options: options)
        defer { try? store.close() }
        #expect(try store.count("notes") == live.count)
        for r in live.values { #expect(try store.get("notes", id: r.id) == r) }
        #expect(try store.search("notes", HybridQuery(text: "secret", k: 10)).isEmpty)
        let probe = live["n7"]!
        #expect(try store.search("notes", vector: probe.vector, k: 1).first?.id == "n7")
    }
}
