import EngramIndex
import EngramKernels
import EngramMetadata

/// Reads: searches (the index, then an exact scan of the staged rows), point
/// lookups and counts, all under the collection's read lock.
extension Collection {
    func search(_ query: [Float], k: Int, efSearch: Int?, filter: MetadataFilter?) throws(EngineError) -> [SearchHit] {
        try lock.withReadLock { () throws(EngineError) -> [SearchHit] in
            let allowed = filter.map { metadata.evaluate($0) }
            return try nearestLocked(query, k: k, efSearch: efSearch, allowed: allowed).compactMap { hit in
                guard let id = id(of: hit.id) else { return nil }
                return SearchHit(id: id, distance: hit.distance, metadata: metadata.metadata(of: hit.id) ?? .object([:]))
            }
        }
    }

    /// The `k` nearest live labels that `allowed` admits, best first (read
    /// lock held): the graph's, then the exact scan of the staged rows.
    func nearestLocked(_ query: [Float], k: Int, efSearch: Int?, allowed: Bitset?) throws(EngineError) -> [SearchResult] {
        // The staging scan needs the query prepared here; the graph prepares its own.
        let prepared: UnsafeMutablePointer<Float>? = staging.count > 0 ? .allocate(capacity: configuration.dimension) : nil
        defer { prepared?.deallocate() }
        var heap = TopKHeap(capacity: k)
        // In-flight versions the graph already returned: the staging scan must not offer them again.
        var inFlightFromGraph = [VectorID]()
        do throws(IndexError) {
            try query.withUnsafeBufferPointer { (q) throws(IndexError) in
                if let prepared { try format.prepare(q, into: prepared, row: 0) }
                // Versions that died in flight may still be in the graph: ask for that many more.
                let wanted = Swift.min(k + labels.deadInFlight, SearchLimits.maxK)
                let fromGraph = try index.search(q, k: wanted, searchEffort: efSearch, filter: allowed.map { .bitset($0) })
                for hit in fromGraph where labels.placement(hit.id) == .indexed || labels.placement(hit.id) == .inFlight {
                    heap.consider(distance: hit.distance, id: hit.id)
                    if labels.placement(hit.id) == .inFlight { inFlightFromGraph.append(hit.id) }
                }
            }
        } catch {
            throw .invalidVector(record: 0, error)
        }
        if let prepared { scanStaging(UnsafePointer(prepared), allowed: allowed, skipping: inFlightFromGraph, into: &heap) }
        return heap.sortedResults()
    }

    /// Exact scan of the staged rows a search may return (read lock held),
    /// except the in-flight labels in `skipping` (at most k: the graph's hits).
    fileprivate func scanStaging(
        _ query: UnsafePointer<Float>, allowed: Bitset?, skipping: [VectorID], into heap: inout TopKHeap
    ) {
        labels.placements.withUnsafeBufferPointer { placements in
            let staged: (VectorID) -> Bool = { label in
                let p = placements[Int(label)]
                return p == .staged || (p == .inFlight && !skipping.contains(label))
            }
            let admits: (VectorID) -> Bool = allowed.map { bits in { staged($0) && bits.contains($0) } } ?? staged
            staging.scan(metric: configuration.metric, query, allowed: admits, into: &heap)
        }
    }

    func get(_ id: String) -> Record? {
        lock.withReadLock {
            guard let label = labelOfID[RecordKey(id)] else { return nil }
            let vector: [Float]
            if labels.placement(label) == .indexed {
                guard let v = try? index.vector(label) else { return nil }
                vector = v
            } else {
                guard let v = stagedVector(label) else { return nil }
                vector = v
            }
            return Record(id: id, vector: vector, metadata: metadata.metadata(of: label) ?? .object([:]), text: text(of: label))
        }
    }

    func stagedVector(_ label: VectorID) -> [Float]? {
        staging.row(of: label).map { Array(UnsafeBufferPointer(start: $0, count: configuration.dimension)) }
    }

    var count: Int { lock.withReadLock { labelOfID.count } }

    /// Every live id, in no particular order.
    var ids: [String] { lock.withReadLock { labelOfID.keys.map(\.id) } }

    func contains(_ id: String) -> Bool { lock.withReadLock { labelOfID[RecordKey(id)] != nil } }

    /// Records acknowledged but not yet in the graph.
    var unindexedCount: Int { lock.withReadLock { staging.count } }
}

extension Collection {
    /// The live labels `filter` admits, at most `limit`, in label order (read lock held).
    private func liveLabels(matching filter: MetadataFilter, limit: Int) -> [VectorID] {
        var found = [VectorID]()
        for label in metadata.labels(matching: filter) where labels.placement(label).isLive {
            if found.count == limit { break }
            found.append(label)
        }
        return found
    }

    /// The ids and metadata of the live records `filter` admits, at most `limit`, by label.
    func findMetadata(_ filter: MetadataFilter, limit: Int) -> [RecordMetadata] {
        lock.withReadLock {
            liveLabels(matching: filter, limit: limit).compactMap { label in
                id(of: label).map { RecordMetadata(id: $0, metadata: metadata.metadata(of: label) ?? .object([:])) }
            }
        }
    }

    /// The live records `filter` admits, at most `limit`, by label (read lock held once).
    func find(_ filter: MetadataFilter, limit: Int) -> [Record] {
        lock.withReadLock {
            liveLabels(matching: filter, limit: limit).compactMap { label in
                guard let id = id(of: label) else { return nil }
                let vector: [Float]?
                if labels.placement(label) == .indexed { vector = try? index.vector(label) } else { vector = stagedVector(label) }
                guard let vector else { return nil }
                return Record(id: id, vector: vector, metadata: metadata.metadata(of: label) ?? .object([:]), text: text(of: label))
            }
        }
    }
}
