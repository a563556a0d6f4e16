/// A broken ``HNSWIndex`` invariant, found by ``HNSWIndex/checkInvariants()``.
public struct HNSWInvariantViolation: Error, Sendable, CustomStringConvertible {
    /// Every problem found (at most 100 are listed).
    public var problems: [String]
    public var description: String { "HNSW invariants broken: " + problems.joined(separator: "; ") }
}

extension HNSWIndex {
    /// Checks every invariant stated on ``HNSWIndex`` and throws the list of
    /// violations. Takes the exclusive lock; O(n · M) plus, with
    /// `reachability`, a traversal of layer 0. Tests call it after mutations.
    ///
    /// Reachability is checked on request: it holds after ``compact()`` and
    /// after an insert that brings the growth since the last look to an
    /// eighth of the index, which both relink stranded nodes. Between them,
    /// the heuristic's pruning may leave a node no list points to.
    public func checkInvariants(reachability: Bool = true) throws(HNSWInvariantViolation) {
        let problems = lock.withWriteLock { invariantProblems(reachability: reachability) }
        if !problems.isEmpty { throw HNSWInvariantViolation(problems: problems) }
    }

    func invariantProblems(reachability: Bool) -> [String] {
        var problems = [String]()
        func fail(_ text: String) { if problems.count < 100 { problems.append(text) } }
        let r = registry.withLock { $0 }
        if r.slotCount > capacity { fail("slotCount \(r.slotCount) exceeds capacity \(capacity)") }
        var live = 0, deleted = 0, free = Set<UInt32>(), topLevel = -1
        for s in 0..<r.slotCount {
            switch state(UInt32(s)) {
            case .live: live += 1
            case .deleted: deleted += 1
            case .free: free.insert(UInt32(s)); continue
            }
            topLevel = Swift.max(topLevel, Int(levels[s]))
        }
        if live != r.liveCount { fail("\(live) live slots but liveCount \(r.liveCount)") }
        if deleted != r.tombstoneCount { fail("\(deleted) tombstones but tombstoneCount \(r.tombstoneCount)") }
        if free != Set(r.freeSlots) || free.count != r.freeSlots.count { fail("free slots disagree with the free list") }
        if r.slotOfLabel.count != live { fail("\(r.slotOfLabel.count) labels for \(live) live slots") }
        for (label, slot) in r.slotOfLabel {
            if Int(slot) >= r.slotCount || state(slot) != .live || labels[Int(slot)] != label {
                fail("label \(label) maps to slot \(slot), which is not its live slot")
            }
        }
        for s in 0..<r.slotCount where state(UInt32(s)) != .free {
            let slot = UInt32(s)
            for l in 0...Int(levels[s]) {
                let list = links(slot, l)
                let n = Int(list[0].load(ordering: .relaxed))
                if n > maxDegree(l) { fail("slot \(s) has \(n) links on layer \(l), more than \(maxDegree(l))"); continue }
                var seen = Set<UInt32>()
                for i in 0..<n {
                    let id = list[1 + i].load(ordering: .relaxed)
                    if id == slot { fail("slot \(s) links to itself on layer \(l)") }
                    if Int(id) >= r.slotCount || state(id) == .free {
                        fail("slot \(s) links to unused slot \(id) on layer \(l)")
                    } else if Int(levels[Int(id)]) < l {
                        fail("slot \(s) links on layer \(l) to slot \(id) of level \(levels[Int(id)])")
                    }
                    if !seen.insert(id).inserted { fail("slot \(s) links twice to \(id) on layer \(l)") }
                }
            }
        }
        if live + deleted == 0 {
            if r.entryPoint != Self.noSlot && r.liveCount == 0 && r.tombstoneCount == 0 && r.slotCount == 0 {
                fail("an empty index has an entry point")
            }
        } else {
            if r.entryPoint == Self.noSlot || Int(r.entryPoint) >= r.slotCount || state(r.entryPoint) == .free {
                fail("entry point \(r.entryPoint) is not a node")
            } else if Int(levels[Int(r.entryPoint)]) != r.maxLevel || r.maxLevel != topLevel {
                fail("entry point level \(levels[Int(r.entryPoint)]), maxLevel \(r.maxLevel), top level \(topLevel)")
            }
        }
        if reachability {
            let lost = unreachableFromEntry()
            if !lost.isEmpty { fail("\(lost.count) live nodes unreachable from the entry point, e.g. slot \(lost[0])") }
        }
        return problems
    }
}
