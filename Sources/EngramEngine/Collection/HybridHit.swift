import EngramMetadata
import EngramText

/// One hit of a ``HybridQuery``: the record, its fused score (larger is
/// better) and how it got its place.
public struct HybridHit: Sendable, Equatable {
    public var id: String
    /// The fused score (`HybridFusion` in `EngramText`).
    public var score: Double
    public var metadata: MetadataValue
    /// Its vector rank and distance, text rank and BM25 score, fused score and what MMR did.
    public var explanation: HybridFusion.Explanation
}
