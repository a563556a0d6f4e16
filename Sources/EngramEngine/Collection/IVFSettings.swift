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
