/// Which vectors a search may return.
///
/// The engine builds one from metadata; an index only reads it. A filter
/// never changes distances, only which ids are eligible.
public enum CandidateFilter: Sendable {
    /// Ids whose bit is set are allowed; ids beyond the bitset's size are not.
    case bitset(Bitset)
    /// Ids for which the predicate returns `true` are allowed. It is called
    /// from the searching thread (several at once in a batch search).
    case predicate(@Sendable (VectorID) -> Bool)

    /// Whether `id` is allowed.
    @inlinable
    public func allows(_ id: VectorID) -> Bool {
        switch self {
        case .bitset(let bits): return bits.contains(id)
        case .predicate(let p): return p(id)
        }
    }
}
