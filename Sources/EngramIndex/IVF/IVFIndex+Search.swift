import EngramKernels

extension IVFIndex {
    /// The `k` nearest vectors to `query` among the `nprobe` nearest lists
    /// (more when a filter leaves fewer than `k` there), best first.
    ///
    /// Under sq8 the distances are those of the codes (what they stand
    /// for), unless `rerank > 0` and `fullPrecision` gives the prepared
    /// full-precision vector of a label: then the best `max(k, rerank)`
    /// candidates by code are scored again exactly and the best `k` of them
    /// returned (a label it has no vector for keeps its code distance).
    /// Under flat both are ignored: the scan is exact already.
    public func search(
        _ query: [Float], k: Int, nprobe: Int, filter: CandidateFilter? = nil,
        rerank: Int = 0, fullPrecision: ((VectorID) -> UnsafePointer<Float>?)? = nil
    ) throws(IndexError) -> [SearchResult] {
        try query.withUnsafeBufferPointer { (q) throws(IndexError) in
            try search(q, k: k, nprobe: nprobe, filter: filter, rerank: rerank, fullPrecision: fullPrecision)
        }
    }

    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, nprobe: Int, filter: CandidateFilter? = nil,
        rerank: Int = 0, fullPrecision: ((VectorID) -> UnsafePointer<Float>?)? = nil
    ) throws(IndexError) -> [SearchResult] {
        guard (1...SearchLimits.maxK).contains(k) else { throw .invalidK(k, maxK: SearchLimits.maxK) }
        guard (1...nlist).contains(nprobe) else { throw .invalidParameter(.nprobe, value: nprobe) }
        guard (0...SearchLimits.maxK).contains(rerank) else { throw .invalidParameter(.rerank, value: rerank) }
        let prepared = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
        defer { prepared.deallocate() }
        try format.prepare(query, into: prepared, row: 0)
        return try lock.withReadLock { () throws(IndexError) -> [SearchResult] in
            guard !centroids.isEmpty else { throw .notTrained }
            return searchWithKernel(self, prepared, k, nprobe, filter, rerank, fullPrecision)
        }
    }

    /// The search, with the read lock held and the kernel fixed.
    /// The search specialised for the metric's kernel: chosen once, when the index is made.
    typealias KernelSearch = (IVFIndex, UnsafePointer<Float>, _ k: Int, _ nprobe: Int, CandidateFilter?, _ rerank: Int,
                              ((VectorID) -> UnsafePointer<Float>?)?) -> [SearchResult]

    static func kernelSearch(_ metric: Metric) -> KernelSearch {
        switch metric {
        case .squaredL2: return { $0.search(SquaredL2Kernel.self, $1, k: $2, nprobe: $3, filter: $4, rerank: $5, fullPrecision: $6) }
        case .innerProduct: return { $0.search(InnerProductKernel.self, $1, k: $2, nprobe: $3, filter: $4, rerank: $5, fullPrecision: $6) }
        case .cosine: return { $0.search(CosineKernel.self, $1, k: $2, nprobe: $3, filter: $4, rerank: $5, fullPrecision: $6) }
        }
    }

    private func search<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, k: Int, nprobe: Int, filter: CandidateFilter?,
        rerank: Int, fullPrecision: ((VectorID) -> UnsafePointer<Float>?)?
    ) -> [SearchResult] {
        let d = dimension
        let reranking = encoding == .sq8 && rerank > 0 && fullPrecision != nil
        var heap = TopKHeap(capacity: reranking ? Swift.max(k, rerank) : k)
        var admitted = 0
        let weights = quantizer.map { $0.weights(for: query) }
        let queryLength = metric == .squaredL2 ? innerProduct(query, query, count: d) : 0

        func scanList(_ l: Int) {
            let list = lists[l]
            list.labels.withUnsafeBufferPointer { labels in
                switch encoding {
                case .flat:
                    list.vectors.withUnsafeBufferPointer { vectors in
                        guard var row = vectors.baseAddress else { return }
                        for label in labels {
                            if filter?.allows(label) ?? true {
                                heap.consider(distance: K.distance(query, row, count: d), id: label)
                                admitted += 1
                            }
                            row += d
                        }
                    }
                case .sq8:
                    guard let weights else { return }
                    list.codes.withUnsafeBufferPointer { codes in
                        list.squaredLengths.withUnsafeBufferPointer { lengths in
                            weights.weights.withUnsafeBufferPointer { w in
                                guard let rows = codes.baseAddress else { return }
                                let scorer = CodeScorer<K>(codes: rows, lengths: K.usesLengths ? lengths.baseAddress : nil, dimension: d,
                                                           weights: w.baseAddress!, constant: weights.constant, scale: weights.scale,
                                                           queryLength: queryLength)
                                for (r, label) in labels.enumerated() where filter?.allows(label) ?? true {
                                    heap.consider(distance: scorer.distance(UInt32(r)), id: label)
                                    admitted += 1
                                }
                            }
                        }
                    }
                }
            }
        }

        // The nprobe nearest lists (a bounded heap, not a sort of all nlist), nearest first…
        var nearest = TopKHeap(capacity: nprobe)
        centroids.withUnsafeBufferPointer { c in
            for l in 0..<nlist { nearest.consider(distance: K.distance(query, c.baseAddress! + l * d, count: d), id: VectorID(l)) }
        }
        let probed = nearest.sortedResults()
        for hit in probed { scanList(Int(hit.id)) }
        if admitted < k {
            // …and, while fewer than k vectors were admitted, the next nearest lists in order.
            let scanned = Set(probed.map { Int($0.id) })
            var rest = [(distance: Float, list: Int)]()
            centroids.withUnsafeBufferPointer { c in
                for l in 0..<nlist where !scanned.contains(l) { rest.append((K.distance(query, c.baseAddress! + l * d, count: d), l)) }
            }
            rest.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.list < $1.list) }
            for entry in rest {
                if admitted >= k { break }
                scanList(entry.list)
            }
        }
        let candidates = heap.sortedResults()
        guard reranking, let fullPrecision else { return candidates }
        var exact = TopKHeap(capacity: k)
        for candidate in candidates {
            let distance = fullPrecision(candidate.id).map { K.distance(query, $0, count: d) } ?? candidate.distance
            exact.consider(distance: distance, id: candidate.id)
        }
        return exact.sortedResults()
    }
}
