import EngramIndex
import EngramKernels

/// What `engram bench` measures: the files, the index and the sweep.
///
/// Built and checked by the command line (``validate()``) before anything is
/// loaded, so a bad argument fails fast with a clear message.
package struct BenchConfiguration: Sendable, Equatable {
    /// The index kinds `engram bench` can build.
    package enum IndexKind: String, Sendable, CaseIterable {
        case flat
        case hnsw
        case ivf
        case ivfSQ8 = "ivf-sq8"
        case hnswSQ8 = "hnsw-sq8"
        /// The graph walked on its float vectors (a collection walks on 4-bit codes: `hnsw`).
        case hnswFloat = "hnsw-float"

        /// Whether the kind is an HNSW graph (takes --m, --ef-construction and --ef-search).
        package var isHNSW: Bool { self == .hnsw || self == .hnswSQ8 || self == .hnswFloat }

        /// Whether the kind is an inverted-file index (takes --nlist and --nprobe).
        package var isIVF: Bool { self == .ivf || self == .ivfSQ8 }
    }

    /// The nprobe points swept for IVF (the harness sweeps FAISS IVFFlat over 1…64).
    package static let defaultNprobe = [1, 2, 4, 8, 16, 32, 64]

    /// The efSearch points `shared/harness` sweeps for its HNSW anchors.
    package static let defaultEfSearch = [10, 20, 40, 80, 120, 200, 400]

    package var basePath: String
    package var queriesPath: String
    package var groundTruthPath: String
    /// The name reported in `dataset` (the dataset folder's name by default).
    package var datasetName: String
    package var index: IndexKind = .flat
    package var metric: Metric = .cosine
    package var k: Int = 10
    /// Values of the index's search parameter to sweep (empty: the index's default).
    package var efSearch: [Int] = []
    package var buildThreads: Int = 1
    /// HNSW: links per node (layer 0 keeps 2·M).
    package var m: Int = 16
    /// HNSW: candidate list size while building.
    package var efConstruction: Int = 200
    /// HNSW: also measure filtered search at these fractions of allowed vectors
    /// (a seeded random subset; exact filtered ground truth from the flat index).
    package var filterSelectivities: [Double] = []
    /// IVF: inverted lists (nil: 4·√n, the harness's rule).
    package var nlist: Int?
    /// IVF: lists probed per search, swept (empty: ``defaultNprobe``).
    package var nprobe: [Int] = []
    /// SQ8: candidates re-ranked with the full-precision vectors (0: the codes' order is the answer).
    package var rerank: Int = 0
    /// hnsw-sq8: keep the float vectors beside the codes (layer 0 on codes, re-ranked with the floats)
    /// instead of codes only.
    package var keepFloats = false
    /// hnsw, hnsw-sq8: a snapshot file of the built graph; loaded when it exists (nothing is built), else
    /// written after the build. For sweeping search settings without rebuilding.
    package var graphCache: String?
    /// hnsw: also write the vectors to a store and sweep the same efSearch values through its search.
    package var throughStore = false
    /// hnsw, hnsw-float: keep the index's float vectors in a memory-mapped file in this directory
    /// (`MappedVectorMemory`) instead of on the heap; the store's too with ``throughStore``.
    package var mappedFloatsDirectory: String?
    /// Untimed queries run before each timed sweep point.
    package var warmupQueries: Int = 200
    /// Use at most this many queries (all if `nil`).
    package var maxQueries: Int?

    package init(basePath: String, queriesPath: String, groundTruthPath: String, datasetName: String) {
        self.basePath = basePath
        self.queriesPath = queriesPath
        self.groundTruthPath = groundTruthPath
        self.datasetName = datasetName
    }

    /// The files of a folder laid out as `shared/harness` lays it.
    package init(datasetDirectory dir: String) {
        let trimmed = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        let name = trimmed.split(separator: "/").last.map(String.init) ?? trimmed
        self.init(
            basePath: "\(trimmed)/base.fvecs", queriesPath: "\(trimmed)/query.fvecs",
            groundTruthPath: "\(trimmed)/groundtruth.ivecs", datasetName: name)
    }

    /// Checks every parameter; throws ``BenchError/invalidArgument(_:)`` naming the first bad one.
    package func validate() throws(BenchError) {
        guard k >= 1 && k <= 1000 else { throw .invalidArgument("--k must be between 1 and 1000, got \(k)") }
        guard buildThreads >= 1 && buildThreads <= 256 else {
            throw .invalidArgument("--build-threads must be between 1 and 256, got \(buildThreads)")
        }
        guard warmupQueries >= 0 else { throw .invalidArgument("--warmup must be ≥ 0, got \(warmupQueries)") }
        if let maxQueries, maxQueries < 1 { throw .invalidArgument("--max-queries must be ≥ 1, got \(maxQueries)") }
        if let bad = efSearch.first(where: { $0 < 1 }) {
            throw .invalidArgument("--ef-search values must be ≥ 1, got \(bad)")
        }
        if index.isHNSW {
            do {
                try HNSWConfiguration(m: m, efConstruction: efConstruction).validate()
            } catch {
                throw .invalidArgument("--m / --ef-construction: \(error)")
            }
        }
        if let bad = filterSelectivities.first(where: { !($0 > 0 && $0 <= 1) }) {
            throw .invalidArgument("--filter-selectivity values must be in (0, 1], got \(bad)")
        }
        if index != .hnsw && index != .hnswFloat && !filterSelectivities.isEmpty {
            throw .invalidArgument("--filter-selectivity applies to --index hnsw")
        }
        if !index.isIVF && (nlist != nil || !nprobe.isEmpty) {
            throw .invalidArgument("--nlist and --nprobe apply to --index ivf and ivf-sq8")
        }
        if index != .ivfSQ8 && index != .hnswSQ8 && rerank != 0 { throw .invalidArgument("--rerank applies to --index ivf-sq8 and hnsw-sq8") }
        if index != .hnsw && throughStore { throw .invalidArgument("--through-store applies to --index hnsw (what a collection builds)") }
        if index != .hnsw && index != .hnswFloat && mappedFloatsDirectory != nil {
            throw .invalidArgument("--map-floats applies to --index hnsw and hnsw-float")
        }
        if index != .hnswSQ8 && keepFloats { throw .invalidArgument("--keep-floats applies to --index hnsw-sq8") }
        if keepFloats && rerank != 0 { throw .invalidArgument("--rerank applies to codes only: with --keep-floats the floats re-rank every search") }
        if !(0...SearchLimits.maxK).contains(rerank) { throw .invalidArgument("--rerank must be in 0...\(SearchLimits.maxK), got \(rerank)") }
        if index.isIVF && !efSearch.isEmpty { throw .invalidArgument("--ef-search applies to --index hnsw; IVF sweeps --nprobe") }
        if let nlist, nlist < 1 { throw .invalidArgument("--nlist must be ≥ 1, got \(nlist)") }
        if let bad = nprobe.first(where: { $0 < 1 }) { throw .invalidArgument("--nprobe values must be ≥ 1, got \(bad)") }
        if index == .flat && !efSearch.isEmpty {
            throw .invalidArgument("--ef-search does not apply to --index flat: the flat index is exact and has no search parameter")
        }
    }
}
