import EngramKernels

/// The HNSW operations that depend on the metric, bound to its kernel once,
/// when the index is made: each entry is the generic operation specialised
/// for that ``DistanceKernel`` type. Call sites go through these entries, so
/// none switches on the metric and no distance is dispatched at run time
/// (one indirect call per operation, none per distance).
struct HNSWKernelCalls: Sendable {
    let search: @Sendable (HNSWIndex, SearchScratch, _ k: Int, _ ef: Int, CandidateFilter?) -> HNSWSearchOutcome
    let link: @Sendable (HNSWIndex, _ slot: UInt32, _ query: UnsafePointer<Float>, _ level: Int, _ entry: UInt32, _ top: Int,
                         SearchScratch) -> Void
    let compact: @Sendable (HNSWIndex) -> HNSWCompactionReport
    let relinkUnreachable: @Sendable (HNSWIndex) -> Int
    /// One distance (for re-ranking a handful of candidates, never a scan).
    let distance: @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, _ count: Int) -> Float

    /// The one place the metric picks the kernel.
    init(_ metric: Metric) {
        switch metric {
        case .squaredL2: self = Self.bound(SquaredL2Kernel.self)
        case .innerProduct: self = Self.bound(InnerProductKernel.self)
        case .cosine: self = Self.bound(CosineKernel.self)
        }
    }

    private init(
        search: @escaping @Sendable (HNSWIndex, SearchScratch, Int, Int, CandidateFilter?) -> HNSWSearchOutcome,
        link: @escaping @Sendable (HNSWIndex, UInt32, UnsafePointer<Float>, Int, UInt32, Int, SearchScratch) -> Void,
        compact: @escaping @Sendable (HNSWIndex) -> HNSWCompactionReport,
        relinkUnreachable: @escaping @Sendable (HNSWIndex) -> Int,
        distance: @escaping @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float
    ) {
        self.search = search
        self.link = link
        self.compact = compact
        self.relinkUnreachable = relinkUnreachable
        self.distance = distance
    }

    private static func bound<K: DistanceKernel>(_ kernel: K.Type) -> HNSWKernelCalls {
        HNSWKernelCalls(
            search: { index, scratch, k, ef, filter in index.plannedSearch(K.self, scratch, k: k, ef: ef, filter: filter) },
            link: { index, slot, query, level, entry, top, scratch in
                index.link(K.self, slot, query: query, level: level, entry: entry, top: top, scratch: scratch)
            },
            compact: { index in index.compact(K.self) },
            relinkUnreachable: { index in index.relinkUnreachable(K.self) },
            distance: { a, b, count in K.distance(a, b, count: count) })
    }
}
