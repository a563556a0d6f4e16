import EngramIndex
import EngramSync

#if canImport(Glibc)
import Glibc
#endif

/// An in-memory inverted index over the terms of labelled documents, scored
/// with BM25 and searched top-k with WAND (Broder et al., "Efficient query
/// evaluation using a two-level retrieval process", CIKM 2003).
///
/// **Scoring.** For a query's distinct terms `t` and a document `d` of
/// length `|d|` (its number of terms) in a collection of `N` live documents
/// of mean length `avgdl`, where `n(t)` live documents hold `t` and `d` holds
/// it `tf` times:
///
///     score(d) = Σ_t idf(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · |d| / avgdl))
///     idf(t)   = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))
///
/// (Lucene's and tantivy's BM25; `k1` = 1.2 and `b` = 0.75 by default). Sums
/// run over the query's terms in a fixed order, in `Double`, so the pruned
/// and the exhaustive search give bit-identical scores.
///
/// **Layout.** Documents get internal ids in the order they arrive, so every
/// posting list is sorted by id without ever being re-sorted; an update is a
/// delete plus a new id. A deleted document's postings stay until
/// ``compact()`` (run automatically once dead documents outnumber live
/// ones) rewrites the lists without them.
///
/// **Top-k.** WAND keeps, per term, an upper bound of its contribution
/// (its idf at the largest `tf` in its list and the shortest document ever
/// indexed) and scores only documents whose bounds can still beat the k-th
/// best. The result equals the exhaustive ranking: best score first, ties
/// by lower label. A filter admits documents as in vector search; the result
/// holds `min(k, allowed documents that match a query term)` hits.
///
/// Concurrency: any thread may call any method; searches share a lock,
/// writes take it exclusively.
public final class TextIndex: @unchecked Sendable {
    public struct Parameters: Sendable, Equatable {
        public var k1: Double
        public var b: Double

        public init(k1: Double = 1.2, b: Double = 0.75) {
            self.k1 = k1
            self.b = b
        }
    }

    /// One hit: a document's label and its BM25 score (larger is better).
    public struct Hit: Sendable, Equatable, CustomStringConvertible {
        public var label: VectorID
        public var score: Double
        public init(label: VectorID, score: Double) {
            self.label = label
            self.score = score
        }
        public var description: String { "(\(label), \(score))" }
    }

    final class Postings {
        var docs: [UInt32] = []
        var frequencies: [UInt32] = []
        /// Live documents holding the term.
        var documentFrequency = 0
        var maxFrequency: UInt32 = 0
    }

    public let parameters: Parameters
    private let lock = ReadWriteLock()
    private var termID: [String: Int32] = [:]
    private var terms: [String] = []
    private var postings: [Postings] = []
    /// By internal document id.
    private var labelOfDoc: [VectorID] = []
    private var lengthOfDoc: [UInt32] = []
    private var termsOfDoc: [[Int32]] = []
    /// Each document's term frequencies, parallel to `termsOfDoc`.
    private var frequenciesOfDoc: [[UInt32]] = []
    private var alive: [Bool] = []
    private var docOfLabel: [VectorID: UInt32] = [:]
    private var totalLength = 0
    private var shortestLength: UInt32 = .max

    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    /// Live documents.
    public var count: Int { lock.withReadLock { docOfLabel.count } }

    /// Bytes the index holds, estimated from its arrays' capacities: posting lists (document number and
    /// frequency, 4 bytes each), each document's term list, label, length and flag, the term dictionary
    /// (the terms' bytes and about 48 bytes of table and object overhead per term and per list).
    public var memoryBytes: Int {
        lock.withReadLock {
            var bytes = 0
            for list in postings { bytes += 4 * (list.docs.capacity + list.frequencies.capacity) + 48 }
            for (terms, frequencies) in zip(termsOfDoc, frequenciesOfDoc) { bytes += 4 * (terms.capacity + frequencies.capacity) + 64 }
            bytes += labelOfDoc.capacity * 4 + lengthOfDoc.capacity * 4 + alive.capacity + docOfLabel.capacity * 16
            for term in terms { bytes += term.utf8.count + 48 }
            return bytes
        }
    }

    /// Whether `label` has a document.
    package func hasDocument(_ label: VectorID) -> Bool { lock.withReadLock { docOfLabel[label] != nil } }

    /// Distinct terms ever indexed (until a compaction drops the unused ones).
    public var termCount: Int { lock.withReadLock { terms.count } }

    /// Indexes `documentTerms` (a tokenizer's output) under `label`, replacing what it held.
    public func set(_ documentTerms: [String], for label: VectorID) {
        lock.withWriteLock {
            removeLocked(label)
            var frequency: [Int32: UInt32] = [:]
            for term in documentTerms {
                let id: Int32
                if let known = termID[term] {
                    id = known
                } else {
                    id = Int32(truncatingIfNeeded: terms.count)
                    termID[term] = id
                    terms.append(term)
                    postings.append(Postings())
                }
                frequency[id, default: 0] += 1
            }
            let doc = UInt32(truncatingIfNeeded: labelOfDoc.count)
            let ids = frequency.keys.sorted()
            for id in ids {
                let list = postings[Int(id)]
                let tf = frequency[id] ?? 0
                list.docs.append(doc)
                list.frequencies.append(tf)
                list.documentFrequency += 1
                list.maxFrequency = Swift.max(list.maxFrequency, tf)
            }
            let length = UInt32(truncatingIfNeeded: documentTerms.count)
            labelOfDoc.append(label)
            lengthOfDoc.append(length)
            termsOfDoc.append(ids)
            frequenciesOfDoc.append(ids.map { frequency[$0] ?? 0 })
            alive.append(true)
            docOfLabel[label] = doc
            totalLength += documentTerms.count
            shortestLength = Swift.min(shortestLength, length)
        }
    }

    /// Removes `label`'s document (nothing if it has none).
    public func remove(_ label: VectorID) {
        lock.withWriteLock { removeLocked(label) }
    }

    private func removeLocked(_ label: VectorID) {
        guard let doc = docOfLabel.removeValue(forKey: label) else { return }
        alive[Int(doc)] = false
        totalLength -= Int(lengthOfDoc[Int(doc)])
        for id in termsOfDoc[Int(doc)] { postings[Int(id)].documentFrequency -= 1 }
        termsOfDoc[Int(doc)] = []
        frequenciesOfDoc[Int(doc)] = []
        if labelOfDoc.count - docOfLabel.count > Swift.max(docOfLabel.count, 1024) { compactLocked() }
    }

    /// Rewrites the posting lists without deleted documents and renumbers the live ones.
    public func compact() {
        lock.withWriteLock { compactLocked() }
    }

    private func compactLocked() {
        var newID = [UInt32](repeating: .max, count: labelOfDoc.count)
        var labels = [VectorID](), lengths = [UInt32](), termLists = [[Int32]](), frequencyLists = [[UInt32]](), live = [Bool]()
        var shortest = UInt32.max
        for doc in labelOfDoc.indices where alive[doc] {
            newID[doc] = UInt32(truncatingIfNeeded: labels.count)
            labels.append(labelOfDoc[doc])
            lengths.append(lengthOfDoc[doc])
            termLists.append(termsOfDoc[doc])
            frequencyLists.append(frequenciesOfDoc[doc])
            live.append(true)
            shortest = Swift.min(shortest, lengthOfDoc[doc])
        }
        for list in postings {
            var docs = [UInt32](), frequencies = [UInt32]()
            var maxFrequency: UInt32 = 0
            for (i, doc) in list.docs.enumerated() where alive[Int(doc)] {
                docs.append(newID[Int(doc)])
                frequencies.append(list.frequencies[i])
                maxFrequency = Swift.max(maxFrequency, list.frequencies[i])
            }
            list.docs = docs
            list.frequencies = frequencies
            list.maxFrequency = maxFrequency
        }
        labelOfDoc = labels
        lengthOfDoc = lengths
        termsOfDoc = termLists
        frequenciesOfDoc = frequencyLists
        alive = live
        for (doc, label) in labels.enumerated() { docOfLabel[label] = UInt32(truncatingIfNeeded: doc) }
        shortestLength = shortest
    }

    /// The live documents in id order, label and (term id, frequency) pairs, with every term's name: one
    /// consistent view for the snapshot.
    func exportDocuments() -> (documents: [(label: VectorID, terms: [(Int32, UInt32)])], names: [String]) {
        lock.withReadLock {
            let documents = labelOfDoc.indices.filter { alive[$0] }.map { doc in
                (labelOfDoc[doc], Array(zip(termsOfDoc[doc], frequenciesOfDoc[doc])))
            }
            return (documents, terms)
        }
    }

    // MARK: - Search

    /// One query term's list and scoring constants.
    private struct QueryTerm {
        let postings: Postings
        let idf: Double
        let upperBound: Double
    }

    private struct Scoring {
        let k1: Double
        let b: Double
        let averageLength: Double

        @inline(__always)
        func contribution(idf: Double, frequency: UInt32, length: UInt32) -> Double {
            let tf = Double(frequency)
            return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * Double(length) / averageLength))
        }
    }

    /// The query's known terms (distinct, in first-seen order) with their weights; nil when nothing can match.
    private func prepare(_ queryTerms: [String]) -> (terms: [QueryTerm], scoring: Scoring)? {
        let n = docOfLabel.count
        guard n > 0 else { return nil }
        let scoring = Scoring(k1: parameters.k1, b: parameters.b, averageLength: Double(totalLength) / Double(n))
        var seen = Set<Int32>()
        var out = [QueryTerm]()
        for term in queryTerms {
            guard let id = termID[term], seen.insert(id).inserted else { continue }
            let list = postings[Int(id)]
            guard list.documentFrequency > 0 else { continue }
            let df = Double(list.documentFrequency)
            let idf = log(1 + (Double(n) - df + 0.5) / (df + 0.5))
            let bound = scoring.contribution(idf: idf, frequency: list.maxFrequency, length: shortestLength)
            out.append(QueryTerm(postings: list, idf: idf, upperBound: bound))
        }
        return out.isEmpty ? nil : (out, scoring)
    }

    /// The best `k` live documents for `queryTerms` (a tokenizer's output) that `filter` allows.
    public func search(_ queryTerms: [String], k: Int, filter: CandidateFilter? = nil) throws(IndexError) -> [Hit] {
        guard (1...SearchLimits.maxK).contains(k) else { throw .invalidK(k, maxK: SearchLimits.maxK) }
        return lock.withReadLock {
            guard let (query, scoring) = prepare(queryTerms) else { return [] }
            return wand(query, scoring, k: k, filter: filter)
        }
    }

    /// The same answer by scoring every matching document (for tests and as a reference).
    package func searchExhaustive(_ queryTerms: [String], k: Int, filter: CandidateFilter? = nil) -> [Hit] {
        lock.withReadLock {
            guard let (query, scoring) = prepare(queryTerms) else { return [] }
            var contributions: [UInt32: [Double]] = [:]
            for (t, term) in query.enumerated() {
                for (i, doc) in term.postings.docs.enumerated() where alive[Int(doc)] {
                    if contributions[doc] == nil { contributions[doc] = [Double](repeating: 0, count: query.count) }
                    contributions[doc]?[t] = scoring.contribution(idf: term.idf, frequency: term.postings.frequencies[i],
                                                                 length: lengthOfDoc[Int(doc)])
                }
            }
            var heap = ScoreHeap(capacity: k)
            for (doc, parts) in contributions where filter?.allows(labelOfDoc[Int(doc)]) ?? true {
                heap.consider(score: parts.reduce(0, +), label: labelOfDoc[Int(doc)])
            }
            return heap.sorted()
        }
    }

    /// One query term's place in its posting list during WAND.
    private struct Cursor {
        let docs: [UInt32]
        let frequencies: [UInt32]
        let idf: Double
        let bound: Double
        var position = 0
        /// The document under the cursor (`UInt32.max` once exhausted).
        var doc: UInt32

        init(_ term: QueryTerm) {
            docs = term.postings.docs
            frequencies = term.postings.frequencies
            idf = term.idf
            bound = term.upperBound
            doc = docs.first ?? .max
        }

        /// Moves to the first document at or after `target` (galloping, then binary search).
        mutating func advance(to target: UInt32) {
            var low = position, step = 1
            while low + step < docs.count && docs[low + step] < target {
                low += step
                step &*= 2
            }
            var high = Swift.min(low + step, docs.count)
            while low < high {
                let mid = (low + high) >> 1
                if docs[mid] < target { low = mid + 1 } else { high = mid }
            }
            position = low
            doc = position < docs.count ? docs[position] : .max
        }

        mutating func next() {
            position += 1
            doc = position < docs.count ? docs[position] : .max
        }
    }

    private func wand(_ query: [QueryTerm], _ scoring: Scoring, k: Int, filter: CandidateFilter?) -> [Hit] {
        var heap = ScoreHeap(capacity: k)
        var cursors = query.map(Cursor.init)
        // Term indexes by the document under their cursor (kept sorted by insertion: queries have few terms).
        var order = Array(cursors.indices)
        order.sort { cursors[$0].doc < cursors[$1].doc }
        while true {
            // The pivot: the first cursor at which the bounds so far could reach the k-th best.
            let threshold = heap.threshold
            var bound = 0.0
            var pivot = -1
            for i in order.indices {
                let c = order[i]
                if cursors[c].doc == .max { break }
                bound += cursors[c].bound
                if bound >= threshold {
                    pivot = i
                    break
                }
            }
            guard pivot >= 0 else { break }
            let doc = cursors[order[pivot]].doc
            if cursors[order[0]].doc == doc {
                // Every cursor up to the pivot is on `doc`: score it, terms in query order (equal sums).
                let label = labelOfDoc[Int(doc)]
                if alive[Int(doc)], filter?.allows(label) ?? true {
                    let length = lengthOfDoc[Int(doc)]
                    var score = 0.0
                    for t in cursors.indices {
                        score += cursors[t].doc == doc
                            ? scoring.contribution(idf: cursors[t].idf, frequency: cursors[t].frequencies[cursors[t].position], length: length)
                            : 0
                    }
                    heap.consider(score: score, label: label)
                }
                for t in cursors.indices where cursors[t].doc == doc { cursors[t].next() }
            } else {
                // Cursors before the pivot cannot reach the threshold alone: move them up to the pivot's document.
                for i in 0..<pivot { cursors[order[i]].advance(to: doc) }
            }
            // Insertion sort: only a few cursors moved.
            for i in 1..<Swift.max(order.count, 1) {
                let c = order[i]
                var j = i
                while j > 0 && cursors[order[j - 1]].doc > cursors[c].doc {
                    order[j] = order[j - 1]
                    j -= 1
                }
                order[j] = c
            }
        }
        return heap.sorted()
    }
}

/// The best `capacity` (score, label) pairs: higher score first, ties by lower label.
struct ScoreHeap {
    let capacity: Int
    private var items: [(score: Double, label: VectorID)] = []

    init(capacity: Int) { self.capacity = capacity }

    /// A document must reach this to matter (−∞ until the heap is full).
    var threshold: Double { items.count < capacity ? -.infinity : items[0].score }

    /// Whether a is worse than b (lower score, or equal score and higher label).
    private static func worse(_ a: (score: Double, label: VectorID), _ b: (score: Double, label: VectorID)) -> Bool {
        a.score < b.score || (a.score == b.score && a.label > b.label)
    }

    mutating func consider(score: Double, label: VectorID) {
        let item = (score: score, label: label)
        if items.count < capacity {
            items.append(item)
            var i = items.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard Self.worse(items[i], items[parent]) else { break }
                items.swapAt(i, parent)
                i = parent
            }
        } else if Self.worse(items[0], item) {
            items[0] = item
            var i = 0
            while true {
                let left = 2 * i + 1, right = left + 1
                var worst = i
                if left < items.count && Self.worse(items[left], items[worst]) { worst = left }
                if right < items.count && Self.worse(items[right], items[worst]) { worst = right }
                if worst == i { break }
                items.swapAt(i, worst)
                i = worst
            }
        }
    }

    func sorted() -> [TextIndex.Hit] {
        items.sorted { Self.worse($1, $0) }.map { TextIndex.Hit(label: $0.label, score: $0.score) }
    }
}
