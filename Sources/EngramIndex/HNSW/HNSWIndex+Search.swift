import EngramKernels

/// How a search found its results (reported so callers can see the planner work).
public enum HNSWSearchPlan: String, Sendable, CaseIterable {
    /// Graph search with no filter.
    case graph
    /// Graph search that explores through rejected nodes and keeps only allowed ones.
    case filteredGraph
    /// Exact scan over the allowed live vectors (few pass the filter).
    case exactScan
    /// The filtered graph search found fewer than `k`, so an exact scan finished the job.
    case filteredGraphThenExact
}

/// The results of a search and the plan that produced them.
public struct HNSWSearchOutcome: Sendable {
    public var results: [SearchResult]
    public var plan: HNSWSearchPlan
}

extension HNSWIndex {
    /// The `k` nearest live vectors to `query` that `filter` allows, best
    /// first (ties by lower label). With a filter it always returns
    /// `min(k, allowed live vectors)` results.
    public func search(
        _ query: [Float], k: Int, efSearch: Int? = nil, filter: CandidateFilter? = nil
    ) throws(IndexError) -> [SearchResult] {
        try searchWithPlan(query, k: k, efSearch: efSearch, filter: filter).results
    }

    public func search(
        _ query: UnsafeBufferPointer<Float>, k: Int, efSearch: Int? = nil, filter: CandidateFilter? = nil
    ) throws(IndexError) -> [SearchResult] {
        try searchWithPlan(query, k: k, efSearch: efSearch, filter: filter).results
    }

    /// ``search(_:k:efSearch:filter:)`` that also reports the plan it chose.
    public func searchWithPlan(
        _ query: [Float], k: Int, efSearch: Int? = nil, filter: CandidateFilter? = nil
    ) throws(IndexError) -> HNSWSearchOutcome {
        try query.withUnsafeBufferPointer { (q) throws(IndexError) in
            try searchWithPlan(q, k: k, efSearch: efSearch, filter: filter)
        }
    }

    public func searchWithPlan(
        _ query: UnsafeBufferPointer<Float>, k: Int, efSearch: Int? = nil, filter: CandidateFilter? = nil
    ) throws(IndexError) -> HNSWSearchOutcome {
        guard (1...SearchLimits.maxK).contains(k) else { throw .invalidK(k, maxK: SearchLimits.maxK) }
        let ef = Swift.max(efSearch ?? configuration.efSearch, k)
        guard ef <= 100_000 else { throw .invalidParameter(.efSearch, value: ef) }
        return try lock.withReadLock { () throws(IndexError) -> HNSWSearchOutcome in
            try withScratch { (scratch) throws(IndexError) -> HNSWSearchOutcome in
                try format.prepare(query, into: scratch.query, row: 0)
                return kernels.search(self, scratch, k, ef, filter)
            }
        }
    }

    /// Chooses a plan from the filter's estimated selectivity and runs it.
    ///
    /// Cost model, in distance computations. The filtered graph search widens
    /// its candidate list to `ef' = ef / s` (at most `8·ef`; s = the allowed
    /// fraction) to keep recall, and must then visit about `ef' / s` nodes to
    /// collect `ef'` allowed ones, each expansion costing up to `2M` distances.
    /// An exact scan costs one distance per allowed vector plus a cheap filter
    /// check per slot. The cheaper one runs.
    @inline(never)
    func plannedSearch<K: DistanceKernel>(
        _ kernel: K.Type, _ scratch: SearchScratch, k: Int, ef: Int, filter: CandidateFilter?
    ) -> HNSWSearchOutcome {
        let (entry, top, live, used) = registry.withLock { ($0.entryPoint, $0.maxLevel, $0.liveCount, $0.slotCount) }
        guard entry != Self.noSlot, live > 0 else { return HNSWSearchOutcome(results: [], plan: filter == nil ? .graph : .exactScan) }
        guard let filter else {
            let results = graphSearch(kernel, scratch, entry: entry, top: top, ef: ef, k: k, filter: nil, slots: used)
            return HNSWSearchOutcome(results: results, plan: .graph)
        }
        let allowed = estimateAllowed(filter, live: live, slots: used)
        // Only a fraction s of the nodes count, so widen the search by 1/s
        // (at most 8×): ef allowed results need about ef / s candidates.
        let widened = Swift.min(Swift.max(ef, Int(Double(ef) * Double(live) / Swift.max(allowed, 1))), 8 * ef)
        let graphCost = Double(widened) * Double(maxM0) * Double(live) / Swift.max(allowed, 1)
        let exactCost = allowed + Double(used) / 32
        if exactCost <= graphCost {
            return HNSWSearchOutcome(results: exactScan(kernel, scratch.query, k: k, filter: filter, slots: used), plan: .exactScan)
        }
        let results = graphSearch(kernel, scratch, entry: entry, top: top, ef: widened, k: k, filter: filter, slots: used)
        if results.count >= k { return HNSWSearchOutcome(results: results, plan: .filteredGraph) }
        return HNSWSearchOutcome(
            results: exactScan(kernel, scratch.query, k: k, filter: filter, slots: used), plan: .filteredGraphThenExact)
    }

    /// Allowed live vectors: exact for a bitset (its population count),
    /// sampled from up to 1,024 evenly spaced slots for a predicate.
    func estimateAllowed(_ filter: CandidateFilter, live: Int, slots: Int) -> Double {
        switch filter {
        case .bitset(let bits):
            return Double(Swift.min(bits.count, live))
        case .predicate(let allows):
            let step = Swift.max(1, slots / 1024)
            var seen = 0, passed = 0
            var s = 0
            while s < slots {
                if state(UInt32(s)) == .live {
                    seen += 1
                    if allows(labels[s]) { passed += 1 }
                }
                s += step
            }
            guard seen > 0 else { return 0 }
            return Double(live) * Double(passed) / Double(seen)
        }
    }

    /// Exact top-k over live slots the filter allows (ties by lower label).
    /// A sparse bitset is walked by its set bits (a label-map lookup each);
    /// otherwise every slot is checked.
    func exactScan<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, k: Int, filter: CandidateFilter?, slots: Int
    ) -> [SearchResult] {
        if let codes = codesOnly {
            return withCodeScorer(K.self, codes, query: query) { exactScan(scoring: $0, k: k, filter: filter, slots: slots) }
        }
        return exactScan(scoring: FloatScorer<K>(query: query, view: view), k: k, filter: filter, slots: slots)
    }

    func exactScan<S: SlotScorer>(scoring scorer: S, k: Int, filter: CandidateFilter?, slots: Int) -> [SearchResult] {
        var heap = TopKHeap(capacity: k)
        let g = view
        // Allowed slots are gathered in blocks and scored four at a time (``SlotScorer/score(_:count:labels:into:)``).
        let block = UnsafeMutablePointer<UInt32>.allocate(capacity: 64)
        defer { block.deallocate() }
        var pending = 0
        func flush() {
            scorer.score(block, count: pending, labels: g.labels, into: &heap)
            pending = 0
        }
        @inline(__always) func offer(_ slot: UInt32) {
            block[pending] = slot
            pending &+= 1
            if pending == 64 { flush() }
        }
        switch filter {
        case .bitset(let bits)? where bits.count * 16 < slots:
            let chosen: [UInt32] = registry.withLock { r in
                var out = [UInt32]()
                bits.forEach { label in if let slot = r.slotOfLabel[label] { out.append(slot) } }
                return out
            }
            for slot in chosen where g.isLive(slot) { offer(slot) }
        case .bitset(let bits)?:
            for s in 0..<slots where g.isLive(UInt32(s)) && bits.contains(g.labels[s]) { offer(UInt32(s)) }
        case .predicate(let allows)?:
            for s in 0..<slots where g.isLive(UInt32(s)) && allows(g.labels[s]) { offer(UInt32(s)) }
        case nil:
            for s in 0..<slots where g.isLive(UInt32(s)) { offer(UInt32(s)) }
        }
        flush()
        return heap.sortedResults()
    }

    /// Greedy descent to layer 0, then a best-first search there.
    func graphSearch<K: DistanceKernel>(
        _ kernel: K.Type, _ scratch: SearchScratch, entry: UInt32, top: Int, ef: Int, k: Int,
        filter: CandidateFilter?, slots: Int
    ) -> [SearchResult] {
        let query = UnsafePointer(scratch.query)
        let restricted = filter != nil || registry.withLock { $0.tombstoneCount } > 0
        if let codes = codesOnly {
            // Codes only: every layer on the codes, and the distances the codes give.
            return withCodeScorer(K.self, codes, query: query) {
                graphSearch(scoring: $0, entry: entry, top: top, ef: ef, k: k, filter: filter, restricted: restricted, slots: slots, scratch: scratch)
            }
        }
        // A query far outside the codes' ranges walks on the floats: the codes would misjudge every distance to it.
        if let codes = traversal, !codes.quantizer.isFarOutside(query) {
            return searchOnCodes(kernel, codes, scratch, entry: entry, top: top, ef: ef, k: k, filter: filter, restricted: restricted, slots: slots)
        }
        if let codes = quantization {
            let (start, _) = descend(kernel, query, from: entry, top: top, to: 0, scratch: scratch)
            return quantizedLayer0(kernel, codes, scratch, entry: start, ef: ef, k: k, filter: filter, restricted: restricted, slots: slots)
        }
        return graphSearch(scoring: FloatScorer<K>(query: query, view: view), entry: entry, top: top, ef: ef, k: k,
                           filter: filter, restricted: restricted, slots: slots, scratch: scratch)
    }

    /// Descent, the layer-0 search and the best `k` of what it found, all with `scorer`'s distances.
    func graphSearch<S: SlotScorer>(
        scoring scorer: S, entry: UInt32, top: Int, ef: Int, k: Int, filter: CandidateFilter?, restricted: Bool, slots: Int,
        scratch: SearchScratch
    ) -> [SearchResult] {
        descendThenSearch(scoring: scorer, entry: entry, top: top, ef: ef, filter: filter, restricted: restricted, slots: slots, scratch: scratch)
        var heap = TopKHeap(capacity: k)
        while !scratch.results.isEmpty {
            let c = scratch.results.pop()
            heap.consider(distance: c.distance, id: labels[Int(c.slot)])
        }
        return heap.sortedResults()
    }

    /// Greedy descent from `entry` to layer 1, then the best-first search of
    /// layer 0; leaves the `ef` best in `scratch.results`.
    func descendThenSearch<S: SlotScorer>(
        scoring scorer: S, entry: UInt32, top: Int, ef: Int, filter: CandidateFilter?, restricted: Bool, slots: Int,
        scratch: SearchScratch
    ) {
        let (start, startDistance) = descend(scoring: scorer, from: entry, top: top, to: 0, scratch: scratch)
        searchLayer(scoring: scorer, entry: start, entryDistance: startDistance, ef: ef, level: 0,
                    scratch: scratch, filter: filter, restricted: restricted, slots: slots)
    }

    /// Greedy search (ef = 1) from `entry` on layers `top` down to `level + 1`, with the float vectors.
    func descend<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, from entry: UInt32, top: Int, to level: Int, scratch: SearchScratch
    ) -> (UInt32, Float) {
        descend(scoring: FloatScorer<K>(query: query, view: view), from: entry, top: top, to: level, scratch: scratch)
    }

    /// Greedy search (ef = 1) from `entry` on layers `top` down to `level + 1`.
    func descend<S: SlotScorer>(
        scoring scorer: S, from entry: UInt32, top: Int, to level: Int, scratch: SearchScratch
    ) -> (UInt32, Float) {
        let g = view
        let buffer = scratch.neighbours
        var current = entry
        var currentDistance = scorer.distance(entry)
        var l = top
        while l > level {
            var changed = true
            while changed {
                changed = false
                let n = g.readLinks(current, l, into: buffer)
                // Four rows at a time, as on layer 0; then the list in order, as one at a time would.
                var i = 0
                while i < n {
                    let batch = Swift.min(4, n &- i)
                    var d = SIMD4<Float>(repeating: .infinity)
                    if batch == 4 {
                        d = scorer.distances4(buffer[i], buffer[i &+ 1], buffer[i &+ 2], buffer[i &+ 3])
                    } else {
                        for j in 0..<batch { d[j] = scorer.distance(buffer[i &+ j]) }
                    }
                    for j in 0..<batch where d[j] < currentDistance {
                        currentDistance = d[j]
                        current = buffer[i &+ j]
                        changed = true
                    }
                    i &+= batch
                }
            }
            l -= 1
        }
        return (current, currentDistance)
    }

    /// Best-first search on one layer with the float vectors (see
    /// ``searchLayer(scoring:entry:entryDistance:ef:level:scratch:filter:restricted:slots:)``).
    func searchLayer<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, entry: UInt32, entryDistance: Float, ef: Int, level: Int,
        scratch: SearchScratch, filter: CandidateFilter?, restricted: Bool, slots: Int
    ) {
        searchLayer(scoring: FloatScorer<K>(query: query, view: view), entry: entry, entryDistance: entryDistance, ef: ef,
                    level: level, scratch: scratch, filter: filter, restricted: restricted, slots: slots)
    }

    /// Best-first search on one layer, hnswlib's `searchBaseLayerST`: keeps
    /// the `ef` best acceptable nodes in `scratch.results` (a max-heap).
    /// A node is acceptable when live and allowed by `filter`; rejected nodes
    /// are still explored. `restricted` (a filter or tombstones present)
    /// keeps exploring until `ef` acceptable nodes are found. `scorer` gives
    /// the distances: the float vectors, or HNSW-SQ8's codes on layer 0.
    ///
    /// Distances of a node's unvisited neighbours are computed four at a
    /// time (independent loads from four rows overlap their cache misses),
    /// after all their rows (and slot states) were prefetched; and the
    /// layer-0 block of the node to expand next is prefetched as soon as it
    /// is the nearest candidate (hnswlib's `searchBaseLayerST` does the
    /// same), so the walk's one serial miss, the list it expands next,
    /// overlaps the work before it.
    func searchLayer<S: SlotScorer>(
        scoring scorer: S, entry: UInt32, entryDistance: Float, ef: Int, level: Int,
        scratch: SearchScratch, filter: CandidateFilter?, restricted: Bool, slots: Int
    ) {
        scratch.beginVisit(slots: capacity)
        let g = view
        let tags = scratch.tags
        let generation = scratch.generation
        let neighbours = scratch.neighbours
        let fresh = scratch.fresh
        var candidates = scratch.candidates
        var results = scratch.results
        defer {
            scratch.candidates = candidates
            scratch.results = results
        }
        @inline(__always) func accept(_ slot: UInt32) -> Bool {
            guard g.isLive(slot) else { return false }
            guard let filter else { return true }
            return filter.allows(g.labels[Int(slot)])
        }
        tags[Int(entry)] = generation
        var bound = Float.infinity
        if accept(entry) {
            results.push(entryDistance, entry)
            bound = entryDistance
        }
        candidates.push(-entryDistance, entry)
        while !candidates.isEmpty {
            let current = candidates.top
            if -current.distance > bound && (results.count >= ef || !restricted) { break }
            candidates.pop()
            if level == 0 && !candidates.isEmpty { g.prefetchBlock(candidates.top.slot) }  // next, unless a neighbour comes nearer
            let n = g.readLinks(current.slot, level, into: neighbours)
            var m = 0
            for i in 0..<n {
                let id = neighbours[i]
                if tags[Int(id)] != generation {
                    tags[Int(id)] = generation
                    fresh[m] = id
                    m &+= 1
                }
            }
            for t in 0..<m {
                scorer.prefetch(fresh[t])
                g.prefetchState(fresh[t])
            }
            var i = 0
            while i < m {
                let batch = Swift.min(4, m &- i)
                var d = SIMD4<Float>(repeating: .infinity)
                if batch == 4 {
                    d = scorer.distances4(fresh[i], fresh[i &+ 1], fresh[i &+ 2], fresh[i &+ 3])
                } else {
                    for j in 0..<batch { d[j] = scorer.distance(fresh[i &+ j]) }
                }
                for j in 0..<batch {
                    let distance = d[j]
                    if results.count < ef || distance < bound {
                        let id = fresh[i &+ j]
                        candidates.push(-distance, id)
                        if level == 0 && candidates.top.slot == id { g.prefetchBlock(id) }  // the next to expand, for now
                        if accept(id) {
                            // At ef, the new one takes the farthest's place (a push and a pop in one pass).
                            if results.count < ef { results.push(distance, id) } else { results.replaceTop(distance, id) }
                        }
                        if !results.isEmpty { bound = results.top.distance }
                    }
                }
                i &+= batch
            }
        }
    }
}
