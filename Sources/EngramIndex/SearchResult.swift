/// The position of a vector in an index: dense, assigned in insertion order
/// from 0. The engine maps its own record ids onto these.
public typealias VectorID = UInt32

/// One hit of a search: the vector's id and its distance to the query.
///
/// Distances follow ``EngramKernels/Metric``: smaller is closer, for every
/// metric. Results come best first; equal distances are ordered by lower id.
public struct SearchResult: Sendable, Hashable, CustomStringConvertible {
    public var id: VectorID
    public var distance: Float

    @inlinable
    public init(id: VectorID, distance: Float) {
        self.id = id
        self.distance = distance
    }

    public var description: String { "(\(id), \(distance))" }
}

/// The search-wide limits shared by every index.
public enum SearchLimits {
    /// The largest `k` any search accepts.
    public static let maxK = 100_000
}
