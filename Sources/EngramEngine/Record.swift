import EngramMetadata
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
    /// The precision its durable store keeps the vectors at. `.float16`
    /// (PostgreSQL's `halfvec`) holds values up to ±65,504 only, so a write
    /// with a larger value (after preparation) is refused: nothing accepted
    /// may fail its checkpoint.
    public var storedPrecision: StoredPrecision

    public init(
        name: String, dimension: Int, metric: Metric = .cosine, hnsw: HNSWConfiguration = HNSWConfiguration(),
        ivf: IVFSettings? = nil, storedPrecision: StoredPrecision = .float32
    ) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.hnsw = hnsw
        self.ivf = ivf
        self.storedPrecision = storedPrecision
    }

    /// Equal in everything but ``storedPrecision`` (a column type the
    /// durable store may have chosen on its own for unit vectors).
    public func sameParameters(as other: CollectionConfiguration) -> Bool {
        var comparable = other
        comparable.storedPrecision = storedPrecision
        return comparable == self
    }

    /// Checks every parameter (the name, the dimension, the HNSW parameters
    /// even of an IVF collection, the IVF settings) before anything is
    /// logged: each must fit its field in the log and in PostgreSQL.
    func validate() throws(EngineError) {
        guard !name.isEmpty, name.utf8.count <= 128 else {
            throw .invalidArgument("a collection name must be 1 to 128 UTF-8 bytes")
        }
        if let why = TextRules.problem(name, "a collection name") { throw .invalidArgument(why) }
        guard (1...VectorStorage.maxDimension).contains(dimension) else {
            throw .invalidArgument("collection '\(name)': dimension \(dimension): expected 1...\(VectorStorage.maxDimension)")
        }
        do throws(IndexError) { try hnsw.validate() } catch { throw .invalidArgument("collection '\(name)': \(error)") }
        try ivf?.validate()
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

    /// The largest nlist and nprobe accepted.
    public static let maxLists = 1_000_000
    /// The largest training size accepted (what the log's u32 field holds, and more than memory would).
    public static let maxTrainingSize = 1 << 31

    /// Checks the ranges: nlist 1…``maxLists``, nprobe 1…``maxLists``, a
    /// training size from nlist to ``maxTrainingSize``.
    func validate() throws(EngineError) {
        if let nlist, !(1...Self.maxLists).contains(nlist) { throw .invalidArgument("IVF nlist \(nlist): expected 1...\(Self.maxLists)") }
        guard (1...Self.maxLists).contains(nprobe) else { throw .invalidArgument("IVF nprobe \(nprobe): expected 1...\(Self.maxLists)") }
        if let trainingSize, !((nlist ?? 1)...Self.maxTrainingSize).contains(trainingSize) {
            throw .invalidArgument("IVF training size \(trainingSize): expected \(nlist ?? 1)...\(Self.maxTrainingSize) (at least nlist)")
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
