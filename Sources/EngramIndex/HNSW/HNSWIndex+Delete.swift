import EngramKernels

/// What ``HNSWIndex/compact()`` did.
public struct HNSWCompactionReport: Sendable, Equatable {
    /// Tombstoned slots reclaimed for reuse.
    public var reclaimedSlots: Int
    /// Neighbour lists rebuilt because they pointed at tombstones.
    public var repairedLists: Int
    /// Live nodes that were unreachable from the entry point and were relinked.
    public var relinkedNodes: Int
}

extension HNSWIndex {
    /// Deletes `label`: it is never returned again. Its slot stays in the
    /// graph as a tombstone (searches pass through it) until ``compact()``.
    public func delete(_ label: VectorID) throws(IndexError) {
        try lock.withReadLock { () throws(IndexError) in
            try registry.withLock { (r) throws(IndexError) in
                guard let slot = r.slotOfLabel.removeValue(forKey: label) else { throw .unknownID(label) }
                states[Int(slot)].store(SlotState.deleted.rawValue, ordering: .releasing)
                r.tombstoneCount += 1
                r.liveCount -= 1
            }
        }
    }

    /// Repairs the graph around tombstones and reclaims their slots.
    ///
    /// Every list that points at a tombstone is rebuilt from its live links
    /// plus the live links of those tombstones (their neighbours are the
    /// natural replacements), keeping the nearest `efConstruction` of them and
    /// selecting with the heuristic. Tombstoned slots then become free (their
    /// vectors and codes zeroed: a deleted vector is gone from memory and from
    /// every later snapshot) and are reused by later inserts, so churn does
    /// not grow memory. Finally any
    /// live node unreachable from the entry point on layer 0 is relinked by a
    /// fresh search from the entry point. Takes the exclusive lock.
    @discardableResult
    public func compact() -> HNSWCompactionReport {
        lock.withWriteLock { kernels.compact(self) }
    }

    func compact<K: DistanceKernel>(_ kernel: K.Type) -> HNSWCompactionReport {
        let used = registry.withLock { $0.slotCount }
        var report = HNSWCompactionReport(reclaimedSlots: 0, repairedLists: 0, relinkedNodes: 0)
        var dead = [UInt32]()
        for s in 0..<used where state(UInt32(s)) == .deleted { dead.append(UInt32(s)) }
        if !dead.isEmpty {
            withScratch { scratch in
                for s in 0..<used where state(UInt32(s)) == .live {
                    let slot = UInt32(s)
                    for l in 0...Int(levels[s]) where repairList(kernel, slot, level: l, scratch: scratch) {
                        report.repairedLists += 1
                    }
                }
            }
            for slot in dead {
                let s = Int(slot)
                states[s].store(SlotState.free.rawValue, ordering: .relaxed)
                // A deleted vector leaves memory, and so every later snapshot, with its slot
                // (the floats, unless the index holds codes only and freed them; the codes).
                if codesOnly == nil { (vectors + s * dimension).update(repeating: 0, count: dimension) }
                if let codes = quantization {
                    (codes.codes + s * dimension).update(repeating: 0, count: dimension)
                    codes.lengths?[s] = 0
                }
                traversal?.erase(slot: s)
                links(UInt32(s), 0)[0].store(0, ordering: .relaxed)
                upper[s]?.deallocate()
                upper[s] = nil
                levels[s] = 0
            }
            report.reclaimedSlots = dead.count
            registry.withLock { r in
                r.freeSlots.append(contentsOf: dead.reversed())
                r.tombstoneCount = 0
                if r.entryPoint != Self.noSlot && state(r.entryPoint) != .live {
                    // The new entry point: a live node on the highest level.
                    var best = Self.noSlot
                    var bestLevel = -1
                    for s in 0..<used where state(UInt32(s)) == .live && Int(levels[s]) > bestLevel {
                        best = UInt32(s)
                        bestLevel = Int(levels[s])
                    }
                    r.entryPoint = best
                    r.maxLevel = bestLevel
                }
            }
        }
        report.relinkedNodes = relinkUnreachable(kernel)
        return report
    }

    /// Rebuilds one list if it points at tombstones; returns whether it did.
    /// Candidates: its live links, the live links of its dead neighbours, and
    /// the result of a search from the node itself on that layer (which
    /// passes through tombstones), so that heavy deletion does not leave the
    /// node with only far or few neighbours. New neighbours link back.
    func repairList<K: DistanceKernel>(_ kernel: K.Type, _ slot: UInt32, level: Int, scratch: SearchScratch) -> Bool {
        let list = links(slot, level)
        let n = Int(list[0].load(ordering: .relaxed))
        var keep = Set<UInt32>()
        var viaDead = Set<UInt32>()
        var touched = false
        for i in 0..<n {
            let id = list[1 + i].load(ordering: .relaxed)
            if state(id) == .live {
                keep.insert(id)
                continue
            }
            touched = true
            // A tombstone's lists are still intact: borrow its live neighbours.
            if Int(levels[Int(id)]) >= level {
                let dl = links(id, level)
                for j in 0..<Int(dl[0].load(ordering: .relaxed)) {
                    let nb = dl[1 + j].load(ordering: .relaxed)
                    if nb != slot && state(nb) == .live { viaDead.insert(nb) }
                }
            }
        }
        guard touched else { return false }
        let rows = RowReader(self)
        defer { rows.release() }
        let base = rows.first(slot)
        searchLayer(kernel, from: base, entry: slot, entryDistance: 0, ef: configuration.efConstruction, level: level,
                    scratch: scratch, restricted: true)
        while !scratch.results.isEmpty {
            let c = scratch.results.pop()
            if c.slot != slot { viaDead.insert(c.slot) }
        }
        var candidates = keep.union(viaDead).map {
            Candidate(distance: K.distance(base, rows.second($0), count: dimension), slot: $0)
        }
        candidates.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.slot < $1.slot) }
        if candidates.count > configuration.efConstruction { candidates.removeLast(candidates.count - configuration.efConstruction) }
        let kept = selectNeighbours(kernel, candidates, max: maxDegree(level))
        kept.withUnsafeBufferPointer { writeLinks(slot, level, $0) }
        // New neighbours link back, as on insert, so that nodes which lost
        // in-links to tombstones regain them.
        for id in kept where !keep.contains(id) { connect(kernel, id, to: slot, level: level) }
        return true
    }

    /// Live nodes not reachable from the entry point on layer 0.
    func unreachableFromEntry() -> [UInt32] {
        let (entry, used) = registry.withLock { ($0.entryPoint, $0.slotCount) }
        guard entry != Self.noSlot else { return [] }
        var seen = [Bool](repeating: false, count: used)
        var stack = [entry]
        seen[Int(entry)] = true
        while let node = stack.popLast() {
            let list = links(node, 0)
            for i in 0..<Int(list[0].load(ordering: .relaxed)) {
                let id = Int(list[1 + i].load(ordering: .relaxed))
                if id < used && !seen[id] {
                    seen[id] = true
                    stack.append(UInt32(id))
                }
            }
        }
        return (0..<used).filter { !seen[$0] && state(UInt32($0)) == .live }.map(UInt32.init)
    }

    /// Links each unreachable live node to its nearest reachable nodes on
    /// layer 0, both ways (exclusive lock held), until every live node is
    /// reachable or 8 passes have run. A back link goes into the neighbour's
    /// free room, or replaces its farthest link (which the next pass checks).
    /// Returns how many nodes were relinked.
    func relinkUnreachable<K: DistanceKernel>(_ kernel: K.Type) -> Int {
        var relinked = 0
        for _ in 0..<8 {
            let lost = unreachableFromEntry()
            if lost.isEmpty { break }
            relinked += lost.count
            let (entry, top, used) = registry.withLock { ($0.entryPoint, $0.maxLevel, $0.slotCount) }
            var inDegree = [Int](repeating: 0, count: used)
            for s in 0..<used where state(UInt32(s)) != .free {
                let list = links(UInt32(s), 0)
                for i in 0..<Int(list[0].load(ordering: .relaxed)) { inDegree[Int(list[1 + i].load(ordering: .relaxed))] += 1 }
            }
            withScratch { scratch in
                let rows = RowReader(self)
                defer { rows.release() }
                for slot in lost {
                    searchFromTop(kernel, from: rows.first(slot), entry: entry, top: top, ef: configuration.efConstruction, scratch: scratch)
                    var found = [Candidate]()
                    while !scratch.results.isEmpty {
                        let c = scratch.results.pop()
                        if c.slot != slot { found.append(c) }
                    }
                    found.reverse()
                    let selected = selectNeighbours(kernel, found, max: maxM)
                    var own = Set<UInt32>()
                    let list = links(slot, 0)
                    for i in 0..<Int(list[0].load(ordering: .relaxed)) { own.insert(list[1 + i].load(ordering: .relaxed)) }
                    var merged = Array(own)
                    for s in selected where merged.count < maxM0 && own.insert(s).inserted { merged.append(s) }
                    merged.withUnsafeBufferPointer { writeLinks(slot, 0, $0) }
                    for neighbour in selected { forceLink(kernel, neighbour, to: slot, inDegree: &inDegree) }
                }
            }
        }
        return relinked
    }

    /// Adds `newcomer` to `node`'s layer-0 list; if full, replaces the
    /// farthest link whose target has another way in (in-degree > 1), so
    /// relinking one node never strands another.
    func forceLink<K: DistanceKernel>(_: K.Type, _ node: UInt32, to newcomer: UInt32, inDegree: inout [Int]) {
        let list = links(node, 0)
        let n = Int(list[0].load(ordering: .relaxed))
        for i in 0..<n where list[1 + i].load(ordering: .relaxed) == newcomer { return }
        if n < maxM0 {
            list[1 + n].store(newcomer, ordering: .releasing)
            list[0].store(UInt32(n + 1), ordering: .releasing)
            inDegree[Int(newcomer)] += 1
            return
        }
        let rows = RowReader(self)
        defer { rows.release() }
        let base = rows.first(node)
        var farthest = -1
        var farthestDistance = -Float.infinity
        for i in 0..<n {
            let id = list[1 + i].load(ordering: .relaxed)
            guard inDegree[Int(id)] > 1 else { continue }
            let d = K.distance(base, rows.second(id), count: dimension)
            if d > farthestDistance {
                farthestDistance = d
                farthest = i
            }
        }
        guard farthest >= 0 else { return }
        inDegree[Int(list[1 + farthest].load(ordering: .relaxed))] -= 1
        list[1 + farthest].store(newcomer, ordering: .releasing)
        inDegree[Int(newcomer)] += 1
    }
}

extension HNSWIndex {
    /// A search on one layer from a stored node's vector (repairs), on the
    /// floats or, for a codes-only index, on the codes.
    func searchLayer<K: DistanceKernel>(
        _ kernel: K.Type, from base: UnsafePointer<Float>, entry: UInt32, entryDistance: Float, ef: Int, level: Int,
        scratch: SearchScratch, restricted: Bool
    ) {
        if let codes = codesOnly {
            withCodeScorer(K.self, codes, query: base) {
                searchLayer(scoring: $0, entry: entry, entryDistance: entryDistance, ef: ef, level: level,
                            scratch: scratch, filter: nil, restricted: restricted, slots: capacity)
            }
        } else {
            searchLayer(kernel, base, entry: entry, entryDistance: entryDistance, ef: ef, level: level,
                        scratch: scratch, filter: nil, restricted: restricted, slots: capacity)
        }
    }

    /// Descends from the entry point and searches layer 0 from `query` (relinking).
    func searchFromTop<K: DistanceKernel>(
        _ kernel: K.Type, from query: UnsafePointer<Float>, entry: UInt32, top: Int, ef: Int, scratch: SearchScratch
    ) {
        if let codes = codesOnly {
            withCodeScorer(K.self, codes, query: query) {
                descendThenSearch(scoring: $0, entry: entry, top: top, ef: ef, filter: nil, restricted: false, slots: capacity, scratch: scratch)
            }
        } else {
            descendThenSearch(scoring: FloatScorer<K>(query: query, view: view), entry: entry, top: top, ef: ef,
                              filter: nil, restricted: false, slots: capacity, scratch: scratch)
        }
    }
}
