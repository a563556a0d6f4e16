import CPrefetch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The index's slot arrays as plain pointers, taken once per operation
/// under the shared lock (which keeps them from moving). Hot loops read
/// through this struct instead of the class, so they pay no exclusivity
/// checks and no reference counting.
struct GraphView {
    let vectors: UnsafeMutablePointer<Float>
    /// Per slot `2 + 2M` words: the node's sequence-lock word, then its layer-0 list (a count, then links).
    let layer0: UnsafeMutablePointer<Atomic<UInt32>>
    let upper: UnsafeMutablePointer<UnsafeMutablePointer<Atomic<UInt32>>?>
    let states: UnsafeMutablePointer<Atomic<UInt8>>
    let labels: UnsafeMutablePointer<VectorID>
    let dimension: Int
    let maxM: Int
    let maxM0: Int

    @inline(__always)
    func row(_ slot: UInt32) -> UnsafePointer<Float> { UnsafePointer(vectors + Int(slot) &* dimension) }

    @inline(__always)
    func isLive(_ slot: UInt32) -> Bool {
        states[Int(slot)].load(ordering: .acquiring) == HNSWIndex.SlotState.live.rawValue
    }

    /// `slot`'s layer-0 block: its sequence-lock word, then its list.
    @inline(__always)
    func block(_ slot: UInt32) -> UnsafeMutablePointer<Atomic<UInt32>> { layer0 + Int(slot) &* (2 &+ maxM0) }

    /// Asks the cache for `slot`'s layer-0 block (a hint; never faults).
    @inline(__always)
    func prefetchBlock(_ slot: UInt32) {
        prefetchLines(UnsafeRawPointer(block(slot)), bytes: (2 &+ maxM0) &* 4)
    }

    /// Asks the cache for `slot`'s state byte (a hint; never faults).
    @inline(__always)
    func prefetchState(_ slot: UInt32) { engram_prefetch(UnsafeRawPointer(states + Int(slot))) }

    @inline(__always)
    func links(_ slot: UInt32, _ level: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        if level == 0 { return block(slot) + 1 }
        return upper[Int(slot)].unsafelyUnwrapped + (level &- 1) &* (1 &+ maxM)
    }

    /// Copies the list of `slot` at `level` into `buffer`, consistent with
    /// one writer's complete update (sequence lock); returns its length.
    @inline(__always)
    func readLinks(_ slot: UInt32, _ level: Int, into buffer: UnsafeMutablePointer<UInt32>) -> Int {
        let list = links(slot, level)
        let limit = level == 0 ? maxM0 : maxM
        let version = block(slot)  // in the same cache line as the count
        var spins = 0
        while true {
            let before = version.pointee.load(ordering: .acquiring)
            if before & 1 != 0 {
                spins &+= 1
                if spins & 63 == 0 { sched_yield() }  // the writer may have been preempted
                continue
            }
            let n = Swift.min(Int(list[0].load(ordering: .acquiring)), limit)
            for i in 0..<n { buffer[i] = list[1 &+ i].load(ordering: .acquiring) }
            if version.pointee.load(ordering: .acquiring) == before { return n }
        }
    }
}

extension HNSWIndex {
    /// The current slot arrays (valid while the shared or exclusive lock is held).
    var view: GraphView {
        GraphView(vectors: vectors, layer0: layer0, upper: upper, states: states,
                  labels: labels, dimension: dimension, maxM: maxM, maxM0: maxM0)
    }
}
