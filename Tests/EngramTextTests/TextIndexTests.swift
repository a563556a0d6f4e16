import EngramIndex
import EngramTestSupport
import EngramText
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("TextIndex: BM25 and WAND")
struct TextIndexTests {
    /// BM25 written out directly from its definition (Docs and `TextIndex`'s comment), term by term.
    static func bm25(_ query: [String], _ docs: [VectorID: [String]], k1: Double = 1.2, b: Double = 0.75) -> [VectorID: Double] {
        let n = Double(docs.count)
        let avgdl = Double(docs.values.reduce(0) { $0 + $1.count }) / n
        var seen = Set<String>()
        var scores = [VectorID: Double]()
        for term in query where seen.insert(term).inserted {
            let df = Double(docs.values.filter { $0.contains(term) }.count)
            guard df > 0 else { continue }
            let idf = log(1 + (n - df + 0.5) / (df + 0.5))
            for (label, words) in docs {
                let tf = Double(words.filter { $0 == term }.count)
                guard tf > 0 else { continue }
                let length: Double = Double(words.count)
                let norm: Double = k1 * (1 - b + b * length / avgdl)
                let part: Double = idf * tf * (k1 + 1) / (tf + norm)
                scores[label, default: 0] += part
            }
        }
        return scores
    }

    @Test("scores equal the formula computed directly, to the last digit, on a small corpus")
    func formula() throws {
        let corpus: [VectorID: String] = [
            1: "the agent retried the failed upload twice",
            2: "upload failed with ENOSPC on /dev/sda1",
            3: "disk full: no space left on device, upload aborted",
            4: "the planner scheduled a retry of the upload task",
            5: "nothing to do with files",
        ]
        let tokenizer = Tokenizer()
        let index = TextIndex()
        var docs = [VectorID: [String]]()
        for (label, text) in corpus {
            docs[label] = tokenizer.terms(text)
            index.set(docs[label] ?? [], for: label)
        }
        for text in ["upload failed", "ENOSPC", "retry upload task", "device space", "absent words", "upload upload"] {
            let query = tokenizer.terms(text)
            let expected = Self.bm25(query, docs)
            let hits = try index.search(query, k: 10)
            #expect(hits.count == expected.count, "\(text)")
            for hit in hits { #expect(hit.score == expected[hit.label], "\(text): \(hit.label) \(hit.score) vs \(String(describing: expected[hit.label]))") }
            // Best first, ties by lower label.
            for (a, b) in zip(hits, hits.dropFirst()) { #expect(a.score > b.score || (a.score == b.score && a.label < b.label)) }
        }
        #expect(try index.search(tokenizer.terms("ENOSPC"), k: 10).map(\.label) == [2])
    }

    /// A seeded corpus with a Zipf-like vocabulary, so some terms are common and some rare.
    static func corpus(_ rng: inout SeededGenerator, documents: Int, vocabulary: Int) -> [[String]] {
        (0..<documents).map { _ in
            (0..<Int.random(in: 1...40, using: &rng)).map { _ in
                let u = Double.random(in: 0..<1, using: &rng)
                return "w\(Int(pow(Double(vocabulary), u)) - 1)"
            }
        }
    }

    @Test("WAND's top-k equals the exhaustive top-k on random corpora, queries, k and filters, through deletes and updates")
    func wandEqualsExhaustive() throws {
        var rng = SeededGenerator.forTest("text.wand", defaultSeed: 601)
        for round in 0..<6 {
            let index = TextIndex(parameters: .init(k1: [1.2, 0.9, 2.0][round % 3], b: [0.75, 0.4, 1.0][round % 3]))
            let docs = Self.corpus(&rng, documents: 1500, vocabulary: 800)
            for (i, words) in docs.enumerated() { index.set(words, for: VectorID(i)) }
            for stage in ["built", "after deletes and updates"] {
                if stage != "built" {
                    for _ in 0..<400 { index.remove(VectorID(Int.random(in: 0..<1500, using: &rng))) }
                    for _ in 0..<300 {
                        index.set(Self.corpus(&rng, documents: 1, vocabulary: 800)[0], for: VectorID(Int.random(in: 0..<1800, using: &rng)))
                    }
                }
                for q in 0..<60 {
                let query = (0..<Int.random(in: 1...5, using: &rng)).map { _ -> String in
                        let u = Double.random(in: 0..<1, using: &rng)
                        return "w\(Int(pow(800.0, u)) - 1)"
                    }
                    let k = [1, 5, 10, 100][q % 4]
                    let filter: CandidateFilter? = q % 3 == 0 ? .predicate { $0 % 7 != 3 } : nil
                    let fast = try index.search(query, k: k, filter: filter)
                    let exact = index.searchExhaustive(query, k: k, filter: filter)
                    #expect(fast == exact, "round \(round) \(stage) query \(q) \(query) k \(k)")
                }
            }
        }
    }

    @Test("a filter returns min(k, allowed matching documents); deletes and updates are searched as they stand")
    func filtersDeletesUpdates() throws {
        let index = TextIndex()
        for label in 0..<100 { index.set(["common", label % 2 == 0 ? "even" : "odd"], for: VectorID(label)) }
        let allowed = Bitset(capacity: 100, ids: [3, 5, 7].map { VectorID($0) })
        #expect(try index.search(["common"], k: 10, filter: .bitset(allowed)).map(\.label) == [3, 5, 7])
        #expect(try index.search(["common"], k: 2, filter: .bitset(allowed)).count == 2)
        #expect(try index.search(["even"], k: 100).count == 50)
        index.remove(4)
        #expect(try index.search(["even"], k: 100).count == 49)
        index.set(["odd", "changed"], for: 6)
        #expect(try index.search(["even"], k: 100).count == 48)
        #expect(try index.search(["changed"], k: 5).map(\.label) == [6])
        #expect(index.count == 99)
        index.compact()
        #expect(try index.search(["even"], k: 100).count == 48)
        #expect(try index.search(["nothing"], k: 5).isEmpty)
        #expect(throws: IndexError.self) { try index.search(["common"], k: 0) }
    }

    @Test("the memory estimate counts postings and documents: ten times the documents, several times the bytes")
    func memory() {
        func built(_ n: Int) -> TextIndex {
            let index = TextIndex()
            for label in 0..<n { index.set(["t\(label % 50)", "u\(label % 7)", "shared"], for: VectorID(label)) }
            return index
        }
        let small = built(100).memoryBytes, large = built(1000).memoryBytes
        #expect(small >= 100 * 3 * 8, "\(small)")  // at least each posting's 8 bytes
        #expect(large > 5 * small, "\(small) then \(large)")
    }
}
