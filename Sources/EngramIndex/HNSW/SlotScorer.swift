import CPrefetch
import EngramKernels

/// The distance from one query to stored slots, as a layer search needs
/// it: from the float vectors (``FloatScorer``) or, for HNSW-SQ8's layer 0,
/// from the 8-bit codes (``CodeScorer``). A generic parameter, so each
/// search is specialised for its scorer (no existential in the loop).
protocol SlotScorer {
    func distance(_ slot: UInt32) -> Float
    func distances4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> SIMD4<Float>
    /// Asks the cache for the row `slot`'s distance will read (at most
    /// ``prefetchLimit`` bytes of it; the hardware streams on from there), so a
    /// search can request a node's neighbours' rows before scoring the first
    /// and their misses overlap. A prefetch is only a hint: it never stalls
    /// the pipeline the way an early load would, and never faults.
    func prefetch(_ slot: UInt32)
}

/// The most bytes of one row a search prefetches ahead: four cache lines, a
/// float row of 64 coordinates or a code row of 256 bytes. Longer rows (a
/// 384-d float row is 24 lines) would flood the cache's miss buffers.
let prefetchLimit = 256

/// Prefetches the cache lines of `bytes` bytes from `start`, at most ``prefetchLimit``.
@inline(__always)
func prefetchLines(_ start: UnsafeRawPointer, bytes: Int) {
    let end = Swift.min(bytes, prefetchLimit)
    var offset = 0
    while offset < end {
        engram_prefetch(start + offset)
        offset &+= 64
    }
}

extension SlotScorer {
    /// Scores the `count` slots listed at `slots`, four at a time (rows
    /// scattered in memory: independent rows in flight, not the arithmetic,
    /// set the speed), into `heap` under their labels.
    @inline(__always)
    func score(_ slots: UnsafePointer<UInt32>, count: Int, labels: UnsafeMutablePointer<VectorID>, into heap: inout TopKHeap) {
        var i = 0
        while i &+ 4 <= count {
            let d = distances4(slots[i], slots[i &+ 1], slots[i &+ 2], slots[i &+ 3])
            for j in 0..<4 { heap.consider(distance: d[j], id: labels[Int(slots[i &+ j])]) }
            i &+= 4
        }
        while i < count {
            heap.consider(distance: distance(slots[i]), id: labels[Int(slots[i])])
            i &+= 1
        }
    }
}

/// Distances to the slots' float vectors with the metric's kernel.
struct FloatScorer<K: DistanceKernel>: SlotScorer {
    let query: UnsafePointer<Float>
    let view: GraphView

    @inline(__always)
    func distance(_ slot: UInt32) -> Float { K.distance(query, view.row(slot), count: view.dimension) }

    @inline(__always)
    func distances4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> SIMD4<Float> {
        K.distances4(query, view.row(a), view.row(b), view.row(c), view.row(d), count: view.dimension)
    }

    @inline(__always)
    func prefetch(_ slot: UInt32) { prefetchLines(view.row(slot), bytes: view.dimension &* 4) }
}

/// Distances to what SQ8 code rows stand for (HNSW-SQ8's slots, IVF-SQ8's
/// list rows): the query's weights against each code row with the integer kernel
/// (``ScalarQuantizer/QueryWeights``), turned into the metric's distance.
///
/// Invariant: `codes` holds `dimension` bytes per slot, `lengths` one
/// `‖x̂‖²` per slot under squared L2 (nil otherwise), and `weights`
/// `dimension` entries, all alive while the scorer is used.
struct CodeScorer<K: DistanceKernel>: SlotScorer {
    let codes: UnsafePointer<UInt8>
    let lengths: UnsafePointer<Float>?
    let dimension: Int
    let weights: UnsafePointer<Int16>
    let constant: Float
    let scale: Float
    let queryLength: Float

    @inline(__always)
    func distance(_ slot: UInt32) -> Float {
        let product = constant + scale * Float(codeDotProduct(codes + Int(slot) &* dimension, weights, count: dimension))
        return K.distance(product: product, queryLength: queryLength, rowLength: K.usesLengths ? lengths.unsafelyUnwrapped[Int(slot)] : 0)
    }

    @inline(__always)
    func prefetch(_ slot: UInt32) { prefetchLines(codes + Int(slot) &* dimension, bytes: dimension) }

    @inline(__always)
    func distances4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> SIMD4<Float> {
        let dots = codeDotProduct4(codes + Int(a) &* dimension, codes + Int(b) &* dimension, codes + Int(c) &* dimension,
                                   codes + Int(d) &* dimension, weights, count: dimension)
        let products = SIMD4(repeating: constant) + SIMD4(repeating: scale) * SIMD4<Float>(dots)
        guard K.usesLengths else { return K.distances4(products: products, queryLength: queryLength, rowLengths: .zero) }
        let l = lengths.unsafelyUnwrapped
        return K.distances4(products: products, queryLength: queryLength, rowLengths: SIMD4(l[Int(a)], l[Int(b)], l[Int(c)], l[Int(d)]))
    }
}
