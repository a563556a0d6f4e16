import Dispatch
import EngramSync
import EngramKernels
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HNSWIndex {
    /// Inserts `vector` under `label`; if the label exists, its vector is
    /// replaced (the old slot becomes a tombstone until ``compact()``).
    public func insert(_ vector: [Float], label: VectorID) throws(IndexError) {
        guard vector.count == dimension else { throw .dimensionMismatch(expected: dimension, actual: vector.count) }
        try insert(contentsOf: vector, labels: [label], threads: 1)
    }

    /// Inserts `labels.count` vectors packed row after row in `floats`, on
    /// up to `threads` threads. All or nothing for bad input: every vector
    /// is validated before the first is inserted. `progress` receives the
    /// number inserted so far, about every 1% (from a worker thread).
    public func insert(
        contentsOf floats: [Float], labels: [VectorID], threads: Int = 1,
        progress: (@Sendable (Int) -> Void)? = nil
    ) throws(IndexError) {
        let n = labels.count
        guard floats.count == n * dimension else {
            throw .raggedBatch(floats: floats.count, dimension: dimension)
        }
        guard n > 0 else { try checkBatch(labels, threads: threads); return }
        let prepared = UnsafeMutablePointer<Float>.allocate(capacity: n * dimension)
        defer { prepared.deallocate() }
        try floats.withUnsafeBufferPointer { (all) throws(IndexError) in
            for r in 0..<n {
                try format.prepare(
                    UnsafeBufferPointer(rebasing: all[(r * dimension)..<((r + 1) * dimension)]),
                    into: prepared + r * dimension, row: r)
            }
        }
        try insert(preparedRows: UnsafeBufferPointer(start: prepared, count: n * dimension), labels: labels, threads: threads, progress: progress)
    }

    /// Inserts `labels.count` rows that already passed this index's
    /// ``VectorFormat`` (the same dimension and metric: finite, unit length
    /// under cosine), packed in `rows`: the engine validates and prepares a
    /// record's vector once on its way in and hands the rows straight over.
    package func insert(
        preparedRows rows: UnsafeBufferPointer<Float>, labels: [VectorID], threads: Int = 1,
        progress: (@Sendable (Int) -> Void)? = nil
    ) throws(IndexError) {
        guard rows.count == labels.count * dimension else { throw .raggedBatch(floats: rows.count, dimension: dimension) }
        try checkBatch(labels, threads: threads)
        let n = labels.count
        guard n > 0, let prepared = rows.baseAddress else { return }
        let (used, free) = registry.withLock { ($0.slotCount, $0.freeSlots.count) }
        let needed = used + n - free
        let current = lock.withReadLock { capacity }
        // Grow geometrically: one insert at a time must not copy the storage each time.
        if needed > current { try reserve(Swift.max(needed, current + current / 2)) }
        // A batch that crosses a point where the codes are due goes in piece by piece, trained between
        // pieces: the rest of it walks (and builds) on the codes, as it would over smaller batches.
        var start = 0
        while start < n {
            let end = rowsBeforeTraining().map { Swift.min(n, start + $0) } ?? n
            try insertPiece(prepared, labels: labels, start..<end, total: n, threads: threads, progress: progress)
            start = end
        }
    }

    /// Live vectors to add before the codes are due to be trained (again), or
    /// nil if they never will be (``nextTrainingPoint()``).
    private func rowsBeforeTraining() -> Int? {
        lock.withReadLock { () -> Int? in
            nextTrainingPoint().map { Swift.max(1, $0 - registry.withLock { $0.liveCount }) }
        }
    }

    /// Inserts rows `range` of the batch (room reserved), then looks for
    /// stranded nodes and trains the codes when due.
    private func insertPiece(
        _ prepared: UnsafePointer<Float>, labels: [VectorID], _ range: Range<Int>, total: Int, threads: Int,
        progress: (@Sendable (Int) -> Void)?
    ) throws(IndexError) {
        let n = range.count
        let workers = Swift.min(threads, n)
        let next = AtomicCounter(range.lowerBound)
        let source = SendablePointer(UnsafeMutablePointer(mutating: prepared))
        let step = Swift.max(1, total / 100)
        // Set only if the storage must grow again (other callers inserting at
        // the same time) and its vector memory cannot: the workers stop.
        let failure = Locked<IndexError?>(nil)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.increment()
                if i >= range.upperBound { break }
                do throws(IndexError) {
                    try self.insertPrepared(source.pointer + i * self.dimension, label: labels[i])
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    next.finish(range.upperBound)
                    break
                }
                if let progress, (i + 1) % step == 0 { progress(i + 1) }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        // The heuristic's pruning can leave a node that no list points to
        // (1 of glove-50's 390,000, in a serial build too). Each time the
        // index has grown by an eighth (a build or a restore in one batch;
        // a collection's blocks over time), find such nodes and link them in.
        // The look reads every list: at most about 8·M reads per inserted vector.
        let due = registry.withLock { r in
            r.insertedSinceReachabilityCheck += n
            guard r.insertedSinceReachabilityCheck * 8 >= r.liveCount else { return false }
            r.insertedSinceReachabilityCheck = 0
            return true
        }
        if due { relinkStranded() }
        trainTraversalCodesIfDue()
    }

    /// Refuses a thread count out of range and a label given twice in one batch.
    private func checkBatch(_ labels: [VectorID], threads: Int) throws(IndexError) {
        guard threads >= 1 && threads <= 256 else {
            throw .invalidParameter(.threads, value: threads)
        }
        var seen = Set<VectorID>(minimumCapacity: labels.count)
        for label in labels where !seen.insert(label).inserted { throw .duplicateID(label) }
    }

    /// Links in every live node that no layer-0 path from the entry point
    /// reaches; returns how many. The search for them reads every list under
    /// the shared lock; only if it finds one does the relinking
    /// (``relinkUnreachable(_:)``, which looks again) take the exclusive lock.
    @discardableResult
    public func relinkStranded() -> Int {
        guard !lock.withReadLock({ unreachableFromEntry() }).isEmpty else { return 0 }
        return lock.withWriteLock { kernels.relinkUnreachable(self) }
    }

    /// Inserts one validated, prepared vector, growing the storage if needed.
    func insertPrepared(_ source: UnsafePointer<Float>, label: VectorID) throws(IndexError) {
        while true {
            let inserted = lock.withReadLock { tryInsert(source, label: label) }
            if inserted { return }
            try lock.withWriteLock { () throws(IndexError) in
                let used = registry.withLock { $0.freeSlots.isEmpty ? $0.slotCount : 0 }
                if used >= capacity { try resizeStorage(to: capacity * 2, keeping: used) }
            }
        }
    }

    /// The level of the `sequence`-th insertion: `⌊−ln(u) / ln(M)⌋` for a
    /// uniform `u` drawn from the seed and the sequence number, capped at 31.
    func randomLevel(_ sequence: UInt64) -> Int {
        var z = configuration.seed &+ sequence &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 1) / Double(1 << 53)  // (0, 1]
        return Swift.min(Self.maxLevelCap, Int(-log(u) * levelMultiplier))
    }

    /// Inserts under the shared lock; returns false if there is no free slot.
    func tryInsert(_ source: UnsafePointer<Float>, label: VectorID) -> Bool {
        let claimed: (slot: UInt32, level: Int)? = registry.withLock { r in
            let slot: UInt32
            if let free = r.freeSlots.popLast() {
                slot = free
            } else if r.slotCount < capacity {
                slot = UInt32(r.slotCount)
                r.slotCount += 1
            } else {
                return nil
            }
            r.insertions &+= 1
            return (slot, randomLevel(r.insertions))
        }
        guard let (slot, level) = claimed else { return false }

        // Fill the slot before anything can link to it.
        let s = Int(slot)
        if codesOnly == nil { row(slot).update(from: source, count: dimension) }
        quantization?.encode(source, slot: s)
        traversal?.encode(source, slot: s)
        labels[s] = label
        levels[s] = UInt8(level)
        upper[s]?.deallocate()
        upper[s] = nil
        if level > 0 {
            let block = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: level * (1 + maxM))
            for i in 0..<(level * (1 + maxM)) { (block + i).initialize(to: Atomic(0)) }
            upper[s] = block
        }
        links(slot, 0)[0].store(0, ordering: .relaxed)
        states[s].store(SlotState.live.rawValue, ordering: .releasing)

        let placed: (entry: UInt32, top: Int)? = registry.withLock { r in
            if let old = r.slotOfLabel[label] {
                states[Int(old)].store(SlotState.deleted.rawValue, ordering: .relaxed)
                r.tombstoneCount += 1
                r.liveCount -= 1
            }
            r.slotOfLabel[label] = slot
            r.liveCount += 1
            if r.entryPoint == Self.noSlot {
                r.entryPoint = slot
                r.maxLevel = level
                return nil
            }
            return (r.entryPoint, r.maxLevel)
        }
        guard let (entry, top) = placed else { return true }
        if level > top {
            // Raising the top level: one such insert at a time, against the latest entry point.
            levelUp.withLock { _ in
                let (entry, top) = registry.withLock { ($0.entryPoint, $0.maxLevel) }
                link(slot, query: source, level: level, entry: entry, top: top)
                registry.withLock { r in
                    if level > r.maxLevel {
                        r.entryPoint = slot
                        r.maxLevel = level
                    }
                }
            }
        } else {
            link(slot, query: source, level: level, entry: entry, top: top)
        }
        return true
    }

    /// Connects a filled slot whose vector is `query` into the graph.
    func link(_ slot: UInt32, query: UnsafePointer<Float>, level: Int, entry: UInt32, top: Int) {
        withScratch { scratch in kernels.link(self, slot, query, level, entry, top, scratch) }
    }

    @inline(never)
    func link<K: DistanceKernel>(
        _ kernel: K.Type, _ slot: UInt32, query: UnsafePointer<Float>, level: Int, entry: UInt32, top: Int, scratch: SearchScratch
    ) {
        let floats = FloatScorer<K>(query: query, view: view)
        if let codes = codesOnly {
            withCodeScorer(K.self, codes, query: query) {
                link(kernel, scoring: $0, exact: nil as FloatScorer<K>?, slot, level: level, entry: entry, top: top, scratch: scratch)
            }
        } else if let codes = traversal, !codes.quantizer.isFarOutside(query) {
            // Walk on the codes as a search does, then choose neighbours by the floats.
            withTraversalScorer(K.self, codes, query: query) {
                link(kernel, scoring: $0, exact: floats, slot, level: level, entry: entry, top: top, scratch: scratch)
            }
        } else {
            link(kernel, scoring: floats, exact: nil as FloatScorer<K>?, slot, level: level, entry: entry, top: top, scratch: scratch)
        }
    }

    /// Connects a filled slot into the graph; `scorer` measures from its vector.
    ///
    /// Its neighbours are chosen layer by layer from the lower of its level
    /// and the top level down to 0 (each layer's search starts from the
    /// nearest found on the layer above), but written from layer 0 up. A
    /// concurrent insert can only reach the slot through a layer it is
    /// already linked on, and every layer below that is then linked too: it
    /// never descends into an empty list (which would leave it linked to
    /// this slot alone), and no list it adds to here is written over later.
    ///
    /// With `exact` (the walk is on compact codes), each layer's candidates
    /// are scored again with it before the nearest is taken and neighbours
    /// are chosen: the walk is approximate, the choice is not.
    func link<K: DistanceKernel, S: SlotScorer, E: SlotScorer>(
        _ kernel: K.Type, scoring scorer: S, exact: E?, _ slot: UInt32, level: Int, entry: UInt32, top: Int, scratch: SearchScratch
    ) {
        var (current, currentDistance) = descend(scoring: scorer, from: entry, top: top, to: level, scratch: scratch)
        let restricted = registry.withLock { $0.tombstoneCount } > 0
        var chosen = [[UInt32]](repeating: [], count: Swift.min(level, top) + 1)
        for l in chosen.indices.reversed() {
            searchLayer(scoring: scorer, entry: current, entryDistance: currentDistance, ef: configuration.efConstruction,
                        level: l, scratch: scratch, filter: nil, restricted: restricted, slots: capacity)
            var found = [Candidate]()
            found.reserveCapacity(scratch.results.count)
            while !scratch.results.isEmpty {
                let c = scratch.results.pop()
                if c.slot != slot { found.append(c) }
            }
            if let exact {
                rescore(&found, exact)
                found.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.slot < $1.slot) }
            } else {
                found.reverse()  // ascending distance
            }
            if let nearest = found.first {
                current = nearest.slot
                currentDistance = exact == nil ? nearest.distance : scorer.distance(nearest.slot)  // the walk's own measure
            }
            chosen[l] = selectNeighbours(kernel, found, max: maxM)
        }
        for l in chosen.indices {
            lockNode(slot)
            chosen[l].withUnsafeBufferPointer { writeLinks(slot, l, $0) }
            unlockNode(slot)
            for neighbour in chosen[l] { connect(kernel, neighbour, to: slot, level: l) }
        }
    }

    /// Replaces each candidate's distance with `scorer`'s, four at a time.
    func rescore<S: SlotScorer>(_ candidates: inout [Candidate], _ scorer: S) {
        candidates.withUnsafeMutableBufferPointer { c in
            var i = 0
            while i &+ 4 <= c.count {
                let d = scorer.distances4(c[i].slot, c[i &+ 1].slot, c[i &+ 2].slot, c[i &+ 3].slot)
                for j in 0..<4 { c[i &+ j].distance = d[j] }
                i &+= 4
            }
            while i < c.count {
                c[i].distance = scorer.distance(c[i].slot)
                i &+= 1
            }
        }
    }

    /// The neighbour-selection heuristic (the paper's Algorithm 4, as in
    /// hnswlib): walk the candidates nearest first and keep one only if it is
    /// closer to the base than to every one already kept, up to `max`.
    /// `candidates` must be sorted by ascending distance to the base.
    func selectNeighbours<K: DistanceKernel>(_: K.Type, _ candidates: [Candidate], max: Int) -> [UInt32] {
        if candidates.count <= max { return candidates.map(\.slot) }
        var kept = [UInt32]()
        kept.reserveCapacity(max)
        let rows = RowReader(self)
        defer { rows.release() }
        for c in candidates {
            if kept.count >= max { break }
            let v = rows.first(c.slot)
            var good = true
            for s in kept where K.distance(v, rows.second(s), count: dimension) < c.distance {
                good = false
                break
            }
            if good { kept.append(c.slot) }
        }
        return kept
    }

    /// Adds `newcomer` to `node`'s list at `level`, pruning with the heuristic when full.
    func connect<K: DistanceKernel>(_ kernel: K.Type, _ node: UInt32, to newcomer: UInt32, level: Int) {
        lockNode(node)
        defer { unlockNode(node) }
        let list = links(node, level)
        let n = Int(list[0].load(ordering: .relaxed))
        let limit = maxDegree(level)
        for i in 0..<n where list[1 + i].load(ordering: .relaxed) == newcomer { return }
        if n < limit {
            list[1 + n].store(newcomer, ordering: .releasing)
            list[0].store(UInt32(n + 1), ordering: .releasing)
            return
        }
        let rows = RowReader(self)
        defer { rows.release() }
        let base = rows.first(node)
        var candidates = [Candidate]()
        candidates.reserveCapacity(n + 1)
        for i in 0..<n {
            let id = list[1 + i].load(ordering: .relaxed)
            candidates.append(Candidate(distance: K.distance(base, rows.second(id), count: dimension), slot: id))
        }
        candidates.append(Candidate(distance: K.distance(base, rows.second(newcomer), count: dimension), slot: newcomer))
        candidates.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.slot < $1.slot) }
        let kept = selectNeighbours(kernel, candidates, max: limit)
        kept.withUnsafeBufferPointer { writeLinks(node, level, $0) }
    }
}

/// A shared counter for work distribution across threads.
final class AtomicCounter: Sendable {
    private let value: Atomic<Int>

    init(_ start: Int = 0) { value = Atomic(start) }

    /// Returns the value before adding one.
    func increment() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Hands out no more work below `end`: later ``increment()``s return at least `end`.
    func finish(_ end: Int) { value.store(end, ordering: .relaxed) }
}
