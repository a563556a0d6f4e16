import EngramIndex
import EngramKernels

#if canImport(Glibc)
import Glibc
#endif

/// One collection in memory: the HNSW index over labels, the records' ids
/// and metadata, and the inverted metadata index.
///
/// Invariants: `labelOfID` and `idOfLabel` are inverse maps; every mapped
/// label is live in `index` and has metadata in `metadata`.
///
/// Concurrency: searches take `lock` shared; the store applies writes under
/// it exclusively (writes are short: the batch is validated before).
final class Collection: @unchecked Sendable {
    let configuration: CollectionConfiguration
    let index: HNSWIndex
    var metadata = MetadataIndex()
    var labelOfID: [String: VectorID] = [:]
    var idOfLabel: [VectorID: String] = [:]
    var nextLabel: VectorID = 0
    let lock = ReadWriteLock()

    init(_ configuration: CollectionConfiguration, index: HNSWIndex? = nil) throws(EngineError) {
        self.configuration = configuration
        if let index {
            guard index.dimension == configuration.dimension, index.metric == configuration.metric,
                  index.configuration.m == configuration.hnsw.m else {
                throw .corrupt("collection '\(configuration.name)': its index does not match its parameters")
            }
            self.index = index
            return
        }
        do {
            self.index = try HNSWIndex(dimension: configuration.dimension, metric: configuration.metric, configuration: configuration.hnsw)
        } catch {
            throw .invalidArgument("collection '\(configuration.name)': \(error)")
        }
    }

    /// Checks a batch without applying anything.
    func validate(_ records: [Record]) throws(EngineError) {
        var seen = Set<String>()
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: configuration.dimension)
        defer { scratch.deallocate() }
        for (i, r) in records.enumerated() {
            guard !r.id.isEmpty, r.id.utf8.count <= Record.maxIDBytes else {
                throw .invalidArgument("record \(i): an id must be 1 to \(Record.maxIDBytes) UTF-8 bytes")
            }
            guard seen.insert(r.id).inserted else { throw .invalidArgument("record \(i): id '\(r.id)' appears twice in the batch") }
            guard r.metadata.isValid else {
                throw .invalidArgument("record \(i): metadata holds a NaN or infinite number or nests deeper than \(MetadataValue.maxDepth)")
            }
            do {
                try r.vector.withUnsafeBufferPointer { (v) throws(IndexError) in
                    try index.format.prepare(v, into: scratch, row: i)
                }
            } catch {
                throw .invalidVector(record: i, error)
            }
        }
    }

    /// Applies a validated batch (replay applies logged batches the same way).
    func apply(upsert records: [Record]) throws(EngineError) {
        try lock.withWriteLock { () throws(EngineError) in
            var labels = [VectorID]()
            var floats = [Float]()
            labels.reserveCapacity(records.count)
            floats.reserveCapacity(records.count * configuration.dimension)
            for r in records {
                let label: VectorID
                if let existing = labelOfID[r.id] {
                    label = existing
                } else {
                    label = nextLabel
                    nextLabel += 1
                }
                labels.append(label)
                floats += r.vector
                metadata.set(r.metadata, for: label)
                labelOfID[r.id] = label
                idOfLabel[label] = r.id
            }
            // One batch insert (ids are unique within a validated batch), on every core for large batches.
            let threads = records.count >= 256 ? Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) : 1
            do throws(IndexError) { try index.insert(contentsOf: floats, labels: labels, threads: threads) } catch {
                throw .invalidVector(record: 0, error)
            }
        }
    }

    /// Deletes the ids present; returns how many were.
    @discardableResult
    func apply(delete ids: [String]) -> Int {
        lock.withWriteLock {
            var removed = 0
            for id in ids {
                guard let label = labelOfID.removeValue(forKey: id) else { continue }
                try? index.delete(label)
                metadata.remove(label)
                idOfLabel[label] = nil
                removed += 1
            }
            return removed
        }
    }

    func get(_ id: String) -> Record? {
        lock.withReadLock {
            guard let label = labelOfID[id], let vector = try? index.vector(label) else { return nil }
            return Record(id: id, vector: vector, metadata: metadata.metadata(of: label) ?? .object([:]))
        }
    }

    var count: Int { lock.withReadLock { labelOfID.count } }

    func search(_ query: [Float], k: Int, efSearch: Int?, filter: MetadataFilter?) throws(EngineError) -> [SearchHit] {
        try lock.withReadLock { () throws(EngineError) -> [SearchHit] in
            let candidates = filter.map { CandidateFilter.bitset(metadata.evaluate($0)) }
            let results: [SearchResult]
            do throws(IndexError) {
                results = try index.search(query, k: k, efSearch: efSearch, filter: candidates)
            } catch {
                throw .invalidVector(record: 0, error)
            }
            return results.compactMap { hit in
                guard let id = idOfLabel[hit.id] else { return nil }
                return SearchHit(id: id, distance: hit.distance, metadata: metadata.metadata(of: hit.id) ?? .object([:]))
            }
        }
    }
}
