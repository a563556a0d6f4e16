import EngramMetadata
import EngramIndex
import EngramKernels

/// A collection's fixed parameters.
public struct CollectionConfiguration: Sendable, Equatable {
    public var name: String
    /// The vectors' dimension; 0: the records hold no vector (metadata and
    /// texts only; searched by text and filters, never by vector).
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
    /// Set: records may carry texts in these fields, searched with BM25 (``TextSettings``).
    public var text: TextSettings?

    public init(
        name: String, dimension: Int, metric: Metric = .cosine, hnsw: HNSWConfiguration = HNSWConfiguration(),
        ivf: IVFSettings? = nil, storedPrecision: StoredPrecision = .float32, text: TextSettings? = nil
    ) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.hnsw = hnsw
        self.ivf = ivf
        self.storedPrecision = storedPrecision
        self.text = text
    }

    /// Equal in everything but ``storedPrecision`` (a column type the
    /// durable store may have chosen on its own for unit vectors).
    public func sameParameters(as other: CollectionConfiguration) -> Bool {
        var comparable = other
        comparable.storedPrecision = storedPrecision
        return comparable == self
    }

    /// Checks every parameter (the name, the dimension, the HNSW parameters
    /// even of an IVF collection, the IVF settings, the text fields) before anything is
    /// logged: each must fit its field in the log and in PostgreSQL.
    public func validate() throws(EngineError) {
        guard !name.isEmpty, name.utf8.count <= 128 else {
            throw .invalidArgument("a collection name must be 1 to 128 UTF-8 bytes")
        }
        if let why = TextRules.problem(name, "a collection name") { throw .invalidArgument(why) }
        guard (0...VectorStorage.maxDimension).contains(dimension) else {
            throw .invalidArgument("collection '\(name)': dimension \(dimension): expected 0 (records without vectors) to \(VectorStorage.maxDimension)")
        }
        if dimension == 0, ivf != nil || storedPrecision != .float32 {
            throw .invalidArgument("collection '\(name)': a collection without vectors (dimension 0) has no IVF settings or stored precision")
        }
        do throws(IndexError) { try hnsw.validate() } catch { throw .invalidArgument("collection '\(name)': \(error)") }
        try ivf?.validate()
        try text?.validate()
    }
}
