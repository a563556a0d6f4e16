/// The similarity measure of an index, chosen once when the index is created.
///
/// **One direction for every metric:** every index reports a *distance*,
/// and a smaller distance is always a closer match.
///
/// | metric          | distance                  | range for unit vectors |
/// |-----------------|---------------------------|------------------------|
/// | `.squaredL2`    | `Σ (a−b)²`                | [0, 4]                 |
/// | `.innerProduct` | `−Σ a·b`                  | [−1, 1]                |
/// | `.cosine`       | `1 − Σ a·b` on unit vectors | [0, 2]               |
///
/// Cosine is the inner product of vectors normalised to unit length at
/// insert (and queries normalised at search), so it costs no more than
/// `.innerProduct` per distance.
public enum Metric: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case squaredL2 = "l2"
    case innerProduct = "ip"
    case cosine = "cosine"

    /// Whether vectors must be normalised to unit length before storage.
    @inlinable
    public var normalizesVectors: Bool { self == .cosine }

    public var description: String { rawValue }
}
