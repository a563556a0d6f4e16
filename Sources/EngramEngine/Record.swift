import EngramIndex
import EngramKernels

/// A stored record: the caller's id, its vector and its metadata.
public struct Record: Sendable, Equatable {
    public var id: String
    public var vector: [Float]
    public var metadata: MetadataValue

    public init(id: String, vector: [Float], metadata: MetadataValue = .object([:])) {
        self.id = id
        self.vector = vector
        self.metadata = metadata
    }

    /// The longest id accepted, in UTF-8 bytes.
    public static let maxIDBytes = 512
}

/// One search result. `distance` points one way for every metric: smaller
/// is closer (Docs/KERNELS.md).
public struct SearchHit: Sendable, Equatable {
    public var id: String
    public var distance: Float
    public var metadata: MetadataValue
}

/// A collection's fixed parameters.
public struct CollectionConfiguration: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var metric: Metric
    /// The graph's parameters, when the collection is indexed by HNSW (`ivf == nil`).
    public var hnsw: HNSWConfiguration
    /// Set: the collection is indexed by IVF (flat lists) instead of HNSW.
    public var ivf: IVFSettings?

    public init(
        name: String, dimension: Int, metric: Metric = .cosine, hnsw: HNSWConfiguration = HNSWConfiguration(),
        ivf: IVFSettings? = nil
    ) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.hnsw = hnsw
        self.ivf = ivf
    }
}

/// How an IVF collection trains and searches (Docs/ENGINE.md, "Collections on IVF").
///
/// Until it holds `trainingSize` vectors the collection searches them
/// exactly; then it trains `nlist` centroids on them (4·√n when `nlist` is
/// nil) and indexes everything from then on. A search probes `nprobe` lists
/// unless it asks for another number (the `efSearch` argument of a search).
public struct IVFSettings: Sendable, Equatable {
    /// Inverted lists; nil: 4·√n of the vectors held at training.
    public var nlist: Int?
    /// Lists probed by a search that does not say.
    public var nprobe: Int
    /// Vectors held before training; nil: 39 per list (FAISS's minimum), at least 25,000 when `nlist` is nil.
    public var trainingSize: Int?

    public init(nlist: Int? = nil, nprobe: Int = 16, trainingSize: Int? = nil) {
        self.nlist = nlist
        self.nprobe = nprobe
        self.trainingSize = trainingSize
    }

    /// The vectors held before training.
    public var vectorsBeforeTraining: Int { trainingSize ?? Swift.max(nlist.map { 39 * $0 } ?? 25_000, 1) }

    /// Checks the ranges: nlist 1…1,000,000, nprobe ≥ 1, a training size of at least nlist.
    func validate() throws(EngineError) {
        if let nlist, !(1...1_000_000).contains(nlist) { throw .invalidArgument("IVF nlist \(nlist): expected 1...1000000") }
        guard nprobe >= 1 else { throw .invalidArgument("IVF nprobe \(nprobe): expected at least 1") }
        if let trainingSize, trainingSize < (nlist ?? 1) {
            throw .invalidArgument("IVF training size \(trainingSize): expected at least nlist (\(nlist ?? 1))")
        }
    }
}

/// What indexes a collection now (``Store/indexInfo(_:)``).
public struct CollectionIndexInfo: Sendable, Equatable {
    /// `hnsw` or `ivf`.
    public var kind: String
    /// IVF: whether the lists are trained (before, the vectors are searched exactly). Always true for HNSW.
    public var trained: Bool
    /// IVF, trained: the inverted lists.
    public var lists: Int?
    /// IVF, trained: the list imbalance now over the imbalance at training (``IVFIndex/drift``).
    public var drift: Double?
    /// IVF: retrainings after drift since the store opened.
    public var retrainings: Int
}
